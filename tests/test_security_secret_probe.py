"""A probe for a known secret everywhere it must not be: the database file, the logs, the audit
rows and every process's command line during a run (issue #17, item 11)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from mailbuild import HPRIM_LAB
from web_helpers import csrf_token

from medshake_bridge import bridge_state
from medshake_bridge.sandbox import SANDBOX_ENV_VARS
from medshake_bridge.sandbox.faults import LOG_ENV

KNOWN = "Sekret-Probe-7f3a9c-mot-de-passe"


def _cmdlines() -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(
                "utf-8", "replace"))
        except OSError:
            continue
    return found


def test_a_known_secret_is_nowhere_to_be_found(world, tmp_path):
    from conftest import TEST_SECRET_KEY

    app = world.app
    with app.app_context():
        store = bridge_state().settings
        for name in ("apicryptPopPassword", "apicrypt2CertPassword", "apicrypt2CompanionToken"):
            store.set(name, KNOWN, level="user", user_id=world.bob)
        store.set("apicryptCommandTimeout", "4", level="user", user_id=world.bob)
    client = app.test_client()  # someone types the secret into the login field
    token = csrf_token(client)
    client.post("/login", data={"login": KNOWN, "password": KNOWN, "csrf_token": token})
    world.deliver(world.mail(HPRIM_LAB))

    log_file = tmp_path / "fetch.log"
    env = {**os.environ, "MEDSHAKE_BRIDGE_INSTANCE": app.instance_path,
           "MEDSHAKE_BRIDGE_SECRET_KEYS": TEST_SECRET_KEY,
           "MEDSHAKE_BRIDGE_RUNNER_ENV_PASSTHROUGH": ",".join([*SANDBOX_ENV_VARS, LOG_ENV]),
           "MEDSHAKE_SANDBOX_FAULT": "hang", LOG_ENV: str(tmp_path / "sandbox.log")}
    with open(log_file, "wb") as output:
        run = subprocess.Popen(
            [sys.executable, "-c", "from medshake_bridge.cli import main; main()", "fetch"],
            env=env, stdout=output, stderr=subprocess.STDOUT)
        seen_programs = 0
        deadline = time.monotonic() + 120
        while run.poll() is None and time.monotonic() < deadline:
            lines = _cmdlines()
            assert not [line for line in lines if KNOWN in line], "secret in a command line"
            seen_programs += sum("apiuncrypt" in line for line in lines)
            time.sleep(0.05)
        run.wait(timeout=60)
    assert seen_programs > 0  # the probe ran while the programs were running

    logs = log_file.read_bytes() + (tmp_path / "sandbox.log").read_bytes()
    assert KNOWN.encode() not in logs
    for path in Path(app.instance_path).rglob("*"):
        if path.is_file():
            assert KNOWN.encode() not in path.read_bytes(), path
    database = Path(app.instance_path) / "medshake_bridge.db"
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT * FROM bridge_audit_events").fetchall()
        assert rows
        assert KNOWN not in repr(rows)
        values = connection.execute("SELECT value FROM bridge_settings").fetchall()
        assert KNOWN not in repr(values)
