"""The demo's FAKE relay in a process of its own.

``demo`` serves with gunicorn, which forks its workers from the process that runs the command.
A thread alive in a process that forks can leave its locks held forever in the child, so the
relay (an asyncio thread of aiosmtpd) does not run in that process: it runs in a child started
with ``spawn`` (a fresh interpreter, never a fork), reports the port it listens on through a
pipe, and stops when the pipe closes (the demo stops, or dies).
"""

from __future__ import annotations

import contextlib
import multiprocessing
from multiprocessing.connection import Connection
from pathlib import Path

from medshake_bridge.cli.demo_sandbox import DemoSandbox

STOP = "stop"
START_TIMEOUT = 30  # seconds for the child to import the sandbox and listen


def _serve(conn: Connection, network_dir: Path, maildirs: Path, users: dict[str, str],
           cert: Path, key: Path, port: int) -> None:
    from medshake_bridge.sandbox.relay import SandboxRelay, maildirs_under

    try:
        relay = SandboxRelay(network_dir, maildirs_under(maildirs), users, port=port,
                             tls_cert=cert, tls_key=key).start()
    except OSError as exc:
        conn.send(("error", exc.strerror or str(exc)))
        return
    conn.send(("port", relay.port))
    try:
        conn.recv()  # the stop message, or EOFError when the demo's process is gone
    except (EOFError, OSError, KeyboardInterrupt):
        pass
    finally:
        relay.stop()


class RelayProcess:
    """``start()`` returns the port the relay listens on (raises ``OSError`` when it cannot
    listen); ``stop()`` ends the child and waits for it."""

    def __init__(self, sandbox: DemoSandbox, port: int) -> None:
        self._args = (sandbox.network.network_dir, sandbox.maildirs, dict(sandbox.users),
                      sandbox.cert, sandbox.key, port)
        self._conn: Connection | None = None
        self._process: multiprocessing.process.BaseProcess | None = None

    def start(self) -> int:
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        self._process = context.Process(target=_serve, args=(theirs, *self._args),
                                        name="medshake-bridge-demo-relay", daemon=True)
        self._process.start()
        theirs.close()
        self._conn = ours
        if not ours.poll(START_TIMEOUT):
            self.stop()
            raise OSError(f"the relay did not start within {START_TIMEOUT} s")
        try:
            kind, value = ours.recv()
        except EOFError:
            self.stop()
            raise OSError("the relay's process ended before listening") from None
        if kind != "port":
            self.stop()
            raise OSError(str(value))
        return int(value)

    def stop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError):  # the child may be gone already
                self._conn.send(STOP)
            self._conn.close()
            self._conn = None
        if self._process is not None:
            self._process.join(10)
            if self._process.is_alive():
                self._process.terminate()
                self._process.join(5)
            self._process = None
