"""``medshake-bridge sandbox ...`` commands through click's CliRunner (programs run for real)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from medshake_bridge.runner import Runner
from medshake_bridge.sandbox import PROGRAM_NAMES, make_keys
from medshake_bridge.sandbox.armour import open_armour, parse, seal
from medshake_bridge.sandbox.cli import sandbox
from medshake_bridge.sandbox.keys import load_key

ALICE, BOB, CAROL = "alice.MARTIN", "bob.DURAND", "carol.PETIT"


@pytest.fixture
def cli() -> CliRunner:
    return CliRunner()


def test_install_programs(cli: CliRunner, tmp_path: Path) -> None:
    result = cli.invoke(sandbox, ["install-programs", str(tmp_path / "bin")])
    assert result.exit_code == 0, result.output
    for name in PROGRAM_NAMES:
        assert str(tmp_path / "bin" / name) in result.output
        assert os.access(tmp_path / "bin" / name, os.X_OK)
    assert "FAKE" in result.output


def test_make_keys(cli: CliRunner, tmp_path: Path) -> None:
    result = cli.invoke(
        sandbox, ["make-keys", "--user", "prenom.NOM", "--keys", str(tmp_path), "--year", "2026"]
    )
    assert result.exit_code == 0, result.output
    assert sorted(os.listdir(tmp_path / "Clefs")) == ["Master.126", "prenom.NOM.126"]
    assert "Long code" not in result.output


def test_make_keys_with_aes_prints_a_working_long_code(cli: CliRunner, tmp_path: Path) -> None:
    result = cli.invoke(
        sandbox,
        ["make-keys", "--user", BOB, "--keys", str(tmp_path / "keys"), "--year", "2026", "--aes"],
    )
    assert result.exit_code == 0, result.output
    aes = tmp_path / "keys" / "Clefs" / f"{BOB}.127.aes"
    assert str(aes) in result.output
    code = result.output.split("Long code: ")[1].strip()
    cli.invoke(sandbox, ["install-programs", str(tmp_path / "bin")])
    destination = aes.with_suffix("")
    Runner(timeout=20).run(
        tmp_path / "bin" / "ApiV2AESUtility",
        [aes, destination, code],
        secrets=[code],
        expect_output=destination,
    )
    assert load_key(tmp_path / "keys", BOB, 127).user == BOB


def test_make_keys_refuses_a_bad_user_without_traceback(cli: CliRunner, tmp_path: Path) -> None:
    result = cli.invoke(sandbox, ["make-keys", "--user", "a;rm -rf /", "--keys", str(tmp_path)])
    assert result.exit_code == 1
    assert "not a valid local part" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "Clefs").exists()


def test_reencrypt_writes_one_file_per_recipient(cli: CliRunner, tmp_path: Path) -> None:
    network = tmp_path / "network"
    for user in (ALICE, BOB, CAROL):
        make_keys(user, network / user, 2026)
    key = load_key(network / ALICE, ALICE, 126)
    source = tmp_path / "bilan.pdf.apz"
    source.write_bytes(seal("body", b"lettre", sender=ALICE, recipients=[BOB, CAROL], key=key))
    out = tmp_path / "out"
    result = cli.invoke(sandbox, ["reencrypt", "--network", str(network), str(source), str(out)])
    assert result.exit_code == 0, result.output
    for user in (BOB, CAROL):
        copy = out / user / "bilan.pdf.apz"
        assert str(copy) in result.output
        header, clear = open_armour(copy.read_bytes(), network / user, kind="body")
        assert (header.key_owner, clear) == (user, b"lettre")
    assert sorted(os.listdir(out)) == [BOB, CAROL]
    assert parse(source.read_bytes())[0].key_owner == ALICE  # the input is left alone


def test_reencrypt_reports_tampering(cli: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "network").mkdir()
    source = tmp_path / "junk.txt"
    source.write_text("bonjour")
    result = cli.invoke(
        sandbox,
        ["reencrypt", "--network", str(tmp_path / "network"), str(source), str(tmp_path / "out")],
    )
    assert result.exit_code == 1
    assert "not a sandbox armour" in result.output
    assert not (tmp_path / "out").exists()


def test_faults_lists_the_switches(cli: CliRunner) -> None:
    result = cli.invoke(sandbox, ["faults"])
    assert result.exit_code == 0
    for word in (
        "MEDSHAKE_SANDBOX_FAULT",
        "MEDSHAKE_SANDBOX_LOG",
        "MEDSHAKE_SANDBOX_YEAR",
        "exit1",
        "noout",
        "empty",
        "truncate",
        "garbage",
        "hang",
        "noise",
    ):
        assert word in result.output
