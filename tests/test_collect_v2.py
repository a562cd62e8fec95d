"""Apicrypt v2 reception through the collection pipeline, with the real sandbox companion.

Alice (v2) signs and encrypts through the companion, the sandbox server step relays for Bob,
the message lands in Bob's Maildir, and the production pipeline (Maildir collector, v2
back-end, HPRIM parsing, inbox) takes it from there. The inbox page must show the signature
status of every part; a companion fault during reception leaves the mail waiting (raw copy kept,
left on the server, never quarantined) and it comes in by itself once the companion is back.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from mailbuild import HPRIM_LAB
from mailworld import ALICE, BOB
from sqlalchemy import select, update
from sysinfo_helpers import TOKEN, certify, password, store_settings, v2_mail, v2_settings
from web_helpers import login, post

from medshake_bridge import migrate
from medshake_bridge.collect.pipeline import MAX_ATTEMPTS
from medshake_bridge.db import db
from medshake_bridge.errors import CONFIGURATION, TRANSIENT
from medshake_bridge.models.audit import AuditEvent
from medshake_bridge.models.mail import (
    DUPLICATE,
    FAILED,
    PROCESSED,
    QUARANTINED,
    InboxDocument,
    ReceivedMessage,
)
from medshake_bridge.models.settings import utcnow
from medshake_bridge.sandbox.companion import SandboxCompanion
from medshake_bridge.webhooks.outbox import provenance

PASSWORD = "password for tests"  # the world's users


@pytest.fixture
def v2world(world):
    """The mail world with Bob switched to Apicrypt v2 and the companion running."""
    certify(world.net, ALICE, BOB)
    world.spool = world.tmp / "spool"
    world.spool.mkdir(mode=0o700)
    world.companion = SandboxCompanion(world.spool, world.net.network_dir, token=TOKEN,
                                       slow_seconds=60).start()
    # success paths get a generous timeout (a loaded machine); the slow-companion tests
    # lower it to 1 s (_companion_timeout), far below the companion's 60 s delay
    store_settings(world.app, v2_settings(BOB, world.companion, world.spool,
                                          apicrypt2CompanionTimeout=30), user_id=world.bob)
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


FAULTS = [
    ("down", "does not answer", TRANSIENT),
    ("slow", "did not answer the decryption of", TRANSIENT),
    ("wrong-password", "certificate refused its password", CONFIGURATION),
    ("expired-certificate", "certificate expired", CONFIGURATION),
]
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 16 + b"\n%%EOF\n"


def _send_v2(world, *, attachments=(), with_body=True) -> bytes:
    mode = world.companion.mode
    world.companion.set_mode("normal")
    raw = v2_mail(world.net, world.companion, world.spool, sender=ALICE, recipient=BOB,
                  text=HPRIM_LAB, attachments=list(attachments), with_body=with_body)
    world.companion.set_mode(mode)
    world.deliver(raw)
    return raw


def _companion_timeout(world, seconds: int) -> None:
    store_settings(world.app, {"apicrypt2CompanionTimeout": seconds}, user_id=world.bob)


def _time_passes(world) -> None:
    """Every waiting message's backoff delay is over."""
    with world.app.app_context():
        db.session.execute(update(ReceivedMessage).values(
            next_attempt_at=utcnow() - dt.timedelta(seconds=1)))
        db.session.commit()


