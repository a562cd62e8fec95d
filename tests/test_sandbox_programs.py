"""The sandbox programs as real processes, run through the production runner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from medshake_bridge.runner import ProgramFailedError, ProgramOutputMissingError, Runner
from medshake_bridge.sandbox import (
    PROGRAM_NAMES,
    SANDBOX_ENV_VARS,
    SandboxNetwork,
    create_network,
    install_programs,
    make_aes_key,
    reencrypt,
)
from medshake_bridge.sandbox.armour import parse

ALICE, BOB, CAROL = "alice.MARTIN", "bob.DURAND", "carol.PETIT"
LETTER = "Cher confrère,\nLe bilan de Mme Zoé Lefèvre est normal.\n".encode("latin-1")


@pytest.fixture
def net(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SandboxNetwork:
    monkeypatch.setenv("MEDSHAKE_SANDBOX_YEAR", "2026")
    monkeypatch.delenv("MEDSHAKE_SANDBOX_FAULT", raising=False)
    monkeypatch.setenv("MEDSHAKE_SANDBOX_LOG", str(tmp_path / "calls.jsonl"))
    return create_network(tmp_path / "sandbox", [ALICE, BOB, CAROL], year=2026)


@pytest.fixture
def runner() -> Runner:
    return Runner(timeout=20, passthrough_env=SANDBOX_ENV_VARS)


def calls(tmp_path: Path) -> list[dict]:
    log = tmp_path / "calls.jsonl"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text("utf-8").splitlines()]


def encrypt(net: SandboxNetwork, runner: Runner, tmp_path: Path, *recipients: str) -> Path:
    source = tmp_path / "letter.txt"
    source.write_bytes(LETTER)
    output = tmp_path / "letter.apicrypt"
    runner.run(
        net.bin_dir / "apicrypt",
        [
            "-s",
            source,
            "-o",
            output,
            "-u",
            ALICE,
            "-k",
            net.keys_dir(ALICE),
            "-d",
            ",".join(recipients or (BOB,)),
            "-v",
        ],
        expect_output=output,
    )
    return output


def test_install_programs_writes_labelled_python_scripts(tmp_path: Path) -> None:
    paths = install_programs(tmp_path / "bin")
    assert [p.name for p in paths] == list(PROGRAM_NAMES)
    for path in paths:
        lines = path.read_text("utf-8").splitlines()
        assert lines[0] == f"#!{sys.executable} -IS"  # no site, no PYTHON* variables: fast start
        assert "FAKE" in lines[1] and "NOT Apicrypt" in lines[2]
        assert os.access(path, os.X_OK)
    assert sorted(os.listdir(tmp_path / "bin")) == sorted(PROGRAM_NAMES)  # no temporaries left


def test_body_round_trip_and_default_output_name(
    net: SandboxNetwork, runner: Runner, tmp_path: Path
) -> None:
    armour_file = encrypt(net, runner, tmp_path, BOB)
    header, _ = parse(armour_file.read_bytes())
    assert (header.sender, header.recipients, header.key_yy) == (ALICE, (BOB,), 126)
    relayed = tmp_path / "for-bob"
    relayed.write_bytes(reencrypt(net.network_dir, armour_file.read_bytes())[BOB])
    # Without -o, apiuncrypt writes SRC.txt.
    result = runner.run(
        net.bin_dir / "apiuncrypt",
        ["-s", relayed, "-k", net.keys_dir(BOB)],
        expect_output=tmp_path / "for-bob.txt",
    )
    assert result.stdout == ""
    assert (tmp_path / "for-bob.txt").read_bytes() == LETTER


def test_verbose_flag_reports_on_stdout(
    net: SandboxNetwork, runner: Runner, tmp_path: Path
) -> None:
    source = tmp_path / "letter.txt"
    source.write_bytes(LETTER)
    common = ["-s", source, "-u", ALICE, "-k", net.keys_dir(ALICE), "-d", BOB]
    quiet = runner.run(net.bin_dir / "apicrypt", [*common, "-o", tmp_path / "q"])
    loud = runner.run(net.bin_dir / "apicrypt", [*common, "-o", tmp_path / "v", "-v"])
    assert quiet.stdout == ""
    assert "MEDSHAKE SANDBOX" in loud.stdout and f"as {ALICE} for {BOB}" in loud.stdout


def test_several_files_in_one_apz(net: SandboxNetwork, runner: Runner, tmp_path: Path) -> None:
    names = ["Compte rendu échographie.pdf", "Résultats — Zoë.txt", "Ordonnance n°2.pdf"]
    sources = []
    for index, name in enumerate(names):
        path = tmp_path / "docs" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * (index + 1))
        sources.append(path)
    apz = tmp_path / "bundle.apz"
    args: list[str | Path] = []
    for source in sources:
        args += ["-s", source]
    runner.run(
        net.bin_dir / "apicryptpj",
        [*args, "-o", apz, "-u", ALICE, "-k", net.keys_dir(ALICE), "-d", f"{BOB},{CAROL}"],
        expect_output=apz,
    )
    copy = tmp_path / "bob.apz"
    copy.write_bytes(reencrypt(net.network_dir, apz.read_bytes())[BOB])
    out = tmp_path / "out"
    runner.run(
        net.bin_dir / "apiuncryptpj",
        ["-s", copy, "-o", f"{out}/", "-k", net.keys_dir(BOB)],
        expect_output=out,
    )
    assert sorted(p.name for p in out.iterdir()) == sorted(names)
    for source in sources:
        assert (out / source.name).read_bytes() == source.read_bytes()


@pytest.mark.parametrize(
    ("keys_of", "status", "words"),
    [
        (CAROL, 5, "belong to carol.PETIT"),
        ("nobody", 3, "No sandbox key"),
        ("bob-2025", 4, "for year 2026"),
    ],
)
def test_refusals_have_distinct_exit_statuses(
    net: SandboxNetwork, runner: Runner, tmp_path: Path, keys_of: str, status: int, words: str
) -> None:
    if keys_of == "bob-2025":
        SandboxNetwork(tmp_path / "old").add_user(BOB, 2025)
        keys = tmp_path / "old" / "network" / BOB
    else:
        keys = net.keys_dir(keys_of)
    armour = encrypt(net, runner, tmp_path, BOB)
    copy = tmp_path / "copy"
    copy.write_bytes(reencrypt(net.network_dir, armour.read_bytes())[BOB])
    with pytest.raises(ProgramFailedError, match=words) as info:
        runner.run(net.bin_dir / "apiuncrypt", ["-s", copy, "-o", tmp_path / "o", "-k", keys])
    assert info.value.result is not None and info.value.result.returncode == status
    assert "MEDSHAKE SANDBOX" in info.value.result.stderr


def test_tampered_armour_exit_status(net: SandboxNetwork, runner: Runner, tmp_path: Path) -> None:
    armour = encrypt(net, runner, tmp_path, BOB)
    copy = tmp_path / "copy"
    data = reencrypt(net.network_dir, armour.read_bytes())[BOB]
    copy.write_bytes(data[: len(data) - 80])
    with pytest.raises(ProgramFailedError, match="truncated") as info:
        runner.run(net.bin_dir / "apiuncrypt", ["-s", copy, "-k", net.keys_dir(BOB)])
    assert info.value.result is not None and info.value.result.returncode == 6


def test_encrypting_without_this_years_key(
    net: SandboxNetwork, runner: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDSHAKE_SANDBOX_YEAR", "2027")
    with pytest.raises(ProgramFailedError, match="for year 2027") as info:
        encrypt(net, runner, tmp_path, BOB)
    assert info.value.result is not None and info.value.result.returncode == 4


def test_usage_errors_exit_2(net: SandboxNetwork, runner: Runner, tmp_path: Path) -> None:
    with pytest.raises(ProgramFailedError, match="required") as info:
        runner.run(net.bin_dir / "apicrypt", ["-s", tmp_path / "x"])
    assert info.value.result is not None and info.value.result.returncode == 2
    with pytest.raises(ProgramFailedError, match="not a valid local part"):
        encrypt(net, runner, tmp_path, "$(id)")


def test_aes_utility_with_right_and_wrong_code(
    net: SandboxNetwork, runner: Runner, tmp_path: Path
) -> None:
    source, code = make_aes_key(BOB, net.keys_dir(BOB), 2027)
    destination = source.with_suffix("")
    program = net.bin_dir / "ApiV2AESUtility"
    with pytest.raises(ProgramFailedError, match="long code") as info:
        runner.run(program, [source, destination, "WRONG-CODE"], secrets=["WRONG-CODE"])
    assert info.value.result is not None and info.value.result.returncode == 7
    assert "WRONG-CODE" not in str(info.value)
    runner.run(program, [source, destination, code], secrets=[code], expect_output=destination)
    assert destination.name == f"{BOB}.127"
    assert "FAKE" in destination.read_text("ascii").splitlines()[0]


def test_invocation_log_records_each_call(
    net: SandboxNetwork, runner: Runner, tmp_path: Path
) -> None:
    armour = encrypt(net, runner, tmp_path, BOB)
    (call,) = calls(tmp_path)
    assert call["program"] == "apicrypt"
    assert call["argv"] == [
        str(net.bin_dir / "apicrypt"),
        "-s",
        str(tmp_path / "letter.txt"),
        "-o",
        str(armour),
        "-u",
        ALICE,
        "-k",
        str(net.keys_dir(ALICE)),
        "-d",
        BOB,
        "-v",
    ]
    assert call["uid"] == os.getuid()
    assert call["ppid"] == os.getpid()  # started directly by us: no shell, no sudo in between
    assert call["sudo_user"] is None
    assert set(call["env"]) <= {"PATH", "LANG", *SANDBOX_ENV_VARS}
    assert call["fault"] is None


def test_switches_only_reach_programs_through_passthrough(
    net: SandboxNetwork, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDSHAKE_SANDBOX_FAULT", "exit1")
    encrypt(net, Runner(timeout=20, passthrough_env=["MEDSHAKE_SANDBOX_YEAR"]), tmp_path, BOB)
    assert calls(tmp_path) == []  # the log switch did not reach the program either
    with pytest.raises(ProgramFailedError, match="injected fault exit1"):
        encrypt(net, Runner(timeout=20, passthrough_env=SANDBOX_ENV_VARS), tmp_path, BOB)


@pytest.mark.parametrize("mode", ["noout", "empty"])
def test_output_faults(
    net: SandboxNetwork, runner: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setenv("MEDSHAKE_SANDBOX_FAULT", f"apicrypt:{mode}")
    with pytest.raises(ProgramOutputMissingError):
        encrypt(net, runner, tmp_path, BOB)
    assert calls(tmp_path)[-1]["fault"] == mode


# Modules a sandbox program must not load: each costs a visible part of a start, and a program
# runs once per message part (issue 18: "each sandbox program run ≤ 25 ms on a small message").
_HEAVY_FOR_A_PROGRAM = {"flask", "sqlalchemy", "argparse", "typing", "json", "subprocess",
                        "pathlib", "contextlib", "collections", "hashlib", "_hashlib",
                        "medshake_bridge.app", "medshake_bridge.sandbox.relay"}


def test_a_program_run_loads_no_heavy_module(net: SandboxNetwork, tmp_path: Path) -> None:
    """Run the four programs on a small letter and an attachment, as generated (``-IS``), with
    ``-X importtime``: they do their work, and none of the listed modules is imported."""
    letter, pdf = tmp_path / "letter.txt", tmp_path / "result.pdf"
    letter.write_bytes(LETTER)
    pdf.write_bytes(b"%PDF-1.4 sandbox\n" * 40)
    sent = [("apicrypt", ["-s", letter, "-o", tmp_path / "letter.enc"]),
            ("apicryptpj", ["-s", pdf, "-o", tmp_path / "result.apz"])]
    imported: dict[str, set[str]] = {}
    quiet = {k: v for k, v in os.environ.items() if k != "MEDSHAKE_SANDBOX_LOG"}  # no call log

    def run(name: str, args: list) -> None:
        script = net.bin_dir / name
        python = script.read_text().splitlines()[0].removeprefix("#!").split()[0]
        done = subprocess.run([python, "-IS", "-X", "importtime", script, *map(str, args)],
                              capture_output=True, text=True, timeout=60, env=quiet)
        assert done.returncode == 0, done.stderr[-2000:]
        imported[name] = {line.split("|")[-1].strip() for line in done.stderr.splitlines()
                          if line.startswith("import time:")}

    for name, args in sent:
        run(name, [*args, "-u", ALICE, "-k", net.keys_dir(ALICE), "-d", BOB])
    for armour in ("letter.enc", "result.apz"):
        (tmp_path / f"bob-{armour}").write_bytes(
            reencrypt(net.network_dir, (tmp_path / armour).read_bytes())[BOB])
    run("apiuncrypt", ["-s", tmp_path / "bob-letter.enc", "-o", tmp_path / "letter.out",
                       "-k", net.keys_dir(BOB)])
    run("apiuncryptpj", ["-s", tmp_path / "bob-result.apz", "-o", f"{tmp_path / 'pj'}/",
                         "-k", net.keys_dir(BOB)])
    assert (tmp_path / "letter.out").read_bytes() == LETTER
    assert (tmp_path / "pj" / "result.pdf").read_bytes() == pdf.read_bytes()
    for name, modules in imported.items():
        assert "medshake_bridge.sandbox.programs" in modules, name  # the report is read
        assert not _HEAVY_FOR_A_PROGRAM & modules, (name, _HEAVY_FOR_A_PROGRAM & modules)
