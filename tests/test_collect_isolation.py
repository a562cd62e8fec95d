"""Issue 17: a mailbox is collected whole for everyone on it, and one user's bad setting fails
only that user's mailbox (with a message naming the setting), never everyone's collection."""

from __future__ import annotations

import json

import pytest
from mailworld import BOB
from sqlalchemy import select, update
from web_helpers import login, post

from medshake_bridge import bridge_state
from medshake_bridge.db import db
from medshake_bridge.errors import SettingValueError
from medshake_bridge.models.mail import PROCESSED, QUARANTINED, ReceivedMessage
from medshake_bridge.models.settings import SettingValue
from medshake_bridge.sysinfo import run_system_checks

PASSWORD = "password for tests"


@pytest.fixture
def two(world):
    """Bob (the world's Maildir) and Carol with her own Maildir, one message each waiting."""
    return world.with_carol(1)


def _owners(world) -> list[int]:
    return sorted(document.owner_user_id for document in world.documents())


def _corrupt(world, user_id: int, name: str, raw_value: str) -> None:
    """Write a row as an old version or a hand edit could have left it (no validation)."""
    with world.app.app_context():
        row = db.session.scalars(select(SettingValue).where(
            SettingValue.name == name, SettingValue.scope == str(user_id))).first()
        if row is None:
            row = SettingValue(name=name, level="user", scope=str(user_id), value=raw_value)
            db.session.add(row)
        row.value = raw_value
        db.session.commit()


@pytest.mark.parametrize("how", ["page", "fetch --user", "collect_all(user_id)"])
def test_a_shared_mailbox_is_collected_for_every_user_on_it_whoever_asks(world, how) -> None:
    with world.app.app_context():
        second = world.add_user("bob2", BOB, world.maildir)  # same Maildir as Bob
    world.deliver(world.mail())
    if how == "page":
        client = world.app.test_client()
        assert login(client, "bob", PASSWORD).status_code == 302
        post(client, "/inbox/collect", page="/inbox/")
    elif how == "fetch --user":
        result = world.app.test_cli_runner().invoke(
            args=["bridge", "fetch", "--user", str(world.bob)])
        assert result.exit_code == 0, result.output
    else:
        assert world.collect(user_id=world.bob).ok
    assert world.on_server() == []  # deleted at the source...
    assert _owners(world) == [world.bob, second]  # ...only once both have it


@pytest.mark.parametrize(("name", "raw", "expected"), [
    ("apicryptMaildir", "{not json", "apicryptMaildir"),
    ("apicryptCommandTimeout", '"soixante"', "apicryptCommandTimeout"),
    ("apicryptCommandPrefix", '"sudo -n; id"', "apicryptCommandPrefix"),
])
def test_one_users_bad_setting_fails_only_that_mailbox(two, name, raw, expected) -> None:
    world = two
    _corrupt(world, world.carol, name, raw)
    result = world.app.test_cli_runner().invoke(args=["bridge", "fetch"])
    assert result.exit_code == 2, result.output  # a configuration error, named
    assert "Traceback" not in result.output
    (line,) = [line for line in result.output.splitlines() if line.startswith("Not collected")]
    assert expected in line and "user carol" in line and "config set" in line
    assert _owners(world) == [world.bob]  # Bob's mail came in all the same
    assert len(list((world.carol_maildir / "new").iterdir())) == 1  # Carol's waits there
    assert all(row.state == PROCESSED for row in world.messages())

    with world.app.app_context():
        checks = [c for c in run_system_checks(world.app).checks
                  if c.name == "Mailbox settings"]
    assert checks and checks[0].ok is False and expected in checks[0].detail

    client = world.app.test_client()
    assert login(client, "carol", PASSWORD).status_code == 302
    page = post(client, "/inbox/collect", page="/inbox/",
                follow_redirects=True).get_data(as_text=True)
    assert "flash-error" in page and expected in page

    # Fixed: Carol's mail comes in on the next run, nothing was quarantined meanwhile.
    with world.app.app_context():
        db.session.execute(update(SettingValue).where(
            SettingValue.name == name, SettingValue.scope == str(world.carol)).values(
            value=json.dumps({"apicryptMaildir": str(world.carol_maildir),
                              "apicryptCommandTimeout": 60,
                              "apicryptCommandPrefix": ""}[name])))
        db.session.commit()
    assert world.collect().ok
    assert _owners(world) == [world.bob, world.carol]


