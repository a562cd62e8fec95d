"""System information page, ``doctor``, the companion restart and the Apicrypt 2 mailbox page.

Real parts only: the sandbox companion on a loopback port, the sandbox network's files, a tiny
program written by the test for the restart, ``medshake-bridge doctor`` run as a process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import update
from sysinfo_helpers import (
    TOKEN,
    certify,
    fake_service,
    logged,
    store_settings,
    v2_settings,
)
from web_helpers import People, events, login, make_people, post

from medshake_bridge import bridge_state, hookimpl, migrate
from medshake_bridge.db import db
from medshake_bridge.errors import SettingValueError
from medshake_bridge.interfaces import CheckResult
from medshake_bridge.models.settings import SettingValue
from medshake_bridge.sandbox import create_network
from medshake_bridge.sandbox.companion import SandboxCompanion
from medshake_bridge.sandbox.network import SandboxNetwork
from medshake_bridge.sysinfo import run_system_checks, scheduler_status
from medshake_bridge.sysinfo.folders import data_folder_check
from medshake_bridge.sysinfo.scheduler import scheduler_check

ALICE, BOB = "alice.MARTIN", "bob.DURAND"
#: Keep the tests off the internet: nothing listens on port 1 of the loopback.
LOCAL_SMTP = {"apicryptSmtpHost": "localhost", "apicryptSmtpPort": "1"}


@dataclass
class Site:
    app: object
    people: People
    net: SandboxNetwork
    spool: Path
    companion: SandboxCompanion
    tmp: Path


@pytest.fixture
def site(make_app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A site using Apicrypt v2 (site level), with its companion running."""
    monkeypatch.delenv("MEDSHAKE_SANDBOX_FAULT", raising=False)
    app = make_app()
    migrate.upgrade(app)
    people = make_people(app)
    net = create_network(tmp_path / "sandbox", [ALICE, BOB])
    certify(net, ALICE, BOB)
    spool = tmp_path / "spool"
    spool.mkdir(mode=0o700)
    companion = SandboxCompanion(spool, net.network_dir, token=TOKEN, slow_seconds=3).start()
    store_settings(app, v2_settings(BOB, companion, spool))
    yield Site(app, people, net, spool, companion, tmp_path)
    companion.stop()


def _client(app, who: str = "admin"):
    client = app.test_client()
    assert login(client, who).status_code == 302
    return client


def _checks(app) -> dict[str, CheckResult]:
    return {check.name: check for check in run_system_checks(app).checks}


def _break(site: Site) -> Path:
    """Companion down, and Alice's Maildir gone (removed after it was configured)."""
    site.companion.set_mode("down")
    missing = site.tmp / "maildirs" / "alice-missing"
    missing.mkdir(parents=True)
    store_settings(site.app, {"apicryptAdresse": f"{ALICE}@medical69.apicrypt.org",
                              "apicryptCollector": "maildir",
                              "apicryptMaildir": str(missing),
                              **LOCAL_SMTP}, user_id=site.people.alice)
    missing.rmdir()
    return missing


# -- the checks -----------------------------------------------------------------------------


def test_healthy_site_has_nothing_broken_and_groups_by_category(site: Site) -> None:
    report = run_system_checks(site.app)
    assert report.broken == 0, [c for c in report.checks if c.ok is False]
    assert report.exit_code == 0
    categories = [group.category for group in report.groups]
    assert categories[:3] == ["security", "plugins", "folders"]
    assert "apicrypt_v2" in categories and "apicrypt_v1" not in categories  # site uses v2
    checks = {c.name: c for c in report.checks}
    assert checks["Instance folder permissions"].ok is True
    assert checks["SQLite database file"].ok is True
    assert checks["Secrets encryption key"].ok is True
    assert checks["Plugins"].ok is True
    assert checks["Apicrypt v2 companion"].ok is True
    assert checks["Apicrypt v2 spool folder (site)"].ok is True if (
        "Apicrypt v2 spool folder (site)" in checks) else True
    assert checks["Scheduler"].ok is None and "not available" in checks["Scheduler"].detail
    # the restart command uses sudo: its sudoers lines are offered
    titles = [advice.title for advice in report.advice]
    assert "Sudoers lines for restarting the Apicrypt v2 companion" in titles


def test_companion_down_and_missing_maildir_are_broken_with_fixes(site: Site) -> None:
    missing = _break(site)
    checks = _checks(site.app)
    companion = checks["Apicrypt v2 companion"]
    assert companion.ok is False and "does not answer" in companion.detail
    assert "restart button" in companion.fix
    maildir = checks["Maildir folder (alice)"]
    assert maildir.ok is False and str(missing) in maildir.detail and maildir.fix


