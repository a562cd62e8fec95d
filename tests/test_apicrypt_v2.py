"""The Apicrypt v2 back-end against the sandbox companion, run as a real HTTP server.

Nothing here is mocked: the companion listens on a free loopback port in a thread, the plugin's
client talks to it over TCP, files go through a real spool folder, and the v1 side runs the
sandbox programs as processes.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from medshake_apicrypt_v1.backend import ApicryptV1Backend, ApicryptV1Config
from medshake_apicrypt_v2.backend import (
    ApicryptV2Backend,
    DecryptedBody,
    DecryptedFiles,
    build_backend,
)
from medshake_apicrypt_v2.checks import (
    PrivateTmpStatus,
    companion_status,
    private_tmp_status,
    site_checks,
    spool_checks,
)
from medshake_apicrypt_v2.client import CompanionClient
from medshake_apicrypt_v2.errors import (
    ApicryptV2ConfigError,
    CertificateExpiredError,
    CertificatePasswordError,
    CertificateUnknownError,
    CompanionAuthError,
    CompanionRefusedError,
    CompanionTimeoutError,
    CompanionUnavailableError,
)
from medshake_apicrypt_v2.service import (
    open_aes_key,
    restart_argv,
    restart_companion,
    sudoers_lines,
)
from sysinfo_helpers import fake_service as make_fake_service
from sysinfo_helpers import logged

from medshake_bridge import bridge_state, clock
from medshake_bridge.crypto_common import EncryptedBody, InvalidRecipientError
from medshake_bridge.errors import ConfigurationError, CryptoError
from medshake_bridge.interfaces import CryptoBackend
from medshake_bridge.runner import ProgramFailedError, Runner
from medshake_bridge.sandbox import SANDBOX_ENV_VARS, SandboxNetwork, create_network, reencrypt
from medshake_bridge.sandbox.aeskey import make_aes_key
from medshake_bridge.sandbox.companion import SandboxCompanion, wait_until_listening
from medshake_bridge.sandbox.v2 import make_certificate
from medshake_bridge.textdecode import decode_bytes

ALICE, BOB, CAROL = "alice.MARTIN", "bob.DURAND", "carol.PETIT"  # v2, v2, v1
TOKEN = "sandbox-token-4f7c"
MID_2026 = dt.datetime(2026, 6, 15, 12, 0)  # the sandbox's year (MEDSHAKE_SANDBOX_YEAR)
LETTER = (
    "Chère consœur,\n\n"
    "Je vous adresse Mme Hélène Gaëlle Lefèvre, née le 17/05/1985 : hémoglobine 10,2 g/dl,\n"
    "échographie sans anomalie. Coût : 25 € ; suivi à 3 mois… 日本語も大丈夫。\n"
    "Très cordialement,\nDr Zoé Müller\n****FIN****\n****FINFICHIER****\n"
)
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + bytes(range(256)) * 30 + b"\n%%EOF\n"


def password(user: str) -> str:
    return f"mot de passe de {user} é!"


def v2_network(folder: Path, monkeypatch: pytest.MonkeyPatch) -> SandboxNetwork:
    """A 2026 sandbox network: ALICE and BOB on v2 (certificates ending on 31 December 2026),
    CAROL on v1."""
    monkeypatch.setenv("MEDSHAKE_SANDBOX_YEAR", "2026")
    monkeypatch.delenv("MEDSHAKE_SANDBOX_FAULT", raising=False)
    network = create_network(folder, [ALICE, BOB, CAROL], year=2026)
    for user in (ALICE, BOB):
        make_certificate(user, network.keys_dir(user), password(user), not_after=date(2026, 12, 31))
    return network


@pytest.fixture
def net(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SandboxNetwork:
    return v2_network(tmp_path / "sandbox", monkeypatch)


@pytest.fixture
def spool(tmp_path: Path) -> Path:
    folder = tmp_path / "spool"
    folder.mkdir()
    return folder


@pytest.fixture
def companion(net: SandboxNetwork, spool: Path) -> Iterator[SandboxCompanion]:
    with SandboxCompanion(spool, net.network_dir, token=TOKEN, slow_seconds=5) as server:
        yield server


def settings_for(user: str, companion: SandboxCompanion, spool: Path, **extra: object
                 ) -> dict[str, object]:
    values: dict[str, object] = {
        "apicryptVersion": "2",
        "apicrypt2CertName": user,
        "apicrypt2CertPassword": password(user),
        "apicrypt2CompanionUrl": companion.url,
        "apicrypt2CompanionToken": TOKEN,
        "apicrypt2Spool": str(spool),
        "apicrypt2CompanionTimeout": 3,
    }
    values.update(extra)
    return values


def v2(user: str, companion: SandboxCompanion, spool: Path, **extra: object) -> ApicryptV2Backend:
    return build_backend(settings_for(user, companion, spool, **extra))


def v1(net: SandboxNetwork, tmp_path: Path, user: str) -> ApicryptV1Backend:
    work = tmp_path / "work" / user
    return ApicryptV1Backend(ApicryptV1Config(
        binaries_dir=net.bin_dir, keys_dir=net.keys_dir(user), user=user,
        clear_dir=work / "NC", encrypted_dir=work / "C",
        runner=Runner(timeout=20, passthrough_env=SANDBOX_ENV_VARS),
    ))


def spool_content(spool: Path) -> list[Path]:
    return sorted(spool.rglob("*"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the round trip -------------------------------------------------------------------------------


def test_v2_round_trip_body_and_attachments_with_accents(
    net: SandboxNetwork, companion: SandboxCompanion, spool: Path, tmp_path: Path
) -> None:
    alice, bob = v2(ALICE, companion, spool), v2(BOB, companion, spool)
    assert isinstance(alice, CryptoBackend)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "Compte rendu échographie.pdf").write_bytes(PDF)
    (docs / "Lettre à Mme Dupré – n°2.txt").write_bytes(LETTER.encode("utf-8"))

    body = alice.encrypt_body(LETTER, [BOB])
    assert isinstance(body, EncryptedBody) and body.signed and body.replacements == ()
    assert body.armour.startswith(b"-----BEGIN MEDSHAKE SANDBOX ARMOUR (FAKE, NOT APICRYPT)")
    assert "Hélène".encode() not in body.armour
    outbox = tmp_path / "outbox"
    apzs = [alice.encrypt_attachment(p, [BOB], outbox) for p in sorted(docs.iterdir())]
    assert [p.name for p in apzs] == [
        "Compte rendu échographie.pdf.apz", "Lettre à Mme Dupré – n°2.txt.apz"]
    assert spool_content(spool) == []

    # APICEM's server step, then Bob's companion.
    received = bob.decrypt_body(reencrypt(net.network_dir, body.armour)[BOB])
    assert isinstance(received, DecryptedBody)
    assert received.data.decode("utf-8") == LETTER
    assert (received.signature_status, received.signer, received.sender) == ("valid", ALICE, ALICE)

    inbox = tmp_path / "inbox"
    files: list[Path] = []
    for apz in apzs:
        relayed = tmp_path / "relayed" / apz.name
        relayed.parent.mkdir(exist_ok=True)
        relayed.write_bytes(reencrypt(net.network_dir, apz.read_bytes())[BOB])
        result = bob.decrypt_attachment(relayed, inbox)
        assert isinstance(result, DecryptedFiles) and result.signature_status == "valid"
        assert result.signer == ALICE
        files += result
    assert {p.name: p.read_bytes() for p in files} == {
        "Compte rendu échographie.pdf": PDF,
        "Lettre à Mme Dupré – n°2.txt": LETTER.encode("utf-8"),
    }
    assert all(p.parent == inbox for p in files)
    assert spool_content(spool) == []

    # Alice's own copy (not relayed) is not for Bob: a clear refusal, nothing left behind.
    with pytest.raises(CompanionRefusedError, match="not-recipient") as refused:
        bob.decrypt_body(body.armour)
    assert "relay" in str(refused.value)
    assert spool_content(spool) == []


def test_v1_sender_to_v2_recipient_arrives_unsigned(
    net: SandboxNetwork, companion: SandboxCompanion, spool: Path, tmp_path: Path
) -> None:
    carol = v1(net, tmp_path, CAROL)
    armour = carol.encrypt_body(LETTER, [BOB]).armour
    received = v2(BOB, companion, spool).decrypt_body(reencrypt(net.network_dir, armour)[BOB])
    assert (received.signature_status, received.signer, received.sender) == (
        "unsigned", None, CAROL)
    # v1 is ISO-8859-1 with transliteration; the host's decoder reads it back.
    assert decode_bytes(received.data).text.startswith("Chère consoeur,")


def test_v2_sender_to_v1_recipient_gets_the_bare_content(
    net: SandboxNetwork, companion: SandboxCompanion, spool: Path, tmp_path: Path
) -> None:
    alice = v2(ALICE, companion, spool)
    armour = alice.encrypt_body(LETTER, [CAROL, BOB]).armour
    copies = reencrypt(net.network_dir, armour)
    clear = v1(net, tmp_path, CAROL).decrypt_body(copies[CAROL])
    assert clear == LETTER.encode("utf-8")  # no signature envelope for a v1 program
    # The same message keeps its signature for the v2 recipient.
    assert v2(BOB, companion, spool).decrypt_body(copies[BOB]).signature_status == "valid"

    source = tmp_path / "Résultats.pdf"
    source.write_bytes(PDF)
    apz = alice.encrypt_attachment(source, [CAROL], tmp_path / "out")
    relayed = tmp_path / "relayed.apz"
    relayed.write_bytes(reencrypt(net.network_dir, apz.read_bytes())[CAROL])
    [got] = v1(net, tmp_path, CAROL).decrypt_attachment(relayed, tmp_path / "carol-inbox")
    assert (got.name, got.read_bytes()) == ("Résultats.pdf", PDF)


# -- faults ---------------------------------------------------------------------------------------


def _relayed_body(net: SandboxNetwork, companion: SandboxCompanion, spool: Path) -> bytes:
    armour = v2(ALICE, companion, spool).encrypt_body(LETTER, [BOB]).armour
    return reencrypt(net.network_dir, armour)[BOB]


@pytest.mark.parametrize(
    ("mode", "error", "words"),
    [
        ("down", CompanionUnavailableError, "does not answer"),
        ("wrong-password", CertificatePasswordError, "refused its password"),
        ("expired-certificate", CertificateExpiredError, "expired on 2026-12-31"),
    ],
)
def test_fault_modes_end_in_typed_errors_and_a_clean_spool(
    net: SandboxNetwork, companion: SandboxCompanion, spool: Path, tmp_path: Path,
    mode: str, error: type[CryptoError], words: str,
) -> None:
    relayed = _relayed_body(net, companion, spool)
    bob = v2(BOB, companion, spool)
    source = tmp_path / "cr.pdf"
    source.write_bytes(PDF)
    companion.set_mode(mode)
    for call in (
        lambda: bob.decrypt_body(relayed),
        lambda: bob.encrypt_body(LETTER, [ALICE]),
        lambda: bob.encrypt_attachment(source, [ALICE], tmp_path / "out"),
    ):
        with pytest.raises(error, match=words) as caught:
            call()
        assert caught.value.fix
        assert password(BOB) not in str(caught.value) and TOKEN not in str(caught.value)
        assert spool_content(spool) == []
    assert not (tmp_path / "out").exists()
    if mode == "down":
        assert companion.url in caught.value.message
        assert "restart button on the system information page" in caught.value.fix
    companion.set_mode("normal")
    assert bob.decrypt_body(relayed).signature_status == "valid"


def test_slow_companion_times_out_quickly(
    net: SandboxNetwork, companion: SandboxCompanion, spool: Path
) -> None:
    relayed = _relayed_body(net, companion, spool)
    bob = v2(BOB, companion, spool, apicrypt2CompanionTimeout=1)
    companion.state.slow_seconds = 60  # it would answer (and succeed) after a minute
    companion.set_mode("slow")
    started = time.monotonic()
    with pytest.raises(CompanionTimeoutError, match="did not answer the decryption of a body "
                       "within 1 s") as caught:
        bob.decrypt_body(relayed)
    # gave up long before the answer: the bound is the slow companion, not machine speed
    assert time.monotonic() - started < 30
    assert isinstance(caught.value, CompanionUnavailableError)
    assert "apicrypt2CompanionTimeout" in caught.value.fix
    assert spool_content(spool) == []


def test_nothing_listening_is_reported_as_down(spool: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    backend = build_backend({"apicrypt2CertName": BOB, "apicrypt2CertPassword": "x",
                             "apicrypt2CompanionUrl": url, "apicrypt2Spool": str(spool)})
    with pytest.raises(CompanionUnavailableError) as caught:
        backend.encrypt_body("Bonjour", [ALICE])
    assert caught.value.message.startswith(f"The Apicrypt v2 companion at {url} does not answer")
    assert "start it or use the restart button on the system information page" in str(caught.value)
    assert spool_content(spool) == []


def test_invalid_signature_is_a_flagged_status_not_an_error(
    net: SandboxNetwork, companion: SandboxCompanion, spool: Path, tmp_path: Path
) -> None:
    relayed = _relayed_body(net, companion, spool)
    source = tmp_path / "cr.pdf"
    source.write_bytes(PDF)
    apz = v2(ALICE, companion, spool).encrypt_attachment(source, [BOB], tmp_path / "out")
    relayed_apz = tmp_path / "relayed.apz"
    relayed_apz.write_bytes(reencrypt(net.network_dir, apz.read_bytes())[BOB])
    companion.set_mode("invalid-signature")
    bob = v2(BOB, companion, spool)
    received = bob.decrypt_body(relayed)
    assert (received.signature_status, received.signer) == ("invalid", ALICE)
    assert received.data.decode("utf-8") == LETTER  # kept, so the inbox can show and flag it
    files = bob.decrypt_attachment(relayed_apz, tmp_path / "inbox")
    assert files.signature_status == "invalid" and files[0].read_bytes() == PDF
    assert spool_content(spool) == []


def test_a_forged_signature_is_invalid_without_any_fault_mode(
    net: SandboxNetwork, companion: SandboxCompanion, spool: Path
) -> None:
    """Carol's key signs, the envelope claims Alice: real verification catches it."""
    from medshake_bridge.sandbox.armour import seal
    from medshake_bridge.sandbox.keys import load_key
    from medshake_bridge.sandbox.v2 import SIGNED_MAGIC, sign

    carol_key = load_key(net.keys_dir(CAROL), CAROL, 126)
    alice_key = load_key(net.keys_dir(ALICE), ALICE, 126)
    bob_key = load_key(net.keys_dir(BOB), BOB, 126)
    envelope = sign(LETTER.encode("utf-8"), carol_key)
    forged = envelope.replace(f'"signer": "{CAROL}"'.encode(), f'"signer": "{ALICE}"'.encode())
    forged = forged.replace(carol_key.key_id.encode(), alice_key.key_id.encode())
    assert forged != envelope and forged.startswith(SIGNED_MAGIC)
    # Content changed after a genuine signature by Alice.
    altered = sign(LETTER.encode("utf-8"), alice_key).replace(b"10,2", b"12,0")
    bob = v2(BOB, companion, spool)
    for clear in (forged, altered):
        armour = seal("body", clear, sender=ALICE, recipients=[BOB], key=bob_key)
        received = bob.decrypt_body(armour)
        assert (received.signature_status, received.signer) == ("invalid", ALICE)
    genuine = seal("body", sign(b"ok", alice_key), sender=ALICE, recipients=[BOB], key=bob_key)
    assert bob.decrypt_body(genuine).signature_status == "valid"


