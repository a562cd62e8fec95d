"""`medshake-bridge run` serves with gunicorn; Werkzeug's development server only with --debug."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import TEST_SECRET_KEY
from support.net import free_ports

BRIDGE = str(Path(sys.executable).parent / "medshake-bridge")


def _environment(instance: Path) -> dict[str, str]:
    return {**os.environ, "MEDSHAKE_BRIDGE_INSTANCE": str(instance),
            "MEDSHAKE_BRIDGE_SECRET_KEYS": TEST_SECRET_KEY,
            "MEDSHAKE_BRIDGE_SCHEDULER": "off"}


def _get(url: str, deadline: float) -> tuple[int, dict[str, str], bytes]:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
                return response.status, dict(response.headers), response.read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.mark.parametrize("extra, server", [
    (["--workers", "2", "--threads", "2"], "gunicorn"),
    (["--debug"], "Werkzeug"),
])
def test_run_serves_the_login_page_with_the_chosen_server(tmp_path, extra, server):
    instance = tmp_path / "instance"
    env = _environment(instance)
    subprocess.run([BRIDGE, "init-db"], env=env, check=True, capture_output=True, timeout=120)
    (port,) = free_ports(1)
    process = subprocess.Popen([BRIDGE, "run", "--port", str(port), *extra], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        status, headers, body = _get(f"http://127.0.0.1:{port}/login", time.monotonic() + 60)
        assert status == 200
        assert headers["Server"].startswith(server)
        assert b'name="password"' in body
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        output = process.communicate(timeout=60)[0].decode("utf-8", "replace")
    assert process.returncode in (0, -signal.SIGTERM), output
    if server == "gunicorn":
        assert "Booting worker" in output and output.count("Booting worker") >= 2, output
        assert "Control socket" not in output, output  # nothing written in $HOME


def _smtp_banner(port: int, deadline: float) -> bytes:
    import socket

    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
                return connection.recv(200)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _children(pid: int) -> dict[int, str]:
    """The processes whose parent is ``pid``: their command lines."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found[int(entry.name)] = cmdline
    return found


@pytest.mark.parametrize("extra, server", [([], "gunicorn"), (["--debug"], "Werkzeug")])
def test_demo_serves_with_gunicorn_unless_debug(tmp_path, extra, server):
    """`demo` serves like `run` (gunicorn; Werkzeug only with --debug). Its FAKE relay runs in
    a process of its own: a gunicorn worker that ends leaves it running, Ctrl+C on the demo
    stops it."""
    import socket

    env = {**_environment(tmp_path / "demo"), "MEDSHAKE_BRIDGE_SCHEDULER": "embedded"}
    port, relay_port = free_ports(2)
    process = subprocess.Popen([BRIDGE, "demo", "--port", str(port), "--relay-port",
                                str(relay_port), *extra], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        status, headers, body = _get(f"http://127.0.0.1:{port}/login", deadline)
        assert status == 200 and b'name="password"' in body
        assert headers["Server"].startswith(server)
        assert b"FAKE" in _smtp_banner(relay_port, deadline)
        if server == "gunicorn":  # a worker ends (a crash, a recycle): the relay stays up
            workers = [pid for pid, line in _children(process.pid).items() if " demo " in line]
            assert len(workers) == 1, _children(process.pid)
            os.kill(workers[0], signal.SIGTERM)
            from scheduler_helpers import wait_for

            wait_for(lambda: [pid for pid, line in _children(process.pid).items()
                              if " demo " in line and pid != workers[0]],
                     timeout=60)  # gunicorn starts a new worker
            assert _get(f"http://127.0.0.1:{port}/login", deadline)[0] == 200
        # the relay's own process delivers: a letter sent as Alice is collected by Bob
        letter = tmp_path / "lettre.txt"
        letter.write_text("Chère consœur,\nvoici le bilan.\n", encoding="utf-8")
        for command in (["send", "--user", "2", "--to", "bob.DURAND@medical69.apicrypt.org",
                         "--patient", "1", "--body-file", str(letter)],
                        ["fetch", "--user", "3"]):
            done = subprocess.run([BRIDGE, *command], env=env, capture_output=True, text=True,
                                  timeout=120)
            assert done.returncode == 0, done.stdout + done.stderr
        assert "1 document(s)" in done.stdout, done.stdout
        os.kill(process.pid, signal.SIGINT)  # Ctrl+C: to the demo's process only
        output = process.communicate(timeout=60)[0].decode("utf-8", "replace")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate(timeout=60)
    assert process.returncode in (0, 1, -signal.SIGINT), output  # 1: Werkzeug's Ctrl+C
    assert "Traceback" not in output, output
    assert f"sandbox relay on localhost:{relay_port}" in output
    if server == "gunicorn":
        assert "Booting worker" in output and "(gunicorn, 1 worker(s) x 4 thread(s))" in output
        assert "Control socket" not in output, output
    with pytest.raises(OSError):  # the relay stopped with the demo
        socket.create_connection(("127.0.0.1", relay_port), timeout=2).close()
