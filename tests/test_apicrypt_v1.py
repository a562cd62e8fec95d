"""The Apicrypt v1 back-end against the sandbox programs, run as real processes."""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from medshake_apicrypt_v1.backend import (
    ApicryptV1Backend,
    ApicryptV1Config,
    ApicryptV1ConfigError,
    build_backend,
)
from support.unprivileged import run_unprivileged

from medshake_bridge.crypto_common import EncryptedBody, InvalidRecipientError, validate_recipients
from medshake_bridge.errors import CryptoError
from medshake_bridge.interfaces import CheckResult, CryptoBackend
from medshake_bridge.runner import (
    ProgramFailedError,
    ProgramMissingError,
    ProgramOutputMissingError,
    ProgramTimeoutError,
    Runner,
    parse_prefix,
)
from medshake_bridge.sandbox import SANDBOX_ENV_VARS, SandboxNetwork, create_network, reencrypt
from medshake_bridge.sandbox.cli import sandbox
from medshake_bridge.sandbox.errors import SandboxTamperedError

ALICE, BOB, CAROL = "alice.MARTIN", "bob.DURAND", "carol.PETIT"
LETTER = (
    "Cher confrère,\n\n"
    "Je vous adresse Mme Hélène Gaëlle Lefèvre, née le 17/05/1985, pour un avis à propos\n"
    "de son hémoglobine à 10,2 g/dl. Échographie abdominale : foie homogène, pas d'ictère.\n"
    "Très cordialement,\nDr Zoé Müller\n****FIN****\n****FINFICHIER****\n"
)
PDF_A = (
    b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n" + bytes(range(256)) * 40
)
PDF_B = b"%PDF-1.7\n" + os.urandom(20000) + b"\n%%EOF\n"


@pytest.fixture
def net(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SandboxNetwork:
    monkeypatch.setenv("MEDSHAKE_SANDBOX_YEAR", "2026")
    monkeypatch.delenv("MEDSHAKE_SANDBOX_FAULT", raising=False)
    monkeypatch.setenv("MEDSHAKE_SANDBOX_LOG", str(tmp_path / "calls.jsonl"))
    return create_network(tmp_path / "sandbox", [ALICE, BOB, CAROL], year=2026)


def make_backend(
    net: SandboxNetwork,
    tmp_path: Path,
    user: str,
    *,
    runner: Runner | None = None,
    timeout: float | None = None,
    today: date = date(2026, 3, 2),
    **overrides: object,
) -> ApicryptV1Backend:
    work = tmp_path / "work" / user
    settings: dict[str, object] = {
        "binaries_dir": net.bin_dir,
        "keys_dir": net.keys_dir(user),
        "user": user,
        "clear_dir": work / "NC",
        "encrypted_dir": work / "C",
        "runner": runner or Runner(timeout=20, passthrough_env=SANDBOX_ENV_VARS),
        "timeout": timeout,
        "today": lambda: today,
    }
    settings.update(overrides)
    return ApicryptV1Backend(ApicryptV1Config(**settings))  # type: ignore[arg-type]


def calls(tmp_path: Path) -> list[dict]:
    log = tmp_path / "calls.jsonl"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text("utf-8").splitlines()]


def leftovers(tmp_path: Path) -> list[Path]:
    """Anything left inside the configured working folders (the folders themselves may stay)."""
    work = tmp_path / "work"
    if not work.exists():
        return []
    bases = {p for p in work.glob("*/NC")} | {p for p in work.glob("*/C")}
    return [p for p in work.rglob("*") if p not in bases and p.parent in bases]


def relay_to(net: SandboxNetwork, armour: bytes, user: str) -> bytes:
    return reencrypt(net.network_dir, armour)[user]


def process_gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state == "Z"


# -- the "done when" -----------------------------------------------------------------