def test_duplicate_and_swapped_line_endings_modes(
    net: SandboxNetwork, companion: SandboxCompanion, spool: Path
) -> None:
    relayed = _relayed_body(net, companion, spool)
    bob = v2(BOB, companion, spool)
    companion.set_mode("duplicate")
    first, second = bob.decrypt_body(relayed), bob.decrypt_body(relayed)
    assert first == second and first.signature_status == "valid"  # idempotent: the pipeline
    companion.set_mode("swapped-line-endings")                   # dedupes the 2nd delivery
    swapped = bob.decrypt_body(relayed)
    assert b"\n\r" in swapped.data and swapped.data.count(b"\n\r") == LETTER.count("\n")
    assert decode_bytes(swapped.data).text == LETTER
    assert spool_content(spool) == []


def test_real_expired_certificate_and_real_wrong_password(
    net: SandboxNetwork, companion: SandboxCompanion, spool: Path
) -> None:
    make_certificate(BOB, net.keys_dir(BOB), password(BOB), not_after=date(2026, 1, 1),
                     replace=True)
    with pytest.raises(CertificateExpiredError, match="expired on 2026-01-01") as caught:
        v2(BOB, companion, spool).encrypt_body("Bonjour", [ALICE])
    assert caught.value.not_after == date(2026, 1, 1)
    with pytest.raises(CertificatePasswordError) as wrong:
        v2(ALICE, companion, spool, apicrypt2CertPassword="hunter2-wrong").encrypt_body(
            "Bonjour", [BOB])
    assert "hunter2-wrong" not in str(wrong.value)
    with pytest.raises(CertificateUnknownError):
        v2(CAROL, companion, spool, apicrypt2CertPassword="x").encrypt_body("Bonjour", [BOB])
    assert spool_content(spool) == []


