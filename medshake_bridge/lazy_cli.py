"""``flask bridge ...`` on every app, without importing the command line at start-up.

``create_app()`` puts :class:`LazyBridgeGroup` on ``app.cli`` as ``bridge``: it imports a
command's module (Alembic, the demo, the sandbox, every command's helpers) only when that
command is run, and all of them only when they are listed. A process that only builds the app
(a collection run, a WSGI worker, a scheduler) saves about a quarter of a second of CPU at
start-up, and ``medshake-bridge fetch`` (:mod:`medshake_bridge.cli`, the same
:func:`load_command`) about a second more (issue 18).
"""

from __future__ import annotations

import click

# The bridge's own commands and the modules that register each (a group's subcommands may
# come from several), known without importing them (a plugin may not take one of these names);
# tests/test_startup_imports.py checks them against the commands registered.
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "config": ("config_cmds",), "create-user": ("user_cmds",), "demo": ("demo_cmds",),
    "doctor": ("doctor_cmds",), "fetch": ("collect_cmds",),
    "generate-secret-key": ("core_cmds",), "init-db": ("core_cmds",), "keys": ("keys_cmds",),
    "new-plugin": ("scaffold_cmds",), "patients": ("patient_cmds",), "plugins": ("core_cmds",),
    "rotate-keys": ("core_cmds",), "run": ("core_cmds",),
    "sandbox": ("medshake_bridge.sandbox.cli", "medshake_bridge.sandbox.relay_cli"),
    "scheduler": ("task_cmds",), "send": ("send_cmds",), "tasks": ("task_cmds",),
    "tokens": ("token_cmds",), "users": ("user_cmds", "account_cmds"),
    "webhooks": ("webhook_cmds",), "worker": ("worker_cmds",), "workers": ("worker_cmds",),
}
COMMAND_NAMES = frozenset(COMMAND_MODULES)
# Commands that serve no page: ``medshake-bridge`` builds their app with ``web=False``
# (a collection, a send: the pages, login and API schemas cost them about a second of CPU).
COLLECTION_ONLY = frozenset({"fetch", "send"})


def load_command(name: str) -> click.Command | None:
    """The bridge's command ``name``, importing only the module that registers it (a
    ``fetch`` process does not import Alembic, the demo, the sandbox or the scheduler:
    about a second of CPU at every start, issue 18). ``None`` for another name."""
    modules = COMMAND_MODULES.get(name)
    if modules is None:
        return None
    import importlib

    from medshake_bridge.cli.group import bridge_group

    for module in modules:
        importlib.import_module(module if "." in module else f"medshake_bridge.cli.{module}")
    if name == "sandbox":  # a plain click group of its own, attached here
        from medshake_bridge.sandbox.cli import sandbox

        bridge_group.add_command(sandbox, "sandbox")
    return bridge_group.commands.get(name)


class LazyBridgeGroup(click.Group):
    """:data:`medshake_bridge.cli.bridge_group`, its commands imported on first use."""

    def __init__(self) -> None:
        super().__init__("bridge", help="medshake-bridge commands.")

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMAND_NAMES)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return load_command(cmd_name)
