"""The ``medshake-bridge`` command line.

Every command lives in :data:`bridge_group`. Inside a host app the same group is available as
``flask bridge ...``; standalone, :func:`main` exposes the commands at the top level over
``create_app()``.
"""

from __future__ import annotations

import click
from flask.cli import FlaskGroup, ScriptInfo

from medshake_bridge.cli import (  # noqa: F401 - registers the commands
    account_cmds,
    collect_cmds,
    config_cmds,
    core_cmds,
    demo_cmds,
    doctor_cmds,
    keys_cmds,
    patient_cmds,
    scaffold_cmds,
    send_cmds,
    task_cmds,
    token_cmds,
    user_cmds,
    webhook_cmds,
    worker_cmds,
)
from medshake_bridge.cli.group import bridge_group
from medshake_bridge.sandbox.cli import sandbox


def _create_app():
    from medshake_bridge.app import create_app

    return create_app()


class BridgeCLI(FlaskGroup):
    """Top-level group: the bridge's commands over a standalone app."""

    def __init__(self) -> None:
        super().__init__(
            name="medshake-bridge",
            create_app=_create_app,
            add_default_commands=False,
            add_version_option=False,
            load_dotenv=False,
            help="medshake-bridge: Apicrypt secure medical mail for EHRs.",
        )
        self.params.append(click.Option(
            ["--version"], is_flag=True, expose_value=False, is_eager=True,
            callback=_print_version, help="Show the medshake-bridge version and exit."))
        for name, command in bridge_group.commands.items():
            self.add_command(command, name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        """The bridge's commands and those plugins add (``medshake_cli_commands``), not the
        app's ``bridge`` alias of the same group."""
        names = set(bridge_group.commands)
        try:
            app = ctx.ensure_object(ScriptInfo).load_app()
        except Exception:  # noqa: BLE001 - no app here: the bridge's own commands still list
            return sorted(names)
        return sorted(names | {name for name in app.cli.commands if name != "bridge"})


def _print_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from medshake_bridge import __version__

    click.echo(f"medshake-bridge {__version__}")
    ctx.exit()


bridge_group.add_command(sandbox, "sandbox")

main = BridgeCLI()
