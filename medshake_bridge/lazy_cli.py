"""``flask bridge ...`` on every app, without importing the command line at start-up.

``create_app()`` puts :class:`LazyBridgeGroup` on ``app.cli`` as ``bridge``: it imports
:mod:`medshake_bridge.cli` (Alembic, the demo, the sandbox, every command's helpers) only when
a command is listed or run. A process that only builds the app (a collection run, a WSGI
worker, a scheduler) saves about a quarter of a second of CPU at start-up (issue 18). This
module lives outside the ``cli`` package because importing anything inside it runs its
``__init__``, which registers every command.
"""

from __future__ import annotations

import click

# The names of the bridge's own commands, known without importing them (a plugin may not take
# one); tests/test_send_streaming.py checks it against the commands registered.
COMMAND_NAMES = frozenset({
    "config", "create-user", "demo", "doctor", "fetch", "generate-secret-key", "init-db",
    "keys", "new-plugin", "patients", "plugins", "rotate-keys", "run", "sandbox", "scheduler",
    "send", "tasks", "tokens", "users", "webhooks", "worker", "workers",
})


def _loaded() -> click.Group:
    from medshake_bridge.cli import bridge_group

    return bridge_group


class LazyBridgeGroup(click.Group):
    """:data:`medshake_bridge.cli.bridge_group`, its commands imported on first use."""

    def __init__(self) -> None:
        super().__init__("bridge", help="medshake-bridge commands.")

    def list_commands(self, ctx: click.Context) -> list[str]:
        return _loaded().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return _loaded().get_command(ctx, cmd_name)
