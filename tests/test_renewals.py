"""Yearly deadlines beside the keys (issue 20): the v2 certificate on the *Apicrypt keys* page
and in the daily expiry job, judged on the bridge's clock, from a real sandbox companion.

Opening next year's ``.aes`` renews the keys, not the certificate: an admin who only watched
the keys would lose v2 mail on the certificate's end date, so both appear on one page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
from sqlalchemy import select
from test_apicrypt_v2 import BOB, TOKEN, settings_for, v2_network
from web_helpers import events, login, make_people

from medshake_bridge import bridge_state, migrate
from medshake_bridge.api import Renewal, hookimpl, renewals
from medshake_bridge.db import db
from medshake_bridge.models import PluginFailure
from medshake_bridge.sandbox.companion import SandboxCompanion

pytestmark = pytest.mark.real_component("sandbox companion")


@pytest.fixture
def spool(tmp_path: Path) -> Path:
    folder = tmp_path / "spool"
    folder.mkdir()
    return folder


@pytest.fixture
def companion(tmp_path: Path, spool: Path, monkeypatch: pytest.MonkeyPatch
              ) -> Iterator[SandboxCompanion]:
    """The sandbox companion with two v2 certificates that end on 31 December 2026."""
    network = v2_network(tmp_path / "sandbox", monkeypatch)
    with SandboxCompanion(spool, network.network_dir, token=TOKEN, slow_seconds=5) as server:
        yield server


def _site(make_app, companion: SandboxCompanion, spool, today: str, *, cert: str = BOB,
          plugins: tuple = ()):
    app = make_app(MEDSHAKE_BRIDGE_TODAY=today, MEDSHAKE_BRIDGE_PLUGINS=list(plugins))
    migrate.upgrade(app)
    people = make_people(app)
    with app.app_context():
        store = bridge_state(app).settings
        for name, value in settings_for(cert, companion, spool).items():
            store.set(name, value, level="user", user_id=people.bob)
        db.session.remove()
    client = app.test_client()
    login(client, "admin")
    return app, client


def _rows(client) -> list[str]:
    response = client.get("/admin/keys/general/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    rows = re.findall(r'<tr class="renewal [^"]*">(.*?)</tr>', html, re.S)
    return [" ".join(unescape(re.sub(r"<[^>]+>", " ", row)).split()) for row in rows]


def test_the_keys_page_shows_the_v2_certificate_and_its_end_date(make_app, companion, spool):
    app, client = _site(make_app, companion, spool, "2026-06-15")
    (row,) = _rows(client)
    assert f"Certificat Apicrypt v2 {BOB}" in row
    assert "bob" in row and "31/12/2026" in row and "Valide" in row
    with app.app_context():
        (item,) = renewals(app)
    assert item.ok is True and item.logins == ("bob",) and str(item.expires) == "2026-12-31"


def test_within_thirty_days_it_says_what_to_do_and_the_daily_job_records_it(
        make_app, companion, spool):
    app, client = _site(make_app, companion, spool, "2026-12-10")
    (row,) = _rows(client)
    assert "bientôt" in row and "31/12/2026" in row
    assert "ne renouvelle pas le certificat" in row
    with app.app_context():
        (job,) = [j for j in bridge_state(app).call_list_hook("medshake_scheduled_jobs")
                  if j.id == "keys-expiry-check"]
    counts = job.func(app)
    assert counts["renewals_due"] == 1
    (event,) = events(app, "keys.renewal_warning")
    assert BOB in event.target and "2026-12-31" in event.target
    assert event.actor_login == "scheduler" and event.outcome == "failed"


def test_an_unknown_certificate_and_a_silent_companion_are_said_plainly(
        make_app, companion, spool):
    app, client = _site(make_app, companion, spool, "2026-06-15", cert="nobody.KNOWN")
    (row,) = _rows(client)
    assert "à corriger" in row and "ne connaît pas ce certificat" in row
    companion.set_mode("down")
    (row,) = _rows(client)
    assert "ne répond pas" in row and "31/12/2026" not in row


class _Broken:
    @hookimpl
    def medshake_renewals(self, app):
        raise RuntimeError("boom")


class _Own:
    @hookimpl
    def medshake_renewals(self, app):
        return [Renewal("Licence du lecteur de cartes", ("alice",), None, False,
                        "expirée", "Renouvelez la licence.")]


def test_other_plugins_add_their_deadlines_and_a_broken_one_changes_nothing(
        make_app, companion, spool):
    app, client = _site(make_app, companion, spool, "2026-06-15", plugins=(_Broken(), _Own()))
    rows = _rows(client)
    assert len(rows) == 2
    assert "Licence du lecteur de cartes" in rows[0]  # the broken one comes first
    assert f"Certificat Apicrypt v2 {BOB}" in rows[1]
    with app.app_context():
        failures = db.session.scalars(select(PluginFailure)).all()
    assert [(f.hook, "boom" in f.error) for f in failures] == [("medshake_renewals", True)]
