"""A v1 user and a v2 user exchange mail through the sandbox relay, as on the real network.

The whole production path: the send service encrypts with the sender's back-end (v1 programs
or the v2 companion), submits over SMTP (STARTTLS + AUTH) to the relay, which re-encrypts for
each recipient and delivers into the recipient's Maildir; the collection pipeline decrypts with
the recipient's back-end and the inbox shows the text and, for v2 recipients, the signature.
"""

from __future__ import annotations

import pytest
from mailworld import ALICE, BOB
from sysinfo_helpers import TOKEN, certify, store_settings, v2_settings

from medshake_bridge.sandbox.companion import SandboxCompanion


@pytest.fixture
def mixed(send_world):
    world = send_world.world
    certify(world.net, ALICE, BOB)
    spool = world.tmp / "spool"
    spool.mkdir(mode=0o700)
    companion = SandboxCompanion(spool, world.net.network_dir, token=TOKEN).start()
    send_world.v2 = lambda user_id, name: store_settings(
        world.app, v2_settings(name, companion, spool), user_id=user_id)
    send_world.v1 = lambda user_id: store_settings(
        world.app, {"apicryptVersion": "1"}, user_id=user_id)
    yield send_world
    companion.stop()


def _received(send_world):
    report = send_world.world.collect()
    assert report.ok, report
    document = send_world.world.documents()[-1]
    message = send_world.world.messages()[-1]
    return document, message


def test_v1_sender_to_v2_recipient_and_v2_sender_to_v1_recipient(mixed):
    world = mixed.world
    mixed.v2(world.bob, BOB)  # Alice v1 -> Bob v2
    outcome = mixed.send(token="v1-to-v2")
    assert outcome.record.state == "sent"
    document, message = _received(mixed)
    assert "DUPONT-ÉTIENNE" in document.patient_last_name
    assert "avis cardiologique" in document.body
    assert (message.signature_status, message.signer) == ("unsigned", "")

    mixed.v1(world.bob)  # Alice v2 -> Bob v1
    mixed.v2(mixed.alice, ALICE)
    outcome = mixed.send(token="v2-to-v1")
    assert outcome.record.state == "sent"
    document, message = _received(mixed)
    assert "avis cardiologique" in document.body and "consœur" in document.body
    assert message.signature_status == ""  # a v1 program reports no signature

    mixed.v2(world.bob, BOB)  # Alice v2 -> Bob v2: signed end to end
    mixed.send(token="v2-to-v2")
    document, message = _received(mixed)
    assert (message.signature_status, message.signer) == ("valid", ALICE)
    assert world.on_server() == [] and mixed.work_files() == []
