"""Setting up a practitioner in one form: address, mailbox, keys, collection and delegates,
validated together, written all or nothing, without pinning site-wide values."""

from __future__ import annotations

import pytest
from web_helpers import events, login, make_people, post

from medshake_bridge import bridge_state


@pytest.fixture
def people(app):
    return make_people(app)


@pytest.fixture
def admin(app, people):
    client = app.test_client()
    assert login(client, "admin").status_code == 302
    return client


def _stored(app, name, user_id):
    with app.app_context():
        return bridge_state(app).settings.stored(name, "user", user_id=user_id)


def test_one_form_sets_up_the_practitioner_and_the_delegates(app, admin, people):
    url = f"/admin/users/{people.bob}/setup"
    assert f'href="{url}"' in admin.get("/admin/users/").get_data(as_text=True)
    page = admin.get(url).get_data(as_text=True)
    assert 'id="f-apicryptAdresse"' in page and 'id="f-apicryptPopPassword"' in page
    assert f'name="delegate" value="{people.sophie}"' in page
    response = post(admin, url, [
        ("s-apicryptAdresse", "bob.DURAND@medical69.apicrypt.org"),
        ("s-apicryptUtilisateur", "bob.DURAND"),
        ("s-apicryptPopHost", "pop.intermedic.org"),  # as shown: not pinned
        ("s-apicryptPopPort", "110"),
        ("s-apicryptPopUser", "bob.DURAND"),
        ("s-apicryptPopPassword", "mot de passe de la boîte"),
        ("s-apicryptKeepOnServer__shown", "1"), ("s-apicryptKeepOnServer", "true"),
        ("delegate", str(people.sophie))])
    assert response.status_code == 302, response.get_data(as_text=True)
    assert _stored(app, "apicryptAdresse", people.bob) == "bob.DURAND@medical69.apicrypt.org"
    assert _stored(app, "apicryptKeepOnServer", people.bob) is True
    assert _stored(app, "apicryptPopHost", people.bob) is None
    assert _stored(app, "apicryptPopPort", people.bob) is None
    assert _stored(app, "apicryptInboxMailForUserID", people.sophie) == [people.bob]
    assert "mot de passe" not in admin.get(url).get_data(as_text=True).replace(
        "Mon mot de passe", "")
    targets = {e.target for e in events(app, "setting.set")}
    assert f"apicryptInboxMailForUserID@user:{people.sophie}" in targets
    # untick the delegate: removed from her own list
    post(admin, url, [("s-apicryptAdresse", "bob.DURAND@medical69.apicrypt.org")])
    assert _stored(app, "apicryptInboxMailForUserID", people.sophie) is None


def test_inconsistent_values_are_refused_and_nothing_is_saved(app, admin, people):
    url = f"/admin/users/{people.bob}/setup"
    response = post(admin, url, [
        ("s-apicryptAdresse", "bob.DURAND@medical69.apicrypt.org"),
        ("s-apicryptUtilisateur", "robert.DURAND"), ("s-apicryptPopPort", "99999"),
        ("delegate", str(people.sophie))])
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "doit être la partie de l&#39;adresse avant le @" in page
    assert 'value="robert.DURAND"' in page  # what was typed is kept
    assert _stored(app, "apicryptAdresse", people.bob) is None
    assert _stored(app, "apicryptInboxMailForUserID", people.sophie) is None
    response = post(admin, url, [("s-apicryptPopPort", "99999")])
    assert response.status_code == 400 and 'id="f-apicryptPopPort-error"' in \
        response.get_data(as_text=True) or "65535" in response.get_data(as_text=True)
    assert _stored(app, "apicryptPopPort", people.bob) is None


def test_only_admins(app, people):
    client = app.test_client()
    assert login(client, "alice").status_code == 302
    assert client.get(f"/admin/users/{people.bob}/setup").status_code == 404
