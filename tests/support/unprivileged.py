"""Run a piece of a test as an unprivileged account, so "permission denied" paths run.

Root reads and writes everything, so a test of a read-only folder proves nothing as root (and
CI runs as root). ``run_unprivileged(code)`` runs ``code`` (a Python script) in a subprocess:

* as root: under the account ``MEDSHAKE_TEST_UNPRIVILEGED_USER`` (default ``msbtest``, made by
  ``.ci/run``), privileges dropped with ``setpriv`` (uid, gid, no supplementary groups);
* as anyone else: as that same account, unchanged (it is unprivileged already).

The script builds its own files in a fresh temporary folder (the test's ``tmp_path`` belongs to
root and is private) and prints one JSON line last; that value is returned for the test to
check. Tests using it carry ``real_component("unprivileged-user")``: when root has no such
account they are skipped locally and fail under CI.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from support.components import register_component

TESTS_DIR = Path(__file__).resolve().parents[1]
REPO = TESTS_DIR.parent


def unprivileged_account() -> pwd.struct_passwd | None:
    """The account to drop to (``None`` when this process is not root: nothing to drop)."""
    if os.geteuid() != 0:
        return None
    return pwd.getpwnam(os.environ.get("MEDSHAKE_TEST_UNPRIVILEGED_USER", "msbtest"))


def _probe() -> str | None:
    if os.geteuid() != 0:
        return None
    name = os.environ.get("MEDSHAKE_TEST_UNPRIVILEGED_USER", "msbtest")
    try:
        account = pwd.getpwnam(name)
    except KeyError:
        return (f"running as root and there is no account {name!r} to drop to: create it "
                f"(useradd --system --no-create-home --shell /usr/sbin/nologin {name}; "
                ".ci/run does) or set MEDSHAKE_TEST_UNPRIVILEGED_USER")
    if account.pw_uid == 0:
        return f"the account {name!r} is root"
    if shutil.which("setpriv") is None:
        return "setpriv is missing (Debian package util-linux)"
    return None


register_component("unprivileged-user", _probe)


def run_unprivileged(code: str, *, timeout: float = 120) -> Any:
    """Run ``code`` as an unprivileged account; return the JSON value of its last line."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": "/tmp",  # noqa: S108 - the child makes its own private folder under it
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPATH": os.pathsep.join([str(TESTS_DIR), str(REPO), str(REPO / "plugins")]),
    }
    command = [sys.executable, "-c", code]
    account = unprivileged_account()
    if account is not None:
        command = ["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}",
                   "--clear-groups", "--", *command]
    result = subprocess.run(command, env=env, cwd="/", capture_output=True, text=True,
                            timeout=timeout, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert lines, result.stderr
    return json.loads(lines[-1])
