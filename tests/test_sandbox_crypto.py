"""The sandbox's fake keys, armour, relay step, .apz container and .aes keys (in process)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from medshake_bridge.errors import CryptoError
from medshake_bridge.sandbox import make_aes_key, make_keys, reencrypt
from medshake_bridge.sandbox.aeskey import decrypt_aes_key
from medshake_bridge.sandbox.apz import pack, unpack
from medshake_bridge.sandbox.armour import BEGIN, open_armour, parse, seal
from medshake_bridge.sandbox.errors import (
    SandboxKeyMissingError,
    SandboxKeyYearError,
    SandboxLongCodeError,
    SandboxNotRecipientError,
    SandboxTamperedError,
    SandboxUsageError,
)
from medshake_bridge.sandbox.faults import active_fault, parse_faults
from medshake_bridge.sandbox.keys import (
    KEY_BEGIN,
    current_year,
    key_owners,
    load_key,
    parse_key,
)

ALICE, BOB, CAROL = "alice.MARTIN", "bob.DURAND", "carol.PETIT"
LETTER = "Cher confrère, voici le compte rendu de Mme Hélène Gaëlle. Bien à vous.".encode("latin-1")


@pytest.fixture
def network(tmp_path: Path) -> Path:
    root = tmp_path / "network"
    for user in (ALICE, BOB, CAROL):
        make_keys(user, root / user, 2026)
    return root


def sent_by_alice(network: Path, recipients: tuple[str, ...] = (BOB,), kind: str = "body") -> bytes:
    key = load_key(network / ALICE, ALICE, 126)
    return seal(kind, LETTER, sender=ALICE, recipients=recipients, key=key)


# -- keys ------------------------------------------------------------------------------------


def test_make_keys_names_and_labels_the_files(tmp_path: Path) -> None:
    paths = make_keys("prenom.NOM", tmp_path / "keys", 2026)
    assert [p.name for p in paths] == ["prenom.NOM.126", "Master.126"]
    assert all(p.parent == tmp_path / "keys" / "Clefs" for p in paths)
    for path in paths:
        text = path.read_text("ascii")
        assert text.startswith(KEY_BEGIN)
        assert "FAKE" in text.splitlines()[0] and "NOT APICRYPT" in text.splitlines()[0]
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = parse_key(paths[0].read_bytes(), paths[0])
    assert (key.user, key.yy, len(key.secret)) == ("prenom.NOM", 126, 32)
    other = parse_key(paths[1].read_bytes(), paths[1])
    assert other.secret != key.secret


def test_make_keys_never_overwrites_an_existing_key(tmp_path: Path) -> None:
    first = make_keys("prenom.NOM", tmp_path, 2026)[0].read_bytes()
    make_keys("prenom.NOM", tmp_path, 2026)
    assert (tmp_path / "Clefs" / "prenom.NOM.126").read_bytes() == first
    make_keys("prenom.NOM", tmp_path, 2025)
    assert key_owners(tmp_path) == {"prenom.NOM": {125, 126}}


@pytest.mark.parametrize("user", ["", "a b", "../x", "-v", "Master", "x;y", "é.NOM"])
def test_make_keys_refuses_bad_user_names(tmp_path: Path, user: str) -> None:
    with pytest.raises(SandboxUsageError):
        make_keys(user, tmp_path, 2026)


def test_the_sandbox_clock_can_be_moved(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDSHAKE_SANDBOX_YEAR", "2031")
    assert current_year() == 2031
    monkeypatch.setenv("MEDSHAKE_SANDBOX_YEAR", "soon")
    with pytest.raises(SandboxUsageError):
        current_year()


# -- armour and the relay --------------------------------------------------------------------


def test_armour_is_labelled_and_carries_the_routing(network: Path) -> None:
    armour = sent_by_alice(network, (BOB, CAROL))
    text = armour.decode("ascii")
    assert text.splitlines()[0] == BEGIN
    assert "FAKE, NOT APICRYPT" in text.splitlines()[0]
    header, _ = parse(armour)
    assert (header.sender, header.recipients, header.key_owner, header.key_yy) == (
        ALICE,
        (BOB, CAROL),
        ALICE,
        126,
    )
    assert b"confr" not in armour  # the body is encrypted


def test_relay_reencrypts_for_each_recipient(network: Path) -> None:
    copies = reencrypt(network, sent_by_alice(network, (BOB, CAROL)))
    assert set(copies) == {BOB, CAROL}
    for recipient, copy in copies.items():
        header, clear = open_armour(copy, network / recipient, kind="body")
        assert header.key_owner == recipient
        assert clear == LETTER
    # Bob's copy is not Carol's.
    with pytest.raises(SandboxNotRecipientError):
        open_armour(copies[BOB], network / CAROL, kind="body")


def test_the_sender_can_read_its_own_armour(network: Path) -> None:
    _, clear = open_armour(sent_by_alice(network), network / ALICE, kind="body")
    assert clear == LETTER


def test_not_a_recipient(network: Path) -> None:
    copy = reencrypt(network, sent_by_alice(network))[BOB]
    with pytest.raises(SandboxNotRecipientError, match="belong to carol.PETIT"):
        open_armour(copy, network / CAROL, kind="body")


def test_not_yet_relayed_is_a_distinct_message(network: Path) -> None:
    with pytest.raises(SandboxNotRecipientError, match="not been through the relay"):
        open_armour(sent_by_alice(network), network / BOB, kind="body")


def test_missing_key(network: Path, tmp_path: Path) -> None:
    copy = reencrypt(network, sent_by_alice(network))[BOB]
    with pytest.raises(SandboxKeyMissingError, match="No sandbox key in") as info:
        open_armour(copy, tmp_path / "empty", kind="body")
    assert type(info.value) is SandboxKeyMissingError


def test_wrong_year(network: Path, tmp_path: Path) -> None:
    copy = reencrypt(network, sent_by_alice(network))[BOB]
    old_keys = tmp_path / "bob-2025"
    make_keys(BOB, old_keys, 2025)
    with pytest.raises(SandboxKeyYearError, match="for year 2026.*for 2025"):
        open_armour(copy, old_keys, kind="body")


def test_a_recreated_key_is_not_reported_as_tampering(network: Path) -> None:
    copy = reencrypt(network, sent_by_alice(network))[BOB]
    key_file = network / BOB / "Clefs" / f"{BOB}.126"
    key_file.unlink()
    make_keys(BOB, network / BOB, 2026)
    with pytest.raises(SandboxKeyMissingError, match="not the key this armour"):
        open_armour(copy, network / BOB, kind="body")


@pytest.mark.parametrize(
    "damage",
    [
        lambda t: t.replace("Recipients: bob.DURAND", "Recipients: bob.DURAND,eve.X"),
        lambda t: t.replace("Sender: alice.MARTIN", "Sender: eve.FAUSSAIRE"),
        lambda t: t.replace("\n\n", "\n\nAAAA", 1),
        lambda t: t[: len(t) // 2],
        lambda t: t.replace(BEGIN, "-----BEGIN PGP MESSAGE-----"),
    ],
    ids=["recipients", "sender", "ciphertext", "truncated", "label"],
)
def test_tampered_armour(network: Path, damage) -> None:  # noqa: ANN001
    copy = reencrypt(network, sent_by_alice(network))[BOB].decode("ascii")
    with pytest.raises(SandboxTamperedError) as info:
        open_armour(damage(copy).encode("ascii"), network / BOB, kind="body")
    assert isinstance(info.value, CryptoError)


def test_armour_survives_crlf_and_surrounding_text(network: Path) -> None:
    copy = reencrypt(network, sent_by_alice(network))[BOB]
    mailed = b"-- forwarded --\r\n" + copy.replace(b"\n", b"\r\n") + b"\r\nSignature\r\n"
    assert open_armour(mailed, network / BOB, kind="body")[1] == LETTER


def test_body_and_attachment_armour_are_not_interchangeable(network: Path) -> None:
    copy = reencrypt(network, sent_by_alice(network, kind="apz"))[BOB]
    with pytest.raises(SandboxUsageError, match="apiuncryptpj"):
        open_armour(copy, network / BOB, kind="body")


def test_relay_refusals(network: Path) -> None:
    relayed = reencrypt(network, sent_by_alice(network))[BOB]
    with pytest.raises(SandboxUsageError, match="already re-encrypted"):
        reencrypt(network, relayed)
    key = load_key(network / ALICE, ALICE, 126)
    to_stranger = seal("body", LETTER, sender=ALICE, recipients=[BOB, "dan.NOBODY"], key=key)
    with pytest.raises(SandboxKeyMissingError, match="dan.NOBODY"):
        reencrypt(network, to_stranger)


# -- .apz container --------------------------------------------------------------------------


def test_apz_container_keeps_several_unicode_names() -> None:
    files = [("Compte rendu échographie.pdf", b"%PDF-1.4\x00\xff"), ("résumé — Zoë.txt", b"ok")]
    assert unpack(pack(files)) == files


@pytest.mark.parametrize("name", ["../etc/passwd", "a/b", "", "..", "bad\x00name", "x\ny"])
def test_apz_container_refuses_path_tricks(name: str) -> None:
    with pytest.raises(SandboxUsageError):
        pack([(name, b"x")])


def test_apz_container_refuses_duplicates_and_garbage() -> None:
    with pytest.raises(SandboxUsageError, match="Two files"):
        pack([("a.pdf", b"1"), ("a.pdf", b"2")])
    with pytest.raises(SandboxTamperedError):
        unpack(b'{"format": "other", "files": []}')


# -- .aes keys -------------------------------------------------------------------------------


def test_aes_key_opens_with_its_long_code_only(tmp_path: Path) -> None:
    path, code = make_aes_key(BOB, tmp_path, 2027)
    assert path == tmp_path / "Clefs" / f"{BOB}.127.aes"
    assert path.read_text("ascii").splitlines()[0].endswith("(FAKE, NOT APICRYPT)-----")
    with pytest.raises(SandboxLongCodeError):
        decrypt_aes_key(path, tmp_path / "Clefs" / f"{BOB}.127", "AAAAA-BBBBB")
    assert not (tmp_path / "Clefs" / f"{BOB}.127").exists()
    typed = code.lower().replace("-", " ")  # as typed from the paper letter
    target = decrypt_aes_key(path, tmp_path / "Clefs" / f"{BOB}.127", typed)
    key = parse_key(target.read_bytes(), target)
    assert (key.user, key.yy) == (BOB, 127)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    with pytest.raises(SandboxUsageError, match="never overwrites"):
        decrypt_aes_key(path, target, code)


# -- fault switch ----------------------------------------------------------------------------


def test_fault_switch_parsing() -> None:
    assert parse_faults("apicrypt:hang, exit1") == {"apicrypt": "hang", None: "exit1"}
    env = {"MEDSHAKE_SANDBOX_FAULT": "apiuncryptpj:noout,exit1"}
    assert active_fault("apiuncryptpj", env) == "noout"
    assert active_fault("apicrypt", env) == "exit1"
    assert active_fault("apicrypt", {}) is None
    with pytest.raises(SandboxUsageError, match="unknown fault"):
        parse_faults("apicrypt:explode")
