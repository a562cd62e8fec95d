"""The program runner, with small real programs written by each test (no mocks)."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import pytest

from medshake_bridge.errors import ConfigurationError, ProgramError
from medshake_bridge.runner import (
    ProgramFailedError,
    ProgramMissingError,
    ProgramNotExecutableError,
    ProgramOutputMissingError,
    ProgramResult,
    ProgramTimeoutError,
    Runner,
    parse_prefix,
)


def write_program(path: Path, body: str, *, interpreter: str | None = None) -> Path:
    """A Python script with a '#!' line, executable."""
    path.write_text(f"#!{interpreter or sys.executable}\n{body}", "utf-8")
    path.chmod(0o755)
    return path


ECHO = """
import json, os, sys
print(json.dumps({"args": sys.argv[1:], "env": dict(os.environ), "cwd": os.getcwd()}))
"""


@pytest.fixture
def echo(tmp_path: Path) -> Path:
    return write_program(tmp_path / "echo-args", ECHO)


def process_gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state == "Z"


# -- prefix ----------------------------------------------------------------------------------


def test_parse_prefix_splits_like_a_shell_without_one() -> None:
    assert parse_prefix("sudo -n") == ["sudo", "-n"]
    assert parse_prefix("  ") == []
    assert parse_prefix(None) == []
    assert parse_prefix("'/opt/my tools/run as' -u apicrypt") == [
        "/opt/my tools/run as",
        "-u",
        "apicrypt",
    ]


@pytest.mark.parametrize("text", ["sudo -n; rm -rf /", "sudo | tee", "sudo $(id)", "a && b"])
def test_parse_prefix_refuses_shell_syntax(text: str) -> None:
    with pytest.raises(ConfigurationError, match="shell"):
        parse_prefix(text)


def test_parse_prefix_refuses_unbalanced_quotes() -> None:
    with pytest.raises(ConfigurationError, match="cannot be split"):
        parse_prefix("sudo 'oops")


def test_runner_refuses_a_non_positive_timeout() -> None:
    with pytest.raises(ConfigurationError):
        Runner(timeout=0)


# -- success, arguments, environment ---------------------------------------------------------


def test_arguments_arrive_literally_and_environment_is_minimal(
    echo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDSHAKE_ALLOWED", "yes")
    monkeypatch.setenv("WEB_SERVER_SECRET", "must-not-leak")
    runner = Runner(passthrough_env=["MEDSHAKE_ALLOWED", "MEDSHAKE_UNSET"])
    tricky = ["$(id)", "a;rm -rf /", "*", "`whoami`", "two words", "é"]
    result = runner.run(echo, tricky, cwd=tmp_path)
    assert isinstance(result, ProgramResult)
    assert result.returncode == 0
    assert result.argv == (str(echo), *tricky)
    assert result.duration > 0
    seen = json.loads(result.stdout)
    assert seen["args"] == tricky
    assert seen["cwd"] == str(tmp_path)
    assert seen["env"] == {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "MEDSHAKE_ALLOWED": "yes"}


def test_bare_program_names_are_found_in_the_minimal_path() -> None:
    result = Runner().run("true", [])
    assert result.returncode == 0


def test_success_is_logged_with_status_and_duration(
    echo: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="medshake_bridge.runner"):
        Runner().run(echo, ["hello"])
    record = caplog.records[-1]
    assert record.levelno == logging.INFO
    assert "echo-args: succeeded, exit status 0" in record.getMessage()
    assert "hello" in record.getMessage()


# -- typed errors ----------------------------------------------------------------------------


def test_missing_program(tmp_path: Path) -> None:
    with pytest.raises(ProgramMissingError, match="apicrypt.*does not exist") as info:
        Runner().run(tmp_path / "apicrypt", [])
    assert info.value.program == "apicrypt"
    assert info.value.fix
    assert isinstance(info.value, ProgramError)


def test_missing_bare_program() -> None:
    with pytest.raises(ProgramMissingError, match="not found"):
        Runner().run("no-such-program-medshake", [])


def test_not_executable(tmp_path: Path) -> None:
    program = write_program(tmp_path / "apiuncrypt", "print('hi')")
    program.chmod(0o644)
    with pytest.raises(ProgramNotExecutableError, match="apiuncrypt.*not executable") as info:
        Runner().run(program, [])
    assert "chmod" in info.value.fix


def test_a_folder_is_not_a_program(tmp_path: Path) -> None:
    with pytest.raises(ProgramNotExecutableError, match="not a file"):
        Runner().run(tmp_path, [])


def test_missing_interpreter_is_reported_as_missing(tmp_path: Path) -> None:
    program = write_program(tmp_path / "apicryptpj", "", interpreter="/nonexistent/python")
    with pytest.raises(ProgramMissingError, match="interpreter"):
        Runner().run(program, [])


def test_non_zero_exit_names_program_status_and_stderr(tmp_path: Path) -> None:
    program = write_program(
        tmp_path / "apicrypt",
        "import sys\nprint('partial')\nprint('clef introuvable', file=sys.stderr)\nsys.exit(3)\n",
    )
    with pytest.raises(ProgramFailedError) as info:
        Runner().run(program, ["-s", "x"])
    message = str(info.value)
    assert "apicrypt exited with status 3" in message
    assert "clef introuvable" in message
    assert info.value.result is not None
    assert info.value.result.returncode == 3
    assert info.value.result.stdout.strip() == "partial"


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    program = write_program(
        tmp_path / "slow",
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(600)\n",
    )
    started = time.monotonic()
    with pytest.raises(ProgramTimeoutError, match="slow did not finish within 0.5 s") as info:
        Runner(timeout=30).run(program, [], timeout=0.5)
    assert time.monotonic() - started < 10
    assert info.value.result is not None
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while not process_gone(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process_gone(grandchild)


def test_expected_output_missing_empty_or_present(echo: Path, tmp_path: Path) -> None:
    runner = Runner()
    with pytest.raises(ProgramOutputMissingError, match="did not write"):
        runner.run(echo, [], expect_output=tmp_path / "nothing")
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(ProgramOutputMissingError, match="empty output file"):
        runner.run(echo, [], expect_output=empty)
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "zero.pdf").write_bytes(b"")
    with pytest.raises(ProgramOutputMissingError, match="without any non-empty file"):
        runner.run(echo, [], expect_output=folder)
    (folder / "real.pdf").write_bytes(b"%PDF")
    assert runner.run(echo, [], expect_output=folder).returncode == 0
    empty.write_bytes(b"x")
    assert runner.run(echo, [], expect_output=empty).returncode == 0


def test_secrets_are_redacted_from_logs_and_errors(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    program = write_program(
        tmp_path / "ApiV2AESUtility",
        "import sys\nprint('code', sys.argv[3])\nprint('bad', sys.argv[3], file=sys.stderr)\n"
        "sys.exit(7 if sys.argv[3] != 'ok' else 0)\n",
    )
    runner = Runner(redact=["global-token"])
    with caplog.at_level(logging.INFO, logger="medshake_bridge.runner"):
        with pytest.raises(ProgramFailedError) as info:
            runner.run(program, ["src.aes", "dst", "K7QX2-SECRET"], secrets=["K7QX2-SECRET"])
        ok = runner.run(program, ["global-token", "dst", "ok"])
    assert "K7QX2-SECRET" not in str(info.value)
    assert info.value.result is not None
    assert "K7QX2-SECRET" not in " ".join(info.value.result.argv)
    assert "K7QX2-SECRET" not in info.value.result.stdout + info.value.result.stderr
    assert "[redacted]" in str(info.value)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "K7QX2-SECRET" not in logged
    assert "global-token" not in logged
    assert logged.count("[redacted]") >= 3
    # The caller's own result is not redacted.
    assert ok.argv[1] == "global-token"


# -- prefix ----------------------------------------------------------------------------------


def test_prefix_is_put_before_the_program(echo: Path, tmp_path: Path) -> None:
    trace = tmp_path / "prefix.json"
    prefix = write_program(
        tmp_path / "fake sudo",
        "import json, os, sys\n"
        f"json.dump(sys.argv, open({str(trace)!r}, 'w'))\n"
        "args = sys.argv[1:]\n"
        "args = args[1:] if args[:1] == ['-n'] else args\n"
        "os.execv(args[0], args)\n",
    )
    runner = Runner(parse_prefix(f"'{prefix}' -n"))
    result = runner.run(echo, ["-k", "/srv/keys"])
    assert result.argv == (str(prefix), "-n", str(echo), "-k", "/srv/keys")
    assert json.loads(trace.read_text()) == [str(prefix), "-n", str(echo), "-k", "/srv/keys"]
    assert json.loads(result.stdout)["args"] == ["-k", "/srv/keys"]


def test_missing_prefix_program_is_named(echo: Path, tmp_path: Path) -> None:
    with pytest.raises(ProgramMissingError, match="command prefix program"):
        Runner([str(tmp_path / "nosudo"), "-n"]).run(echo, [])
    with pytest.raises(ProgramMissingError, match="command prefix program 'no-such-sudo'"):
        Runner(["no-such-sudo"]).run(echo, [])


def test_behind_a_prefix_the_program_bit_is_the_other_accounts_business(tmp_path: Path) -> None:
    """With a prefix another account runs it: only existence is checked before starting."""
    program = write_program(tmp_path / "tool", "print('ran')")
    program.chmod(0o644)
    prefix = write_program(
        tmp_path / "as-other",
        "import os, sys\nos.execv(sys.executable, [sys.executable, *sys.argv[1:]])\n",
    )
    result = Runner([str(prefix)]).run(program, [])
    assert result.stdout.strip() == "ran"


# -- the file-size limit (applied through prlimit, or a preexec_fn where prlimit is missing) --

WRITER = """
import sys
try:
    with open(sys.argv[1], "wb") as handle:
        handle.write(b"x" * int(sys.argv[2]))
