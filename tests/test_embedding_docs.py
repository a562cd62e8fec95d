"""Every Python block of docs/embedding.md runs, and does what the page says."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import TEST_SECRET_KEY
from flask import Flask
from flask_login import LoginManager, UserMixin, login_user
from sqlalchemy import select
from werkzeug.test import Client

from medshake_bridge import MedshakeBridge, migrate
from medshake_bridge.db import db as bridge_db
from medshake_bridge.models import User

DOC = Path(__file__).resolve().parents[1] / "docs" / "embedding.md"


def _blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.M | re.S)


def test_the_page_has_the_blocks_this_test_runs():
    assert len(_blocks()) == 4


def test_extension_in_a_host_app_and_the_hosts_autogenerate(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDSHAKE_BRIDGE_SECRET_KEYS", TEST_SECRET_KEY)
    extension, autogenerate, _identity, _mount = _blocks()
    namespace = {"instance_folder": str(tmp_path)}
    exec(compile(extension, "embedding.md#extension", "exec"), namespace)  # noqa: S102
    app = namespace["app"]
    assert app.extensions["medshake_bridge"] is not None
    assert app.extensions["sqlalchemy"] is namespace["db"]
    migrate.upgrade(app)
    exec(compile(autogenerate, "embedding.md#autogenerate", "exec"), namespace)  # noqa: S102
    # without the filter the host's autogenerate would drop the bridge's tables: the block's
    # assertion is a real one
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with app.app_context(), namespace["db"].engine.connect() as connection:
        changes = compare_metadata(MigrationContext.configure(connection),
                                   namespace["db"].metadata)
    assert any("bridge_users" in str(change) for change in changes)


class _Staff(UserMixin):
    def __init__(self, staff_id: str) -> None:
        self.id, self.username, self.full_name = staff_id, f"user{staff_id}", "Dr Test"


def test_the_identity_plugin_signs_the_portal_user_in(tmp_path):
    *_, identity, _mount = _blocks()
    app = Flask("portal", instance_path=str(tmp_path))
    app.config.update(SECRET_KEY="portal", TESTING=True, MEDSHAKE_BRIDGE_SECRET_KEYS=[],
                      MEDSHAKE_BRIDGE_AUTO_PROVISION=True)
    manager = LoginManager(app)
    manager.user_loader(_Staff)

    @app.get("/portal-login/<staff_id>")
    def portal_login(staff_id):
        login_user(_Staff(staff_id))
        return "ok"

    namespace = {"app": app}
    exec(compile(identity, "embedding.md#identity", "exec"), namespace)  # noqa: S102
    MedshakeBridge(app)
    migrate.upgrade(app)
    client = app.test_client()
    assert client.get("/").status_code == 302  # nobody signed in: to the login page
    client.get("/portal-login/7")
    assert client.get("/").status_code == 200
    with app.app_context():
        user = bridge_db.session.scalars(select(User)).one()
        assert (user.login, user.host_identity, user.role) == ("user7", "portal:7",
                                                               "practitioner")


def test_the_wsgi_mount_block(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDSHAKE_BRIDGE_SECRET_KEYS", TEST_SECRET_KEY)
    *_, mount = _blocks()
    namespace = {"instance_folder": str(tmp_path)}
    exec(compile(mount, "embedding.md#mount", "exec"), namespace)  # noqa: S102
    application = namespace["application"]
    migrate.upgrade(application.mounts["/bridge"])
    response = Client(application).get("/bridge/")
    assert response.status_code == 302 and response.headers["Location"] == (
        "/bridge/login?next=/bridge/")
