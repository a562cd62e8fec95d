"""Every Python block of docs/patients.md runs: the complete provider is a working plugin (its
patients are searched, proposed, created and filed into once), and the host-code example does
what the page says."""

from __future__ import annotations

import re
import sqlite3
import sys
import types
from pathlib import Path

import pytest
from mailworld import World
from sqlalchemy import select

from medshake_bridge import migrate, patients
from medshake_bridge.api import NewPatient
from medshake_bridge.db import db
from medshake_bridge.errors import ConfigurationError
from medshake_bridge.models import User
from medshake_bridge.models.mail import InboxDocument
from medshake_bridge.sandbox import SANDBOX_ENV_VARS

DOC = Path(__file__).resolve().parents[1] / "docs" / "patients.md"


def _blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.M | re.S)


def _plugin_module(monkeypatch) -> types.ModuleType:
    module = types.ModuleType("practice_patients")
    exec(compile(_blocks()[0], "patients.md#provider", "exec"), module.__dict__)  # noqa: S102
    monkeypatch.setitem(sys.modules, module.__name__, module)
    return module


def test_the_page_has_the_blocks_this_test_runs():
    assert len(_blocks()) == 2


def test_the_documented_provider_works_end_to_end(make_app, tmp_path, monkeypatch):
    database = tmp_path / "practice.db"
    app = make_app(MEDSHAKE_BRIDGE_RUNNER_ENV_PASSTHROUGH=list(SANDBOX_ENV_VARS),
                   MEDSHAKE_BRIDGE_PLUGINS=[_plugin_module(monkeypatch)],
                   PRACTICE_DATABASE=str(database),
                   MEDSHAKE_BRIDGE_STANDALONE_PATIENTS=False)
    migrate.upgrade(app)
    world = World(app, tmp_path, monkeypatch)
    world.deliver(world.mail())
    world.collect()
    with app.test_request_context():
        user = db.session.get(User, world.bob)
        assert "practice" in patients.patient_providers()
        assert "bridge" not in patients.patient_providers()
        import datetime as dt

        created = patients.create_patient("practice", NewPatient(
            last_name="DUPONT", first_name="Jeanne", birth_date=dt.date(1961, 3, 12)), user=user)
        assert str(created.ref) == "practice:1"
        document_id = db.session.scalars(select(InboxDocument.id)).one()
        namespace = {"user": user, "document_id": document_id}
        exec(compile(_blocks()[1], "patients.md#host", "exec"), namespace)  # noqa: S102
        assert [str(p.ref) for p in namespace["found"]] == ["practice:1"]
        assert namespace["chosen"] == created
        assert namespace["best"].ref == created.ref and namespace["best"].strong
        document = db.session.get(InboxDocument, document_id)
        assert (document.filed_patient_ref, document.filed_url) == (
            "practice:1", "/practice/patients/1")
    with sqlite3.connect(database) as practice:
        rows = practice.execute("SELECT patient_id, key FROM documents").fetchall()
    assert rows == [(1, f"bridge-document:{document_id}")]


def test_two_copies_of_the_documented_provider_cannot_start(make_app, tmp_path, monkeypatch):
    module = _plugin_module(monkeypatch)

    class Again:
        medshake_patient_providers = staticmethod(module.medshake_patient_providers)

    with pytest.raises(ConfigurationError, match="two patient providers claim the source "
                                                 "'practice'"):
        make_app(MEDSHAKE_BRIDGE_PLUGINS=[module, Again()],
                 PRACTICE_DATABASE=str(tmp_path / "p.db"))
