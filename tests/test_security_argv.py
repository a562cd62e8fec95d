"""Secrets never in process arguments: ``config set`` takes secrets from standard input or a
hidden prompt only; the .aes long code goes through a private file when the program can read
one, and the check page says plainly when it cannot (issue #17, item 5)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from medshake_apicrypt_v2.checks import long_code_check
from medshake_apicrypt_v2.service import open_aes_key

from medshake_bridge.extension import bridge_state
from medshake_bridge.runner import Runner
from medshake_bridge.sandbox import SANDBOX_ENV_VARS, create_network
from medshake_bridge.sandbox.aeskey import make_aes_key
from medshake_bridge.sandbox.faults import LOG_ENV

BOB = "bob.DURAND"
SECRET = "mot-de-passe-pop-42"


def _stored(app) -> str | None:
    with app.app_context():
        return bridge_state(app).settings.get("apicryptPopPassword")


def test_a_secret_on_the_command_line_is_refused(app, cli):
    result = cli("config", "set", "apicryptPopPassword", SECRET)
    assert result.exit_code == 2
    assert "visible to other users in `ps`" in result.output and "--value-stdin" in result.output
    assert _stored(app) in (None, "")


def test_a_secret_from_standard_input(app, cli):
    result = cli("config", "set", "apicryptPopPassword", "--value-stdin", input=SECRET + "\n")
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output
    assert _stored(app) == SECRET


def test_a_secret_from_the_prompt_asked_twice_without_echo(app, cli):
    result = cli("config", "set", "apicryptPopPassword", input=f"{SECRET}\n{SECRET}\n")
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output  # hidden input is not echoed
    assert _stored(app) == SECRET


def test_ordinary_values_still_go_on_the_command_line(app, cli):
    assert cli("config", "set", "apicryptPopHost", "pop.example.org").exit_code == 0
    result = cli("config", "set", "apicryptPopHost", "x.org", "--value-stdin", input="y\n")
    assert result.exit_code == 2 and "not both" in result.output


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MEDSHAKE_SANDBOX_YEAR", "2026")
    monkeypatch.delenv("MEDSHAKE_SANDBOX_FAULT", raising=False)
    log = tmp_path / "invocations.jsonl"
    monkeypatch.setenv(LOG_ENV, str(log))
    return create_network(tmp_path / "sandbox", [BOB], year=2026), log


def _logged_argv(log: Path) -> list[list[str]]:
    return [json.loads(line)["argv"] for line in log.read_text().splitlines()]


def test_the_long_code_goes_through_a_private_file(sandbox, tmp_path: Path):
    net, log = sandbox
    source, code = make_aes_key(BOB, net.keys_dir(BOB), 2027)
    settings = {"apicryptCheminVersBinaires": str(net.bin_dir),
                "apicrypt2AesCommand": "ApiV2AESUtility {source} {destination} "
                                       "--code-file={code_file}"}
    runner = Runner(timeout=30, passthrough_env=[*SANDBOX_ENV_VARS, LOG_ENV])
    target = tmp_path / "Clefs" / f"{BOB}.127"
    target.parent.mkdir()
    assert open_aes_key(settings, runner, source, target, code) == target
    assert b"User: bob.DURAND" in target.read_bytes()
    [argv] = _logged_argv(log)
    assert code not in " ".join(argv)
    code_file = Path(argv[-1].removeprefix("--code-file="))
    assert not code_file.exists() and not code_file.parent.exists()  # removed after the run
    check = long_code_check(settings)
    assert check.ok is True


def test_the_check_page_says_when_the_code_is_visible_in_ps(sandbox, tmp_path: Path):
    net, log = sandbox
    source, code = make_aes_key(BOB, net.keys_dir(BOB), 2027)
    settings = {"apicryptCheminVersBinaires": str(net.bin_dir)}  # APICEM's form: {code}
    runner = Runner(timeout=30, passthrough_env=[*SANDBOX_ENV_VARS, LOG_ENV])
    target = tmp_path / f"{BOB}.127"
    open_aes_key(settings, runner, source, target, code)
    [argv] = _logged_argv(log)
    assert code in argv  # what the real program needs: said plainly below
    check = long_code_check(settings)
    assert check.ok is None
    assert "`ps`" in check.detail and "dedicated account" in check.fix
    assert "hidepid=2" in check.fix and "{code_file}" in check.fix
