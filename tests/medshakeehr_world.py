"""A MedShakeEHR for tests: a MariaDB database per test built from the reference's fixture
schema (tests/data/medshakeehr/schema.sql) plus test people (patients.sql), its config.yml
and storage folder, and a migrated bridge app whose connector settings point at them.

Test files import the fixtures they use from here.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from databases import MARIADB_ADMIN_URL
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from medshake_bridge import migrate

DATA = Path(__file__).parent / "data" / "medshakeehr"
SQL_VAR_PASSWORD = "testVarPwd"
FINGERPRINT = "testfp01"
ADMIN_HASH = "$2y$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a"
ADMIN_PASSWORD = "rasmuslerdorf"


@dataclass
class Ehr:
    """One test MedShakeEHR: its database URL, an engine to inspect it, its files."""

    url: str
    name: str
    engine: Engine
    config_file: Path
    storage: Path

    def rows(self, sql: str, **params: object) -> list:
        with self.engine.connect() as connection:
            return list(connection.execute(text(sql), params))

    def execute(self, sql: str, **params: object) -> None:
        with self.engine.begin() as connection:
            connection.execute(text(sql), params)

    def type_id(self, name: str) -> int:
        return int(self.rows("SELECT id FROM data_types WHERE name=:n", n=name)[0][0])


def _load(database: str, path: Path) -> None:
    url = make_url(MARIADB_ADMIN_URL)
    from support.components import require_component

    require_component("mariadb", shutil.which("mariadb") is not None,
                      "no mariadb client; install it with `apt-get install -y mariadb-client`")
    with path.open("rb") as sql:
        subprocess.run(["mariadb", f"-h{url.host}", f"-P{url.port or 3306}",
                        f"-u{url.username}", database], stdin=sql, check=True, timeout=120,
                       capture_output=True)


@pytest.fixture
def ehr(tmp_path: Path) -> Iterator[Ehr]:
    """A fresh MedShakeEHR database ``connector_<random>`` with the test people."""
    from support.components import require_component

    name = f"connector_{secrets.token_hex(4)}"
    admin = create_engine(MARIADB_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 "
                                    "COLLATE utf8mb4_general_ci"))
    except Exception as exc:  # noqa: BLE001 - server down: skipped locally, fails under CI
        require_component("mariadb", available=False, reason=str(exc))
    try:
        _load(name, DATA / "schema.sql")
        _load(name, DATA / "patients.sql")
        storage = tmp_path / "stockage"
        storage.mkdir()
        config_file = tmp_path / "config.yml"
        config_file.write_text(
            f"sqlVarPassword: {SQL_VAR_PASSWORD}\nfingerprint: {FINGERPRINT}\n"
            f"stockageLocation: {storage}/\nsqlBase: {name}\n", encoding="utf-8")
        url = make_url(MARIADB_ADMIN_URL).set(database=name).render_as_string(
            hide_password=False)
        engine = create_engine(url + "?charset=utf8mb4")
        yield Ehr(url=url, name=name, engine=engine, config_file=config_file, storage=storage)
        engine.dispose()
    finally:
        from medshake_medshakeehr import database

        for key in [k for k in database._engines if name in k[0]]:
            database._engines.pop(key).dispose()
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


def configure(app: Flask, ehr: Ehr, **extra: object) -> None:
    """Point the app's connector settings at ``ehr`` (site level)."""
    from medshake_bridge.extension import bridge_state

    values = {"medshakeEhrDatabaseUrl": ehr.url, "medshakeEhrConfigFile": str(ehr.config_file),
              "medshakeEhrUrl": "http://ehr.test"}
    values.update(extra)
    with app.app_context():
        store = bridge_state(app).settings
        for name, value in values.items():
            store.set(name, value)


@pytest.fixture
def ehr_app(make_app: Callable[..., Flask], ehr: Ehr) -> Flask:
    """A migrated bridge app (SQLite) whose connector reads ``ehr``."""
    app = make_app()
    migrate.upgrade(app)
    configure(app, ehr)
    return app


def install_tables(ehr: Ehr) -> None:
    from medshake_medshakeehr.schema import install_tables as install

    with ehr.engine.begin() as connection:
        install(connection)


# -- a clinic: the bridge collecting for Bob, writing back and filing into MedShakeEHR ----------

HELENE = (
    "LAB777\nDUPONT\nHélène\n3 rue Oberkampf\n\n75011 PARIS\n15/03/1970\n2700375123000 11\n"
    "DOS-9\n29/11/2026\nLABOCENTRE laboratoire.central\nDR0000001 bob.DURAND\n\n"
    "Bilan de contrôle.\n****LAB****\nRES|Glycémie|GLY|N|0.95|g/l|0.70|1.10||F\n"
    "****FINLAB****\n****FIN****\n****FINFICHIER****\n")
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"


@pytest.fixture
def clinic(world, ehr: Ehr, tmp_path: Path):
    """Bob collects into the bridge; the connector writes back and files into MedShakeEHR."""
    inbox = tmp_path / "ehr-inbox"
    inbox.mkdir()
    ehr.execute("UPDATE configuration SET value=:v WHERE name='apicryptCheminInbox' AND "
                "level='default'", v=f"{inbox}/")
    install_tables(ehr)
    configure(world.app, ehr, medshakeEhrFilingEnabled=True, medshakeEhrWriteBack=True)
    result = world.app.test_cli_runner().invoke(args=["medshakeehr", "link-user", "bob", "3"])
    assert result.exit_code == 0, result.output
    world.ehr_inbox = inbox
    return world


def collect_helene(world):
    """Deliver and collect one message about DUPONT Hélène (with a PDF); its one document."""
    world.deliver(world.mail(HELENE, attachments=[("CR_bio.pdf", PDF)]))
    world.collect()
    documents = world.documents()
    assert len(documents) == 1
    return documents[0]