@pytest.mark.parametrize("part", ["body", "attachment"])
@pytest.mark.parametrize(("mode", "error", "cause"), FAULTS)
def test_companion_fault_during_reception_waits_then_recovers_without_an_admin(
        v2world, mode: str, error: str, cause: str, part: str) -> None:
    """Issue 20: an outage of any length quarantines nothing, loses nothing, shows nothing
    as valid, and the mail comes in by itself once the companion is back."""
    world = v2world
    if part == "body":
        raws = [_send(world), _send(world)]
    else:  # attachment-only mail: the attachment is the first thing the companion sees
        raws = [_send_v2(world, attachments=[("cr.pdf", PDF)], with_body=False),
                _send_v2(world, attachments=[("cr2.pdf", PDF)], with_body=False)]
    if mode == "slow":
        _companion_timeout(world, 1)
    world.companion.set_mode(mode)
    for _ in range(MAX_ATTEMPTS + 2):  # more runs than would have quarantined before
        report = world.collect(retry_now=True)
        rows = world.messages()
        assert [row.state for row in rows] == [FAILED, FAILED]
        assert all(row.attempts == 0 and row.error_cause == cause for row in rows)
        assert error in rows[0].last_error and rows[0].error_fix
        assert [Path(row.raw_path).read_bytes() for row in rows] == raws  # kept as received
        assert world.documents() == []
        assert len(world.on_server()) == 2 and report.total("deleted") == 0
        assert report.total("quarantined") == 0 and report.total("waiting") == 2
        assert not report.ok and report.configuration_error == (cause == CONFIGURATION)
    if mode == "down":  # the outage is detected once per run, not once per message
        assert world.companion.state.mode == "down"

    client = _bob(world)
    page = client.get("/inbox/").get_data(as_text=True)
    assert "data-waiting" in page and "2 messages sont en attente de déchiffrement" in page
    assert error.split()[0] in page

    world.companion.set_mode("normal")
    if mode == "slow":  # back to the generous timeout (a transient fault ignores settings)
        _companion_timeout(world, 30)
    report = world.collect()  # the scheduler honours the backoff: not yet
    assert report.total("waiting") == 2 and world.documents() == []
    _time_passes(world)
    report = world.collect()
    assert report.ok, report
    assert [row.state for row in world.messages()] == [PROCESSED, PROCESSED]
    assert len(world.documents()) == 2 and world.on_server() == []
    for row in world.messages():
        assert not row.signature_invalid and row.error_cause == ""
        for item in json.loads(row.attachments_json):
            assert (item["signature"], item["signer"]) == ("valid", ALICE)
    assert "data-waiting" not in client.get("/inbox/").get_data(as_text=True)


def test_configuration_waiting_mail_is_retried_as_soon_as_a_setting_changes(v2world) -> None:
    world = v2world
    _send(world)
    store_settings(world.app, {"apicrypt2CertPassword": "not the password"},
                   user_id=world.bob)
    world.collect()
    (row,) = world.messages()
    assert (row.state, row.error_cause) == (FAILED, CONFIGURATION)
    assert world.collect().total("waiting") == 1  # backoff: not tried again yet
    store_settings(world.app, {"apicrypt2CertPassword": password(BOB)}, user_id=world.bob)
    report = world.collect()  # the setting changed after the last try: tried at once
    assert report.ok and report.total("documents") == 1


def test_legacy_quarantine_of_an_outage_is_released_by_the_next_collection(v2world) -> None:
    """Messages quarantined by an outage before this version are waiting again after the
    migration (the same rule, applied to what the old version left)."""
    world = v2world
    _send(world)
    world.companion.set_mode("down")
    world.collect()
    with world.app.app_context():
        db.session.execute(update(ReceivedMessage).values(
            state=QUARANTINED, attempts=MAX_ATTEMPTS, error_cause=""))
        db.session.commit()
        migrate.downgrade(world.app, "0005")
        migrate.upgrade(world.app)
    (row,) = world.messages()
    assert (row.state, row.error_cause) == (FAILED, TRANSIENT)
    world.companion.set_mode("normal")
    assert world.collect(retry_now=True).ok and len(world.documents()) == 1


