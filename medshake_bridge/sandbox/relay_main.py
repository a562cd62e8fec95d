"""The FAKE sandbox relay's own light entry point (issue 18, third pass).

``medshake-bridge sandbox relay`` loads the bridge's whole command line (Flask, SQLAlchemy,
every command) before it listens: an idle relay was some 83 MB of the 111 MB it peaked at
with a 50 MB attachment. Run as a script, this file loads only the sandbox modules the relay
needs (as the sandbox programs do: ``medshake_bridge/__init__.py`` is not imported), and
offers the same command, options and behaviour::

    python .../medshake_bridge/sandbox/relay_main.py --network N --maildirs M [--port ...]

:data:`RELAY_MAIN` is this file's path (what the demo and the benchmarks start);
``--settings-from-stdin`` is the demo's way (:mod:`medshake_bridge.cli.demo_relay`): the
settings, passwords included, come as one JSON line on the standard input, never on the
command line where ``ps`` shows them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

RELAY_MAIN = os.path.abspath(__file__)
USERS_FILE = "relay-users"
SETTINGS_FROM_STDIN = "--settings-from-stdin"


def _load_without_the_host() -> None:
    """Make ``medshake_bridge`` and ``medshake_bridge.sandbox`` bare packages (their
    ``__init__`` import Flask and the whole sandbox) so that only what the relay imports is
    loaded; the script's own folder leaves ``sys.path`` (its modules would shadow others)."""
    import types

    here = os.path.dirname(RELAY_MAIN)
    if sys.path and os.path.abspath(sys.path[0] or ".") == here:
        del sys.path[0]
    for name, path in (("medshake_bridge", os.path.dirname(here)),
                       ("medshake_bridge.sandbox", here)):
        if name not in sys.modules:
            package = types.ModuleType(name)
            package.__path__ = [path]
            sys.modules[name] = package


@click.command("relay")
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
    import time

    from medshake_bridge.sandbox.relay import LABEL, SandboxRelay, maildirs_under

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


def serve_from_stdin() -> None:
    """The demo's relay: read the settings line, listen, say the port, run until the
    standard input closes."""
    import json

    from medshake_bridge.sandbox.relay import SandboxRelay, maildirs_under

    spec = json.loads(sys.stdin.readline())
    try:
        relay = SandboxRelay(Path(spec["network"]), maildirs_under(Path(spec["maildirs"])),
                             spec["users"], port=int(spec["port"]), tls_cert=spec["cert"],
                             tls_key=spec["key"]).start()
    except OSError as exc:
        print(json.dumps({"error": exc.strerror or str(exc)}), flush=True)
        return
    print(json.dumps({"port": relay.port}), flush=True)
    try:
        while sys.stdin.buffer.read(4096):
            pass  # nothing else is sent: wait for the end of the stream
    except KeyboardInterrupt:
        pass
    finally:
        relay.stop()


if __name__ == "__main__":
    _load_without_the_host()
    if sys.argv[1:] == [SETTINGS_FROM_STDIN]:
        serve_from_stdin()
    else:
        relay_command(prog_name="medshake-bridge sandbox relay")