except OSError as exc:  # Python ignores SIGXFSZ: the write fails with EFBIG instead
    print(exc, file=sys.stderr)
    sys.exit(9)
"""


@pytest.fixture(params=["lent", "prlimit", "preexec_fn"])
def limited(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Runner:
    """A runner with a 10,000-byte file-size limit, each way of applying it: this process's
    own limit lent for the spawn, ``prlimit``, a ``preexec_fn``."""
    from medshake_bridge import runner as runner_module

    monkeypatch.setattr(runner_module, "may_lend_own_file_limit",
                        lambda: request.param == "lent")
    if request.param == "prlimit":
        assert runner_module.prlimit_program() is not None, "util-linux's prlimit is missing"
    elif request.param == "preexec_fn":
        monkeypatch.setattr(runner_module, "prlimit_program", lambda: None)
    return Runner(max_file_bytes=10_000)


def test_the_file_size_limit_stops_a_large_write(limited: Runner, tmp_path: Path) -> None:
    writer = write_program(tmp_path / "apiuncryptpj", WRITER)
    small = limited.run(writer, [str(tmp_path / "small"), "9000"], cwd=tmp_path)
    assert small.returncode == 0 and (tmp_path / "small").stat().st_size == 9000
    with pytest.raises(ProgramFailedError, match="File too large") as info:
        limited.run(writer, [str(tmp_path / "big"), "20000"], cwd=tmp_path)
    assert info.value.result is not None and info.value.result.returncode == 9
    assert (tmp_path / "big").stat().st_size == 10_000


def test_a_lent_limit_is_given_back_and_a_lower_one_kept(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The process's own soft limit is the child's for the spawn only: afterwards this process
    writes as before; a limit the process already had, lower than the runner's, is the one the
    program gets (and stays)."""
    import resource

    from medshake_bridge import runner as runner_module

    monkeypatch.setattr(runner_module, "may_lend_own_file_limit", lambda: True)
    writer = write_program(tmp_path / "apiuncryptpj", WRITER)
    before = resource.getrlimit(resource.RLIMIT_FSIZE)
    with pytest.raises(ProgramFailedError, match="File too large"):
        Runner(max_file_bytes=10_000).run(writer, [str(tmp_path / "big"), "20000"])
    assert resource.getrlimit(resource.RLIMIT_FSIZE) == before
    (tmp_path / "mine").write_bytes(b"x" * 50_000)  # this process is not limited
    try:
        resource.setrlimit(resource.RLIMIT_FSIZE, (5_000, before[1]))
        with pytest.raises(ProgramFailedError, match="File too large"):
            Runner(max_file_bytes=10_000).run(writer, [str(tmp_path / "lower"), "8000"])
        assert (tmp_path / "lower").stat().st_size == 5_000
        assert resource.getrlimit(resource.RLIMIT_FSIZE) == (5_000, before[1])
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, before)