def test_mode_switch_at_run_time_over_http(companion: SandboxCompanion) -> None:
    def call(method: str, path: str, body: dict | None = None, token: str | None = TOKEN):
        conn = http.client.HTTPConnection("127.0.0.1", companion.port, timeout=3)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        conn.request(method, path, body=json.dumps(body) if body else None, headers=headers)
        response = conn.getresponse()
        data = json.loads(response.read())
        conn.close()
        return response.status, data, response.getheader("X-Medshake-Sandbox")

    status, data, label = call("POST", "/_sandbox/mode", {"mode": "down"})
    assert (status, data["mode"], label) == (200, "down", "FAKE (not Apicrypt)")
    assert "FAKE" in data["sandbox"]
    with pytest.raises(CompanionUnavailableError):
        CompanionClient(companion.url, TOKEN, timeout=2).ping()
    status, data, _ = call("POST", "/_sandbox/mode", {"mode": "normal"})
    assert CompanionClient(companion.url, TOKEN, timeout=2).ping().reply == "toc"
    status, data, _ = call("POST", "/_sandbox/mode", {"mode": "sideways"})
    assert status == 400 and "sideways" in data["message"]


# -- the token ------------------------------------------------------------------------------------


def test_token_required(companion: SandboxCompanion, spool: Path) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": TOKEN}):
        conn = http.client.HTTPConnection("127.0.0.1", companion.port, timeout=3)
        conn.request("GET", "/ping?query=tic", headers=headers)
        response = conn.getresponse()
        payload = json.loads(response.read())
        conn.close()
        assert response.status == 401 and payload["error"] == "unauthorized"
        assert "FAKE" in payload["sandbox"]
    with pytest.raises(CompanionAuthError, match="refused the bridge's token") as caught:
        v2(BOB, companion, spool, apicrypt2CompanionToken="wrong-token").encrypt_body("x", [ALICE])
    assert "wrong-token" not in str(caught.value)
    assert "apicrypt2CompanionToken" in caught.value.fix
    assert CompanionClient(companion.url, TOKEN).ping().reply == "toc"


