"""The sandbox relay under the companion's ``duplicate`` mode (the same message delivered twice:
the bridge stores it once) and its users file, read again when it changes (issue 20)."""

from __future__ import annotations

import email.policy
import email.utils
import smtplib
from email.message import EmailMessage

import pytest
from mailbuild import HPRIM_LAB
from mailworld import ALICE, BOB, CAROL
from medshake_apicrypt_v2.backend import build_backend
from sysinfo_helpers import TOKEN, certify, store_settings, v2_settings

from medshake_bridge.models.mail import DUPLICATE, PROCESSED
from medshake_bridge.sandbox.companion import SandboxCompanion
from medshake_bridge.sandbox.relay import SandboxRelay, maildirs_under

DOMAIN = "medical69.apicrypt.org"


@pytest.fixture
def relayed(world):
    certify(world.net, ALICE, BOB)
    world.spool = world.tmp / "spool"
    world.spool.mkdir(mode=0o700)
    world.companion = SandboxCompanion(world.spool, world.net.network_dir, token=TOKEN).start()
    store_settings(world.app, v2_settings(BOB, world.companion, world.spool), user_id=world.bob)
    world.users_file = world.tmp / "relay-users"
    world.users_file.write_text(f"{ALICE}:alice-pw\n", "utf-8")
    world.relay = SandboxRelay(world.net.network_dir, maildirs_under(world.tmp / "maildirs"),
                               world.users_file).start()
    yield world
    world.relay.stop()
    world.companion.stop()


def _submit(world, login: str, password: str, raw: bytes, sender: str = ALICE) -> None:
    with smtplib.SMTP("127.0.0.1", world.relay.port, timeout=10) as smtp:
        smtp.login(login, password)
        smtp.sendmail(f"{sender}@{DOMAIN}", [f"{BOB}@{DOMAIN}"], raw)


def _alice_mail(world) -> bytes:
    armour = build_backend(v2_settings(ALICE, world.companion, world.spool)).encrypt_body(
        HPRIM_LAB, [BOB]).armour
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"], message["To"] = f"{ALICE}@{DOMAIN}", f"{BOB}@{DOMAIN}"
    message["Subject"] = "Résultats"
    message["Message-ID"] = email.utils.make_msgid(domain=DOMAIN)
    message.set_content(armour.decode("ascii"))
    return message.as_bytes()


def test_duplicate_mode_delivers_twice_and_the_bridge_stores_once(relayed) -> None:
    world = relayed
    world.companion.set_mode("duplicate")
    _submit(world, ALICE, "alice-pw", _alice_mail(world))
    assert len(world.on_server()) == 2  # the relay really delivered it twice
    first, second = sorted(path.read_bytes() for path in world.on_server())
    assert first == second
    report = world.collect()
    assert report.ok and report.total("documents") == 1 and report.total("duplicates") == 1
    assert sorted(row.state for row in world.messages()) == [DUPLICATE, PROCESSED]
    assert len(world.documents()) == 1 and world.on_server() == []

    world.companion.set_mode("normal")
    _submit(world, ALICE, "alice-pw", _alice_mail(world))
    assert len(world.on_server()) == 1  # normal mode: once


def test_the_relay_reads_its_users_file_again_when_it_changes(relayed) -> None:
    world = relayed
    with pytest.raises(smtplib.SMTPAuthenticationError):
        _submit(world, CAROL, "carol-pw", b"Subject: x\r\n\r\nx\r\n", sender=CAROL)
    world.users_file.write_text(f"{ALICE}:alice-pw\n{CAROL}:carol-pw\n", "utf-8")
    with smtplib.SMTP("127.0.0.1", world.relay.port, timeout=10) as smtp:
        assert smtp.login(CAROL, "carol-pw")[0] == 235  # no restart needed
    world.users_file.write_text(f"{CAROL}:carol-pw\n", "utf-8")
    with pytest.raises(smtplib.SMTPAuthenticationError), \
            smtplib.SMTP("127.0.0.1", world.relay.port, timeout=10) as smtp:
        smtp.login(ALICE, "alice-pw")
