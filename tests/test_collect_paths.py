"""Collection paths no other test reached (issue 21): the scheduled collection against dovecot,
the message size cap, ``fetch`` exit codes for a busy mailbox and for incomplete settings, a
plugin failing when a message is announced, a retry that fails again, a retry of a mailbox
nobody owns any more."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from mailbuild import HPRIM_LAB
from mailworld import PDF_1, World
from scheduler_helpers import runs, wait_for
from sqlalchemy import select

from medshake_bridge import bridge_state, hookimpl, migrate
from medshake_bridge.collect.locks import mailbox_lock
from medshake_bridge.collect.mailboxes import plan_mailboxes
from medshake_bridge.collect.pipeline import retry_all, retry_message
from medshake_bridge.db import db
from medshake_bridge.default_plugins.scheduled_jobs import COLLECT_JOB
from medshake_bridge.errors import BridgeError, SettingValueError
from medshake_bridge.interfaces import JobSpec
from medshake_bridge.models.mail import FAILED, PROCESSED, QUARANTINED, ReceivedMessage
from medshake_bridge.models.settings import SettingValue
from medshake_bridge.sandbox import SANDBOX_ENV_VARS
from medshake_bridge.scheduler import SchedulerService
from medshake_bridge.scheduler.jobs import collect_job
from medshake_bridge.scheduler.tasks import update_task

EVERY_SECOND = {"second": "*", "minute": "*", "hour": "*", "day": "*", "month": "*",
                "day_of_week": "*"}
OFF = {"minute": "0", "hour": "3", "day": "*", "month": "*", "day_of_week": "*"}


class CollectEverySecond:
    """The production job function on a per-second schedule (the real one runs every few
    minutes; a test cannot wait for it)."""

    @hookimpl
    def medshake_scheduled_jobs(self):
        return [JobSpec(id="test-collect", func=collect_job, label_fr="Relève (test)",
                        label_en="Collection (test)", cron=EVERY_SECOND)]


def _exit(world, *args: str):
    return world.app.test_cli_runner().invoke(args=["bridge", "fetch", *args])


def _use_pop3(world, dovecot, user, password: str | None = None) -> None:
    with world.app.app_context():
        store = bridge_state().settings
        for name, value in {
            "apicryptCollector": "pop3", "apicryptPopHost": "localhost",
            "apicryptPopPort": str(dovecot.pop3s), "apicryptPopTls": "tls",
            "apicryptPopUser": user.login, "apicryptPopPassword": password or user.password,
            "apicryptTlsCaFile": str(dovecot.ca_file),
        }.items():
            store.set(name, value, level="user", user_id=world.bob)


@pytest.mark.real_component("dovecot")
def test_the_scheduled_collection_runs_collect_job_against_dovecot(
        make_app, tmp_path, monkeypatch, dovecot):
    assert COLLECT_JOB.func is collect_job  # what production schedules
    app = make_app(MEDSHAKE_BRIDGE_RUNNER_ENV_PASSTHROUGH=list(SANDBOX_ENV_VARS),
                   MEDSHAKE_BRIDGE_PLUGINS=[CollectEverySecond()],
                   MEDSHAKE_BRIDGE_SCHEDULER_POLL_SECONDS=0.2)
    migrate.upgrade(app)
    world = World(app, tmp_path, monkeypatch)
    user = dovecot.add_user()
    _use_pop3(world, dovecot, user)
    with app.app_context():
        for job_id in ("apicrypt-collect", "work-folders-cleanup"):  # only the job under test
            update_task(bridge_state(app), job_id, enabled=False, fields=OFF, actor="test")
        db.session.remove()
    raw = world.mail(attachments=[("cr.pdf", PDF_1)])
    dovecot.seed(user.login, raw)

    service = SchedulerService(app).start()
    try:
        done = wait_for(lambda: [r for r in runs(app, "test-collect")
                                 if r.ended_at and '"documents": 1' in r.counts_json],
                        timeout=120)
        assert done[0].outcome == "ok" and done[0].trigger == "schedule"
        assert '"deleted": 1' in done[0].counts_json and '"mailboxes": 1' in done[0].counts_json
        assert dovecot.messages(user.login) == []
        (document,) = world.documents()
        assert document.patient_last_name == "DUPONT" and document.owner_user_id == world.bob
        (message,) = world.messages()
        assert message.size == len(raw) and message.state == PROCESSED

        # a wrong password: the scheduled run is recorded as failed, naming the mailbox. The
        # scheduler is stopped first (waiting for its run in progress), so that no run that read
        # the right password before the change can pick up the second message.
        service.stop(wait_seconds=120)
        assert all(r.ended_at for r in runs(app, "test-collect"))
        _use_pop3(world, dovecot, user, password="not-the-password")
        dovecot.seed(user.login, world.mail(subject="second"))
        last = max(r.id for r in runs(app))
        service = SchedulerService(app).start()
        failed = wait_for(lambda: [r for r in runs(app, "test-collect")
                                   if r.id > last and r.outcome == "failed"], timeout=120)
        assert "error" in failed[0].error and user.login in failed[0].error
        assert "not-the-password" not in failed[0].error
        assert len(dovecot.messages(user.login)) == 1  # nothing lost, nothing fetched
    finally:
        service.stop()


def test_a_message_over_the_size_cap_stays_on_the_server(world):
    big = world.mail(clear_attachments=[("scanner.pdf", PDF_1 * 80)])  # about 1.3 MB
    assert len(big) > 1024 * 1024
    world.deliver(big)
    world.deliver(world.mail(subject="small"))
    with world.app.app_context():
        store = bridge_state().settings
        assert store.get("apicryptMaxMessageMB", user_id=world.bob) == 100  # the default
        for refused in ("0", "5000", "beaucoup"):
            with pytest.raises(SettingValueError):
                store.set("apicryptMaxMessageMB", refused, level="user", user_id=world.bob)
        store.set("apicryptMaxMessageMB", "1", level="user", user_id=world.bob)
    report = world.collect()
    (mailbox,) = report.mailboxes
    assert (mailbox.skipped_too_large, mailbox.fetched, mailbox.processed) == (1, 1, 1)
    assert [m.subject for m in world.messages()] == ["small"]
    assert len(world.on_server()) == 1 and world.on_server()[0].read_bytes() == big
    with world.app.app_context():
        bridge_state().settings.set("apicryptMaxMessageMB", "2", level="user",
                                    user_id=world.bob)
    report = world.collect()
    assert report.total("fetched") == 1 and report.mailboxes[0].skipped_too_large == 0
    assert world.on_server() == [] and len(world.documents()) == 2


def test_fetch_exits_1_when_the_mailbox_is_busy_and_0_once_it_is_free(world):
    world.deliver(world.mail())
    with world.app.app_context():
        (plan,) = plan_mailboxes(bridge_state())[0]
    locks = Path(world.app.config["MEDSHAKE_BRIDGE_DATA_DIR"]) / "locks"
    with mailbox_lock(locks, plan.identity.key):  # another collection holds it
        result = _exit(world)
        assert result.exit_code == 1, result.output
        assert "BUSY" in result.output and "another collection" in result.output
        assert world.messages() == [] and len(world.on_server()) == 1
    result = _exit(world)
    assert result.exit_code == 0, result.output
    assert world.on_server() == [] and len(world.documents()) == 1


def test_fetch_exits_2_when_a_mailbox_setting_is_empty(world):
    world.deliver(world.mail())
    with world.app.app_context():
        bridge_state().settings.unset("apicryptMaildir", level="user", user_id=world.bob)
    result = _exit(world)
    assert result.exit_code == 2, result.output
    (line,) = [line for line in result.output.splitlines() if line.startswith("Not collected")]
    assert "apicryptMaildir is empty" in line and "user bob" in line
    assert f"--user {world.bob}" in line  # the command that fixes it
    assert world.messages() == [] and len(world.on_server()) == 1


class BrokenListener:
    announced: list[int] = []

    @hookimpl
    def medshake_message_stored(self, message, documents):
        BrokenListener.announced.append(message.id)
        raise RuntimeError("the listener fell over")


def test_a_plugin_failing_on_the_announcement_undoes_nothing(world, caplog):
    bridge_state(world.app).pm.register(BrokenListener())
    BrokenListener.announced = []
    world.deliver(world.mail())
    world.deliver(world.mail(subject="second"))
    with caplog.at_level(logging.ERROR, logger="medshake_bridge.collect.pipeline"):
        report = world.collect()
    assert report.ok and report.total("processed") == 2 and report.total("deleted") == 2
    # both announced (in the order the processing threads finished them)
    assert sorted(BrokenListener.announced) == [m.id for m in world.messages()]
    assert [m.state for m in world.messages()] == [PROCESSED, PROCESSED]
    assert len(world.documents()) == 2 and world.on_server() == []
    failures = [r for r in caplog.records if "medshake_message_stored" in r.getMessage()]
    assert len(failures) == 2 and failures[0].exc_info[0] is RuntimeError


def _quarantine_one(world, monkeypatch) -> ReceivedMessage:
    world.deliver(world.mail())
    monkeypatch.setenv("MEDSHAKE_SANDBOX_FAULT", "apiuncrypt:exit1")
    reports = [world.collect() for _ in range(3)]
    assert [r.total("failed") for r in reports] == [1, 1, 0]
    assert [r.total("quarantined") for r in reports] == [0, 0, 1]
    (message,) = world.messages()
    assert (message.state, message.attempts) == (QUARANTINED, 3)
    return message


def test_a_retry_that_fails_again_keeps_the_message_and_counts_afresh(world, monkeypatch):
    message = _quarantine_one(world, monkeypatch)  # the fault is still there
    with world.app.app_context():
        assert retry_message(bridge_state(), message.id) == FAILED
    (again,) = world.messages()
    assert (again.state, again.attempts) == (FAILED, 1) and "apiuncrypt" in again.last_error
    assert Path(again.raw_path).is_file() and len(world.on_server()) == 1
    assert world.documents() == []
    world.collect()
    world.collect()  # three fresh tries in all, then quarantine again
    assert [(m.state, m.attempts) for m in world.messages()] == [(QUARANTINED, 3)]
    with world.app.app_context():
        assert retry_all(bridge_state()) == {FAILED: 1}


def test_a_retry_when_nobody_owns_the_mailbox_any_more(world, monkeypatch):
    message = _quarantine_one(world, monkeypatch)
    monkeypatch.delenv("MEDSHAKE_SANDBOX_FAULT")
    with world.app.app_context():
        db.session.execute(SettingValue.__table__.delete().where(
            SettingValue.name == "apicryptAdresse"))
        db.session.commit()
        with pytest.raises(BridgeError, match="no user owns the mailbox") as caught:
            retry_message(bridge_state(), message.id)
        assert "apicryptAdresse" in caught.value.fix
        assert retry_all(bridge_state()) == {"unowned": 1}
        row = db.session.scalars(select(ReceivedMessage)).one()
        assert (row.state, row.attempts) == (QUARANTINED, 3)  # left as it was
    assert world.documents() == [] and len(world.on_server()) == 1


def test_the_quarantine_page_explains_a_retry_that_cannot_start(world, monkeypatch):
    from web_helpers import login, post

    from medshake_bridge.users import create_user

    message = _quarantine_one(world, monkeypatch)
    with world.app.app_context():
        create_user("root", "password for tests", role="admin")
        db.session.execute(SettingValue.__table__.delete().where(
            SettingValue.name == "apicryptAdresse"))
        db.session.commit()
    admin = world.app.test_client()
    assert login(admin, "root", "password for tests").status_code == 302
    response = post(admin, f"/admin/quarantine/{message.id}/retry", page="/admin/quarantine/",
                    follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "no user owns the mailbox" in page and "flash-error" in page
    assert [m.state for m in world.messages()] == [QUARANTINED]


def test_mail_left_by_an_unusable_setting_is_not_lost(world):
    """The exit code 2 path above, seen from the mail: it is collected once the fix is in."""
    world.deliver(world.mail(text=HPRIM_LAB))
    maildir = str(world.maildir)
    with world.app.app_context():
        bridge_state().settings.unset("apicryptMaildir", level="user", user_id=world.bob)
    assert _exit(world).exit_code == 2
    with world.app.app_context():
        bridge_state().settings.set("apicryptMaildir", maildir, level="user",
                                    user_id=world.bob)
    assert _exit(world).exit_code == 0
    assert len(world.documents()) == 1 and world.on_server() == []


# -- survivors of the mutation run of collect/pipeline.py (docs/testing.md) ---------------------

def _clear(message_id: str, body: bytes) -> bytes:
    return (f"From: labo@medical69.apicrypt.org\r\nTo: bob.DURAND@medical69.apicrypt.org\r\n"
            f"Subject: clair\r\nMessage-ID: <{message_id}@test>\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n").encode() + body


def test_a_copy_is_a_duplicate_in_a_later_chunk_and_in_a_later_run(world, monkeypatch):
    """The duplicate check is made once per chunk of messages (issue 18): a copy whose
    original was stored in an earlier chunk of the same run, or processed by an earlier run,
    is still a duplicate; a copy in the same chunk too (the test above)."""
    monkeypatch.setattr("medshake_bridge.collect.pipeline.PROCESS_CHUNK", 2)
    monkeypatch.setattr("medshake_bridge.collect.pipeline.FETCH_BATCH", 2)
    original = _clear("copied", HPRIM_LAB.encode())
    world.deliver(original)
    for number in range(3):
        world.deliver(_clear(f"other-{number}", HPRIM_LAB.encode()))
    world.deliver(original)
    report = world.collect()
    assert (report.total("processed"), report.total("duplicates")) == (4, 1)
    world.deliver(original)
    again = world.collect()
    assert (again.total("processed"), again.total("duplicates")) == (0, 1)
    assert len(world.documents()) == 4 and world.on_server() == []


def test_the_size_cap_is_in_mebibytes_and_inclusive(world):
    head = _clear("exact", b"")
    text = HPRIM_LAB.encode()
    exact = head + text + b"x" * (1024 * 1024 - len(head) - len(text))
    assert len(exact) == 1024 * 1024
    world.deliver(exact)
    world.deliver(_clear("over", b"") + b"y" * (1024 * 1024))
    with world.app.app_context():
        bridge_state().settings.set("apicryptMaxMessageMB", "1", level="user",
                                    user_id=world.bob)
    (mailbox,) = world.collect().mailboxes
    assert (mailbox.fetched, mailbox.skipped_too_large) == (1, 1)
    assert [m.size for m in world.messages()] == [1024 * 1024]


def test_the_backoff_grows_with_the_wait_between_one_and_thirty_minutes():
    import datetime as dt

    from medshake_bridge.collect.pipeline import BACKOFF_MAX, BACKOFF_MIN, backoff

    now = dt.datetime(2030, 1, 1, 12, 0, tzinfo=dt.UTC)
    assert (BACKOFF_MIN, BACKOFF_MAX) == (60, 30 * 60)
    assert backoff(now, now) == dt.timedelta(minutes=1)
    assert backoff(now - dt.timedelta(minutes=10), now) == dt.timedelta(minutes=10)
    assert backoff(now - dt.timedelta(days=2), now) == dt.timedelta(minutes=30)


def test_same_message_id_with_other_bytes_is_not_a_duplicate(world):
    world.deliver(_clear("same", HPRIM_LAB.encode()))
    world.deliver(_clear("same", HPRIM_LAB.replace("Jeanne", "Jeanne-Marie").encode()))
    world.deliver(_clear("same", HPRIM_LAB.encode()))  # the very same bytes again: a duplicate
    report = world.collect()
    assert (report.total("processed"), report.total("duplicates")) == (2, 1)
    assert len(world.documents()) == 2
