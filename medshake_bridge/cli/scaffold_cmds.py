"""``medshake-bridge new-plugin``: write the skeleton of a plugin (see medshake_bridge.scaffold)."""

from __future__ import annotations

from pathlib import Path

import click

from medshake_bridge.cli.group import bridge_group
from medshake_bridge.errors import BridgeError


@bridge_group.command("new-plugin")
@click.argument("name")
@click.option("--dest", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Folder in which the plugin's folder is created.")
def new_plugin_cmd(name: str, dest: Path) -> None:
    """Write an installable plugin NAME (entry point, a setting, hooks, tests that pass)."""
    from medshake_bridge.scaffold import new_plugin

    try:
        folder = new_plugin(name, dest)
    except BridgeError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Created {folder}")
    click.echo(f"Next: cd {folder} && pip install -e '.[test]' && pytest")