def test_attachment_only_mail_with_an_invalid_signature_is_flagged_everywhere(v2world) -> None:
    world = v2world
    world.companion.set_mode("invalid-signature")
    _send_v2(world, attachments=[("cr.pdf", PDF)], with_body=False)
    assert world.collect().ok
    (message,) = world.messages()
    assert message.signature_invalid and message.signature_status == ""
    (item,) = json.loads(message.attachments_json)
    assert (item["signature"], item["signer"]) == ("invalid", ALICE)
    (document,) = world.documents()

    client = _bob(world)
    listing = client.get("/inbox/").get_data(as_text=True)
    assert 'data-signature="invalid"' in listing and "signature-invalid" in listing
    page = client.get(f"/inbox/{document.id}").get_data(as_text=True)
    assert "data-invalid-signature" in page and "Signature invalide" in page
    assert 'data-part-signature="invalid"' in page and "cr.pdf" in page
    # the API and the webhook payload say so too
    (api_item,) = client.get("/api/v1/inbox").get_json()["items"]
    assert api_item["signature_invalid"] is True
    detail = client.get(f"/api/v1/documents/{document.id}").get_json()
    assert detail["signature_invalid"] is True
    assert [a["signature"] for a in detail["attachments"]] == ["invalid"]
    with world.app.app_context():
        stored = db.session.get(InboxDocument, document.id)
        assert provenance(stored)["signature_invalid"] is True
    # Opening asks first and serves nothing...
    asked = client.get(f"/inbox/{document.id}/attachments/0?inline=1")
    assert asked.status_code == 200 and asked.mimetype == "text/html"
    assert PDF not in asked.get_data() and "Ouvrir quand même" in asked.get_data(as_text=True)
    # ...then serves it, and the audit log says who opened it.
    opened = client.get(f"/inbox/{document.id}/attachments/0?inline=1&confirm=1")
    assert opened.status_code == 200 and opened.get_data() == PDF
    with world.app.app_context():
        events = list(db.session.scalars(select(AuditEvent).where(
            AuditEvent.action == "inbox.open-invalid-signature")))
        assert [(e.actor_login, e.detail) for e in events] == [("bob", "cr.pdf")]


def test_valid_text_with_an_invalid_attachment_still_raises_the_banner(v2world) -> None:
    world = v2world
    _send_v2(world, attachments=[("cr.pdf", PDF)])
    world.collect()
    # Tamper with the per-part status as a wrongly signed attachment would leave it.
    world.companion.set_mode("invalid-signature")
    _send_v2(world, attachments=[("cr.pdf", PDF)])
    world.collect()
    first, second = world.messages()
    assert not first.signature_invalid and first.signature_status == "valid"
    assert second.signature_invalid
    client = _bob(world)
    documents = world.documents()
    assert "data-invalid-signature" not in client.get(
        f"/inbox/{documents[0].id}").get_data(as_text=True)
    page = client.get(f"/inbox/{documents[1].id}").get_data(as_text=True)
    assert "data-invalid-signature" in page and "cr.pdf" in page
    direct = client.get(f"/inbox/{documents[0].id}/attachments/0")
    assert direct.get_data() == PDF  # a valid attachment opens without a question


def test_fetch_exit_codes_and_collect_now_tell_the_truth(v2world) -> None:
    world = v2world
    runner = world.app.test_cli_runner()
    _send(world)
    world.companion.set_mode("down")
    result = runner.invoke(args=["bridge", "fetch"])
    assert result.exit_code == 1, result.output
    assert "1 waiting" in result.output and "does not answer" in result.output
    assert "fix:" in result.output

    client = _bob(world)
    page = post(client, "/inbox/collect", page="/inbox/",
                follow_redirects=True).get_data(as_text=True)
    assert "flash-error" in page and "en attente" in page and "does not answer" in page

    world.companion.set_mode("wrong-password")
    result = runner.invoke(args=["bridge", "fetch"])
    assert result.exit_code == 2, result.output
    assert "apicrypt2CertPassword" in result.output

    world.companion.set_mode("normal")
    result = runner.invoke(args=["bridge", "fetch"])
    assert result.exit_code == 0, result.output
    _send(world)
    page = post(client, "/inbox/collect", page="/inbox/",
                follow_redirects=True).get_data(as_text=True)
    assert "flash-success" in page and "flash-error" not in page


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
