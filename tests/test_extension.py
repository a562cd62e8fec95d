"""The Flask extension inside a host app, and the factory's guarantees."""

from __future__ import annotations

import pytest
from flask import Blueprint, Flask

from medshake_bridge import MedshakeBridge, bridge_state, create_app, hookimpl, migrate
from medshake_bridge.access import public
from medshake_bridge.db import database_url
from medshake_bridge.errors import ConfigurationError


def _host_app(tmp_path, **config) -> Flask:
    app = Flask("host_portal", instance_path=str(tmp_path / "host-instance"))
    app.config.update(
        SECRET_KEY="host-secret",
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'host.db'}",
        MEDSHAKE_BRIDGE_SECRET_KEYS=[],
        **config,
    )
    return app


def test_init_app_in_a_host_app_keeps_state_in_extensions(tmp_path):
    app = _host_app(tmp_path)
    ext = MedshakeBridge()
    state = ext.init_app(app)
    assert app.extensions["medshake_bridge"] is state
    assert app.config["MEDSHAKE_BRIDGE_SCHEDULER"] == "off"
    # embedded, the bridge keeps its files in a folder of its own inside the host's instance
    assert app.config["MEDSHAKE_BRIDGE_DATA_DIR"].endswith("host-instance/medshake_bridge/data")
    migrate.upgrade(app)
    result = app.test_cli_runner().invoke(args=["bridge", "config", "get", "apicryptVersion"])
    assert "apicryptVersion = 1" in result.output


def test_double_init_is_refused(tmp_path):
    app = _host_app(tmp_path)
    MedshakeBridge(app)
    with pytest.raises(ConfigurationError, match="already initialised"):
        MedshakeBridge().init_app(app)


def test_two_apps_in_one_process_have_separate_state(make_app):
    first, second = make_app(), make_app()
    assert bridge_state(first) is not bridge_state(second)
    assert bridge_state(first).pm is not bridge_state(second).pm


def test_create_app_starts_no_thread(tmp_path):
    """In a fresh process, so timers other tests started (rate-limit storage) cannot blur it."""
    import subprocess
    import sys

    script = (
        "import threading, sys\n"
        "from medshake_bridge import create_app\n"
        "app = create_app({'INSTANCE_PATH': sys.argv[1]})\n"
        "client = app.test_client(); client.get('/login')\n"
        "print(sorted(t.name for t in threading.enumerate()))\n"
    )
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path / "inst")],
                            capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "['MainThread']", result.stdout + result.stderr


def test_state_without_extension_says_how_to_fix():
    with pytest.raises(ConfigurationError, match="not initialised"):
        bridge_state(Flask("bare"))


def test_blueprints_hook_registers_pages_under_the_prefix(make_app):
    pages = Blueprint("demo_pages", __name__, url_prefix="/demo")

    @pages.route("/hello")
    @public  # plugin pages need a login unless marked public (tests/test_access.py)
    def hello():
        return "bonjour"

    class Plugin:
        @hookimpl
        def medshake_blueprints(self, app):
            return [pages]

    app = make_app(MEDSHAKE_BRIDGE_PLUGINS=[Plugin()], MEDSHAKE_BRIDGE_URL_PREFIX="/bridge")
    assert app.test_client().get("/bridge/demo/hello").data == b"bonjour"


def test_configuration_order_defaults_instance_file_env_mapping(tmp_path, monkeypatch):
    instance = tmp_path / "inst"
    instance.mkdir()
    (instance / "config.py").write_text(
        "MEDSHAKE_BRIDGE_SCHEDULER = 'external'\nMEDSHAKE_BRIDGE_URL_PREFIX = '/file'\n"
        "MEDSHAKE_BRIDGE_DATA_DIR = '/srv/from-file'\n"
    )
    monkeypatch.setenv("MEDSHAKE_BRIDGE_URL_PREFIX", "/env")
    monkeypatch.setenv("MEDSHAKE_BRIDGE_DISABLED_PLUGINS", "imap, maildir")
    monkeypatch.setenv("MEDSHAKE_BRIDGE_INSTANCE", str(instance))
    app = create_app({"MEDSHAKE_BRIDGE_DATA_DIR": "/srv/from-mapping"})
    assert app.instance_path == str(instance)
    assert app.config["MEDSHAKE_BRIDGE_SCHEDULER"] == "external"
    assert app.config["MEDSHAKE_BRIDGE_URL_PREFIX"] == "/env"
    assert app.config["MEDSHAKE_BRIDGE_DATA_DIR"] == "/srv/from-mapping"
    assert app.config["MEDSHAKE_BRIDGE_DISABLED_PLUGINS"] == ["imap", "maildir"]
    assert database_url(app) == f"sqlite:///{instance}/medshake_bridge.db"
    assert (instance / "session_key").stat().st_mode & 0o777 == 0o600
