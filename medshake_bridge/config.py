"""Configuration keys of the bridge (``MEDSHAKE_BRIDGE_*``) and where they come from.

Order, last wins: these defaults, ``<instance>/config.py``, ``MEDSHAKE_BRIDGE_*`` environment
variables, then the mapping given to ``create_app``. Keys are the same whether the bridge runs
standalone or inside a host app (where the host sets them on its own ``app.config``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

PREFIX = "MEDSHAKE_BRIDGE_"

DEFAULTS: dict[str, Any] = {
    # Database URL; empty means the host's Flask-SQLAlchemy database when embedded in an app
    # that has one, else SQLite in the instance folder.
    "MEDSHAKE_BRIDGE_DATABASE_URL": "",
    # Fernet keys for secrets at rest, newest first (list or comma-separated text).
    "MEDSHAKE_BRIDGE_SECRET_KEYS": [],
    # The bridge's own private folder (SQLite file, key files, data, locks). create_app uses
    # its instance folder; embedded in a host app, empty means <host instance>/medshake_bridge,
    # so the host's own instance folder is never changed.
    "MEDSHAKE_BRIDGE_HOME": "",
    # Private data (inbox, archives, working folders); empty means <home>/data.
    "MEDSHAKE_BRIDGE_DATA_DIR": "",
    # A plugin that fails to load stops the app instead of being recorded.
    "MEDSHAKE_BRIDGE_STRICT_PLUGINS": False,
    # Plugin names never loaded (besides the bridgeDisabledPlugins setting).
    "MEDSHAKE_BRIDGE_DISABLED_PLUGINS": [],
    # Consecutive failures of one plugin's hooks after which its hooks are suspended until an
    # admin re-enables it (Extensions page or `medshake-bridge plugins --reenable NAME`); 0: never.
    "MEDSHAKE_BRIDGE_PLUGIN_FAILURE_LIMIT": 5,
    # Discover plugins through the medshake_bridge entry-point group.
    "MEDSHAKE_BRIDGE_LOAD_ENTRY_POINTS": True,
    # Extra plugins registered explicitly: module names, modules or objects.
    "MEDSHAKE_BRIDGE_PLUGINS": [],
    # Scheduler mode: embedded, external or off. create_app never starts a thread by itself;
    # a standalone app (create_app) defaults to embedded: `run` and `demo` start it.
    "MEDSHAKE_BRIDGE_SCHEDULER": "off",
    # Seconds between a scheduler's checks (take the lead, reload changed tasks).
    "MEDSHAKE_BRIDGE_SCHEDULER_POLL_SECONDS": 10,
    # URL prefix of the bridge's pages when embedded in a host app.
    "MEDSHAKE_BRIDGE_URL_PREFIX": "",
    # Set by create_app: the app is the bridge's own (it sets up its login and session cookie).
    "MEDSHAKE_BRIDGE_STANDALONE": False,
    # Where a visitor without a bridge identity is sent (a URL or an endpoint of the host app,
    # given ?next=); empty means the bridge's own login page.
    "MEDSHAKE_BRIDGE_LOGIN_URL": "",
    # Create a bridge user for a host identity seen for the first time (medshake_current_user
    # returning a HostIdentity); off: such identities need an admin to link them.
    "MEDSHAKE_BRIDGE_AUTO_PROVISION": False,
    # Offer the bridge's own patient store (source "bridge"); a host whose patients all live in
    # its own records turns it off so nothing is filed or created beside them.
    "MEDSHAKE_BRIDGE_STANDALONE_PATIENTS": True,
    # The Jinja layout the bridge's pages extend; a host's layout places the blocks
    # bridge_title, bridge_head and bridge_content.
    "MEDSHAKE_BRIDGE_BASE_TEMPLATE": "bridge/layout.html",
    # Name of the attribute of flask.g holding the host's per-request CSP nonce, added to the
    # bridge's script-src and style-src when present.
    "MEDSHAKE_BRIDGE_CSP_NONCE_ATTRIBUTE": "csp_nonce",
    # Environment variables passed through to external programs (sandbox fault switches...).
    "MEDSHAKE_BRIDGE_RUNNER_ENV_PASSTHROUGH": [],
    # Where failed logins are counted (Flask-Limiter storage URI; shared store for several
    # processes, e.g. redis://host:6379).
    "MEDSHAKE_BRIDGE_RATELIMIT_STORAGE_URI": "memory://",
    # Failed logins allowed per (address, login) and per address before logins are refused.
    "MEDSHAKE_BRIDGE_LOGIN_LIMIT_PER_ACCOUNT": "5 per minute",
    "MEDSHAKE_BRIDGE_LOGIN_LIMIT_PER_ADDRESS": "20 per minute",
    # Extra keyword arguments for the bridge's own engine (sqlalchemy.create_engine).
    "MEDSHAKE_BRIDGE_ENGINE_OPTIONS": {},
    # A login session ends after this many minutes without a request (0: never) and this many
    # hours after the login whatever happens (0: never).
    "MEDSHAKE_BRIDGE_SESSION_IDLE_MINUTES": 60,
    "MEDSHAKE_BRIDGE_SESSION_MAX_HOURS": 12,
    # Password policy: minimum length (8 at least) and words of the site refused as passwords
    # besides the shipped list of common ones (list or comma-separated text).
    "MEDSHAKE_BRIDGE_PASSWORD_MIN_LENGTH": 10,
    "MEDSHAKE_BRIDGE_PASSWORD_EXTRA_WORDS": [],
    # Largest request bodies (bytes): login/logout/language forms and any POST without a
    # login; other forms; pages that receive files (sending attachments).
    "MEDSHAKE_BRIDGE_MAX_SMALL_FORM_BYTES": 64 * 1024,
    "MEDSHAKE_BRIDGE_MAX_FORM_BYTES": 1024 * 1024,
    "MEDSHAKE_BRIDGE_MAX_UPLOAD_BYTES": 64 * 1024 * 1024,
    # Strict-Transport-Security max-age for the bridge's HTTPS responses (0: not sent, e.g.
    # when the reverse proxy sends it); when set, the session cookie is always Secure.
    "MEDSHAKE_BRIDGE_HSTS_SECONDS": 0,
    # Content-Security-Policy of the bridge's pages; empty means the built-in strict policy.
    "MEDSHAKE_BRIDGE_CONTENT_SECURITY_POLICY": "",
    # How work runs (issue 19): "inline" (this process, the default) or "celery" (a Celery
    # queue consumed by `medshake-bridge worker` processes on any number of hosts).
    "MEDSHAKE_BRIDGE_EXECUTOR": "inline",
    # Celery mode: the broker (e.g. redis://127.0.0.1:6379/0) and, optionally, a result
    # backend (the job ledger in the database already records every outcome).
    "MEDSHAKE_BRIDGE_CELERY_BROKER_URL": "",
    "MEDSHAKE_BRIDGE_CELERY_RESULT_BACKEND": "",
    # Seconds after which the broker hands a job whose worker died (unacknowledged) to another
    # worker; longer than a mailbox's collection is not needed (the mailbox lock guards).
    "MEDSHAKE_BRIDGE_CELERY_VISIBILITY_TIMEOUT": 900,
    # Seconds between a worker's heartbeats in the database.
    "MEDSHAKE_BRIDGE_WORKER_HEARTBEAT_SECONDS": 10,
    # This host's name in task history and the workers list (default: the system's).
    "MEDSHAKE_BRIDGE_HOST": "",
}

_BOOL_KEYS = {"MEDSHAKE_BRIDGE_STRICT_PLUGINS", "MEDSHAKE_BRIDGE_LOAD_ENTRY_POINTS",
              "MEDSHAKE_BRIDGE_STANDALONE", "MEDSHAKE_BRIDGE_AUTO_PROVISION",
              "MEDSHAKE_BRIDGE_STANDALONE_PATIENTS"}
_LIST_KEYS = {
    "MEDSHAKE_BRIDGE_SECRET_KEYS",
    "MEDSHAKE_BRIDGE_DISABLED_PLUGINS",
    "MEDSHAKE_BRIDGE_PLUGINS",
    "MEDSHAKE_BRIDGE_RUNNER_ENV_PASSTHROUGH",
    "MEDSHAKE_BRIDGE_PASSWORD_EXTRA_WORDS",
}


def parse_env_value(key: str, raw: str) -> Any:
    if key in _BOOL_KEYS:
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if key in _LIST_KEYS:
        return [part.strip() for part in raw.replace("\n", ",").split(",") if part.strip()]
    return raw


def environment_overrides(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    environ = os.environ if environ is None else environ
    return {
        key: parse_env_value(key, value)
        for key, value in environ.items()
        if key.startswith(PREFIX) and key != "MEDSHAKE_BRIDGE_INSTANCE"
    }


def apply_defaults(app: Flask) -> None:
    """Fill in every bridge key the app does not set, and derive the computed ones."""
    for key, value in DEFAULTS.items():
        app.config.setdefault(key, list(value) if isinstance(value, list) else value)
    for key in _LIST_KEYS:
        value = app.config[key]
        if isinstance(value, str):
            app.config[key] = parse_env_value(key, value)
    for key in _BOOL_KEYS:
        value = app.config[key]
        if isinstance(value, str):
            app.config[key] = parse_env_value(key, value)
    if not app.config["MEDSHAKE_BRIDGE_HOME"]:
        app.config["MEDSHAKE_BRIDGE_HOME"] = str(Path(app.instance_path) / "medshake_bridge")
    if not app.config["MEDSHAKE_BRIDGE_DATA_DIR"]:
        app.config["MEDSHAKE_BRIDGE_DATA_DIR"] = str(bridge_home(app) / "data")


def bridge_home(app: Flask) -> Path:
    """The bridge's own private folder (see ``MEDSHAKE_BRIDGE_HOME``); not created here."""
    return Path(app.config["MEDSHAKE_BRIDGE_HOME"])
