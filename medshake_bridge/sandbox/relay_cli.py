"""``medshake-bridge sandbox relay``: run the FAKE relay (see :mod:`.relay`) until Ctrl-C."""

from __future__ import annotations

import time
from pathlib import Path

import click

from medshake_bridge.sandbox.cli import sandbox
from medshake_bridge.sandbox.relay import LABEL, SandboxRelay, maildirs_under

USERS_FILE = "relay-users"


@sandbox.command("relay")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=2525, show_default=True,
              help="Port to listen on (0: any free port).")
@click.option("--network", "network_dir", required=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Sandbox network folder: NETWORK/<user>/Clefs/ for every user.")
@click.option("--maildirs", "maildirs", required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Folder of the recipients' Maildirs: MAILDIRS/<user>/{cur,new,tmp}.")
@click.option("--users", "users_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help=f"login:password lines for AUTH (default: NETWORK/{USERS_FILE}).")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="PEM certificate for STARTTLS (AUTH then needs TLS).")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="PEM key of --tls-cert (if not in the same file).")
def relay_command(host: str, port: int, network_dir: Path, maildirs: Path,
                  users_file: Path | None, tls_cert: Path | None, tls_key: Path | None) -> None:
    """Run the FAKE sandbox relay: SMTP in, re-encrypted per recipient, into their Maildirs."""
    users_path = users_file or network_dir / USERS_FILE
    if not users_path.is_file():
        raise click.ClickException(
            f"No relay users file {users_path}: write login:password lines (the sandbox "
            "users' apicryptUtilisateur and apicryptPopPassword), or pass --users.")
    maildirs.mkdir(parents=True, exist_ok=True)
    try:
        relay = SandboxRelay(network_dir, maildirs_under(maildirs), users_path,
                             host=host, port=port, tls_cert=tls_cert, tls_key=tls_key).start()
    except OSError as exc:
        raise click.ClickException(
            f"Cannot listen on {host}:{port} ({exc.strerror or exc}); choose another --port."
        ) from exc
    click.echo(f"{LABEL} on {relay.host}:{relay.port}, "
               f"{'STARTTLS required' if relay.tls else 'WITHOUT TLS (give --tls-cert)'}; "
               f"delivering into {maildirs}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        relay.stop()