# -- configuration and input checks ---------------------------------------------------------------


@pytest.mark.parametrize("url", ["http://10.1.2.3:8470", "https://127.0.0.1:8470",
                                 "http://user:pw@127.0.0.1:8470", "ftp://localhost", "nonsense"])
def test_client_accepts_only_loopback_http(url: str) -> None:
    with pytest.raises(ApicryptV2ConfigError, match="companion URL"):
        CompanionClient(url, TOKEN)


@pytest.mark.parametrize("recipients", [["a;rm -rf /"], ["$(id)"], ["-v"], [""], ["a@b.fr"], [],
                                        "bob.DURAND"])
def test_bad_recipients_never_reach_the_companion(
    companion: SandboxCompanion, spool: Path, recipients: object
) -> None:
    with pytest.raises(InvalidRecipientError):
        v2(ALICE, companion, spool).encrypt_body("x", recipients)  # type: ignore[arg-type]
    assert spool_content(spool) == []


def test_missing_certificate_settings_are_configuration_errors(spool: Path) -> None:
    with pytest.raises(ApicryptV2ConfigError, match="apicrypt2CertName"):
        build_backend({"apicrypt2Spool": str(spool)}).decrypt_body(b"x")
    with pytest.raises(ApicryptV2ConfigError, match="password is not set"):
        build_backend({"apicrypt2CertName": BOB, "apicrypt2Spool": str(spool)}).decrypt_body(b"x")
    assert spool_content(spool) == []


