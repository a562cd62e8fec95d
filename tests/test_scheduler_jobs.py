"""The built-in jobs: declared defaults, and the working-folder clean-up that never touches the
inbox or the archive."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from web_helpers import make_people

from medshake_bridge import bridge_state
from medshake_bridge.db import db
from medshake_bridge.scheduler.jobs import clean_work_folders
from medshake_bridge.scheduler.runs import JobFailed, execute_job
from medshake_bridge.scheduler.tasks import declared_jobs

TWO_HOURS_AGO = time.time() - 7200


def _old(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (TWO_HOURS_AGO, TWO_HOURS_AGO))
    return path


def _folders(app) -> dict[str, Path]:
    settings = bridge_state(app).settings
    return {name: Path(settings.get(name)) for name in (
        "apicryptCheminFichierNC", "apicryptCheminFichierC", "apicryptCheminInbox",
        "apicryptCheminArchivesInbox")}


def test_built_in_jobs_and_their_default_schedules(app_ctx):
    jobs = declared_jobs(bridge_state(app_ctx))
    assert dict(jobs["apicrypt-collect"].cron) == {
        "minute": "*/5", "hour": "8-20", "day": "*", "month": "*", "day_of_week": "1-6"}
    assert dict(jobs["work-folders-cleanup"].cron)["hour"] == "20"
    assert dict(jobs["work-folders-cleanup"].cron)["minute"] == "0"


def test_clean_up_removes_old_leftovers_only_in_work_folders(app_ctx):
    folders = _folders(app_ctx)
    old_file = _old(folders["apicryptCheminFichierNC"] / "apicrypt-abc" / "clear.txt")
    os.utime(old_file.parent, (TWO_HOURS_AGO, TWO_HOURS_AGO))
    old_encrypted = _old(folders["apicryptCheminFichierC"] / "left.apz")
    fresh = folders["apicryptCheminFichierC"] / "collect-now"
    fresh.mkdir()
    (fresh / "part").write_bytes(b"y")
    inbox_file = _old(folders["apicryptCheminInbox"] / "message.eml")
    archive_file = _old(folders["apicryptCheminArchivesInbox"] / "2026" / "doc.txt")
    counts = clean_work_folders(app_ctx)
    assert counts["removed"] == 2 and counts["kept_recent"] == 1
    assert not old_file.parent.exists() and not old_encrypted.exists()
    assert (fresh / "part").exists()
    assert inbox_file.exists() and archive_file.exists()


def test_a_work_folder_overlapping_the_inbox_is_never_cleaned(app_ctx):
    people = make_people(app_ctx)
    folders = _folders(app_ctx)
    folders["apicryptCheminInbox"].mkdir(parents=True, exist_ok=True)
    inbox_file = _old(folders["apicryptCheminInbox"] / "message.eml")
    bridge_state(app_ctx).settings.set("apicryptCheminFichierC",
                                       str(folders["apicryptCheminInbox"]), level="user",
                                       user_id=people.bob)
    with pytest.raises(JobFailed) as caught:
        clean_work_folders(app_ctx)
    assert caught.value.counts["skipped_folders"] == 1
    assert "overlaps the inbox" in str(caught.value)
    assert inbox_file.exists()


def test_clean_up_run_is_recorded_with_its_counts(app):
    with app.app_context():
        spec = declared_jobs(bridge_state(app))["work-folders-cleanup"]
        db.session.remove()
    result = execute_job(app, spec, trigger="cli")
    assert result.outcome == "ok" and "removed" in result.counts