def test_the_own_limit_is_lent_only_when_no_other_thread_could_write_a_file() -> None:
    """Another thread (a web server's scheduler, the collection's processing threads) could
    write past the limit while it is lent: prlimit then. multiprocessing's queue feeders
    write to pipes only."""
    import subprocess
    import threading

    from medshake_bridge.runner import may_lend_own_file_limit

    alone = subprocess.run(
        [sys.executable, "-c", "from medshake_bridge.runner import may_lend_own_file_limit; "
         "print(may_lend_own_file_limit())"], capture_output=True, text=True, check=True)
    assert alone.stdout.strip() == "True"
    release = threading.Event()
    started = []
    try:
        baseline = may_lend_own_file_limit()  # False under pytest-xdist (its own threads)
        for name in ("QueueFeederThread", "collect-process-1"):
            started.append(threading.Thread(target=release.wait, name=name, daemon=True))
            started[-1].start()
            if name == "QueueFeederThread":
                assert may_lend_own_file_limit() is baseline
        assert may_lend_own_file_limit() is False
    finally:
        release.set()
        for thread in started:
            thread.join()


def test_a_limited_run_shows_the_command_as_configured(
    limited: Runner, echo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEB_SERVER_SECRET", "must-not-leak")
    result = limited.run(echo, ["$(id)", "two words"], cwd=tmp_path)
    assert result.argv == (str(echo), "$(id)", "two words")
    seen = json.loads(result.stdout)
    assert seen["args"] == ["$(id)", "two words"]
    assert seen["env"] == {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


def test_a_limited_run_reports_start_failures_like_an_unlimited_one(
    limited: Runner, tmp_path: Path
) -> None:
    program = write_program(tmp_path / "apicryptpj", "", interpreter="/nonexistent/python")
    with pytest.raises(ProgramMissingError, match="interpreter"):
        limited.run(program, [])
    not_a_program = tmp_path / "apiuncrypt"
    not_a_program.write_text(f"touch '{tmp_path / 'ran'}'\n")  # sh would run it: never
    not_a_program.chmod(0o755)
    with pytest.raises(ProgramNotExecutableError, match="cannot be run on this system"):
        limited.run(not_a_program, [])
    assert not (tmp_path / "ran").exists()