def test_command_settings_must_be_programs_without_a_shell_when_saved(world) -> None:
    with world.app.app_context():
        store = bridge_state().settings
        for bad, words in [("sudo -n; id", "shell syntax"),
                           ("/nonexistent/sudo -n", "does not exist"),
                           ("'unclosed", "cannot be split")]:
            with pytest.raises(SettingValueError) as caught:
                store.set("apicryptCommandPrefix", bad)
            assert words in str(caught.value) and "apicryptCommandPrefix" in str(caught.value)
            with pytest.raises(SettingValueError):
                store.set("apicrypt2RestartCommand", bad)
        assert store.set("apicryptCommandPrefix", "/usr/bin/env") == "/usr/bin/env"
        assert store.set("apicrypt2RestartCommand", "env true") == "env true"


def test_a_bad_prefix_never_quarantines_and_its_fix_releases_the_mail(world, tmp_path) -> None:
    """Issue 17 item 10: the prefix names a program that is gone: the mailbox is not touched
    (the mail stays on the server, nothing is stored or quarantined) and the mail comes in as
    soon as the setting is corrected."""
    world.deliver(world.mail())
    gone = tmp_path / "gone"
    gone.mkdir()
    wrapper = gone / "wrapper"
    wrapper.write_text("#!/bin/sh\nexec \"$@\"\n")
    wrapper.chmod(0o755)
    with world.app.app_context():
        bridge_state().settings.set("apicryptCommandPrefix", str(wrapper))
    wrapper.unlink()  # accepted when saved, missing when used
    for _ in range(4):
        report = world.collect(retry_now=True)
        assert report.configuration_error and "apicryptCommandPrefix" in report.problems[0]
    assert world.messages() == [] and len(world.on_server()) == 1
    with world.app.app_context():
        bridge_state().settings.set("apicryptCommandPrefix", "")
    assert world.collect().ok  # the setting changed after the last try: retried at once
    assert world.on_server() == [] and len(world.documents()) == 1


def test_retry_all_on_the_quarantine_page(world) -> None:
    world.deliver(world.mail())
    world.deliver(world.mail())
    with world.app.app_context():
        (world.tmp / "nokeys").mkdir()  # a keys folder without the keys: every try fails
        bridge_state().settings.set("apicryptCheminVersClefs", str(world.tmp / "nokeys"),
                                    level="user", user_id=world.bob)
    for _ in range(3):
        world.collect(retry_now=True)
    assert [row.state for row in world.messages()] == [QUARANTINED, QUARANTINED]
    with world.app.app_context():
        bridge_state().settings.set("apicryptCheminVersClefs", str(world.net.keys_dir(BOB)),
                                    level="user", user_id=world.bob)
        from medshake_bridge.users import create_user
        create_user("root", PASSWORD, role="admin")
    client = world.app.test_client()
    assert login(client, "root", PASSWORD).status_code == 302
    page = post(client, "/admin/quarantine/retry-all", page="/admin/quarantine/",
                follow_redirects=True).get_data(as_text=True)
    assert "Tout relancer : 2 message(s) traité(s), 0 encore en échec." in page
    assert [row.state for row in world.messages()] == [PROCESSED, PROCESSED]
    with world.app.app_context():
        assert db.session.scalar(select(ReceivedMessage.id).where(
            ReceivedMessage.state != PROCESSED)) is None
