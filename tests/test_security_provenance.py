"""Unencrypted mail and mail from outside the Apicrypt domains is marked "non chiffré" /
"expéditeur externe" in the inbox (stored on the message), and can be refused by a setting
(issue #17, item 14)."""

from __future__ import annotations

import pytest
from mailbuild import HPRIM_LAB, clear_mail
from web_helpers import login

from medshake_bridge import bridge_state
from medshake_bridge.collect.provenance import in_domains, sender_domain
from medshake_bridge.db import db
from medshake_bridge.models.mail import QUARANTINED


def _bob_client(world):
    with world.app.app_context():
        user = db.session.get(__import__("medshake_bridge.models", fromlist=["User"]).User,
                              world.bob)
        login_name = user.login
    client = world.app.test_client()
    assert login(client, login_name, "password for tests").status_code == 302
    return client


def test_a_forged_clear_lab_result_is_marked(world):
    world.deliver(clear_mail("Labo <evil@attacker.example>"))
    world.deliver(world.mail(HPRIM_LAB))  # a genuine Apicrypt message for comparison
    assert world.collect().total("processed") == 2
    forged, genuine = world.messages()
    assert forged.unencrypted and forged.external_sender
    assert not genuine.unencrypted and not genuine.external_sender
    client = _bob_client(world)
    page = client.get("/inbox/").get_data(as_text=True)
    assert page.count('data-provenance="unencrypted"') == 1
    assert page.count('data-provenance="external"') == 1
    assert "non chiffré" in page and "expéditeur externe" in page
    forged_document = next(d for d in world.documents() if d.message_id == forged.id)
    view = client.get(f"/inbox/{forged_document.id}").get_data(as_text=True)
    assert "pas été chiffré par Apicrypt" in view and "hors des domaines Apicrypt" in view
    genuine_document = next(d for d in world.documents() if d.message_id == genuine.id)
    assert "data-provenance" not in client.get(f"/inbox/{genuine_document.id}").get_data(
        as_text=True)


def test_clear_mail_from_an_apicrypt_address_is_only_unencrypted(world):
    world.deliver(clear_mail("labo@medical69.apicrypt.org"))
    world.collect()
    [message] = world.messages()
    assert message.unencrypted and not message.external_sender


def test_unprotected_mail_can_be_refused(world):
    with world.app.app_context():
        bridge_state().settings.set("apicryptRefuseUnprotectedMail", "true")
    world.deliver(clear_mail("evil@attacker.example"))
    world.deliver(world.mail(HPRIM_LAB))
    world.collect()
    refused, genuine = world.messages()
    assert refused.state == QUARANTINED
    assert "not encrypted with Apicrypt" in refused.last_error
    assert "apicryptRefuseUnprotectedMail" in refused.error_fix
    assert [d.message_id for d in world.documents()] == [genuine.id]
    assert len(world.on_server()) == 1  # nothing lost: the refused one is kept, as quarantine does


def test_the_sender_domains_are_a_setting(world):
    with world.app.app_context():
        bridge_state().settings.set("apicryptSenderDomains", "apicrypt.org, labo-partenaire.fr")
    world.deliver(clear_mail("resultats@labo-partenaire.fr"))
    world.collect()
    [message] = world.messages()
    assert not message.external_sender


@pytest.mark.parametrize(("header", "domain"), [
    ("a@b.apicrypt.org", "b.apicrypt.org"), ("Name <X@Apicrypt.ORG>", "apicrypt.org"),
    ("nobody", ""), ("", ""), ('"a@apicrypt.org" <evil@attacker.example>', "attacker.example"),
])
def test_sender_domain(header, domain):
    assert sender_domain(header) == domain


def test_domains_match_whole_labels():
    assert in_domains("medical69.apicrypt.org", ["apicrypt.org"])
    assert not in_domains("evilapicrypt.org", ["apicrypt.org"])
    assert not in_domains("apicrypt.org.attacker.example", ["apicrypt.org"])
