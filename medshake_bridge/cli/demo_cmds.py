"""``medshake-bridge demo``: the product on the embedded default, ready to try.

SQLite in the instance folder, four accounts, the FAKE Apicrypt sandbox (programs, keys, the
relay in a process of its own) and the web app, served by gunicorn like ``run`` (Werkzeug's
development server only with ``--debug``): send as Alice, collect as Bob, read it.
"""

from __future__ import annotations

import ipaddress

import click
from flask import Flask, current_app
from sqlalchemy import func, select

from medshake_bridge import migrate
from medshake_bridge.cli.demo_relay import RelayProcess
from medshake_bridge.cli.demo_sandbox import (
    PRACTITIONERS,
    configure_users,
    ensure_secret_key,
    prepare_sandbox,
)
from medshake_bridge.cli.group import bridge_group
from medshake_bridge.cli.serve_options import serve_app, server_options
from medshake_bridge.config import bridge_home
from medshake_bridge.db import db
from medshake_bridge.models import SettingValue, User
from medshake_bridge.paths import write_private_file
from medshake_bridge.users import find_user, hash_password

DEMO_PASSWORD = "demo-medshake"  # noqa: S105 - printed to the person running the demo
DEMO_USERS = (
    ("admin", "admin", "Administrateur démo"),
    ("alice", "practitioner", "Dr Alice Martin (démo)"),
    ("bob", "practitioner", "Dr Bob Durand (démo)"),
    ("sophie", "secretary", "Sophie, secrétariat (démo)"),
)


DEMO_MARKER = "medshake-bridge-demo-instance"
LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")


def ensure_demo_users() -> list[str]:
    """Create the demo accounts that do not exist yet; returns the logins created.

    Their password is published (it is printed and in the docs), so the password policy, which
    refuses it for real accounts, is not applied: :func:`claim_demo_instance` makes sure this
    only ever happens in an instance the demo made."""
    created = []
    for login, role, name in DEMO_USERS:
        if find_user(login) is None:
            user = User(login=login, display_name=name, role=role, module="base",
                        password_hash=hash_password(DEMO_PASSWORD), active=True)
            db.session.add(user)
            db.session.commit()
            created.append(login)
    return created


def claim_demo_instance(app: Flask) -> None:
    """Refuse an instance the demo did not create (it would add an admin with a published
    password and overwrite real users' mailbox settings); mark a new one as the demo's."""
    marker = bridge_home(app) / DEMO_MARKER
    if marker.is_file():
        return
    users = db.session.scalar(select(func.count()).select_from(User)) or 0
    settings = db.session.scalar(select(func.count()).select_from(SettingValue)) or 0
    if users or settings:
        raise click.ClickException(
            f"The instance in {app.instance_path} was not created by `demo` (it has {users} "
            f"user(s) and {settings} setting value(s)). The demo would add accounts with a "
            "published password and overwrite mailbox settings, so it refuses. Run the demo in "
            "a folder of its own: MEDSHAKE_BRIDGE_INSTANCE=/tmp/medshake-demo medshake-bridge "
            "demo")
    write_private_file(marker, b"This instance was created by `medshake-bridge demo`.\n")


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@bridge_group.command("demo")
@server_options(workers=1)
@click.option("--relay-port", default=2525, show_default=True, type=int,
              help="Port of the FAKE sandbox relay (0: any free port).")
@click.option("--no-serve", is_flag=True, help="Prepare the demo and exit.")
@click.option("--public", is_flag=True,
              help="Allow a --host other than loopback (the demo's passwords are published).")
def demo_cmd(host: str, port: int, workers: int, threads: int, debug: bool, relay_port: int,
             no_serve: bool, public: bool) -> None:
    """Prepare the demo (database, users, sandbox) in the instance folder and serve it.

    Only in an instance the demo created (a marker file says so), and on loopback unless
    --public is given."""
    if not is_loopback(host) and not public:
        raise click.UsageError(
            f"--host {host} would let other machines reach the demo, whose admin password is "
            "published. Keep the default 127.0.0.1, or add --public if you really mean it.")
    if not is_loopback(host):
        click.echo(f"WARNING: the demo is reachable from other machines at {host}:{port}; "
                   f"anyone there can log in as admin with the published password "
                   f"{DEMO_PASSWORD!r}. Never use it with real data.", err=True)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    migrate.upgrade(app)
    claim_demo_instance(app)
    ensure_secret_key(app)
    created = ensure_demo_users()
    sandbox = prepare_sandbox(app)
    relay = None
    if not no_serve:
        try:
            relay = RelayProcess(sandbox, relay_port)
            relay_port = relay.start()
        except OSError as exc:
            raise click.ClickException(
                f"The sandbox relay cannot listen on port {relay_port} "
                f"({exc.strerror or exc}); use --relay-port.") from exc
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
        # the embedded scheduler collects the demo mailboxes on schedule while the demo runs
        serve_app(app, host=host, port=port, workers=workers, threads=threads, debug=debug,
                  name="medshake-bridge demo")
    finally:
        if relay is not None:
            relay.stop()