def test_letter_and_two_pdfs_alice_to_bob_through_the_relay(
    net: SandboxNetwork, tmp_path: Path
) -> None:
    alice = make_backend(net, tmp_path, ALICE)
    bob = make_backend(net, tmp_path, BOB)
    carol = make_backend(net, tmp_path, CAROL)
    assert isinstance(alice, CryptoBackend)

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "Compte rendu échographie.pdf").write_bytes(PDF_A)
    (docs / "Bilan sanguin.pdf").write_bytes(PDF_B)
    outbox = tmp_path / "outbox"
    body = alice.encrypt_body(LETTER, [BOB])
    assert isinstance(body, EncryptedBody)
    assert body.replacements == ()
    assert body.armour.startswith(b"-----BEGIN MEDSHAKE SANDBOX ARMOUR (FAKE, NOT APICRYPT)")
    apzs = [alice.encrypt_attachment(p, [BOB], outbox) for p in sorted(docs.iterdir())]
    assert [p.name for p in apzs] == ["Bilan sanguin.pdf.apz", "Compte rendu échographie.pdf.apz"]

    # APICEM's server, played by `medshake-bridge sandbox reencrypt`.
    (outbox / "body.txt").write_bytes(body.armour)
    relayed = tmp_path / "relayed"
    for item in [outbox / "body.txt", *apzs]:
        result = CliRunner().invoke(
            sandbox, ["reencrypt", "--network", str(net.network_dir), str(item), str(relayed)]
        )
        assert result.exit_code == 0, result.output

    inbox = tmp_path / "inbox-bob"
    assert bob.decrypt_body((relayed / BOB / "body.txt").read_bytes()) == LETTER.encode("latin-1")
    received = []
    for apz in apzs:
        received += bob.decrypt_attachment(relayed / BOB / apz.name, inbox)
    assert {p.name: p.read_bytes() for p in received} == {
        "Compte rendu échographie.pdf": PDF_A,
        "Bilan sanguin.pdf": PDF_B,
    }

    with pytest.raises(ProgramFailedError, match="belong to carol.PETIT"):
        carol.decrypt_body((relayed / BOB / "body.txt").read_bytes())
    with pytest.raises(ProgramFailedError, match="belong to carol.PETIT"):
        carol.decrypt_attachment(relayed / BOB / apzs[0].name, tmp_path / "inbox-carol")
    assert not (tmp_path / "inbox-carol").exists()
    assert leftovers(tmp_path) == []


def test_several_files_in_one_apz_with_non_ascii_names(net: SandboxNetwork, tmp_path: Path) -> None:
    names = ["Ordonnance n°2 – Zoé.pdf", "Résultats biologie.pdf", "Lettre à Mme Dupré.txt"]
    sources = []
    for index, name in enumerate(names):
        path = tmp_path / "docs" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(PDF_A[: 1000 * (index + 1)])
        sources.append(path)
    bundle = tmp_path / "bundle.apz"
    args: list[str | Path] = []
    for source in sources:
        args += ["-s", source]
    Runner(timeout=20, passthrough_env=SANDBOX_ENV_VARS).run(
        net.bin_dir / "apicryptpj",
        [*args, "-o", bundle, "-u", ALICE, "-k", net.keys_dir(ALICE), "-d", BOB],
        expect_output=bundle,
    )
    copy = tmp_path / "reçu.apz"
    copy.write_bytes(relay_to(net, bundle.read_bytes(), BOB))
    bob = make_backend(net, tmp_path, BOB)
    first = bob.decrypt_attachment(copy, tmp_path / "inbox")
    assert sorted(p.name for p in first) == sorted(names)
    for source in sources:
        assert (tmp_path / "inbox" / source.name).read_bytes() == source.read_bytes()
    # The same attachment again never overwrites what is already there.
    second = bob.decrypt_attachment(copy, tmp_path / "inbox")
    assert sorted(p.name for p in second) == sorted(
        f"{n.rsplit('.', 1)[0]} (2).{n.rsplit('.', 1)[1]}" for n in names
    )
    assert copy.exists()
    assert leftovers(tmp_path) == []


def test_encrypting_the_same_attachment_twice_keeps_both(
    net: SandboxNetwork, tmp_path: Path
) -> None:
    alice = make_backend(net, tmp_path, ALICE)
    source = tmp_path / "cr.pdf"
    source.write_bytes(PDF_A)
    first = alice.encrypt_attachment(source, [BOB], tmp_path / "out")
    second = alice.encrypt_attachment(source, [BOB], tmp_path / "out")
    assert (first.name, second.name) == ("cr.pdf.apz", "cr.pdf (2).apz")
    assert source.read_bytes() == PDF_A


