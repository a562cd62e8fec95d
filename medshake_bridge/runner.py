"""Run external programs (Apicrypt v1, ApiV2AESUtility, restart commands) safely.

Every plugin that runs a program goes through :class:`Runner` so that the rules are enforced in
one place: an argument list and never a shell (a recipient like ``$(id)`` stays a string), an
optional command prefix such as ``sudo -n`` parsed without a shell, a minimal environment (the
programs must not inherit the web server's secrets), a timeout that kills the whole process
group (a hung program must not hold the pipes or a lock), and a log of what ran, how long it took
and what it said, with secrets redacted. Exit codes of the Apicrypt programs are undocumented, so
success is "exit 0 *and* the expected output exists and is not empty".
"""

from __future__ import annotations

import logging
import os
import resource
import selectors
import shlex
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

from medshake_bridge import redaction
from medshake_bridge.errors import CONFIGURATION, TRANSIENT, ConfigurationError, ProgramError

logger = logging.getLogger(__name__)

MINIMAL_PATH = "/usr/bin:/bin"
MINIMAL_LANG = "C.UTF-8"
DEFAULT_TIMEOUT = 60.0
REDACTED = "[redacted]"
_TAIL = 600  # characters of stdout/stderr quoted in an error message
_LOG_LIMIT = 4000  # characters of stdout/stderr written to the log
_REAP_GRACE = 5.0  # seconds to collect a killed program's last output
# util-linux's prlimit applies the file-size limit and execs the program (same process). It
# says this, and exits 127 (not found) or 126 (other), when the exec fails.
_PRLIMIT_FAILED = "prlimit: failed to execute "
_EXEC_MAGIC = (b"#!", b"\x7fELF")  # what the kernel runs (execve), without a shell fallback
# Characters that only mean something to a shell: a prefix containing them was written for a
# shell, which we never use, so it would not do what the admin expects.
_SHELL_ONLY = (";", "|", "&", "<", ">", "`", "$(", "\n")


@dataclass(frozen=True)
class ProgramResult:
    """What one run produced. ``argv`` is the full command, prefix included."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    duration: float


class ProgramRunError(ProgramError):
    """Base of the runner's errors: carries the program and, once it ran, its (redacted) result."""

    def __init__(
        self,
        message: str,
        *,
        fix: str = "",
        program: str = "",
        result: ProgramResult | None = None,
    ) -> None:
        super().__init__(message, fix=fix)
        self.program = program
        self.result = result


class ProgramMissingError(ProgramRunError):
    """The program (or the command prefix, or a script's interpreter) does not exist."""

    cause = CONFIGURATION


class ProgramNotExecutableError(ProgramRunError):
    """The program exists but this account may not execute it, or it is not a program."""

    cause = CONFIGURATION


class ProgramTimeoutError(ProgramRunError):
    """The program ran past its timeout; its whole process group was killed."""

    cause = TRANSIENT


class ProgramFailedError(ProgramRunError):
    """The program exited with a non-zero status."""


class ProgramOutputMissingError(ProgramRunError):
    """The program exited 0 but its expected output is missing or empty."""


def parse_prefix(text: str | None) -> list[str]:
    """Split the admin's command-prefix text (``apicryptCommandPrefix``) into an argument list.

    Uses :func:`shlex.split` (quotes work as in a shell) but never runs a shell, so shell
    operators (``;``, ``|``, ``&&``, redirections, ``$(...)``) are refused instead of being passed
    silently as literal arguments.
    """
    if not text or not text.strip():
        return []
    try:
        parts = shlex.split(text)
    except ValueError as exc:
        raise ConfigurationError(
            f"The command prefix {text!r} cannot be split into arguments: {exc}.",
            fix="Close the quotes, or write the prefix as plain words such as 'sudo -n'.",
        ) from exc
    for part in parts:
        if any(token in part for token in _SHELL_ONLY):
            raise ConfigurationError(
                f"The command prefix {text!r} contains shell syntax ({part!r}); "
                "the bridge runs programs without a shell.",
                fix="Use only a program and its options, e.g. 'sudo -n' or 'sudo -n -u apicrypt'.",
            )
    return parts


