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


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build a standalone bridge app.

    The instance folder comes from ``config["INSTANCE_PATH"]``, the ``MEDSHAKE_BRIDGE_INSTANCE``
    environment variable, or Flask's default. SQLite in that folder is the default database.
    No thread is started here (the scheduler is started by ``run``/``demo``/``scheduler``).
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
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _session_key(Path(app.instance_path))
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    app.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    app.config.setdefault("SESSION_COOKIE_NAME", "medshake_bridge_session")
    _private_sqlite_file(app)
    MedshakeBridge(app)
    return app


def _private_sqlite_file(app: Flask) -> None:
    """Create the default SQLite file with mode 0600 before SQLAlchemy creates it 0644."""
    from medshake_bridge.config import apply_defaults, sqlite_url

    apply_defaults(app)
    url = sqlite_url(app)
    if app.config["SQLALCHEMY_DATABASE_URI"] == url:
        path = Path(url.removeprefix("sqlite:///"))
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))


def _session_key(instance: Path) -> str:
    """The cookie-signing key: kept in the instance folder (0600), made on first start."""
    path = instance / SESSION_KEY_FILE
    if path.is_file():
        return path.read_text(encoding="ascii").strip()
    key = pysecrets.token_hex(32)
    write_private_file(path, key.encode("ascii"))
    return key
