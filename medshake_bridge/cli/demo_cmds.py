"""``medshake-bridge demo``: the product on the embedded default, ready to try.

SQLite in the instance folder, four accounts, the FAKE Apicrypt sandbox (programs, keys, the
relay in a thread) and the web app: send as Alice, collect as Bob, read it.
"""

from __future__ import annotations

import click
from flask import current_app
from werkzeug.serving import run_simple

from medshake_bridge import migrate
from medshake_bridge.cli.demo_sandbox import (
    PRACTITIONERS,
    configure_users,
    ensure_secret_key,
    prepare_sandbox,
)
from medshake_bridge.cli.group import bridge_group
from medshake_bridge.scheduler.service import embedded_scheduler
from medshake_bridge.users import create_user, find_user

DEMO_PASSWORD = "demo-medshake"  # noqa: S105 - printed to the person running the demo
DEMO_USERS = (
    ("admin", "admin", "Administrateur démo"),
    ("alice", "practitioner", "Dr Alice Martin (démo)"),
    ("bob", "practitioner", "Dr Bob Durand (démo)"),
    ("sophie", "secretary", "Sophie, secrétariat (démo)"),
)


def ensure_demo_users() -> list[str]:
    """Create the demo accounts that do not exist yet; returns the logins created."""
    created = []
    for login, role, name in DEMO_USERS:
        if find_user(login) is None:
            create_user(login, DEMO_PASSWORD, role=role, display_name=name)
            created.append(login)
    return created


@bridge_group.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--relay-port", default=2525, show_default=True, type=int,
              help="Port of the FAKE sandbox relay (0: any free port).")
@click.option("--no-serve", is_flag=True, help="Prepare the demo and exit.")
def demo_cmd(host: str, port: int, relay_port: int, no_serve: bool) -> None:
    """Prepare the demo (database, users, sandbox) in the instance folder and serve it."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    migrate.upgrade(app)
    ensure_secret_key(app)
    created = ensure_demo_users()
    sandbox = prepare_sandbox(app)
    relay = None
    if not no_serve:
        try:
            relay = sandbox.relay(relay_port).start()
        except OSError as exc:
            raise click.ClickException(
                f"The sandbox relay cannot listen on port {relay_port} "
                f"({exc.strerror or exc}); use --relay-port.") from exc
        relay_port = relay.port
    configure_users(app, sandbox, relay_port)
    click.echo(f"Instance folder: {app.instance_path}")
    if created:
        click.echo(f"Demo users created: {', '.join(created)}")
    click.echo(f"Logins: {', '.join(login for login, _, _ in DEMO_USERS)}; "
               f"password for all: {DEMO_PASSWORD}")
    click.echo("Apicrypt (FAKE sandbox, not Apicrypt): "
               + ", ".join(f"{login} = {user}" for login, (user, _) in PRACTITIONERS.items())
               + f"; sandbox relay on localhost:{relay_port} (STARTTLS), mailboxes in "
               f"{sandbox.maildirs}")
    click.echo("Try it: log in as alice, 'New message' -> Dr Bob Durand, send; log in as bob, "
               "'Inbox' -> 'Collect my mailbox now'.")
    if no_serve:
        return
    click.echo(f"Open http://{host}:{port}/  (Ctrl+C to stop)")
    try:
        # app.run() is a no-op under the flask CLI: serve with Werkzeug directly; the embedded
        # scheduler collects the demo mailboxes on schedule while the demo runs.
        with embedded_scheduler(app):
            run_simple(host, port, app, threaded=True, use_reloader=False)
    finally:
        if relay is not None:
            relay.stop()
