"""The connector's connection and checks on a real MariaDB: ``medshakeehr check``, the system
information page, ``doctor``, read-only until writing is turned on, clear errors."""

from __future__ import annotations

import pytest
from medshakeehr_world import Ehr, configure
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from medshake_bridge.sysinfo import run_system_checks

pytestmark = pytest.mark.real_component("mariadb")


def _check(app, *args):
    return app.test_cli_runner().invoke(args=["medshakeehr", "check", *args])


def _lines(app):
    with app.app_context():
        report = run_system_checks(app)
    return {c.name: c for group in report.groups for c in group.checks
            if c.category == "medshakeehr"}, report


def test_check_passes_on_a_medshakeehr_database(ehr_app):
    result = _check(ehr_app)
    assert result.exit_code == 0, result.output
    assert "ok      MedShakeEHR database" in result.output
    assert "MedShakeEHR version: v8.4.2" in result.output
    assert "MedShakeEHR data types: all found by name" in result.output
    assert "BROKEN" not in result.output


def test_the_same_lines_on_the_system_information_page(ehr_app):
    lines, _ = _lines(ehr_app)
    assert lines["MedShakeEHR database"].ok is True
    assert lines["MedShakeEHR version"].detail == "v8.4.2"
    assert lines["MedShakeEHR config.yml"].ok is True


def test_a_bad_database_url_is_a_clear_error_without_the_password(ehr_app, ehr: Ehr):
    configure(ehr_app, ehr, medshakeEhrDatabaseUrl=ehr.url.replace(
        "root@", "nobody:s3cretpw@"))
    result = _check(ehr_app)
    assert result.exit_code == 1
    assert "BROKEN  MedShakeEHR database" in result.output
    assert "fix: check that MariaDB runs" in result.output
    assert "s3cretpw" not in result.output
    lines, report = _lines(ehr_app)
    assert lines["MedShakeEHR database"].ok is False
    assert "s3cretpw" not in lines["MedShakeEHR database"].detail
    assert report.exit_code == 1
    doctor = ehr_app.test_cli_runner().invoke(args=["bridge", "doctor", "--quiet"])
    assert doctor.exit_code == 1
    assert "BROKEN  MedShakeEHR database" in doctor.output
    assert "s3cretpw" not in doctor.output


def test_a_url_that_is_not_mariadb_is_refused_with_the_fix(ehr_app, ehr: Ehr):
    configure(ehr_app, ehr, medshakeEhrDatabaseUrl="postgresql://x@127.0.0.1/y")
    result = _check(ehr_app)
    assert result.exit_code == 1
    assert "MedShakeEHR runs on MariaDB" in result.output


def test_a_missing_data_types_row_is_named(ehr_app, ehr: Ehr):
    ehr.execute("DELETE FROM data_types WHERE name='docOriginalName'")
    result = _check(ehr_app)
    assert result.exit_code == 1
    assert "BROKEN  MedShakeEHR data types" in result.output
    assert "no row named docOriginalName" in result.output
    lines, _ = _lines(ehr_app)
    assert lines["MedShakeEHR data types"].ok is False
    assert "docOriginalName" in lines["MedShakeEHR data types"].detail


def test_type_ids_are_looked_up_by_name(ehr_app, ehr: Ehr):
    """Legacy installs have other ids: shift every id and the check still passes."""
    ehr.execute("UPDATE data_types SET id = id + 1000")
    assert _check(ehr_app).exit_code == 0


def test_unconfigured_connector_adds_no_line_to_the_page_but_check_says_so(app):
    lines, _ = _lines(app)
    assert lines == {}
    result = _check(app)
    assert result.exit_code == 1
    assert "not configured" in result.output


def test_read_only_until_writing_is_turned_on(ehr_app, ehr: Ehr):
    from medshake_medshakeehr.config import connector_config
    from medshake_medshakeehr.database import engine_for

    with ehr_app.app_context():
        config = connector_config()
    with engine_for(config).connect() as connection, pytest.raises(SQLAlchemyError) as caught:
        connection.execute(text("UPDATE people SET module='x' WHERE id=4"))
    assert "READ ONLY" in str(caught.value).upper() or "read-only" in str(caught.value).lower()
    assert ehr.rows("SELECT module FROM people WHERE id=4")[0][0] == "base"


def test_filing_checks_storage_and_tables(ehr_app, ehr: Ehr):
    configure(ehr_app, ehr, medshakeEhrFilingEnabled=True)
    result = _check(ehr_app)
    assert result.exit_code == 1
    assert "run medshake-bridge medshakeehr install-tables" in result.output
    assert "MedShakeEHR storage" in result.output and "(writable)" in result.output
    installed = ehr_app.test_cli_runner().invoke(args=["medshakeehr", "install-tables"])
    assert installed.exit_code == 0, installed.output
    assert _check(ehr_app).exit_code == 0
    ehr.storage.chmod(0o500)
    try:
        result = _check(ehr_app)
    finally:
        ehr.storage.chmod(0o700)
    import os

    if os.geteuid() != 0:
        assert result.exit_code == 1
        assert "give the bridge's account write access" in result.output


def test_write_back_checks_the_inbox_folder(ehr_app, ehr: Ehr, tmp_path):
    configure(ehr_app, ehr, medshakeEhrWriteBack=True)
    result = _check(ehr_app)
    assert "BROKEN  MedShakeEHR inbox folder: MedShakeEHR has no inbox folder" in result.output
    ehr.execute("UPDATE configuration SET value=:v WHERE name='apicryptCheminInbox'",
                v=str(tmp_path))
    assert "ok      MedShakeEHR inbox folder" in _check(ehr_app).output


def test_the_system_page_shows_the_lines_in_french(ehr_app):
    from web_helpers import login

    from medshake_bridge.users import create_user

    with ehr_app.app_context():
        create_user("root", "correct horse battery", role="admin")
    client = ehr_app.test_client()
    login(client, "root", "correct horse battery")
    page = client.get("/admin/system/").get_data(as_text=True)
    assert "Base de données MedShakeEHR" in page
    assert "Types de données MedShakeEHR" in page
    assert "v8.4.2" in page


def test_the_installed_command_runs_the_check(ehr_app, ehr: Ehr):
    """``medshake-bridge medshakeehr check`` from the console script (plugin commands are
    found on the app's CLI)."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    from conftest import TEST_SECRET_KEY

    script = shutil.which("medshake-bridge", path=str(Path(sys.executable).parent))
    assert script is not None
    env = {**os.environ, "MEDSHAKE_BRIDGE_INSTANCE": ehr_app.instance_path,
           "MEDSHAKE_BRIDGE_SECRET_KEYS": TEST_SECRET_KEY}
    done = subprocess.run([script, "medshakeehr", "check"], capture_output=True, text=True,
                          env=env, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "MedShakeEHR version: v8.4.2" in done.stdout


def test_the_settings_page_never_shows_the_database_password(ehr_app, ehr: Ehr):
    from web_helpers import login

    from medshake_bridge.users import create_user

    configure(ehr_app, ehr, medshakeEhrDatabaseUrl="mysql+pymysql://bridge:Zx9secret@db/ehr")
    with ehr_app.app_context():
        create_user("root", "correct horse battery", role="admin")
    client = ehr_app.test_client()
    login(client, "root", "correct horse battery")
    page = client.get("/admin/settings/?topic=MedShakeEHR").get_data(as_text=True)
    assert "Base de données MedShakeEHR" in page and "Connexion unique MedShakeEHR" in page
    assert "Zx9secret" not in page
