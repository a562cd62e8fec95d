"""The demo's FAKE relay in a process of its own.

``demo`` serves with gunicorn, which forks its workers from the process that runs the command.
A thread alive in a process that forks can leave its locks held forever in the child, so the
relay (an asyncio thread of aiosmtpd) does not run in that process: it runs in a fresh Python
process (``subprocess``, never a fork of this one), started from the relay's light entry
point (:mod:`medshake_bridge.sandbox.relay_main`: no Flask there). The relay's settings reach
it on its standard input (never on the command line, where ``ps`` would show the relay's
passwords); it answers with the port it listens on, then runs until its standard input closes,
which happens when the demo stops or dies.

Gunicorn's workers are forks of the demo's process and inherit this object: only the process
that started the relay stops it.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time

from medshake_bridge.cli.demo_sandbox import DemoSandbox
from medshake_bridge.sandbox.relay_main import RELAY_MAIN, SETTINGS_FROM_STDIN

START_TIMEOUT = 30  # seconds for the child to import the sandbox and listen


class RelayProcess:
    """``start()`` returns the port the relay listens on (raises ``OSError`` when it cannot
    listen); ``stop()`` ends the child and waits for it."""

    def __init__(self, sandbox: DemoSandbox, port: int) -> None:
        self._spec = {"network": str(sandbox.network.network_dir),
                      "maildirs": str(sandbox.maildirs), "users": dict(sandbox.users),
                      "cert": str(sandbox.cert), "key": str(sandbox.key), "port": port}
        self._process: subprocess.Popen[bytes] | None = None
        self._owner = os.getpid()

    def start(self) -> int:
        # the relay's light entry point: the sandbox only, not the bridge's app
        self._process = subprocess.Popen([sys.executable, RELAY_MAIN,  # noqa: S603
                                          SETTINGS_FROM_STDIN],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(json.dumps(self._spec).encode() + b"\n")
        self._process.stdin.flush()
        answer = self._first_line(self._process.stdout.fileno())
        self._process.stdout.close()
        try:
            reply = json.loads(answer)
        except ValueError:
            self.stop()
            raise OSError("the relay's process ended before listening") from None
        if "port" not in reply:
            self.stop()
            raise OSError(str(reply.get("error")))
        return int(reply["port"])

    def _first_line(self, fd: int) -> bytes:
        deadline = time.monotonic() + START_TIMEOUT
        data = b""
        while not data.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                self.stop()
                raise OSError(f"the relay did not start within {START_TIMEOUT} s")
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            data += chunk
        return data

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()  # the relay's signal to stop (in a forked worker: its copy)
        if os.getpid() != self._owner:
            return  # a gunicorn worker leaving: the relay is the demo's, not this worker's
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
