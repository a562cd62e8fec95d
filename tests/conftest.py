"""Shared fixtures: apps on SQLite / PostgreSQL / MariaDB, the CLI runner, real servers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from flask import Flask
from hypothesis import HealthCheck, settings

from medshake_bridge import create_app, migrate
from medshake_bridge.db import db

pytest_plugins = [
    "support.components",
    "support.dovecot",
    "support.smtp",
    "support.browser",
    "support.unprivileged",
    "databases",
    "mailworld",
    "sendworld",
    "medshakeehr_world",
]

TEST_SECRET_KEY = Fernet.generate_key().decode()

# Property tests check correctness, not speed: on a loaded CI machine a slow example is not a
# failure (speed is measured in benchmarks/).
settings.register_profile("bridge", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("bridge")


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """Build apps in a private instance folder; each is strict about plugins by default."""
    apps: list[Flask] = []

    def factory(**config: Any) -> Flask:
        settings: dict[str, Any] = {
            "INSTANCE_PATH": str(tmp_path / f"instance{len(apps)}"),
            "TESTING": True,
            "MEDSHAKE_BRIDGE_SECRET_KEYS": [TEST_SECRET_KEY],
            "MEDSHAKE_BRIDGE_STRICT_PLUGINS": True,
        }
        settings.update(config)
        app = create_app(settings)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """A migrated app on SQLite."""
    application = make_app()
    migrate.upgrade(application)
    return application


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def make_db_app(request: pytest.FixtureRequest,
                make_app: Callable[..., Flask]) -> Iterator[Callable[..., Flask]]:
    """Build migrated apps on one of the three databases (the test runs once per database).

    SQLite: each app gets its own file in its instance folder (pass ``INSTANCE_PATH`` to
    share one). PostgreSQL / MariaDB: every app of the test shares this session's database
    (``msb_test_<pid>_<random>``, migrated once), emptied after the test. Concurrency and
    exactly-once tests use this: SQLite serialises writers, the servers really race.
    """
    from databases import empty_tables, server_database_or_skip
    from support.components import require_component

    backend = request.param
    server = None
    if backend != "sqlite":
        server = server_database_or_skip(
            request.getfixturevalue("server_databases"), backend, require_component)
    built: list[Flask] = []

    def factory(**config: Any) -> Flask:
        if server is None:
            application = make_app(**config)
            migrate.upgrade(application)
        else:
            application = make_app(MEDSHAKE_BRIDGE_DATABASE_URL=server.url, **config)
            if not server.migrated:
                migrate.upgrade(application)
                server.migrated = True
        built.append(application)
        return application

    factory.backend = backend  # type: ignore[attr-defined]
    yield factory
    for application in built:
        with application.app_context():
            db.session.remove()
            db.engine.dispose()
    if server is not None:
        empty_tables(server.url)


@pytest.fixture
def db_app(make_db_app: Callable[..., Flask]) -> Flask:
    """A migrated app on each of the three databases (empty tables at the start)."""
    return make_db_app()


@pytest.fixture
def cli(app: Flask):
    """Invoke bridge commands on ``app`` through Click's runner."""
    runner = app.test_cli_runner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(args=["bridge", *args], input=input, catch_exceptions=False)

    return invoke


@pytest.fixture
def app_ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app
