"""The standalone application factory."""

from __future__ import annotations

import os
import secrets as pysecrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from medshake_bridge.config import environment_overrides
from medshake_bridge.extension import MedshakeBridge, templates_folder
from medshake_bridge.paths import ensure_private_dir, write_private_file

SESSION_KEY_FILE = "session_key"


def create_app(config: Mapping[str, Any] | None = None, *, web: bool = True) -> Flask:
    """Build a standalone bridge app.

    The instance folder comes from ``config["INSTANCE_PATH"]``, the ``MEDSHAKE_BRIDGE_INSTANCE``
    environment variable, or Flask's default. SQLite in that folder is the default database.
    No thread is started here (the scheduler is started by ``run``/``demo``/``scheduler``).
    ``web=False``: an app without pages, for a process that serves none (``fetch``, ``send``; see
    :meth:`MedshakeBridge.init_app`).
    """
    config = dict(config or {})
    instance = config.pop("INSTANCE_PATH", None) or os.environ.get("MEDSHAKE_BRIDGE_INSTANCE")
    app = Flask(
        "medshake_bridge",
        instance_path=str(Path(instance).resolve()) if instance else None,
        instance_relative_config=True,
        template_folder=str(templates_folder()),
    )
    ensure_private_dir(app.instance_path)
    app.config.from_pyfile("config.py", silent=True)
    app.config.update(environment_overrides())
    app.config.update(config)
    app.config.setdefault("MEDSHAKE_BRIDGE_SCHEDULER", "embedded")  # run/demo start it
    if not app.config.get("MEDSHAKE_BRIDGE_HOME"):
        app.config["MEDSHAKE_BRIDGE_HOME"] = app.instance_path  # the instance folder is ours
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _session_key(Path(app.instance_path))
    app.config["MEDSHAKE_BRIDGE_STANDALONE"] = True  # the app is the bridge's own (cookies, login)
    MedshakeBridge(app, web=web)
    return app


def _session_key(instance: Path) -> str:
    """The cookie-signing key: kept in the instance folder (0600), made on first start."""
    path = instance / SESSION_KEY_FILE
    if path.is_file():
        return path.read_text(encoding="ascii").strip()
    key = pysecrets.token_hex(32)
    write_private_file(path, key.encode("ascii"))
    return key