# -- transliteration -------------------------------------------------------------------------


def test_transliteration_is_reported_and_what_was_sent_decrypts(
    net: SandboxNetwork, tmp_path: Path
) -> None:
    alice = make_backend(net, tmp_path, ALICE)
    body = alice.encrypt_body("Le cœur… « normal » — 10 € œdème", [BOB])
    assert body.transliterated
    report = {(r.character, r.replacement, r.count) for r in body.replacements}
    assert ("œ", "oe", 2) in report
    assert ("€", "EUR", 1) in report
    assert {r.character for r in body.replacements} == {"œ", "…", "—", "€"}
    clear = make_backend(net, tmp_path, BOB).decrypt_body(relay_to(net, body.armour, BOB))
    assert clear.decode("latin-1").startswith("Le coeur")
    assert "« normal »".encode("latin-1") in clear  # Latin-1 characters are kept as they are


# -- faults ----------------------------------------------------------------------------------


@pytest.fixture
def bob_mail(net: SandboxNetwork, tmp_path: Path) -> dict[str, object]:
    """A body and a .apz from Alice, already relayed to Bob (prepared without faults)."""
    alice = make_backend(net, tmp_path, ALICE)
    body = alice.encrypt_body(LETTER, [BOB])
    source = tmp_path / "cr.pdf"
    source.write_bytes(PDF_A)
    apz = alice.encrypt_attachment(source, [BOB], tmp_path / "alice-out")
    bob_apz = tmp_path / "bob-in" / apz.name
    bob_apz.parent.mkdir()
    bob_apz.write_bytes(relay_to(net, apz.read_bytes(), BOB))
    return {"source": source, "armour": relay_to(net, body.armour, BOB), "apz": bob_apz}


def run_operation(
    operation: str, net: SandboxNetwork, tmp_path: Path, mail: dict[str, object], timeout: float
) -> object:
    if operation.startswith("encrypt"):
        alice = make_backend(net, tmp_path, ALICE, timeout=timeout)
        if operation == "encrypt_body":
            return alice.encrypt_body(LETTER, [BOB])
        return alice.encrypt_attachment(mail["source"], [BOB], tmp_path / "out")  # type: ignore[arg-type]
    bob = make_backend(net, tmp_path, BOB, timeout=timeout)
    if operation == "decrypt_body":
        return bob.decrypt_body(mail["armour"])  # type: ignore[arg-type]
    return bob.decrypt_attachment(mail["apz"], tmp_path / "inbox")  # type: ignore[arg-type]


FAULT_CASES = [
    ("apicrypt", "exit1", "encrypt_body", ProgramFailedError),
    ("apicrypt", "noout", "encrypt_body", ProgramOutputMissingError),
    ("apicrypt", "empty", "encrypt_body", ProgramOutputMissingError),
    ("apicrypt", "hang", "encrypt_body", ProgramTimeoutError),
    ("apicryptpj", "exit1", "encrypt_attachment", ProgramFailedError),
    ("apicryptpj", "noout", "encrypt_attachment", ProgramOutputMissingError),
    ("apicryptpj", "empty", "encrypt_attachment", ProgramOutputMissingError),
    ("apiuncrypt", "exit1", "decrypt_body", ProgramFailedError),
    ("apiuncrypt", "noout", "decrypt_body", ProgramOutputMissingError),
    ("apiuncrypt", "empty", "decrypt_body", ProgramOutputMissingError),
    ("apiuncrypt", "hang", "decrypt_body", ProgramTimeoutError),
    ("apiuncryptpj", "exit1", "decrypt_attachment", ProgramFailedError),
    ("apiuncryptpj", "noout", "decrypt_attachment", ProgramOutputMissingError),
    ("apiuncryptpj", "empty", "decrypt_attachment", ProgramOutputMissingError),
    ("apiuncryptpj", "hang", "decrypt_attachment", ProgramTimeoutError),
]


