"""``medshake-bridge users reset-password | set-active | set-role``: account fixes from the
server, for when nobody can log in to the users page (e.g. the only admin forgot the password).
Each change is audited with the actor ``cli``."""

from __future__ import annotations

import sys

import click

from medshake_bridge.audit import audit
from medshake_bridge.cli.config_cmds import clean_errors
from medshake_bridge.cli.user_cmds import users_group
from medshake_bridge.models.users import ROLES, User
from medshake_bridge.user_changes import UserUpdate, reset_password, update_user
from medshake_bridge.users import UserError, find_user

CLI_ACTOR = "cli"


def _user(login: str) -> User:
    user = find_user(login)
    if user is None:
        raise UserError(f"no user named {login!r}", fix="check the login (`users list`)")
    return user


@users_group.command("reset-password")
@click.argument("login")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--must-change", is_flag=True,
              help="The user must choose a new password at the next login.")
@clean_errors
def reset_password_cmd(login: str, password_stdin: bool, must_change: bool) -> None:
    """Give LOGIN a new password (asks for it without echo)."""
    user = _user(login)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    reset_password(user, password, must_change=must_change)
    audit("user.password_reset", target=user.login, actor=None, actor_login=CLI_ACTOR)
    click.echo(f"New password set for {user.login}.")


@users_group.command("set-active")
@click.argument("login")
@click.argument("active", type=click.BOOL)
@clean_errors
def set_active_cmd(login: str, active: bool) -> None:
    """Activate (true) or deactivate (false) LOGIN."""
    user = _user(login)
    change = UserUpdate(user.display_name, user.role, user.module, active)
    if update_user(user, change, acting=None):
        audit("user.activate" if active else "user.deactivate", target=user.login, actor=None,
              actor_login=CLI_ACTOR)
    click.echo(f"{user.login} is {'active' if user.active else 'deactivated'}.")


@users_group.command("set-role")
@click.argument("login")
@click.argument("role", type=click.Choice(ROLES))
@clean_errors
def set_role_cmd(login: str, role: str) -> None:
    """Change the role of LOGIN."""
    user = _user(login)
    change = UserUpdate(user.display_name, role, user.module, user.active)
    if update_user(user, change, acting=None):
        audit("user.update", target=user.login, actor=None, actor_login=CLI_ACTOR,
              detail=f"role={role}")
    click.echo(f"{user.login} now has the role {user.role}.")
