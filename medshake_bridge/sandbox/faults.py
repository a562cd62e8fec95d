"""Fault injection and the invocation log of the sandbox programs.

Both are switched on by environment variables, which reach the programs only when the bridge's
:class:`~medshake_bridge.runner.Runner` lists them in ``passthrough_env``: that way a test proves
the production code path handles each failure, and the log proves how the programs were called
(argument list, parent process, account, environment, ``-k``) without trusting the caller.

``MEDSHAKE_SANDBOX_FAULT``: comma-separated ``[program:]mode`` items, e.g. ``exit1`` (every
program) or ``apiuncryptpj:hang,apicrypt:noise``. A scoped item wins over an unscoped one.
Modes are listed in :data:`FAULT_MODES`.

``MEDSHAKE_SANDBOX_LOG``: a file receiving one JSON line per call.
"""

from __future__ import annotations

import os
import sys

from medshake_bridge.sandbox.errors import SandboxUsageError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

FAULT_ENV = "MEDSHAKE_SANDBOX_FAULT"
LOG_ENV = "MEDSHAKE_SANDBOX_LOG"

FAULT_MODES: dict[str, str] = {
    "exit1": "print an error and exit with status 1 before doing anything",
    "noout": "exit 0 without writing any output",
    "empty": "exit 0 leaving zero-byte output file(s)",
    "truncate": "exit 0 after writing only the first half of each output file",
    "garbage": "exit 0 with random bytes instead of the real output",
    "hang": "start a child process and sleep (past any timeout); tests the group kill",
    "noise": "write junk (including invalid UTF-8) on stdout and stderr, then work normally",
}


def parse_faults(text: str) -> dict[str | None, str]:
    """``"apicrypt:hang,exit1"`` -> ``{"apicrypt": "hang", None: "exit1"}``.

    Unknown modes are refused, so a typo in a test cannot silently disable a fault.
    """
    faults: dict[str | None, str] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        program, sep, mode = item.rpartition(":")
        if mode not in FAULT_MODES:
            raise SandboxUsageError(
                f"{FAULT_ENV} names an unknown fault {mode!r}.",
                fix=f"Use one of: {', '.join(FAULT_MODES)}, optionally as program:mode.",
            )
        faults[program if sep else None] = mode
    return faults


def active_fault(program: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The fault this program must play now, if any."""
    env = os.environ if environ is None else environ
    faults = parse_faults(env.get(FAULT_ENV, ""))
    return faults.get(program, faults.get(None))


def _parent_argv() -> list[str]:
    try:
        with open(f"/proc/{os.getppid()}/cmdline", "rb") as handle:
            raw = handle.read()
    except OSError:
        return []
    return [part.decode("utf-8", errors="replace") for part in raw.split(b"\0") if part]


def log_invocation(
    program: str,
    argv: Sequence[str],
    *,
    fault: str | None,
    extra: Mapping[str, object] | None = None,
) -> None:
    """Append one JSON line describing this call to ``MEDSHAKE_SANDBOX_LOG`` (if set)."""
    target = os.environ.get(LOG_ENV)
    if not target:
        return
    import json  # imported here: most runs log nothing, and start-up time counts
    import time

    record = {
        "time": time.time(),
        "program": program,
        "argv": [sys.argv[0], *argv],
        "cwd": os.getcwd(),
        "cwd_mode": oct(os.stat(os.getcwd()).st_mode & 0o777),
        "uid": os.getuid(),
        "euid": os.geteuid(),
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "parent_argv": _parent_argv(),
        "env": sorted(os.environ),
        "sudo_user": os.environ.get("SUDO_USER"),
        "fault": fault,
        **(extra or {}),
    }
    line = json.dumps(record, ensure_ascii=False, default=str) + "\n"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, line.encode("utf-8", errors="surrogateescape"))
    finally:
        os.close(fd)


def start_hang_child() -> int:
    """A grandchild that shares our stdout/stderr: only a process-group kill frees the pipes."""
    import subprocess

    child = subprocess.Popen(  # noqa: S603 - fixed argument list
        [sys.executable, "-c", "import time; time.sleep(3600)"],
        stdin=subprocess.DEVNULL,
    )
    return child.pid


def hang() -> None:
    import time

    time.sleep(3600)


def make_noise() -> None:
    """Chatter the bridge must capture and log without being confused by it."""
    sys.stdout.write("MEDSHAKE SANDBOX NOISE: 42% done\n")
    sys.stdout.flush()
    sys.stdout.buffer.write(b"\xff\xfe not utf-8 \x80\x81\n")
    sys.stdout.buffer.flush()
    sys.stderr.write("MEDSHAKE SANDBOX NOISE: warning: ignore me\n")
    sys.stderr.flush()


def _files(outputs: Sequence[str | os.PathLike[str]]) -> list[Path]:
    from pathlib import Path

    found: list[Path] = []
    for path in map(Path, outputs):
        if path.is_dir():
            found.extend(p for p in sorted(path.rglob("*")) if p.is_file())
        elif path.is_file():
            found.append(path)
    return found


def damage_outputs(mode: str, outputs: Sequence[str | os.PathLike[str]]) -> None:
    """Apply an output fault (``noout``, ``empty``, ``truncate``, ``garbage``) after the work."""
    for path in _files(outputs):
        if mode == "noout":
            path.unlink()
        elif mode == "empty":
            path.write_bytes(b"")
        elif mode == "truncate":
            data = path.read_bytes()
            path.write_bytes(data[: len(data) // 2])
        elif mode == "garbage":
            path.write_bytes(os.urandom(max(64, path.stat().st_size)))
