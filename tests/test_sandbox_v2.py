"""Sandbox v2 crypto: certificates, signed content, and v1/v2 interoperation through the relay."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from medshake_bridge.sandbox import SandboxNetwork, create_network, reencrypt
from medshake_bridge.sandbox.armour import open_armour, seal
from medshake_bridge.sandbox.cli import sandbox
from medshake_bridge.sandbox.keys import load_key
from medshake_bridge.sandbox.v2 import (
    SIGNED_MAGIC,
    SandboxCertificateExpiredError,
    SandboxCertificateMissingError,
    SandboxCertificatePasswordError,
    cert_path,
    is_v2_user,
    make_certificate,
    open_certificate,
    open_v2,
    seal_v2,
)

V2_A, V2_B, V1_C = "alice.MARTIN", "bob.DURAND", "carol.PETIT"
TEXT = "Résultats de Mme Hélène Lefèvre : hémoglobine 10,2 g/dl ✓\n****FIN****\n".encode()


@pytest.fixture
def net(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SandboxNetwork:
    monkeypatch.setenv("MEDSHAKE_SANDBOX_YEAR", "2026")
    network = create_network(tmp_path / "sb", [V2_A, V2_B, V1_C], year=2026)
    for user in (V2_A, V2_B):
        make_certificate(user, network.keys_dir(user), "secret é", not_after=date(2026, 12, 31))
    return network


def key(net: SandboxNetwork, user: str):
    return load_key(net.keys_dir(user), user, 126)


def test_v2_to_v2_keeps_a_valid_signature(net: SandboxNetwork) -> None:
    armour = seal_v2("body", TEXT, recipients=[V2_B], key=key(net, V2_A))
    opened = open_v2(reencrypt(net.network_dir, armour)[V2_B], net.network_dir, V2_B, kind="body")
    assert (opened.content, opened.signature_status, opened.signer) == (TEXT, "valid", V2_A)


def test_v2_to_v1_strips_the_signature_for_the_v1_programs(net: SandboxNetwork) -> None:
    armour = seal_v2("body", TEXT, recipients=[V1_C, V2_B], key=key(net, V2_A))
    copies = reencrypt(net.network_dir, armour)
    header, clear = open_armour(copies[V1_C], net.keys_dir(V1_C), kind="body")
    assert clear == TEXT and not clear.startswith(SIGNED_MAGIC) and header.sender == V2_A
    assert open_v2(copies[V2_B], net.network_dir, V2_B, kind="body").signature_status == "valid"


def test_v1_to_v2_arrives_unsigned(net: SandboxNetwork) -> None:
    latin1 = "Hélène\n".encode("latin-1")
    armour = seal("body", latin1, sender=V1_C, recipients=[V2_A], key=key(net, V1_C))
    opened = open_v2(reencrypt(net.network_dir, armour)[V2_A], net.network_dir, V2_A, kind="body")
    assert (opened.content, opened.signature_status, opened.signer) == (latin1, "unsigned", None)


def test_signature_of_someone_else_than_the_sender_is_invalid(net: SandboxNetwork) -> None:
    """A's signed content sealed as if B sent it: the signature is A's, the sender claims B."""
    from medshake_bridge.sandbox.v2 import sign

    armour = seal("body", sign(TEXT, key(net, V2_A)), sender=V2_B, recipients=[V2_B],
                  key=key(net, V2_B))
    opened = open_v2(armour, net.network_dir, V2_B, kind="body")
    assert opened.signature_status == "invalid" and "sent as" in opened.reason


def test_certificates(net: SandboxNetwork) -> None:
    folder = net.keys_dir(V2_A)
    assert is_v2_user(folder, V2_A) and not is_v2_user(net.keys_dir(V1_C), V1_C)
    document = json.loads(cert_path(folder, V2_A).read_text())
    assert "FAKE" in document["format"] and "secret" not in json.dumps(document)
    assert oct(cert_path(folder, V2_A).stat().st_mode & 0o777) == "0o600"
    assert open_certificate(folder, V2_A, "secret é", today=date(2026, 6, 1)).name == V2_A
    with pytest.raises(SandboxCertificatePasswordError):
        open_certificate(folder, V2_A, "secret e", today=date(2026, 6, 1))
    with pytest.raises(SandboxCertificateExpiredError, match="2026-12-31"):
        open_certificate(folder, V2_A, "secret é", today=date(2027, 1, 1))
    with pytest.raises(SandboxCertificateMissingError, match="make-keys --v2"):
        open_certificate(net.keys_dir(V1_C), V1_C, "x")
    # Kept unless replaced (like a key, a certificate is not silently regenerated).
    make_certificate(V2_A, folder, "other")
    open_certificate(folder, V2_A, "secret é", today=date(2026, 6, 1))


def test_make_keys_v2_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDSHAKE_SANDBOX_YEAR", "2026")
    folder = tmp_path / "network" / V2_A
    result = CliRunner().invoke(sandbox, ["make-keys", "--user", V2_A, "--keys", str(folder),
                                          "--v2", "--password", "pw", "--expires", "2026-03-01"])
    assert result.exit_code == 0, result.output
    assert str(cert_path(folder, V2_A)) in result.output
    assert open_certificate(folder, V2_A, "pw", today=date(2026, 2, 1)).not_after == date(
        2026, 3, 1)
    missing = CliRunner().invoke(sandbox, ["make-keys", "--user", V2_B, "--keys",
                                           str(tmp_path / V2_B), "--v2"])
    assert missing.exit_code != 0 and "--password" in missing.output
