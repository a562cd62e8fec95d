"""``medshake-bridge keys``: the key folders from the command line.

The commands go through the ``medshake_key_managers`` hook (the keys plugin offers the
``Clefs/`` manager), with the same validation, confirmations and audit as the *Clefs Apicrypt*
page. ``--user ID`` picks that user's key folder (its effective ``apicryptCheminVersClefs``);
without it, the general folder. The long code is read from standard input, never from the
command line (other accounts can read a command line).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from medshake_bridge.backends import make_runner
from medshake_bridge.cli.config_cmds import clean_errors
from medshake_bridge.cli.group import bridge_group
from medshake_bridge.db import db
from medshake_bridge.errors import ConfigurationError
from medshake_bridge.extension import bridge_state
from medshake_bridge.models import User

PREFERRED_MANAGER = "clefs"


def _manager(user_id: int | None) -> Any:
    state = bridge_state()
    specs = {spec.key: spec for spec in state.call_list_hook("medshake_key_managers")}
    if not specs:
        raise ConfigurationError("no key manager is installed",
                                 fix="enable the keys plugin (medshake-bridge plugins)")
    spec = specs.get(PREFERRED_MANAGER) or next(iter(specs.values()))
    if user_id is not None and db.session.get(User, user_id) is None:
        raise ConfigurationError(f"there is no user with id {user_id}",
                                 fix="check the id (medshake-bridge users list)")
    settings = state.settings.values_for_user(user_id)
    return spec.factory(settings, make_runner(state, settings))


@bridge_group.group("keys")
def keys() -> None:
    """Apicrypt key files: list, import, delete, decrypt .aes keys."""


_user_option = click.option("--user", "user_id", type=int, default=None,
                            help="Use this user's key folder (default: the general folder).")


@keys.command("list")
@_user_option
@clean_errors
def list_cmd(user_id: int | None) -> None:
    """List the files of the Clefs/ folder."""
    manager = _manager(user_id)
    found = manager.list_keys()
    click.echo(str(manager.clefs or "(no key folder configured: set apicryptCheminVersClefs)"))
    if not found:
        click.echo("  (no key file)")
    for key in found:
        parsed = getattr(key, "parsed", None)
        who = f"{parsed.user} {parsed.year}" if parsed is not None else "-"
        access = ("r" if key.readable else "-") + ("w" if key.writable else "-")
        flags = " current-year" if getattr(key, "current_year", False) else ""
        click.echo(f"  {key.name:<40} {getattr(key, 'kind', '-'):<6} {who:<28} "
                   f"{key.size:>8} B  {access}{flags}")


@keys.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_user_option
@clean_errors
def import_cmd(file: Path, user_id: int | None) -> None:
    """Copy FILE into the Clefs/ folder under its own name (never over an existing key)."""
    manager = _manager(user_id)
    with file.open("rb") as stream:
        stored = manager.import_key(file.name, stream)
    click.echo(f"{stored.name} added to {manager.clefs} ({stored.size} bytes).")


@keys.command("delete")
@click.argument("name")
@_user_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--confirm-current-year", is_flag=True,
              help="Second confirmation, needed to delete the current year's key.")
@clean_errors
def delete_cmd(name: str, user_id: int | None, yes: bool, confirm_current_year: bool) -> None:
    """Delete the key file NAME from the Clefs/ folder."""
    manager = _manager(user_id)
    if not yes:
        click.confirm(f"Delete {name} from {manager.clefs}?", abort=True)
    manager.delete_key(name, confirm_current_year=confirm_current_year)
    click.echo(f"{name} deleted.")


@keys.command("decrypt")
@click.argument("name")
@_user_option
@click.option("--code-stdin", is_flag=True, required=True,
              help="Read the long code from the first line of standard input.")
@clean_errors
def decrypt_cmd(name: str, user_id: int | None, code_stdin: bool) -> None:
    """Open the .aes key NAME with the long code (read from standard input)."""
    manager = _manager(user_id)
    code = sys.stdin.readline().strip()
    opened = manager.decrypt_aes(name, code)
    click.echo(f"{name} opened into {opened.name}; the .aes file was removed.")
