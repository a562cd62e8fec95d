"""Each bridge request reads a setting once (``SettingsStore.remembering`` per request).

The web layer uses the collection's memo (``run_memo``) instead of a cache of its own: who may
read whose mail is read once per page, a write through the store or a rollback of the bridge's
session is seen at once, nothing outlives the request, and a host portal's pages are left alone.
"""

from __future__ import annotations

from flask import Flask
from test_settings_remembering import counted_queries
from web_helpers import login

from medshake_bridge import bridge_state, migrate
from medshake_bridge.access import readable_mail_owner_ids
from medshake_bridge.db import db
from medshake_bridge.models import User
from medshake_bridge.settings.store import run_memo
from medshake_bridge.users import create_user

PASSWORD = "correct horse battery"
SHARING = "apicryptInboxMailForUserID"


def _people(app: Flask) -> tuple[int, int, int]:
    with app.app_context():
        return tuple(create_user(name, PASSWORD).id for name in ("sophie", "alice", "bob"))


def _sharing_reads(statements: list[str]) -> int:
    return sum(1 for statement in statements if "bridge_settings" in statement)


def test_an_inbox_page_reads_who_may_read_whose_mail_once(app):
    sophie, alice, _bob = _people(app)
    with app.app_context():
        bridge_state().settings.set(SHARING, str(alice), level="user", user_id=sophie)
    client = app.test_client()
    assert login(client, "sophie", PASSWORD).status_code == 302
    with app.app_context(), counted_queries() as first:
        assert client.get("/inbox/").status_code == 200
    with app.app_context(), counted_queries() as second:
        assert client.get("/inbox/").status_code == 200
    # the list, the tab counts, the unread count and the menu all ask; one read per request,
    # and the next request reads again (a change made elsewhere is seen by the next page)
    assert _sharing_reads(first) >= 1
    assert _sharing_reads(first) == _sharing_reads(second)
    with app.test_request_context("/inbox/"):
        app.preprocess_request()
        with counted_queries() as seen:
            for _ in range(5):
                readable_mail_owner_ids(db.session.get(User, sophie))
        assert _sharing_reads(seen) == 1
        app.do_teardown_request()


def test_a_write_or_a_rollback_in_the_request_is_seen_at_once(app):
    sophie, alice, bob = _people(app)
    store = bridge_state(app).settings
    with app.test_request_context("/inbox/"):
        app.preprocess_request()
        assert run_memo() is not None
        user = db.session.get(User, sophie)
        assert readable_mail_owner_ids(user) == {sophie}
        store.set(SHARING, str(alice), level="user", user_id=sophie)
        assert readable_mail_owner_ids(user) == {sophie, alice}
        store.set(SHARING, f"{alice},{bob}", level="user", user_id=sophie, commit=False)
        assert readable_mail_owner_ids(user) == {sophie, alice, bob}  # read after the flush
        db.session.rollback()  # the page's save failed: what was read of it is forgotten
        user = db.session.get(User, sophie)
        assert readable_mail_owner_ids(user) == {sophie, alice}
        app.do_teardown_request()
        assert run_memo() is None


def test_a_host_page_gets_no_memo(make_app):
    app = make_app()
    migrate.upgrade(app)
    seen: list[object] = []

    @app.route("/portal/agenda")
    def agenda() -> str:
        seen.append(run_memo())
        return "agenda"

    assert app.test_client().get("/portal/agenda").get_data(as_text=True) == "agenda"
    assert seen == [None]