# -- restart and .aes -----------------------------------------------------------------------------


@pytest.fixture
def fake_service(tmp_path: Path) -> Path:
    return make_fake_service(tmp_path / "bin")


def test_restart_runs_the_configured_command_as_an_argument_list(fake_service: Path) -> None:
    command = f"{fake_service} -n 'compagnon Apicrypt' restart $HOME"
    runner = Runner(["sudo", "-n"], timeout=10)  # the v1 prefix must not be put in front
    result = restart_companion({"apicrypt2RestartCommand": command}, runner)
    expected = [str(fake_service), "-n", "compagnon Apicrypt", "restart", "$HOME"]
    assert list(result.argv) == expected
    assert result.returncode == 0 and "restarted (fake)" in result.stdout
    assert logged(fake_service) == [expected]  # one argument with a space, $HOME not expanded

    with pytest.raises(ProgramFailedError, match="exited with status 3"):
        restart_companion({"apicrypt2RestartCommand": f"{fake_service} restart 3"})


@pytest.mark.parametrize("command", [
    "sudo -n service compagnonApicrypt restart; rm -rf /",
    "sudo -n service compagnonApicrypt restart && reboot",
    "service compagnonApicrypt restart | tee /tmp/x",
    "service compagnonApicrypt restart > /tmp/x",
    "service $(id -un) restart",
    "service `id` restart",
    "service 'unclosed restart",
    "",
])
def test_restart_refuses_shell_syntax(fake_service: Path, command: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        restart_companion({"apicrypt2RestartCommand": command.replace("service", str(
            fake_service))})
    assert caught.value.fix and "apicrypt2RestartCommand" in caught.value.message
    assert logged(fake_service) == []


def test_restart_default_command_and_sudoers_lines() -> None:
    assert restart_argv({}) == ["sudo", "-n", "service", "compagnonApicrypt", "restart"]
    assert sudoers_lines("medshake") == [
        "Cmnd_Alias RESTART_APICRYPT = /usr/sbin/service compagnonApicrypt *",
        "medshake ALL=(root) NOPASSWD: RESTART_APICRYPT",
    ]


def test_open_aes_key_with_the_sandbox_utility(net: SandboxNetwork, tmp_path: Path) -> None:
    source, code = make_aes_key(BOB, net.keys_dir(BOB), 2027)
    settings = {"apicryptCheminVersBinaires": str(net.bin_dir)}
    runner = Runner(timeout=20, passthrough_env=SANDBOX_ENV_VARS)
    target = tmp_path / "Clefs" / f"{BOB}.127"
    target.parent.mkdir()
    with pytest.raises(ProgramFailedError) as wrong:
        open_aes_key(settings, runner, source, target, "AAAAA-BBBBB-CCCCC-DDDDD-EEEEE-FFFFF")
    assert "AAAAA-BBBBB" not in str(wrong.value) and not target.exists()
    assert open_aes_key(settings, runner, source, target, code) == target
    assert b"User: bob.DURAND" in target.read_bytes()


# -- checks for the system information page and doctor --------------------------------------------


def test_private_tmp_detection(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.write_text(
        "25 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
        "80 25 8:1 /tmp/systemd-private-0123abcd-apache2.service-Xy12/tmp /tmp rw,relatime "
        "shared:30 master:1 - ext4 /dev/sda1 rw\n")
    shared = tmp_path / "shared"
    shared.write_text("25 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
                      "30 25 0:27 / /tmp rw,nosuid,nodev shared:12 - tmpfs tmpfs rw\n")
    assert private_tmp_status(private).private is True
    assert private_tmp_status(shared).private is False
    assert private_tmp_status(tmp_path / "missing").private is None
    assert private_tmp_status().private in (True, False)  # this process's own table

    in_tmp = Path("/tmp/medshake-spool")  # noqa: S108 - only its name is checked
    checks = {c.name: c for c in spool_checks(in_tmp, PrivateTmpStatus(True, "private"))}
    assert checks["Apicrypt v2 spool outside /tmp"].ok is False
    assert "PrivateTmp" in checks["Apicrypt v2 spool outside /tmp"].fix
    assert checks["Private /tmp"].ok is None
    fine = {c.name: c for c in spool_checks(tmp_path / "data" / "spool",
                                            PrivateTmpStatus(False, "shared"))}
    assert fine["Apicrypt v2 spool folder"].ok is True


def test_companion_status_and_checks_up_then_down(
    companion: SandboxCompanion, spool: Path
) -> None:
    settings = settings_for(BOB, companion, spool)
    status = companion_status(companion.url, TOKEN, certificate=BOB)
    assert status.up and status.health is not None and status.health.healthy
    assert {m.certificate for m in status.health.mailboxes} == {ALICE, BOB}
    assert status.health.certificate is not None
    assert status.health.certificate.expires == date(2026, 12, 31)

    up = {c.name: c for c in site_checks(settings)}
    assert up["Apicrypt v2 companion"].ok is True and "toc" in up["Apicrypt v2 companion"].detail
    assert up["Apicrypt v2 companion health"].ok is True
    assert up["Companion sees the spool"].ok is True
    assert up["Apicrypt v2 restart command"].ok is True
    with clock.frozen(MID_2026):  # the sandbox lives in 2026; its certificates end with it
        backend_checks = {c.name: c for c in v2(BOB, companion, spool).checks()}
    assert backend_checks[f"Apicrypt v2 certificate {BOB}"].ok is True
    assert backend_checks[f"Apicrypt v2 certificate {BOB}"].detail == "valid until 2026-12-31"
    with clock.frozen(dt.datetime(2026, 12, 1, 12, 0)):  # within 30 days: a warning
        warned = {c.name: c for c in v2(BOB, companion, spool).checks()}
    assert warned[f"Apicrypt v2 certificate {BOB}"].ok is None
    assert "renewed certificate" in warned[f"Apicrypt v2 certificate {BOB}"].fix
    assert spool_content(spool) == []  # the probe file is gone

    companion.set_mode("down")
    down = {c.name: c for c in site_checks(settings)}
    check = down["Apicrypt v2 companion"]
    assert check.ok is False
    assert f"The Apicrypt v2 companion at {companion.url} does not answer" in check.detail
    assert "use the restart button on the system information page" in check.fix
    assert "Apicrypt v2 companion health" not in down
    assert not companion_status(companion.url, TOKEN).up


def test_system_checks_hook_through_the_app(
    make_app, companion: SandboxCompanion, spool: Path
) -> None:
    from medshake_bridge import migrate

    app = make_app(MEDSHAKE_BRIDGE_TODAY="2026-06-15")  # the sandbox's certificates: 2026
    migrate.upgrade(app)
    state = bridge_state(app)
    assert state.plugins["apicrypt_v2"].status == "loaded"
    with app.app_context():
        assert state.settings.registry.get("apicrypt2CertPassword").secret
        assert state.settings.registry.get("apicrypt2CompanionToken").secret
        assert state.settings.get("apicrypt2Spool").endswith("apicrypt2-spool")
        assert state.settings.get("apicrypt2RestartCommand") == (
            "sudo -n service compagnonApicrypt restart")
        assert not [c for c in state.call_list_hook("medshake_system_checks", app=app)
                    if c.category == "apicrypt_v2"]  # nobody uses v2 yet
        for name, value in settings_for(BOB, companion, spool).items():
            state.settings.set(name, value)
        checks = {c.name: c for c in state.call_list_hook("medshake_system_checks", app=app)
                  if c.category == "apicrypt_v2"}
        assert checks["Apicrypt v2 companion"].ok is True
        assert checks[f"Apicrypt v2 certificate {BOB}"].ok is True
        assert checks[f"Apicrypt v2 certificate password ({BOB})"].ok is True
        companion.set_mode("down")
        checks = {c.name: c for c in state.call_list_hook("medshake_system_checks", app=app)
                  if c.category == "apicrypt_v2"}
        assert checks["Apicrypt v2 companion"].ok is False
        assert "restart button" in checks["Apicrypt v2 companion"].fix
        backend = __import__("medshake_bridge.backends", fromlist=["backend_for"]).backend_for(
            state, state.settings.values_for_user(None))
        assert isinstance(backend, ApicryptV2Backend)


# -- the command line -----------------------------------------------------------------------------


def test_companion_command_serves_over_tcp(net: SandboxNetwork, spool: Path) -> None:
    port = free_port()
    program = Path(sys.executable).parent / "medshake-bridge"
    proc = subprocess.Popen(
        [str(program), "sandbox", "companion", "--port", str(port), "--spool", str(spool),
         "--keys", str(net.network_dir), "--token", TOKEN, "--mode", "wrong-password"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ},
    )
    try:
        wait_until_listening(port, timeout=20)
        client = CompanionClient(f"http://127.0.0.1:{port}", TOKEN, timeout=3)
        assert client.ping().reply == "toc"
        assert client.health().version.endswith("(FAKE)")
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert b"FAKE Apicrypt v2 companion" in out and b"mode wrong-password" in out


@pytest.mark.parametrize("source", ["../outside.txt", "/etc/hostname", "", "link/body.txt"])
def test_companion_refuses_paths_outside_the_spool(
    companion: SandboxCompanion, spool: Path, tmp_path: Path, source: str
) -> None:
    (tmp_path / "outside.txt").write_text("clear text outside the spool")
    (spool / "link").symlink_to(tmp_path)
    (tmp_path / "body.txt").write_text("clear text behind a symlink")
    client = CompanionClient(companion.url, TOKEN, timeout=3)
    with pytest.raises(CompanionRefusedError) as caught:
        client.encrypt(kind="body", source=source, destination="out.apicrypt",
                       certificate=ALICE, password=password(ALICE), recipients=[BOB])
    assert caught.value.code == "bad-path"
    assert sorted(p.name for p in spool.iterdir()) == ["link"]