def test_folder_overridden_per_user_and_private_files(site: Site) -> None:
    blocker = site.tmp / "bob-data"
    (blocker / "inbox").mkdir(parents=True)
    store_settings(site.app, {"apicryptCheminInbox": str(blocker / "inbox")},
                   user_id=site.people.bob)
    (blocker / "inbox").rmdir()
    blocker.rmdir()
    blocker.write_text("now a file where the folder was")
    open_folder = site.tmp / "open-archive"
    open_folder.mkdir(mode=0o755)
    open_folder.chmod(0o755)
    store_settings(site.app, {"apicryptCheminArchivesInbox": str(open_folder)},
                   user_id=site.people.alice)
    Path(site.app.instance_path).chmod(0o755)
    try:
        checks = _checks(site.app)
    finally:
        Path(site.app.instance_path).chmod(0o700)
    inbox = checks["Inbox folder (bob)"]
    assert inbox.ok is False and "cannot be created" in inbox.detail
    assert checks["Inbox folder"].ok is True  # the site's own value is fine
    archive = checks["Archive folder (alice)"]
    assert archive.ok is None and f"chmod 700 {open_folder}" in archive.fix
    instance = checks["Instance folder permissions"]
    assert instance.ok is False and instance.fix == f"Run 'chmod 700 {site.app.instance_path}'."
    assert data_folder_check("Inbox folder", "apicryptCheminInbox", "").ok is False


class _BrokenChecks:
    """A plugin whose checks raise: the page must survive and name it."""

    @hookimpl
    def medshake_system_checks(self, app):
        raise RuntimeError("boom in a plugin")


class _WrongAnswer:
    @hookimpl
    def medshake_system_checks(self, app):
        return ["not a CheckResult"]


def test_a_plugin_whose_checks_fail_is_a_broken_line(make_app) -> None:
    app = make_app(MEDSHAKE_BRIDGE_PLUGINS=[_BrokenChecks(), _WrongAnswer()])
    migrate.upgrade(app)
    failures = [c for c in run_system_checks(app).checks
                if c.name.startswith("Checks of plugin")]
    assert len(failures) == 2 and all(c.ok is False and c.category == "plugins"
                                      for c in failures)
    details = " ".join(c.detail for c in failures)
    assert "RuntimeError: boom in a plugin" in details and "not a CheckResult" in details


def test_plugin_load_error_is_broken(make_app) -> None:
    app = make_app(MEDSHAKE_BRIDGE_STRICT_PLUGINS=False,
                   MEDSHAKE_BRIDGE_PLUGINS=["medshake_no_such_plugin_module"])
    migrate.upgrade(app)
    check = _checks(app)["Plugin medshake_no_such_plugin_module"]
    assert check.ok is False and "No module named" in check.detail


class _Scheduler:
    """The shape the scheduler service may take: a ``status()`` mapping."""

    def __init__(self, **facts):
        self.facts = facts

    def status(self):
        return dict(self.facts)


def test_scheduler_state_not_available_then_read_from_extras(app) -> None:
    assert scheduler_status(app) is None
    assert scheduler_check(app).ok is None
    state = bridge_state(app)
    state.extras["scheduler"] = _Scheduler(mode="embedded", running=True, leader=True,
                                           jobs=["collect"], next_run="2026-11-28 10:05")
    check = scheduler_status(app)
    assert check is not None and check.ok is True
    assert "mode embedded" in check.detail and "1 job(s)" in check.detail
    state.extras["scheduler"] = _Scheduler(mode="embedded", running=False, error="lock lost")
    assert scheduler_status(app).ok is False
    with app.app_context():
        assert _checks(app)["Scheduler"].ok is False


# -- doctor ----------------------------------------------------------------------------------


def test_doctor_healthy_then_broken_through_click(site: Site) -> None:
    runner = site.app.test_cli_runner()
    healthy = runner.invoke(args=["bridge", "doctor"])
    assert healthy.exit_code == 0, healthy.output
    assert "[Apicrypt v2]" in healthy.output and "nothing broken" in healthy.output
    assert "Cmnd_Alias RESTART_APICRYPT = /usr/sbin/service compagnonApicrypt *" in (
        healthy.output)
    _break(site)
    broken = runner.invoke(args=["bridge", "doctor", "--account", "medshake"])
    assert broken.exit_code == 1, broken.output
    lines = broken.output.splitlines()
    line = next(i for i, text in enumerate(lines) if "Apicrypt v2 companion:" in text)
    assert lines[line].lstrip().startswith("BROKEN")
    assert "fix:" in lines[line + 1] and "restart button" in lines[line + 1]
    assert "Maildir folder (alice)" in broken.output
    assert "medshake ALL=(root) NOPASSWD: RESTART_APICRYPT" in broken.output
    assert "broken," in lines[-1]
    quiet = runner.invoke(args=["bridge", "doctor", "-q"])
    assert quiet.exit_code == 1 and "  ok " not in quiet.output


