"""docs/security.md: its Python block runs and does what it says; the settings and keys it
names exist."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import TEST_SECRET_KEY
from web_helpers import make_people

from medshake_bridge import migrate
from medshake_bridge.config import DEFAULTS
from medshake_bridge.extension import bridge_state
from medshake_bridge.passwords import password_problem

DOC = Path(__file__).resolve().parents[1] / "docs" / "security.md"


def _blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.M | re.S)


def test_the_configuration_block_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDSHAKE_BRIDGE_SECRET_KEYS", TEST_SECRET_KEY)
    [block] = _blocks()
    namespace = {"instance_folder": str(tmp_path / "instance")}
    exec(compile(block, "security.md#config", "exec"), namespace)  # noqa: S102
    app = namespace["app"]
    app.config["TESTING"] = True
    migrate.upgrade(app)
    make_people(app)
    with app.app_context():
        assert password_problem("CliniqueDuLac-2026", login="x") == "common"
        assert password_problem("onze caract", login="x") == "short"  # 11 < 12
    response = app.test_client().get("https://localhost/login")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    client = app.test_client()
    from web_helpers import login

    assert login(client, "alice").headers["Set-Cookie"].startswith("cabinet_bridge=")


def test_every_key_and_setting_named_exists(app):
    text = DOC.read_text(encoding="utf-8")
    keys = set(re.findall(r"MEDSHAKE_BRIDGE_[A-Z_]+[A-Z]", text))
    assert keys and keys <= set(DEFAULTS), keys - set(DEFAULTS)
    settings = set(re.findall(r"\b(apicrypt[0-9A-Za-z]+)\b", text)) - {"apicrypt"}
    registry = bridge_state(app).registry
    with app.app_context():
        for name in settings:
            registry.get(name)  # raises for an unknown setting
    assert {"apicryptSenderDomains", "apicryptRefuseUnprotectedMail",
            "apicryptMaxMessageMB"} <= settings