@pytest.mark.parametrize(
    ("program", "mode", "operation", "error"),
    FAULT_CASES,
    ids=[f"{p}-{m}" for p, m, _, _ in FAULT_CASES],
)
def test_each_fault_gives_its_typed_error_and_leaves_no_work_files(
    net: SandboxNetwork,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    bob_mail: dict[str, object],
    program: str,
    mode: str,
    operation: str,
    error: type[Exception],
) -> None:
    monkeypatch.setenv("MEDSHAKE_SANDBOX_FAULT", f"{program}:{mode}")
    started = time.monotonic()
    with pytest.raises(error) as info:
        # the hang must outlast the timeout, and the program must have started (and recorded
        # itself) before it: 5 s covers a slow interpreter start on a loaded machine
        run_operation(operation, net, tmp_path, bob_mail, 5 if mode == "hang" else 20)
    assert program in str(info.value)
    assert info.value.fix  # type: ignore[attr-defined]
    assert time.monotonic() - started < 15
    assert leftovers(tmp_path) == []
    last = calls(tmp_path)[-1]
    assert (last["program"], last["fault"]) == (program, mode)
    if mode == "hang":
        child = last["hang_child_pid"]
        deadline = time.monotonic() + 5
        while not process_gone(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert process_gone(child)
    # The caller's inputs are untouched, so the message can be retried.
    assert Path(bob_mail["apz"]).exists()  # type: ignore[arg-type]
    assert Path(bob_mail["source"]).read_bytes() == PDF_A  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["truncate", "garbage"])