def test_doctor_as_a_real_process(site: Site) -> None:
    """``medshake-bridge doctor`` run as a process on the same instance, companion down."""
    program = Path(sys.executable).parent / "medshake-bridge"
    env = {**os.environ, "MEDSHAKE_BRIDGE_INSTANCE": site.app.instance_path,
           "MEDSHAKE_BRIDGE_SECRET_KEYS": site.app.config["MEDSHAKE_BRIDGE_SECRET_KEYS"][0]}
    env.pop("MEDSHAKE_BRIDGE_DATABASE_URL", None)
    site.companion.set_mode("down")
    broken = subprocess.run([str(program), "doctor"], env=env, capture_output=True,
                            text=True, timeout=60, check=False)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert f"BROKEN  Apicrypt v2 companion: The Apicrypt v2 companion at {site.companion.url}" \
        in broken.stdout
    assert "ok      Instance folder permissions" in broken.stdout
    assert broken.stdout.rstrip().endswith("s).") and "1 broken," in broken.stdout


# -- pages and access ------------------------------------------------------------------------


ADMIN_PAGES = ["/admin/system/", "/admin/apicrypt2/", "/admin/apicrypt2/restart"]


def test_practitioner_gets_404_and_nothing_runs(site: Site) -> None:
    script = fake_service(site.tmp / "bin")
    store_settings(site.app, {"apicrypt2RestartCommand": f"{script} restart"})
    client = _client(site.app, "alice")
    for url in ADMIN_PAGES:
        assert client.get(url).status_code == 404, url
    assert post(client, "/admin/apicrypt2/restart", page="/").status_code == 404
    assert post(client, "/admin/system/test-login", {"mailbox": "x"}, page="/").status_code \
        == 404
    assert logged(script) == []
    assert len(events(site.app, "access.denied")) == 5
    anonymous = site.app.test_client()
    for url in ADMIN_PAGES:
        assert anonymous.get(url).status_code == 302


def test_system_page_shows_groups_fixes_menu_and_actions(site: Site) -> None:
    client = _client(site.app)
    page = client.get("/admin/system/").get_data(as_text=True)
    assert "Informations système" in page  # menu entry and title, in French
    assert 'id="group-apicrypt_v2"' in page and "Compagnon Apicrypt v2" in page
    assert "Dossier de réception" in page and "EN PANNE" not in page
    assert "/admin/apicrypt2/restart" in page and "Boîtes Apicrypt 2" in page
    assert "Nothing is broken" not in page and "Rien n" in page
    _break(site)
    page = client.get("/admin/system/").get_data(as_text=True)
    assert "check-broken" in page and "bouton de redémarrage" in page and "EN PANNE" in page
    assert "Dossier Maildir (alice)" in page and "alice-missing" in page


def test_restart_button_runs_the_command_as_an_argument_list_and_is_audited(
        site: Site) -> None:
    script = fake_service(site.tmp / "bin")
    store_settings(site.app, {
        "apicrypt2RestartCommand": f"{script} -n 'compagnon Apicrypt' restart $HOME"})
    client = _client(site.app)
    confirm = client.get("/admin/apicrypt2/restart").get_data(as_text=True)
    assert f"{script} -n compagnon Apicrypt restart $HOME" in confirm
    assert logged(script) == []  # showing the command runs nothing

    assert client.post("/admin/apicrypt2/restart").status_code == 400  # no CSRF token
    assert logged(script) == []

    done = post(client, "/admin/apicrypt2/restart", page="/admin/apicrypt2/restart")
    assert done.status_code == 200
    body = done.get_data(as_text=True)
    assert logged(script) == [[str(script), "-n", "compagnon Apicrypt", "restart", "$HOME"]]
    assert "compagnonApicrypt restarted (fake)" in body and "to stderr" in body
    assert 'id="companion-after"' in body
    (event,) = events(site.app, "apicrypt2.restart")
    assert (event.outcome, event.actor_login) == ("ok", "admin")
    assert event.detail == "exit status 0" and str(script) in event.target

    store_settings(site.app, {"apicrypt2RestartCommand": f"{script} restart 3"})
    failed = post(client, "/admin/apicrypt2/restart", page="/admin/apicrypt2/restart")
    assert "status 3" in failed.get_data(as_text=True)
    assert events(site.app, "apicrypt2.restart")[-1].outcome == "failed"
    assert logged(script)[-1] == [str(script), "restart", "3"]

    with pytest.raises(SettingValueError, match="shell syntax"):  # refused when saved...
        store_settings(site.app, {"apicrypt2RestartCommand": f"{script} restart; reboot"})
    with site.app.app_context():  # ...and at run time, for a row saved by an older version
        db.session.execute(update(SettingValue).where(
            SettingValue.name == "apicrypt2RestartCommand").values(
            value=json.dumps(f"{script} restart; reboot")))
        db.session.commit()
    refused = post(client, "/admin/apicrypt2/restart", page="/admin/apicrypt2/restart")
    assert "shell syntax" in refused.get_data(as_text=True)
    assert len(logged(script)) == 2 and events(site.app, "apicrypt2.restart")[-1].outcome \
        == "failed"