@cache
def prlimit_program() -> str | None:
    """util-linux's ``prlimit`` (Debian: always installed), found once per process.

    Where the process cannot lend its own limit (:func:`may_lend_own_file_limit`), the
    file-size limit is applied through it rather than a ``preexec_fn``: a ``preexec_fn``
    makes :mod:`subprocess` ``fork()`` the whole bridge process (page tables of some 90 MB)
    and run Python in the child, where without it the child is started with ``vfork()``. One
    spawn of a copy-through stand-in cost about 13 ms of CPU with the ``preexec_fn`` and 4 ms
    through ``prlimit`` (issue 18, ``benchmarks/spawn_benchmark.py``); and the :mod:`subprocess`
    documentation warns that a ``preexec_fn`` may deadlock the child when other threads run,
    which the collection's processing pool does.
    """
    return shutil.which("prlimit", path=MINIMAL_PATH)


# multiprocessing's queues send from this thread: it writes to a pipe, never to a file
_PIPE_WRITER_THREADS = frozenset({"QueueFeederThread"})


def may_lend_own_file_limit() -> bool:
    """Whether the file-size limit may be put on this process itself for the time of a spawn
    (the child inherits it), instead of starting ``prlimit`` before every program.

    ``prlimit`` is a second ``execve`` per run: 1.2 to 1.5 ms of CPU here for each of the
    thousands of decryptions of a collection (issue 18), about a third of what a stand-in
    program costs. Lowering this process's own soft limit for the instant of the spawn costs
    two system calls, but it holds for every thread of the process: it is done only when the
    calling thread is the only one that could write a file (the other threads, if any, are
    :mod:`multiprocessing`'s queue feeders, which write to pipes; the limit does not cover
    pipes). That is the case in the collection's forked processing workers and in a
    ``fetch`` that runs no thread; a web server's scheduler runs threads and keeps ``prlimit``.
    """
    current = threading.current_thread()
    return all(thread is current or thread.name in _PIPE_WRITER_THREADS
               for thread in threading.enumerate())


