"""The expiry watch: missing keys this year, and next year's from 1 December (date injected)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from medshake_keys.expiry import expiry_checks, expiry_warnings, run_expiry_check
from medshake_keys.plugin import JOB_ID
from web_helpers import events, make_people

from medshake_bridge import bridge_state, migrate
from medshake_bridge.api import settings
from medshake_bridge.db import db
from medshake_bridge.interfaces import JobSpec
from medshake_bridge.sandbox import make_aes_key, make_keys

BOB, ALICE = "bob.DURAND", "alice.MARTIN"


@pytest.fixture
def watched(make_app, tmp_path: Path):
    app = make_app(MEDSHAKE_BRIDGE_TODAY="2026-12-01")
    migrate.upgrade(app)
    people = make_people(app)
    (tmp_path / "site").mkdir()
    (tmp_path / "alice").mkdir()
    with app.app_context():
        store = bridge_state(app).settings
        store.set("apicryptCheminVersClefs", str(tmp_path / "site"))
        store.set("apicryptUtilisateur", BOB, level="user", user_id=people.bob)
        store.set("apicryptUtilisateur", BOB, level="user", user_id=people.sophie)  # secretary
        store.set("apicryptUtilisateur", ALICE, level="user", user_id=people.alice)
        store.set("apicryptCheminVersClefs", str(tmp_path / "alice"), level="user",
                  user_id=people.alice)
        db.session.remove()
    return app, people, tmp_path


def _warnings(app, day: date):
    with app.app_context():
        found = expiry_warnings(settings(app), day)
        return [(w.watch.apicrypt_user, w.year, w.when, w.aes_waiting) for w in found], found


def test_before_december_only_this_years_keys_are_watched(watched):
    app, people, tmp = watched
    summary, found = _warnings(app, date(2026, 11, 28))
    assert summary == [(ALICE, 2026, "current", False), (BOB, 2026, "current", False)]
    bob = found[1]
    assert bob.watch.logins == ("bob", "sophie")  # one mailbox, one warning
    assert "bob.DURAND.126" in bob.message and str(tmp / "site" / "Clefs") in bob.message
    make_keys(BOB, tmp / "site", 2026)
    make_keys(ALICE, tmp / "alice", 2026)
    assert _warnings(app, date(2026, 11, 30))[0] == []


def test_from_1_december_next_years_key_is_watched_and_an_aes_is_pointed_at(watched):
    app, people, tmp = watched
    make_keys(BOB, tmp / "site", 2026)
    make_keys(ALICE, tmp / "alice", 2026)
    summary, _found = _warnings(app, date(2026, 12, 1))
    assert summary == [(ALICE, 2027, "next", False), (BOB, 2027, "next", False)]
    make_aes_key(BOB, tmp / "site", 2027)
    summary, found = _warnings(app, date(2026, 12, 1))
    assert (BOB, 2027, "next", True) in summary
    assert "code long" in [w for w in found if w.watch.apicrypt_user == BOB][0].fix
    make_keys(BOB, tmp / "site", 2027)
    make_keys(ALICE, tmp / "alice", 2027)
    assert _warnings(app, date(2026, 12, 31))[0] == []
    assert _warnings(app, date(2027, 1, 1))[0] == []


def test_system_checks_say_the_same(watched):
    app, people, tmp = watched
    make_keys(BOB, tmp / "site", 2026)
    with app.app_context():
        checks = [c for c in bridge_state(app).call_list_hook("medshake_system_checks", app=app)
                  if c.category == "keys"]
        lines = {c.name: c.ok for c in checks}
        db.session.remove()
    assert lines["Clef Apicrypt alice.MARTIN.126"] is False
    assert lines["Clef Apicrypt bob.DURAND.127"] is None  # a warning: 1 December
    assert "Clef Apicrypt bob.DURAND.126" not in lines
    assert any(name.startswith("Dossier des clefs") for name in lines)
    make_keys(ALICE, tmp / "alice", 2026)
    with app.app_context():
        ok = expiry_checks(settings(app), date(2026, 6, 1))
    assert [c.ok for c in ok] == [True]


def test_the_daily_job_is_declared_and_records_warnings(watched):
    app, people, tmp = watched
    with app.app_context():
        jobs = [j for j in bridge_state(app).call_list_hook("medshake_scheduled_jobs")
                if j.id == JOB_ID]
    assert len(jobs) == 1 and isinstance(jobs[0], JobSpec)
    job = jobs[0]
    assert job.cron["day"] == "*" and job.cron["day_of_week"] == "*" and job.cron["hour"] != "*"
    make_keys(BOB, tmp / "site", 2026)
    counts = job.func(app)
    assert counts == {"date": "2026-12-01", "users_checked": 2, "missing_current": 1,
                      "missing_next": 2, "renewals_due": 0}
    recorded = events(app, "keys.expiry_warning")
    assert sorted(e.target for e in recorded) == ["alice.MARTIN.126", "alice.MARTIN.127",
                                                    "bob.DURAND.127"]
    assert {e.actor_login for e in recorded} == {"scheduler"}
    assert run_expiry_check is job.func