def test_apicrypt2_mailbox_page_up_then_down(site: Site) -> None:
    store_settings(site.app, v2_settings(ALICE, site.companion, site.spool),
                   user_id=site.people.alice)
    client = _client(site.app)
    page = client.get("/admin/apicrypt2/").get_data(as_text=True)
    assert ALICE in page and BOB in page and 'id="mailboxes"' in page
    assert "key_years" in page  # fields the bridge does not model are shown too
    assert ">alice<" in page or "alice</td>" in page
    site.companion.set_mode("down")
    down = client.get("/admin/apicrypt2/").get_data(as_text=True)
    assert 'id="companion-down"' in down and "ne répond pas" in down
    assert "/admin/apicrypt2/restart" in down


# -- Apicrypt v1: per collected user, sudoers lines ------------------------------------------


def test_v1_checks_per_collected_user_and_sudoers_lines_with_a_sudo_prefix(world) -> None:
    from datetime import date

    from mailworld import CAROL

    carol_maildir = world.tmp / "maildirs" / "carol"
    for sub in ("cur", "new", "tmp"):
        (carol_maildir / sub).mkdir(parents=True)
    with world.app.app_context():
        world.add_user("carol", CAROL, carol_maildir)
    year = date.today().year
    (world.net.keys_dir(CAROL) / "Clefs" / f"{CAROL}.{year - 1900}").unlink()

    report = run_system_checks(world.app)
    v1 = {c.name: c for c in report.checks if c.category == "apicrypt_v1"}
    assert v1["Keys folder (bob)"].ok is True and v1["Keys folder (carol)"].ok is True
    assert v1[f"Key for {year} (bob)"].ok is True
    assert v1[f"Key for {year} (carol)"].ok is False
    assert f"{CAROL}.{year - 1900}" in v1[f"Key for {year} (carol)"].fix
    assert v1["Program apicrypt (bob, carol)"].ok is True  # shared folder: one line
    assert "Apicrypt v1 user name" not in v1  # the unused site-level value is not checked
    assert report.advice == ()  # no sudo prefix: no sudoers lines

    sudo = world.tmp / "fakebin" / "sudo"  # this machine may have no sudo; saving checks it
    sudo.parent.mkdir()
    sudo.write_text('#!/bin/sh\nshift\nexec "$@"\n')
    sudo.chmod(0o755)
    store_settings(world.app, {"apicryptCommandPrefix": f"{sudo} -n"})
    report = run_system_checks(world.app, account="medshake")
    (advice,) = [a for a in report.advice if "v1 programs" in a.title]
    assert advice.lines == tuple(f"medshake ALL=(root) NOPASSWD: {world.net.bin_dir / name}"
                                 for name in ("apicrypt", "apicryptpj", "apiuncrypt",
                                              "apiuncryptpj"))
    output = world.app.test_cli_runner().invoke(args=["bridge", "doctor", "--account",
                                                      "medshake"]).output
    assert f"medshake ALL=(root) NOPASSWD: {world.net.bin_dir / 'apiuncryptpj'}" in output
    assert f"BROKEN  Key for {year} (carol)" in output


def test_the_scheduler_reports_itself_to_the_system_information(make_app):
    import time

    from medshake_bridge import migrate
    from medshake_bridge.scheduler.service import SchedulerService
    from medshake_bridge.sysinfo.scheduler import scheduler_status

    app = make_app(MEDSHAKE_BRIDGE_SCHEDULER="embedded",
                   MEDSHAKE_BRIDGE_SCHEDULER_POLL_SECONDS=0.1)
    migrate.upgrade(app)
    assert scheduler_status(app) is None
    service = SchedulerService(app).start()
    try:
        deadline = time.monotonic() + 30  # leading, then the jobs loaded: a loaded CI is slow
        while not (service.is_leader and service.status()["jobs"]) \
                and time.monotonic() < deadline:
            time.sleep(0.05)
        with app.app_context():
            check = scheduler_status(app)
        assert check is not None and check.ok is not False
        assert "mode embedded" in check.detail and "running" in check.detail
        assert {"apicrypt-collect", "work-folders-cleanup"} <= set(service.status()["jobs"])
        assert "leader" in check.detail
    finally:
        service.stop()
    assert scheduler_status(app) is None
