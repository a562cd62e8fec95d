"""Limits on received mail: a download is cut at apicryptMaxMessageMB whatever size the server
announced, and what a decryption writes is bounded in size and file count; each limit explains
itself and loses nothing (issue #17, item 17). Also item 18: HSTS and Secure cookies."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from mailbuild import HPRIM_LAB
from mailworld import World
from web_helpers import PASSWORD, csrf_token, login, make_people

from medshake_bridge import bridge_state, migrate
from medshake_bridge.backends import DecryptedLimits
from medshake_bridge.collect.process import ProcessingError, _check_output
from medshake_bridge.collect.rawstore import RawMessageFile, RawTooLarge
from medshake_bridge.hookspecs import hookimpl
from medshake_bridge.interfaces import CollectorSpec, ServerMessage
from medshake_bridge.models.mail import FAILED, PROCESSED
from medshake_bridge.sandbox import SANDBOX_ENV_VARS


class LyingCollector:
    """The Maildir collector, except that every message is announced as 10 bytes."""

    def __init__(self, inner) -> None:
        self.inner = inner

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def list_messages(self):
        return [ServerMessage(item.server_id, 10) for item in self.inner.list_messages()]


class LyingServerPlugin:
    @hookimpl
    def medshake_settings(self):
        import medshake_maildir

        return medshake_maildir.medshake_settings()

    @hookimpl
    def medshake_mail_collectors(self):
        from medshake_maildir import maildir_collector, maildir_identity

        return [CollectorSpec(key="maildir", label="Lying Maildir",
                              factory=lambda settings: LyingCollector(
                                  maildir_collector(settings)),
                              identity=maildir_identity, required=("apicryptMaildir",))]


@pytest.fixture
def lying_world(make_app, tmp_path, monkeypatch) -> World:
    app = make_app(MEDSHAKE_BRIDGE_RUNNER_ENV_PASSTHROUGH=list(SANDBOX_ENV_VARS),
                   MEDSHAKE_BRIDGE_PLUGINS=[LyingServerPlugin()],
                   MEDSHAKE_BRIDGE_DISABLED_PLUGINS=["maildir"])  # replaced by the liar
    migrate.upgrade(app)
    world = World(app, tmp_path, monkeypatch)
    with app.app_context():
        store = bridge_state().settings
        store.set("apicryptMaxMessageMB", "1")
    return world


def test_a_download_is_cut_at_the_cap_whatever_the_server_announced(lying_world):
    world = lying_world
    big = world.mail(HPRIM_LAB, attachments=[("scanner.pdf", b"%PDF" + os.urandom(1_600_000))])
    world.deliver(big)
    world.deliver(world.mail(HPRIM_LAB))
    report = world.collect()
    assert report.total("skipped_too_large") == 1
    assert report.total("processed") == 1
    assert len(world.on_server()) == 1  # the big one stays on the server: nothing lost
    raw_dir = Path(world.messages()[0].raw_path).parent
    assert [p for p in raw_dir.iterdir() if p.name.endswith(".part")] == []


def test_the_raw_file_is_bounded_while_writing(tmp_path):
    raw = RawMessageFile(tmp_path, "m.eml", limit=1000)
    for _ in range(50):
        raw.writer.write(b"x" * 100)
    assert raw.tmp.stat().st_size <= 1000
    with pytest.raises(RawTooLarge, match="apicryptMaxMessageMB"):
        raw.keep()
    assert list(tmp_path.iterdir()) == []


def test_a_decryption_that_writes_too_much_is_set_aside_with_its_reason(world):
    with world.app.app_context():
        bridge_state().settings.set("apicryptMaxDecryptedMo", "1")
    world.deliver(world.mail(HPRIM_LAB, attachments=[("big.pdf", b"%PDF" + os.urandom(2_500_000))]))
    world.collect()
    [message] = world.messages()
    assert message.state == FAILED and message.error_cause == "content"
    assert "big.pdf" in message.last_error and "limit" in message.last_error
    assert "apicryptMaxDecryptedMo" in message.error_fix
    assert world.documents() == []
    assert len(world.on_server()) == 1
    with world.app.app_context():
        bridge_state().settings.set("apicryptMaxDecryptedMo", "10")
    world.collect(retry_now=True)
    assert world.messages()[0].state == PROCESSED  # raising the limit lets it through


def test_too_many_files_from_one_attachment(tmp_path):
    files = []
    for number in range(3):
        path = tmp_path / f"f{number}"
        path.write_bytes(b"x")
        files.append(path)
    limits = DecryptedLimits(max_bytes=10 * 1024 * 1024, max_files=2)
    with pytest.raises(ProcessingError, match="3 files") as caught:
        _check_output("lot.apz", files, limits)
    assert "apicryptMaxDecryptedFiles" in caught.value.fix
    _check_output("lot.apz", files[:2], limits)


def test_hsts_and_secure_cookies(make_app):
    app = make_app(MEDSHAKE_BRIDGE_HSTS_SECONDS=31536000)
    migrate.upgrade(app)
    make_people(app)
    https = app.test_client()
    token = csrf_token(https, "https://localhost/login")
    response = https.post("https://localhost/login", data={
        "login": "alice", "password": PASSWORD, "csrf_token": token},
        headers={"Referer": "https://localhost/login"})
    assert response.headers["Strict-Transport-Security"] == (
        "max-age=31536000; includeSubDomains")
    assert "Secure" in response.headers["Set-Cookie"]
    plain = app.test_client()
    page = plain.get("/login")
    assert "Strict-Transport-Security" not in page.headers  # never over plain HTTP
    response = login(plain, "alice")
    assert "Secure" in response.headers["Set-Cookie"]  # HSTS promised HTTPS: always Secure


def test_no_hsts_by_default(app):
    response = app.test_client().get("https://localhost/login")
    assert "Strict-Transport-Security" not in response.headers
