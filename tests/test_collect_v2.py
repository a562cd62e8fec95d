"""Apicrypt v2 reception through the collection pipeline, with the real sandbox companion.

Alice (v2) signs and encrypts through the companion, the sandbox server step relays for Bob,
the message lands in Bob's Maildir, and the production pipeline (Maildir collector, v2
back-end, HPRIM parsing, inbox) takes it from there. The inbox page must show the signature
status; every companion fault during reception must end in retries then quarantine, with the
raw message kept and the mail left on the server: never a loss.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from mailbuild import HPRIM_LAB
from mailworld import ALICE, BOB
from sysinfo_helpers import TOKEN, certify, store_settings, v2_mail, v2_settings
from web_helpers import login

from medshake_bridge import bridge_state
from medshake_bridge.collect.pipeline import MAX_ATTEMPTS, retry_message
from medshake_bridge.models.mail import DUPLICATE, FAILED, PROCESSED, QUARANTINED
from medshake_bridge.sandbox.companion import SandboxCompanion

PASSWORD = "password for tests"  # the world's users


@pytest.fixture
def v2world(world):
    """The mail world with Bob switched to Apicrypt v2 and the companion running."""
    certify(world.net, ALICE, BOB)
    world.spool = world.tmp / "spool"
    world.spool.mkdir(mode=0o700)
    world.companion = SandboxCompanion(world.spool, world.net.network_dir, token=TOKEN,
                                       slow_seconds=3).start()
    store_settings(world.app, v2_settings(BOB, world.companion, world.spool,
                                          apicrypt2CompanionTimeout=1), user_id=world.bob)
    yield world
    world.companion.stop()


def _send(world, text: str = HPRIM_LAB) -> bytes:
    """Alice's v2 mail to Bob, delivered into Bob's Maildir; returns the raw bytes."""
    mode = world.companion.mode
    world.companion.set_mode("normal")  # Alice's side works; Bob's reception is under test
    raw = v2_mail(world.net, world.companion, world.spool, sender=ALICE, recipient=BOB,
                  text=text)
    world.companion.set_mode(mode)
    world.deliver(raw)
    return raw


def _bob(world):
    client = world.app.test_client()
    assert login(client, "bob", PASSWORD).status_code == 302
    return client


def test_v2_mail_shows_valid_then_invalid_signature_in_the_inbox(v2world) -> None:
    world = v2world
    _send(world)
    report = world.collect()
    assert report.ok and report.total("documents") == 1, report
    (valid_doc,) = world.documents()
    assert valid_doc.patient_last_name == "DUPONT"
    (message,) = world.messages()
    assert (message.signature_status, message.signer) == ("valid", ALICE)
    assert world.on_server() == []  # deleted only once committed

    client = _bob(world)
    page = client.get(f"/inbox/{valid_doc.id}").get_data(as_text=True)
    assert 'class="signature-valid"' in page and ">valide<" in page and ALICE in page
    assert "INVALIDE" not in page

    world.companion.set_mode("invalid-signature")
    _send(world)
    assert world.collect().ok
    invalid_doc = world.documents()[-1]
    page = client.get(f"/inbox/{invalid_doc.id}").get_data(as_text=True)
    assert 'class="signature-invalid"' in page
    assert "INVALIDE : le contenu a pu être modifié" in page and ALICE in page
    assert "DUPONT" in page  # flagged, not hidden


@pytest.mark.parametrize(("mode", "error"), [
    ("down", "does not answer"),
    ("slow", "did not answer the decryption of a body within 1 s"),
    ("wrong-password", "certificate refused its password"),
    ("expired-certificate", "certificate expired"),
])
def test_companion_fault_during_reception_retries_then_quarantines_never_loses(
        v2world, mode: str, error: str) -> None:
    world = v2world
    raw = _send(world)
    world.companion.set_mode(mode)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        report = world.collect()
        (row,) = world.messages()
        assert row.attempts == attempt and error in row.last_error
        assert row.state == (QUARANTINED if attempt == MAX_ATTEMPTS else FAILED)
        assert world.documents() == []
        assert len(world.on_server()) == 1  # left on the server
        assert Path(row.raw_path).read_bytes() == raw  # kept, byte for byte
        assert row.sha256 == hashlib.sha256(raw).hexdigest()
        assert report.total("deleted") == 0
    assert report.total("quarantined") == 1

    world.companion.set_mode("normal")
    world.collect()  # quarantine waits for an admin: no silent retry
    assert world.messages()[0].state == QUARANTINED
    with world.app.app_context():
        assert retry_message(bridge_state(), row.id) == PROCESSED
    (document,) = world.documents()
    assert document.patient_last_name == "DUPONT"
    assert world.messages()[0].signature_status == "valid"
    world.collect()
    assert world.on_server() == []  # deleted only after the admin's retry committed


def test_duplicate_delivery_and_swapped_line_endings_lose_and_duplicate_nothing(
        v2world) -> None:
    world = v2world
    world.companion.set_mode("duplicate")
    raw = _send(world)
    world.deliver(raw)  # the same message delivered twice, as in the companion's mode
    report = world.collect()
    assert report.ok and report.total("documents") == 1 and report.total("duplicates") == 1
    assert sorted(m.state for m in world.messages()) == [DUPLICATE, PROCESSED]

    world.companion.set_mode("swapped-line-endings")
    _send(world)
    assert world.collect().ok
    document = world.documents()[-1]
    assert (document.patient_last_name, document.patient_first_name) == ("DUPONT", "Jeanne")
    assert world.messages()[-1].signature_status == "valid"
    assert world.on_server() == []
