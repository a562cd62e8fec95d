"""A non-editable install (a built wheel) carries and serves the templates, the static files
and the French catalog: nothing the pages need may live only in the source tree."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CHECK = r"""
import sys, tempfile
import medshake_bridge
from medshake_bridge import create_app, migrate
assert medshake_bridge.__file__.startswith(sys.argv[1]), medshake_bridge.__file__
app = create_app({"INSTANCE_PATH": tempfile.mkdtemp(), "MEDSHAKE_BRIDGE_SECRET_KEYS": [
    "%s"], "MEDSHAKE_BRIDGE_LOAD_ENTRY_POINTS": False})
migrate.upgrade(app)
client = app.test_client()
css = client.get("/bridge-static/bridge.css")
js = client.get("/bridge-static/bridge.js")
login = client.get("/login")
assert css.status_code == 200 and b".topbar" in css.data, css.status_code
assert js.status_code == 200, js.status_code
assert "Se connecter" in login.get_data(as_text=True), login.status_code
print("served from", medshake_bridge.__file__)
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "--wheel-dir", str(out), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    [built] = out.glob("medshake_bridge-*.whl")
    return built


def test_wheel_contains_templates_static_files_and_catalog(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("medshake_bridge/templates/bridge/base.html",
                 "medshake_bridge/templates/bridge/settings_global.html",
                 "medshake_bridge/static/bridge.css", "medshake_bridge/static/bridge.js",
                 "medshake_bridge/translations/fr/LC_MESSAGES/messages.po",
                 "medshake_bridge/migrations/versions/0002_audit_events.py"):
        assert name in names, name


def test_installed_wheel_serves_the_pages(wheel, tmp_path):
    from cryptography.fernet import Fernet

    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-index", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    env = {**os.environ, "PYTHONPATH": str(target)}
    env.pop("MEDSHAKE_BRIDGE_INSTANCE", None)
    result = subprocess.run(
        [sys.executable, "-c", CHECK % Fernet.generate_key().decode(), str(target)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "served from" in result.stdout