@contextmanager
def _lent_file_limit(limit: int) -> Iterator[None]:
    """This process's soft file-size limit lowered to ``limit`` until the block ends.

    Only the soft limit: an unprivileged process cannot raise its hard limit again (so the
    program, not the bridge, could raise its own soft limit back: the Apicrypt programs do
    not). A limit already lower is left as it is, and inherited as it is."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    wanted = limit if hard == resource.RLIM_INFINITY else min(limit, hard)
    if soft != resource.RLIM_INFINITY and soft <= wanted:
        yield
        return
    resource.setrlimit(resource.RLIMIT_FSIZE, (wanted, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def _is_path(program: str) -> bool:
    return os.sep in program or (os.altsep is not None and os.altsep in program)


class Runner:
    """Runs programs with an argument list, a prefix, a minimal environment and a timeout.

    ``prefix`` is put before every command (e.g. ``["sudo", "-n"]``; see :func:`parse_prefix`).
    ``passthrough_env`` names environment variables copied from this process when set (the
    sandbox's fault and log switches travel that way; nothing else does). ``redact`` lists strings
    that never appear in logs or error messages; :meth:`run` takes more per call.
    """

    def __init__(
        self,
        prefix: Sequence[str] = (),
        *,
        timeout: float = DEFAULT_TIMEOUT,
        passthrough_env: Iterable[str] = (),
        redact: Iterable[str] = (),
        max_file_bytes: int | None = None,
    ) -> None:
        if timeout <= 0:
            raise ConfigurationError(
                f"The program timeout must be positive, not {timeout}.",
                fix="Set apicryptCommandTimeout to a number of seconds such as 60.",
            )
        self.prefix: tuple[str, ...] = tuple(str(p) for p in prefix)
        self.timeout = float(timeout)
        self.passthrough_env: tuple[str, ...] = tuple(passthrough_env)
        self.redact: tuple[str, ...] = tuple(s for s in redact if s)
        # The largest file a program may write (RLIMIT_FSIZE, inherited through sudo): a
        # hostile attachment cannot make a decryption fill the disk.
        self.max_file_bytes = int(max_file_bytes) if max_file_bytes else None

    @classmethod
    def from_prefix_text(
        cls,
        prefix_text: str | None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        passthrough_env: Iterable[str] = (),
        redact: Iterable[str] = (),
        max_file_bytes: int | None = None,
    ) -> Runner:
        """Build a runner from the settings' text form (``apicryptCommandPrefix``)."""
        return cls(
            parse_prefix(prefix_text),
            timeout=timeout,
            passthrough_env=passthrough_env,
            redact=redact,
            max_file_bytes=max_file_bytes,
        )

    def environment(self) -> dict[str, str]:
        """The child's whole environment: a fixed PATH and locale plus allowed variables."""
        env = {"PATH": MINIMAL_PATH, "LANG": MINIMAL_LANG}
        for name in self.passthrough_env:
            value = os.environ.get(name)
            if value is not None:
                env[name] = value
        return env

    def _limits(self) -> Callable[[], None]:
        limit = int(self.max_file_bytes or 0)

        def apply() -> None:  # in the child, before exec
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        return apply

    def run(
        self,
        program: str | os.PathLike[str],
        args: Sequence[str | os.PathLike[str]],
        *,
        cwd: str | os.PathLike[str] | None = None,
        timeout: float | None = None,
        expect_output: str | os.PathLike[str] | None = None,
        secrets: Iterable[str] = (),
    ) -> ProgramResult:
        """Run ``program`` with ``args`` and return its result, or raise a typed error.

        Success is exit status 0 and, when ``expect_output`` is given, that file exists and is
        not empty (or that folder holds at least one non-empty file). ``secrets`` are redacted
        from the log and from errors; the returned result itself is not redacted (it is the
        caller's own data).
        """
        program_text = os.fspath(program)
        name = Path(program_text).name or program_text
        hidden = tuple(s for s in (*self.redact, *secrets) if s)
        limit = self.timeout if timeout is None else float(timeout)
        env = self.environment()
        self._check_startable(program_text, name, env)
        argv = (*self.prefix, program_text, *(os.fspath(a) for a in args))
        lent = bool(self.max_file_bytes) and may_lend_own_file_limit()
        limiter = () if lent else self._limiter(program_text, name, hidden)

        started = time.monotonic()
        try:
            with _lent_file_limit(self.max_file_bytes or 0) if lent else nullcontext():
                proc = subprocess.Popen(  # noqa: S603 - argument list, no shell, by design
                    (*limiter, *argv),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    cwd=os.fspath(cwd) if cwd is not None else None,
                    env=env,
                    start_new_session=True,
                    close_fds=True,
                    # only where prlimit is missing: see prlimit_program
                    preexec_fn=(self._limits() if self.max_file_bytes  # noqa: PLW1509
                                and not limiter and not lent else None),
                )
        except FileNotFoundError as exc:
            raise ProgramMissingError(
                f"{name}: could not start {self._redacted(argv[0], hidden)!r}: the file, its "
                "interpreter (the '#!' line) or the working folder does not exist "
                f"({exc.strerror}).",
                fix="Check that the program is installed at the configured path and that a "
                "script's interpreter exists.",
                program=name,
            ) from exc
        except PermissionError as exc:
            raise ProgramNotExecutableError(
                f"{name}: permission denied when starting {self._redacted(argv[0], hidden)!r}.",
                fix="Make the program executable by the account that runs the bridge "
                "(e.g. chmod 755) and check the folders above it.",
                program=name,
            ) from exc
        except OSError as exc:
            raise ProgramNotExecutableError(
                f"{name}: {self._redacted(argv[0], hidden)!r} cannot be run on this system "
                f"({exc.strerror or exc}).",
                fix="Check that the file is a program built for this machine or a script "
                "with a valid '#!' line.",
                program=name,
            ) from exc

        timed_out = False
        stopped = True
        chunks: dict[str, list[bytes]] = {"stdout": [], "stderr": []}
        if not _gather(proc, limit, chunks):
            timed_out = True
            stopped = self._kill_group(proc)
            if not _gather(proc, _REAP_GRACE, chunks):
                # Another account's process (behind sudo) that we may not signal: stop waiting
                # for it rather than hang the caller; what it said so far is kept.
                stopped = False
                for stream in (proc.stdout, proc.stderr):
                    if stream is not None:
                        stream.close()
        out, err = b"".join(chunks["stdout"]), b"".join(chunks["stderr"])
        duration = time.monotonic() - started
        result = ProgramResult(
            argv=argv,
            returncode=proc.returncode,
            stdout=out.decode("utf-8", errors="replace"),
            stderr=err.decode("utf-8", errors="replace"),
            duration=duration,
        )
        if not timed_out and result.returncode == 0 and (
                expect_output is None or not _output_problem(Path(expect_output))):
            if logger.isEnabledFor(logging.INFO):  # redacting costs; only for a shown line
                self._log(logging.INFO, name, "succeeded", self._redact_result(result, hidden))
            return result
        shown = self._redact_result(result, hidden)
        if limiter and not timed_out:
            self._check_limiter_start(result, shown, name, argv[0], hidden)

        if timed_out:
            self._log(logging.WARNING, name, "timed out", shown)
            fate = (
                "was stopped with its whole process group"
                if stopped
                else "could NOT be stopped (another account's process, or one that left its "
                "process group) and was abandoned"
            )
            raise ProgramTimeoutError(
                f"{name} did not finish within {limit:g} s and {fate}.{self._tails(shown)}",
                fix="Check that the program is not waiting for input or a password (a sudo "
                "prefix needs -n and a NOPASSWD rule), then raise the timeout setting "
                "(apicryptCommandTimeout) if the machine is only slow.",
                program=name,
                result=shown,
            )
        if result.returncode != 0:
            self._log(logging.WARNING, name, "failed", shown)
            raise ProgramFailedError(
                f"{name} exited with status {result.returncode}.{self._tails(shown)}",
                fix="Read the program's messages above; check its arguments, the keys folder "
                "and the permissions of the account that runs it.",
                program=name,
                result=shown,
            )
        if expect_output is not None:
            problem = _output_problem(Path(expect_output))
            if problem:
                self._log(logging.WARNING, name, "produced no output", shown)
                raise ProgramOutputMissingError(
                    f"{name} exited 0 but {self._redacted(os.fspath(expect_output), hidden)} "
                    f"{problem}.{self._tails(shown)}",
                    fix="Check the program's messages in the log, that it can write to the "
                    "working folder, and its keys.",
                    program=name,
                    result=shown,
                )
        self._log(logging.INFO, name, "succeeded", shown)  # the output appeared meanwhile
        return result

    # -- helpers ------------------------------------------------------------------------------

    def _limiter(self, program: str, name: str, hidden: Sequence[str]) -> tuple[str, ...]:
        """The ``prlimit`` words put before the command when a file-size limit is set (empty
        without a limit, or when ``prlimit`` is missing: the ``preexec_fn`` is used then).

        ``prlimit`` starts the program with ``execvp``, which hands a file the kernel cannot
        run (no ``#!`` line, not ELF) to ``/bin/sh``; :mod:`subprocess` refuses such a file.
        The program's first bytes are checked here so that it is still refused (behind a
        prefix the file may be another account's, unreadable to us: left to that account)."""
        if not self.max_file_bytes:
            return ()
        prlimit = prlimit_program()
        if prlimit is None:
            return ()
        if not self.prefix and _is_path(program):
            try:
                with open(program, "rb") as handle:
                    magic = handle.read(4)
            except OSError:
                magic = _EXEC_MAGIC[0]  # unreadable but executable: the kernel decides
            if not magic.startswith(_EXEC_MAGIC):
                raise ProgramNotExecutableError(
                    f"{name}: {self._redacted(program, hidden)!r} cannot be run on this "
                    "system (it is neither a program nor a script with a '#!' line).",
                    fix="Check that the file is a program built for this machine or a script "
                    "with a valid '#!' line.",
                    program=name,
                )
        limit = self.max_file_bytes
        return (prlimit, f"--fsize={limit}:{limit}", "--")

    def _check_limiter_start(self, result: ProgramResult, shown: ProgramResult, name: str,
                             first: str, hidden: Sequence[str]) -> None:
        """``prlimit`` could not start the command: the same errors as :mod:`subprocess`'s."""
        if result.returncode not in (126, 127) or not result.stderr.startswith(_PRLIMIT_FAILED):
            return
        self._log(logging.WARNING, name, "could not start", shown)
        if result.returncode == 127:
            raise ProgramMissingError(
                f"{name}: could not start {self._redacted(first, hidden)!r}: the file or its "
                "interpreter (the '#!' line) does not exist "
                f"({result.stderr.rpartition(': ')[2].strip()}).",
                fix="Check that the program is installed at the configured path and that a "
                "script's interpreter exists.",
                program=name,
                result=shown,
            )
        raise ProgramNotExecutableError(
            f"{name}: {self._redacted(first, hidden)!r} could not be started "
            f"({result.stderr.rpartition(': ')[2].strip()}).",
            fix="Make the program executable by the account that runs the bridge "
            "(e.g. chmod 755) and check the folders above it and a script's '#!' line.",
            program=name,
            result=shown,
        )

    def _check_startable(self, program: str, name: str, env: dict[str, str]) -> None:
        """Give a precise error before starting anything when a file is obviously wrong."""
        if self.prefix:
            first = self.prefix[0]
            if (_is_path(first) and not Path(first).is_file()) or (
                not _is_path(first) and shutil.which(first, path=env["PATH"]) is None
            ):
                raise ProgramMissingError(
                    f"{name}: the command prefix program {first!r} was not found "
                    f"(searched {env['PATH']} for a bare name).",
                    fix="Install it or correct the command prefix (apicryptCommandPrefix), "
                    "e.g. 'sudo -n'.",
                    program=name,
                )
        if _is_path(program):
            path = Path(program)
            if not path.exists():
                raise ProgramMissingError(
                    f"{name}: the program {program!r} does not exist.",
                    fix="Install the program there or correct the configured binaries folder "
                    "(apicryptCheminVersBinaires).",
                    program=name,
                )
            if not path.is_file():
                raise ProgramNotExecutableError(
                    f"{name}: {program!r} is not a file.",
                    fix="Point the configured binaries folder at the folder holding the programs.",
                    program=name,
                )
            # Behind a prefix (sudo -u ...) another account executes it: its rights, not ours.
            if not self.prefix and not os.access(path, os.X_OK):
                raise ProgramNotExecutableError(
                    f"{name}: {program!r} exists but is not executable by this account "
                    f"(uid {os.getuid()}).",
                    fix=f"Run 'chmod 755 {program}' or run it through a configured account.",
                    program=name,
                )
        elif not self.prefix and shutil.which(program, path=env["PATH"]) is None:
            raise ProgramMissingError(
                f"{name}: the program was not found in {env['PATH']}.",
                fix="Give the program's full path or install it in /usr/bin.",
                program=name,
            )

    @staticmethod
    def _kill_group(proc: subprocess.Popen[bytes]) -> bool:
        """SIGKILL the program's whole group; False when another account's process refused it."""
        for send in (lambda: os.killpg(proc.pid, signal.SIGKILL), proc.kill):
            try:
                send()
            except ProcessLookupError:
                return True
            except PermissionError:
                continue  # the group belongs to another account (sudo): try the child alone
            return True
        return False

    @staticmethod
    def _redacted(text: str, hidden: Sequence[str]) -> str:
        for secret in sorted(hidden, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        return redaction.redact(text)

    def _redact_result(self, result: ProgramResult, hidden: Sequence[str]) -> ProgramResult:
        return replace(
            result,
            argv=tuple(self._redacted(a, hidden) for a in result.argv),
            stdout=self._redacted(result.stdout, hidden),
            stderr=self._redacted(result.stderr, hidden),
        )

    @staticmethod
    def _tails(result: ProgramResult) -> str:
        parts = []
        for label, text in (("stderr", result.stderr), ("stdout", result.stdout)):
            text = text.strip()
            if text:
                if len(text) > _TAIL:
                    text = "..." + text[-_TAIL:]
                parts.append(f" {label}: {text}")
        return "".join(parts)

    @staticmethod
    def _log(level: int, name: str, outcome: str, result: ProgramResult) -> None:
        logger.log(
            level,
            "program %s: %s, exit status %s, %.3f s; argv=%s; stdout=%r; stderr=%r",
            name,
            outcome,
            result.returncode,
            result.duration,
            shlex.join(result.argv),
            result.stdout[:_LOG_LIMIT],
            result.stderr[:_LOG_LIMIT],
        )


def _gather(proc: subprocess.Popen[bytes], timeout: float,
            chunks: dict[str, list[bytes]]) -> bool:
    """Read the program's output until both pipes end and it has exited, at most ``timeout``
    seconds; returns whether it finished (``chunks`` keeps what was read either way).

    What ``Popen.communicate(timeout=...)`` does, except for the end: with a timeout,
    ``communicate`` waits for the exit by calling ``waitpid`` between sleeps that start at
    0.5 ms and double, so most runs lost about 0.6 ms (wall clock) after their pipes closed
    (issue 18: 129 sleeps for 300 spawns of a stand-in). Here a pidfd wakes the poll when the
    program exits (Linux 5.3 and later; elsewhere ``wait`` polls as before)."""
    deadline = time.monotonic() + timeout
    try:
        pidfd: int | None = os.pidfd_open(proc.pid) if proc.returncode is None else None
    except (AttributeError, OSError):
        pidfd = None
    selector = selectors.PollSelector()
    try:
        for name in ("stdout", "stderr"):
            stream = getattr(proc, name)
            if stream is not None and not stream.closed:
                selector.register(stream.fileno(), selectors.EVENT_READ, name)
        if pidfd is not None:
            selector.register(pidfd, selectors.EVENT_READ, "exit")
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            for key, _events in selector.select(remaining):
                if key.data == "exit":
                    selector.unregister(key.fd)
                    continue
                data = os.read(key.fd, 65536)
                if data:
                    chunks[key.data].append(data)
                else:
                    selector.unregister(key.fd)
                    getattr(proc, key.data).close()
    finally:
        selector.close()
        if pidfd is not None:
            os.close(pidfd)
    try:
        proc.wait(timeout=max(deadline - time.monotonic(), 0))  # exited: reaped at once
    except subprocess.TimeoutExpired:
        return False
    return True


def _output_problem(path: Path) -> str:
    """Why ``path`` does not count as output, or '' when it does."""
    if path.is_dir():
        for root, _dirs, files in os.walk(path):
            for file_name in files:
                candidate = Path(root, file_name)
                if candidate.is_file() and candidate.stat().st_size > 0:
                    return ""
        return "left the output folder without any non-empty file"
    if not path.exists():
        return "did not write the expected output"
    if path.stat().st_size == 0:
        return "wrote an empty output file"
    return ""
