"""The API follows the pages' rules: read state per person (the token's user, with "vu par"),
the provenance flags of #17 ("non chiffré", "expéditeur externe") in the payloads and the
webhooks, and the HPRIM header fields declared once in :mod:`medshake_bridge.hprim.header`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from api_helpers import PASSWORD, api_site
from mailbuild import clear_mail
from web_helpers import events, login
from webhook_receiver import Receiver, free_port

from medshake_bridge.apiv1 import schemas
from medshake_bridge.db import db
from medshake_bridge.hprim.header import HprimHeader, published_fields
from medshake_bridge.models import InboxDocument
from medshake_bridge.webhooks.delivery import deliver_due
from medshake_bridge.webhooks.subscriptions import add_subscription

API_DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def documented_webhook_data(event: str) -> set[str]:
    """The ``data`` keys docs/api.md's webhook table gives for ``event`` (``links.x`` as
    ``links``)."""
    for line in API_DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith(f"| `{event}` |"):
            cell = line.rstrip("|").rsplit("|", 1)[1]
            return {name.split(".")[0] for name in re.findall(r"`([a-z_.]+)`", cell)}
    raise AssertionError(f"{event} is not in the webhook table of {API_DOC}")


@pytest.fixture
def site(world):
    return api_site(world)


def _page_client(site, login_name: str):
    client = site.app.test_client()
    assert login(client, login_name, PASSWORD).status_code == 302
    return client


def _unread_on_page(client) -> int:
    return client.get("/inbox/unread.json").get_json()["unread"]


def _item(site, who: str) -> dict:
    [item] = site.get("/api/v1/inbox", who).get_json()["items"]
    return item


def test_a_read_through_the_api_is_read_on_the_page_for_that_person_only(site):
    doc = site.document_id
    bob_page, sophie_page = _page_client(site, "bob"), _page_client(site, "sophie")
    assert _unread_on_page(sophie_page) == 1 and _unread_on_page(bob_page) == 1
    # Sophie (Bob's secretary) reads it through the API with her token
    document = site.get(f"/api/v1/documents/{doc}", "sophie").get_json()
    assert document["read"] is True and document["read_at"].endswith("Z")
    assert document["seen_by"] == []
    # read for her on the page and in the API...
    assert _unread_on_page(sophie_page) == 0
    counts = site.get("/api/v1/inbox/unread-count", "sophie").get_json()
    assert counts["total"] == 0
    assert {o["owner"]["login"]: (o["unread"], o["unread_by_owner"])
            for o in counts["per_owner"]} == {"bob": (0, 1), "sophie": (0, 0)}
    assert _item(site, "sophie")["read"] is True
    # ...and still unread for Bob, on the page and in the API, with "vu par Sophie"
    assert _unread_on_page(bob_page) == 1
    listing = bob_page.get("/inbox/").get_data(as_text=True)
    assert 'class="unread' in listing and "vu par Sophie le " in listing
    bob_item = _item(site, "bob")
    assert bob_item["read"] is False and bob_item["read_at"] is None
    assert [(r["person"]["login"], bool(r["first_read_at"])) for r in bob_item["seen_by"]] == [
        ("sophie", True)]
    counts = site.get("/api/v1/inbox/unread-count", "bob").get_json()
    assert counts["total"] == 1
    ids = [i["id"] for i in site.get("/api/v1/inbox?unread=true", "bob").get_json()["items"]]
    assert ids == [doc]
    assert site.get("/api/v1/inbox?unread=true", "sophie").get_json()["items"] == []
    assert [i["id"] for i in site.get("/api/v1/inbox?unread=false", "sophie")
            .get_json()["items"]] == [doc]
    with site.app.app_context():  # the owner's own mark did not move either
        assert db.session.get(InboxDocument, doc).read_at is None


def test_a_read_on_the_page_is_read_in_the_api_for_that_person_only(site):
    doc = site.document_id
    bob_page = _page_client(site, "bob")
    assert bob_page.get(f"/inbox/{doc}").status_code == 200
    assert _item(site, "bob")["read"] is True
    sophie = _item(site, "sophie")
    assert sophie["read"] is False
    assert [r["person"]["login"] for r in sophie["seen_by"]] == ["bob"]
    per_owner = site.get("/api/v1/inbox/unread-count", "sophie").get_json()["per_owner"]
    assert {o["owner"]["login"]: (o["unread"], o["unread_by_owner"]) for o in per_owner} == {
        "bob": (1, 0), "sophie": (0, 0)}
    assert site.get("/api/v1/inbox/unread-count", "bob").get_json()["total"] == 0


def test_an_api_read_is_audited_once_with_the_channel_and_whose_mail(site):
    doc = site.document_id
    site.get(f"/api/v1/documents/{doc}", "sophie")
    site.get(f"/api/v1/documents/{doc}", "bob")
    reads = events(site.app, "inbox.read")
    assert [(e.actor_login, e.detail) for e in reads] == [
        ("sophie", f"api, for user {site.ids['bob']}"), ("bob", "api")]


def test_provenance_flags_in_the_list_the_document_and_the_webhooks(site):
    world = site.world
    receiver = Receiver(free_port()).start()
    try:
        with site.app.app_context():
            add_subscription(receiver.url, ["document.received", "document.filed"],
                             secret="a-long-shared-secret-for-tests")
        world.deliver(clear_mail("Labo <evil@attacker.example>"))
        world.collect()
        items = {i["id"]: i for i in site.get("/api/v1/inbox").get_json()["items"]}
        genuine = items.pop(site.document_id)
        [forged] = items.values()
        assert (genuine["unencrypted"], genuine["external_sender"]) == (False, False)
        assert (forged["unencrypted"], forged["external_sender"]) == (True, True)
        detail = site.get(f"/api/v1/documents/{forged['id']}").get_json()
        assert detail["unencrypted"] is True and detail["external_sender"] is True
        filed = site.post(f"/api/v1/documents/{forged['id']}/file",
                          json={"patient": _bridge_patient(site)})
        assert filed.status_code == 200, filed.get_data(as_text=True)
        assert filed.get_json()["unencrypted"] is True
        with site.app.app_context():
            assert deliver_due(timeout=5).delivered == 2
        payloads = [json.loads(r.body)["data"] for r in receiver.received]
        assert set(payloads[0]) == documented_webhook_data("document.received")
        assert set(payloads[1]) == documented_webhook_data("document.filed")
        assert [(p["document"], p["unencrypted"], p["external_sender"]) for p in payloads] == [
            (forged["id"], True, True), (forged["id"], True, True)]
    finally:
        receiver.stop()


def _bridge_patient(site) -> str:
    import datetime as dt

    from medshake_bridge.models.patients import Patient

    with site.app.app_context():
        row = Patient(last_name="DUPONT", first_name="Jeanne", birth_date=dt.date(1961, 3, 12))
        db.session.add(row)
        db.session.commit()
        return f"bridge:{row.id}"


def test_the_header_fields_are_declared_once():
    published = published_fields()
    assert set(schemas.HprimHeader.model_fields) == set(published)
    assert "line_count" not in published and {"nir", "sex"} <= set(published)
    # a field of the parser's header is a field of the API's, with its kind
    for name in HprimHeader.__dataclass_fields__:
        if name != "line_count":
            assert name in schemas.HprimHeader.model_fields
    assert schemas.HprimHeader.model_fields["exam_date"].default is None
    assert schemas.HprimHeader.model_fields["file_number"].default == ""


def test_the_document_carries_every_header_field_as_received(site):
    header = site.get(f"/api/v1/documents/{site.document_id}").get_json()["header"]
    assert set(header) == set(published_fields())
    assert header["last_name"] == "DUPONT" and header["birth_date"] == "1961-03-12"
    assert header["birth_date_raw"] == "12/03/1961" and header["exam_date"] == "2026-11-27"


def test_the_api_docs_name_the_read_state_and_provenance_fields():
    text = API_DOC.read_text(encoding="utf-8")
    for name in ("read_at", "seen_by", "unencrypted", "external_sender", "send_as", "acted_by",
                 "birth_date_raw"):
        assert f'"{name}"' in text or f"`{name}`" in text, name
    for name in ("read_at", "seen_by", "unencrypted", "external_sender"):
        assert name in schemas.InboxItem.model_fields


def test_plugins_see_the_provenance_flags_too(make_app, tmp_path, monkeypatch):
    import types

    from mailworld import World

    from medshake_bridge import hookimpl, migrate
    from medshake_bridge.sandbox import SANDBOX_ENV_VARS

    seen: list = []

    @hookimpl
    def medshake_message_stored(message, documents):
        seen.append((message.from_address, message.unencrypted, message.external_sender))

    plugin = types.ModuleType("provenance_watcher")
    plugin.medshake_message_stored = medshake_message_stored
    app = make_app(MEDSHAKE_BRIDGE_RUNNER_ENV_PASSTHROUGH=list(SANDBOX_ENV_VARS),
                   MEDSHAKE_BRIDGE_PLUGINS=[plugin])
    migrate.upgrade(app)
    world = World(app, tmp_path, monkeypatch)
    world.deliver(clear_mail("Labo <evil@attacker.example>"))
    world.deliver(world.mail())
    assert world.collect().ok
    assert sorted(flags for _address, *flags in seen) == [[False, False], [True, True]]


def test_a_stored_header_reads_back_as_parsed():
    import dataclasses

    from medshake_bridge.collect.documents import header_json
    from medshake_bridge.hprim.header import header_from_stored, parse_header

    parsed = parse_header(["P123", "DUPONT", "Jeanne", "1 rue X", "", "69000 LYON",
                           "12/03/1961", "2610369123456 82", "DOS-1", "27/11/2026",
                           "LAB01      Laboratoire", "DR01       Docteur"])
    back = header_from_stored(json.loads(header_json(parsed)))
    assert dataclasses.replace(back, line_count=parsed.line_count) == parsed
    assert back.nir is not None and back.sex == parsed.sex == "F"
    assert header_from_stored({}) == HprimHeader()
