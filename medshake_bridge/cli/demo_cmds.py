"""``medshake-bridge demo``: the product on the embedded default, ready to try."""

from __future__ import annotations

import click
from flask import current_app
from werkzeug.serving import run_simple

from medshake_bridge import migrate
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
@click.option("--no-serve", is_flag=True, help="Prepare the demo and exit.")
def demo_cmd(host: str, port: int, no_serve: bool) -> None:
    """Prepare the demo (database, users) in the instance folder and serve it."""
    migrate.upgrade(current_app)
    created = ensure_demo_users()
    click.echo(f"Instance folder: {current_app.instance_path}")
    if created:
        click.echo(f"Demo users created: {', '.join(created)}")
    click.echo(f"Logins: {', '.join(login for login, _, _ in DEMO_USERS)}; "
               f"password for all: {DEMO_PASSWORD}")
    if no_serve:
        return
    click.echo(f"Open http://{host}:{port}/  (Ctrl+C to stop)")
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    with embedded_scheduler(app):  # app.run() is a no-op under the flask CLI: serve directly
        run_simple(host, port, app, use_reloader=False, threaded=True)
