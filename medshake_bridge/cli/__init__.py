"""The ``medshake-bridge`` command line.

Every command lives in :data:`bridge_group`. Inside a host app the same group is available as
``flask bridge ...``; standalone, :func:`main` exposes the commands at the top level over
``create_app()``.
"""

from __future__ import annotations

from typing import Any

import click
from flask.cli import FlaskGroup, ScriptInfo

from medshake_bridge import startup
from medshake_bridge.cli import group as _group
from medshake_bridge.lazy_cli import (
    COLLECTION_ONLY,
    COMMAND_MODULES,
    COMMAND_NAMES,
    load_command,
)


def _register_all() -> click.Group:
    """Import every command module: the whole :data:`bridge_group` (listing, tests)."""
    for name in COMMAND_MODULES:
        load_command(name)
    return _group.bridge_group


def __getattr__(name: str) -> Any:
    """``bridge_group`` with every command registered, imported on first use (PEP 562): a
    process running one command imports that command's module only."""
    if name == "bridge_group":
        return _register_all()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _create_app():
    """The app of the command being run: without pages for the commands that serve none
    (:data:`~medshake_bridge.lazy_cli.COLLECTION_ONLY`: ``fetch``, ``send``), else the full
    app."""
    from medshake_bridge.app import create_app

    ctx = click.get_current_context(silent=True)
    name = ctx.info_name if ctx is not None else None
    app = create_app(web=name not in COLLECTION_ONLY)
    startup.start_up_done(app)  # the start-up is over (see get_command)
    return app


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
        self._as_program = False  # main() runs as the program (see main)

    def main(self, args: Any = None, *rest: Any, **kwargs: Any) -> Any:
        """Run the command line; as the program (``args`` not given: ``sys.argv``), a
        collection-only command pauses the garbage collector during its start-up (see
        :func:`get_command`). The pause never outlives this call."""
        self._as_program = args is None
        try:
            return super().main(args, *rest, **kwargs)
        finally:
            self._as_program = False
            startup.resume_collection(freeze=False)  # e.g. ``fetch --help``: no app was built

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        """A bridge command imports its own module only (see :func:`load_command`); other
        names are Flask's business (plugins' commands on the app).

        ``fetch`` and ``send`` run as the program pause the cyclic garbage collector from
        here (before their modules, SQLAlchemy, the models and the plugins are imported)
        until :func:`_create_app` has built their app (:mod:`medshake_bridge.startup`)."""
        if name in COLLECTION_ONLY and self._as_program:
            startup.pause_collection()
        command = load_command(name)
        if command is not None:
            return command
        return super().get_command(ctx, name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        """The bridge's commands and those plugins add (``medshake_cli_commands``), not the
        app's ``bridge`` alias of the same group."""
        names = set(COMMAND_NAMES)
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


main = BridgeCLI()
