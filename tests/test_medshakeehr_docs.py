"""Every command, Python and SQL block of docs/medshakeehr.md runs, in the page's order,
against a MariaDB MedShakeEHR, and does what the page says."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from conftest import TEST_SECRET_KEY
from medshakeehr_world import Ehr
from werkzeug.test import Client

from medshake_bridge import migrate

pytestmark = pytest.mark.real_component("mariadb")
DOC = Path(__file__).resolve().parents[1] / "docs" / "medshakeehr.md"


def _blocks(kind: str) -> list[str]:
    found = re.findall(rf"^( *)```{kind}\n(.*?)^\1```", DOC.read_text(encoding="utf-8"),
                       re.M | re.S)
    return ["\n".join(line[len(indent):] for line in body.splitlines())
            for indent, body in found]


def test_the_page_has_the_blocks_this_test_runs():
    assert len(_blocks("console")) == 8
    assert len(_blocks("python")) == 1 and len(_blocks("sql")) == 1


def test_every_command_of_the_page_runs_in_order(make_app, ehr: Ehr, tmp_path):
    from medshake_bridge.extension import bridge_state
    from medshake_bridge.users import create_user, find_user

    inbox = tmp_path / "ehr-inbox"
    inbox.mkdir()
    ehr.execute("UPDATE configuration SET value=:v WHERE name='apicryptCheminInbox' AND "
                "level='default'", v=f"{inbox}/")
    app = make_app()
    migrate.upgrade(app)
    with app.app_context():
        create_user("drmartin", "correct horse battery")  # the page's conflict case
    runner = app.test_cli_runner()
    replacements = {
        "mysql+pymysql://bridge:PASSWORD@127.0.0.1/medshakeehr": ehr.url,
        "/var/www/MedShakeEHR/config/config.yml": str(ehr.config_file),
    }
    outputs = []
    for block in _blocks("console"):
        for line in block.splitlines():
            assert line.startswith("medshake-bridge "), line
            args = shlex.split(line)[1:]
            stdin = None
            if "<" in args:  # `--value-stdin < FILE`: the file holds the documented URL
                args, stdin = args[:args.index("<")], ehr.url + "\n"
            args = [replacements.get(arg, arg) for arg in args]
            if args[0] not in app.cli.commands:
                args = ["bridge", *args]
            result = runner.invoke(args=args, input=stdin)
            assert result.exit_code == 0, f"{line}\n{result.output}"
            outputs.append(result.output)
    text = "\n".join(outputs)
    assert "ok      MedShakeEHR storage" in text and "ok      MedShakeEHR inbox folder" in text
    assert "conflicting  drmartin" in text
    assert "0 copied, 0 still failing" in text  # retry-copies: nothing was left behind
    assert "drmartin linked to MedShakeEHR account 5 (drmartin, Paul MARTIN)" in text
    assert "popsecret" not in text
    with app.app_context():
        store = bridge_state(app).settings
        assert store.get("apicryptPopPassword", user_id=find_user("admin").id) == "popsecret"
        assert store.get("medshakeEhrFilingEnabled") is False  # the rollback ran last
    tables = {row[0] for row in ehr.rows("SHOW TABLES")}
    assert {"bridge_filings", "bridge_inbox_copies"} <= tables
    for statement in _blocks("sql"):
        ehr.execute(statement)
    tables = {row[0] for row in ehr.rows("SHOW TABLES")}
    assert not {"bridge_filings", "bridge_inbox_copies"} & tables


def test_the_front_block_serves_the_bridge_and_proxies_the_rest(monkeypatch, tmp_path):
    monkeypatch.setenv("MEDSHAKE_BRIDGE_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("MEDSHAKE_BRIDGE_SECRET_KEYS", TEST_SECRET_KEY)
    namespace: dict[str, object] = {}
    exec(compile(_blocks("python")[0], "medshakeehr.md#front", "exec"), namespace)  # noqa: S102
    application = namespace["application"]
    migrate.upgrade(application.mounts["/apicrypt"])
    client = Client(application)
    login = client.get("/apicrypt/login")
    assert login.status_code == 200 and "<form" in login.get_data(as_text=True)
    assert client.get("/patient/4/").status_code == 502  # nothing listens on 8080 here
