"""``medshake-bridge create-user`` and ``users list``."""

from __future__ import annotations

import sys

import click

from medshake_bridge.audit import audit
from medshake_bridge.cli.config_cmds import clean_errors
from medshake_bridge.cli.group import bridge_group
from medshake_bridge.models.users import ROLES
from medshake_bridge.users import create_user, list_users


@bridge_group.command("create-user")
@click.argument("login")
@click.option("--role", type=click.Choice(ROLES), default="practitioner", show_default=True)
@click.option("--name", "display_name", default="", help="Display name (default: the login).")
@click.option("--module", default="base", show_default=True, help="Settings module of the user.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@clean_errors
def create_user_cmd(login: str, role: str, display_name: str, module: str,
                    password_stdin: bool) -> None:
    """Create a user (asks for the password without echo)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    user = create_user(login, password, role=role, display_name=display_name, module=module)
    audit("user.create", target=user.login, actor=None, actor_login="cli", detail=f"role {role}")
    click.echo(f"User {user.login} created with id {user.id} and role {user.role}.")


@bridge_group.group("users")
def users_group() -> None:
    """List and fix user accounts."""


@users_group.command("list")
def users_list() -> None:
    """Every user: id, login, role, module, active."""
    for user in list_users():
        state = "active" if user.active else "inactive"
        click.echo(f"{user.id}  {user.login}  {user.role}  module={user.module}  {state}  "
                   f"{user.display_name}")