def test_damaged_armour_is_caught_by_the_relay(
    net: SandboxNetwork, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """Exit 0 with a damaged output cannot be seen by the bridge; authentication catches it."""
    monkeypatch.setenv("MEDSHAKE_SANDBOX_FAULT", f"apicrypt:{mode}")
    body = make_backend(net, tmp_path, ALICE).encrypt_body(LETTER, [BOB])
    with pytest.raises(SandboxTamperedError):
        reencrypt(net.network_dir, body.armour)
    assert leftovers(tmp_path) == []


def test_damaged_armour_is_refused_by_the_recipients_program(
    net: SandboxNetwork, tmp_path: Path, bob_mail: dict[str, object]
) -> None:
    armour: bytes = bob_mail["armour"]  # type: ignore[assignment]
    with pytest.raises(ProgramFailedError, match="truncated"):
        make_backend(net, tmp_path, BOB).decrypt_body(armour[: len(armour) // 2])
    assert leftovers(tmp_path) == []


def test_noise_on_stdout_and_stderr_is_captured_not_fatal(
    net: SandboxNetwork,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("MEDSHAKE_SANDBOX_FAULT", "noise")
    with caplog.at_level("INFO", logger="medshake_bridge.runner"):
        body = make_backend(net, tmp_path, ALICE).encrypt_body(LETTER, [BOB])
        clear = make_backend(net, tmp_path, BOB).decrypt_body(relay_to(net, body.armour, BOB))
    assert clear == LETTER.encode("latin-1")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "MEDSHAKE SANDBOX NOISE: 42% done" in logged
    assert "ignore me" in logged
    assert leftovers(tmp_path) == []


# -- how the programs are called -------------------------------------------------------------


def test_invocation_log_proves_argument_lists_keys_folder_and_private_work_folders(
    net: SandboxNetwork, tmp_path: Path, bob_mail: dict[str, object]
) -> None:
    log = tmp_path / "calls.jsonl"
    log.unlink()
    bob = make_backend(net, tmp_path, BOB)
    bob.decrypt_body(bob_mail["armour"])  # type: ignore[arg-type]
    bob.decrypt_attachment(bob_mail["apz"], tmp_path / "inbox")  # type: ignore[arg-type]
    make_backend(net, tmp_path, ALICE).encrypt_body("Bonjour", [BOB, CAROL])
    uncrypt, uncryptpj, crypt = calls(tmp_path)
    for call in (uncrypt, uncryptpj, crypt):
        assert call["ppid"] == os.getpid()  # exec'd by the bridge itself: no shell, no sudo
        assert call["uid"] == os.getuid() and call["sudo_user"] is None
        assert call["cwd_mode"] == "0o700"
        assert set(call["env"]) <= {"PATH", "LANG", *SANDBOX_ENV_VARS}
        argv = call["argv"]
        assert argv[0] == str(net.bin_dir / call["program"])
        owner = ALICE if call["program"] == "apicrypt" else BOB
        assert argv[argv.index("-k") + 1] == str(net.keys_dir(owner))
        assert (Path(argv[argv.index("-k") + 1]) / "Clefs").is_dir()  # the parent of Clefs/
    work = tmp_path / "work"
    s, o = uncrypt["argv"].index("-s"), uncrypt["argv"].index("-o")
    assert Path(uncrypt["argv"][s + 1]).parent.parent == work / BOB / "C"
    assert Path(uncrypt["argv"][o + 1]).parent.parent == work / BOB / "NC"
    assert uncryptpj["argv"][uncryptpj["argv"].index("-o") + 1].endswith("/")
    assert crypt["argv"][1:] == [
        "-s",
        crypt["argv"][2],
        "-o",
        crypt["argv"][4],
        "-u",
        ALICE,
        "-k",
        str(net.keys_dir(ALICE)),
        "-d",
        f"{BOB},{CAROL}",
        "-v",
    ]
    assert Path(crypt["argv"][2]).parent.parent == work / ALICE / "NC"
    assert Path(crypt["argv"][4]).parent.parent == work / ALICE / "C"


def fake_sudo(tmp_path: Path) -> tuple[Path, Path]:
    """A stand-in for ``sudo -n``: records its argv, then execs the rest (no sudo needed)."""
    trace = tmp_path / "prefix-calls.jsonl"
    program = tmp_path / "prefix bin" / "fake-sudo"
    program.parent.mkdir()
    program.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        f"with open({str(trace)!r}, 'a') as log:\n"
        "    log.write(json.dumps(sys.argv) + '\\n')\n"
        "args = sys.argv[1:]\n"
        "if args[:1] == ['-n']:\n"
        "    args = args[1:]\n"
        "os.execv(args[0], args)\n",
        "utf-8",
    )
    program.chmod(0o755)
    return program, trace


def test_configured_prefix_is_applied(
    net: SandboxNetwork, tmp_path: Path, bob_mail: dict[str, object]
) -> None:
    prefix, trace = fake_sudo(tmp_path)
    runner = Runner(parse_prefix(f"'{prefix}' -n"), timeout=20, passthrough_env=SANDBOX_ENV_VARS)
    (tmp_path / "calls.jsonl").unlink()
    bob = make_backend(net, tmp_path, BOB, runner=runner)
    assert bob.decrypt_body(bob_mail["armour"]) == LETTER.encode("latin-1")  # type: ignore[arg-type]
    (prefixed,) = [json.loads(line) for line in trace.read_text("utf-8").splitlines()]
    (call,) = calls(tmp_path)
    assert prefixed[:3] == [str(prefix), "-n", str(net.bin_dir / "apiuncrypt")]
    assert prefixed[2:] == call["argv"]  # the prefix ran exactly our argument list
    assert call["ppid"] == os.getpid()


def test_without_a_prefix_no_prefix_runs(
    net: SandboxNetwork, tmp_path: Path, bob_mail: dict[str, object]
) -> None:
    _prefix, trace = fake_sudo(tmp_path)
    make_backend(net, tmp_path, BOB).decrypt_body(bob_mail["armour"])  # type: ignore[arg-type]
    assert not trace.exists()


@pytest.mark.parametrize(
    "recipients",
    [
        ["a;rm -rf /"],
        ["$(id)"],
        [""],
        [" "],
        ["bob DURAND"],
        [BOB, "`id`"],
        ["-v"],
        ["bob.DURAND@medical69.apicrypt.org"],
        ["../../etc/passwd"],
        [f"{BOB},{CAROL}"],
        ["bob.DURAND\n"],
        [],
        BOB,
    ],
)
def test_injected_recipients_are_refused_before_any_call(
    net: SandboxNetwork, tmp_path: Path, recipients: object
) -> None:
    (tmp_path / "calls.jsonl").unlink(missing_ok=True)
    alice = make_backend(net, tmp_path, ALICE)
    source = tmp_path / "cr.pdf"
    source.write_bytes(PDF_A)
    with pytest.raises(InvalidRecipientError) as info:
        alice.encrypt_body(LETTER, recipients)  # type: ignore[arg-type]
    assert info.value.fix
    with pytest.raises(InvalidRecipientError):
        alice.encrypt_attachment(source, recipients, tmp_path / "out")  # type: ignore[arg-type]
    assert calls(tmp_path) == []
    assert not (tmp_path / "work").exists()
    assert not (tmp_path / "out").exists()


def test_valid_recipients_are_kept_in_order_without_duplicates() -> None:
    assert validate_recipients([BOB, "jean-pierre.DUPONT2", BOB, "m_x.Y"]) == [
        BOB,
        "jean-pierre.DUPONT2",
        "m_x.Y",
    ]


def test_full_addresses_get_a_hint() -> None:
    with pytest.raises(InvalidRecipientError, match="part before '@'"):
        validate_recipients(["bob.DURAND@medical69.apicrypt.org"])


def test_missing_user_setting_is_refused_before_any_call(
    net: SandboxNetwork, tmp_path: Path
) -> None:
    (tmp_path / "calls.jsonl").unlink(missing_ok=True)
    with pytest.raises(ApicryptV1ConfigError, match="apicryptUtilisateur"):
        make_backend(net, tmp_path, "").encrypt_body(LETTER, [BOB])
    assert calls(tmp_path) == []


def test_missing_programs_folder(net: SandboxNetwork, tmp_path: Path) -> None:
    alice = make_backend(net, tmp_path, ALICE, binaries_dir=tmp_path / "nowhere")
    with pytest.raises(ProgramMissingError, match="apicrypt"):
        alice.encrypt_body(LETTER, [BOB])
    assert leftovers(tmp_path) == []


def test_missing_attachment_is_a_clear_error(net: SandboxNetwork, tmp_path: Path) -> None:
    alice = make_backend(net, tmp_path, ALICE)
    with pytest.raises(CryptoError, match="gone.pdf does not exist") as caught:
        alice.encrypt_attachment(tmp_path / "gone.pdf", [BOB], tmp_path / "out")
    assert type(caught.value) is CryptoError and caught.value.fix


# -- checks ----------------------------------------------------------------------------------


def by_name(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.name: r for r in results}


def test_checks_on_a_healthy_setup(net: SandboxNetwork, tmp_path: Path) -> None:
    results = make_backend(net, tmp_path, ALICE).checks()
    assert all(r.ok is True for r in results), [r for r in results if r.ok is not True]
    names = by_name(results)
    for program in ("apicrypt", "apicryptpj", "apiuncrypt", "apiuncryptpj"):
        assert f"Program {program}" in names
    assert "Key for 2026" in names
    assert "Keys folder" in names
    assert all(r.category == "apicrypt_v1" for r in results)


def test_checks_on_a_broken_setup(net: SandboxNetwork, tmp_path: Path) -> None:
    (net.bin_dir / "apiuncryptpj").unlink()
    (net.bin_dir / "apicrypt").chmod(0o644)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    backend = make_backend(
        net, tmp_path, "dan.NOBODY", keys_dir=tmp_path / "no-keys", clear_dir=blocker / "NC"
    )
    results = by_name(backend.checks())
    assert results["Program apiuncryptpj"].ok is False
    assert "missing" in results["Program apiuncryptpj"].detail
    assert results["Program apicrypt"].ok is False
    assert "chmod 755" in results["Program apicrypt"].fix
    assert results["Program apiuncrypt"].ok is True
    assert results["Keys folder"].ok is False
    assert "CONTAINS Clefs/" in results["Keys folder"].fix
    assert results["Key for 2026"].ok is False
    assert "dan.NOBODY.126" in results["Key for 2026"].fix
    assert results["Clear working folder"].ok is False
    assert results["Encrypted working folder"].ok is True
    bad_user = by_name(make_backend(net, tmp_path, "a;b").checks())["Apicrypt v1 user name"]
    assert bad_user.ok is False and "apicryptUtilisateur" in bad_user.fix


UNWRITABLE_KEYS_FOLDER = """
import json, os, shutil, tempfile
from pathlib import Path
os.environ["MEDSHAKE_SANDBOX_YEAR"] = "2026"
from medshake_bridge.sandbox import create_network
from test_apicrypt_v1 import ALICE, BOB, CAROL, by_name, make_backend
tmp = Path(tempfile.mkdtemp())
try:
    net = create_network(tmp / "sandbox", [ALICE, BOB, CAROL], year=2026)
    clefs = net.keys_dir(ALICE) / "Clefs"
    writable = by_name(make_backend(net, tmp, ALICE).checks())["Keys folder"]
    clefs.chmod(0o500)
    read_only = by_name(make_backend(net, tmp, ALICE).checks())["Keys folder"]
    clefs.chmod(0o700)
    print(json.dumps({"uid": os.geteuid(), "before": [writable.ok, writable.detail],
                      "after": [read_only.ok, read_only.detail]}))
finally:
    shutil.rmtree(tmp)
"""


@pytest.mark.real_component("unprivileged-user")
def test_checks_for_an_unreadable_keys_folder() -> None:
    """Run as an unprivileged account (root ignores permission bits)."""
    found = run_unprivileged(UNWRITABLE_KEYS_FOLDER)
    assert found["uid"] != 0
    assert found["before"][0] is True
    assert found["after"][0] is False and "NOT writable" in found["after"][1]


def test_in_december_next_years_key_is_a_warning_until_installed(
    net: SandboxNetwork, tmp_path: Path
) -> None:
    december = date(2026, 12, 5)
    results = by_name(make_backend(net, tmp_path, ALICE, today=december).checks())
    assert results["Key for 2027"].ok is None
    assert "before 1 January" in results["Key for 2027"].fix
    net.add_user(ALICE, 2027)
    results = by_name(make_backend(net, tmp_path, ALICE, today=december).checks())
    assert results["Key for 2027"].ok is True
    june = by_name(make_backend(net, tmp_path, ALICE, today=date(2026, 6, 1)).checks())
    assert "Key for 2027" not in june


# -- wiring helpers --------------------------------------------------------------------------


def test_build_backend_from_settings(net: SandboxNetwork, tmp_path: Path) -> None:
    runner = Runner(timeout=20, passthrough_env=SANDBOX_ENV_VARS)
    backend = build_backend(
        {
            "apicryptCheminVersBinaires": str(net.bin_dir),
            "apicryptCheminVersClefs": str(net.keys_dir(ALICE)),
            "apicryptUtilisateur": ALICE,
            "apicryptCheminFichierNC": str(tmp_path / "work" / ALICE / "NC"),
            "apicryptCheminFichierC": str(tmp_path / "work" / ALICE / "C"),
            "apicryptCommandTimeout": 30,
        },
        runner,
    )
    assert backend.config.timeout == 30.0
    assert backend.encrypt_body("Bonjour", [BOB]).armour.startswith(b"-----BEGIN MEDSHAKE")
    empty = build_backend({}, runner)
    with pytest.raises(ApicryptV1ConfigError):
        empty.decrypt_body(b"x")


def test_sudoers_lines_name_each_program(net: SandboxNetwork, tmp_path: Path) -> None:
    lines = make_backend(net, tmp_path, ALICE).sudoers_lines("www-data")
    assert lines == [
        f"www-data ALL=(root) NOPASSWD: {net.bin_dir / name}"
        for name in ("apicrypt", "apicryptpj", "apiuncrypt", "apiuncryptpj")
    ]


def test_work_folders_are_private(net: SandboxNetwork, tmp_path: Path) -> None:
    make_backend(net, tmp_path, ALICE).encrypt_body("Bonjour", [BOB])
    for base in ("NC", "C"):
        mode = stat.S_IMODE((tmp_path / "work" / ALICE / base).stat().st_mode)
        assert mode == 0o700
