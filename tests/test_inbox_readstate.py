"""Read state per person: a delegate's reading never changes the owner's; openings audited;
delegation only per user."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from web_helpers import events, login

from medshake_bridge import bridge_state
from medshake_bridge.access import readable_mail_owner_ids
from medshake_bridge.db import db
from medshake_bridge.errors import SettingLevelError
from medshake_bridge.models import SettingValue, User
from medshake_bridge.models.mail import InboxDocument
from medshake_bridge.users import create_user

PASSWORD = "password for tests"


@pytest.fixture
def site(world):
    world.deliver(world.mail())
    world.collect()
    with world.app.app_context():
        db.session.get(User, world.bob).display_name = "Dr Durand"
        sophie = create_user("sophie", PASSWORD, role="secretary")
        sophie.display_name = "Sophie"
        db.session.commit()
        world.sophie = sophie.id
        bridge_state().settings.set("apicryptInboxMailForUserID", str(world.bob),
                                    level="user", user_id=sophie.id)
        world.document_id = db.session.scalars(select(InboxDocument.id)).one()
    return world


def _client(site, user: str):
    client = site.app.test_client()
    assert login(client, user, PASSWORD).status_code == 302
    return client


def test_delegate_reading_leaves_the_owner_unread_and_each_sees_the_other(site):
    bob, sophie = _client(site, "bob"), _client(site, "sophie")
    assert sophie.get("/inbox/unread.json").get_json() == {"unread": 1}
    listing = sophie.get("/inbox/").get_data(as_text=True)
    assert "Pour : Dr Durand" in listing
    page = sophie.get(f"/inbox/{site.document_id}").get_data(as_text=True)
    assert "Pour : Dr Durand" in page and "reste non lu pour elle" in page
    assert sophie.get("/inbox/unread.json").get_json() == {"unread": 0}
    # Bob's own state did not move: still unread, still counted, still bold
    assert bob.get("/inbox/unread.json").get_json() == {"unread": 1}
    listing = bob.get("/inbox/").get_data(as_text=True)
    assert 'class="unread' in listing and "Pour :" not in listing
    assert "vu par Sophie le " in listing
    with site.app.app_context():
        assert db.session.get(InboxDocument, site.document_id).read_at is None
    bob.get(f"/inbox/{site.document_id}")
    assert bob.get("/inbox/unread.json").get_json() == {"unread": 0}
    with site.app.app_context():
        assert db.session.get(InboxDocument, site.document_id).read_at is not None
    # Sophie now sees that Bob read it
    assert "vu par Dr Durand le " in sophie.get("/inbox/").get_data(as_text=True)


def test_every_opening_is_audited_with_whose_mail_it_was(site):
    bob, sophie = _client(site, "bob"), _client(site, "sophie")
    sophie.get(f"/inbox/{site.document_id}")
    bob.get(f"/inbox/{site.document_id}")
    bob.get(f"/inbox/{site.document_id}")
    reads = events(site.app, "inbox.read")
    assert [(e.actor_login, e.target) for e in reads] == [
        ("sophie", f"document {site.document_id}"), ("bob", f"document {site.document_id}"),
        ("bob", f"document {site.document_id}")]
    assert reads[0].detail == f"for user {site.bob}" and reads[1].detail == ""


def test_delegation_is_refused_at_default_and_module_level_with_the_fix(site):
    with site.app.app_context():
        store = bridge_state().settings
        for level, extra in (("default", {}), ("module", {"module": "base"})):
            with pytest.raises(SettingLevelError) as refused:
                store.set("apicryptInboxMailForUserID", str(site.bob), level=level, **extra)
            assert "one person at a time" in refused.value.fix
        # a row left at the default level by an older version grants nothing
        db.session.add(SettingValue(name="apicryptInboxMailForUserID", level="default",
                                    scope="", value=f"[{site.bob}]", encrypted=False))
        db.session.commit()
        carol = create_user("carol", PASSWORD, role="practitioner")
        assert readable_mail_owner_ids(carol) == {carol.id}
    assert "DUPONT" not in _client(site, "carol").get("/inbox/").get_data(as_text=True)


def test_global_and_module_pages_do_not_offer_delegation_the_user_page_says_what_it_grants(
        site):
    with site.app.app_context():
        create_user("root", PASSWORD, role="admin")
    admin = _client(site, "root")
    assert "apicryptInboxMailForUserID" not in admin.get("/admin/settings/").get_data(
        as_text=True)
    module_page = admin.get("/admin/modules/base/settings").get_data(as_text=True)
    assert '<option value="apicryptInboxMailForUserID">' not in module_page
    assert '<option value="apicryptInboxMailForUserID">' in admin.get(
        f"/admin/users/{site.sophie}/settings").get_data(as_text=True) or \
        'id="override-apicryptInboxMailForUserID"' in admin.get(
        f"/admin/users/{site.sophie}/settings").get_data(as_text=True)
    page = admin.get(f"/admin/users/{site.sophie}/settings?edit=apicryptInboxMailForUserID")
    text = page.get_data(as_text=True)
    assert "relever leur boîte et envoyer en leur nom" in text
    assert "jamais pour tous" in text
