"""docs/scale-out.md: its systemd units, environment file and commands are the real ones.

The units' ``ExecStart`` lines are given to the real ``medshake-bridge`` (with ``--help``, so a
misspelt command or option fails); the environment file builds an app in ``celery`` mode; the
day-to-day commands run against PostgreSQL and a Redis of the test's own.
"""

from __future__ import annotations

import configparser
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
from conftest import TEST_SECRET_KEY
from scaleworld import BRIDGE, RedisServer

from medshake_bridge import create_app, migrate
from medshake_bridge.config import DEFAULTS
from medshake_bridge.scale.executor import broker_url, executor_mode, visibility_timeout

DOC = Path(__file__).resolve().parents[1] / "docs" / "scale-out.md"


def _blocks(kind: str) -> list[str]:
    return re.findall(rf"^```{kind}\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.M | re.S)


def _environment_file() -> dict[str, str]:
    (block,) = _blocks("sh")
    pairs = [line.split("=", 1) for line in block.splitlines()
             if line.strip() and not line.startswith("#")]
    return {key: value for key, value in pairs}


def test_the_page_has_the_blocks_this_test_checks_and_no_placeholder():
    assert len(_blocks("ini")) == 3 and len(_blocks("sh")) == 1 and len(_blocks("console")) == 1
    text = DOC.read_text(encoding="utf-8")
    assert "SIZING_TABLE" not in text and "PROJECTION" not in text


def test_the_environment_file_builds_a_celery_app(tmp_path):
    values = _environment_file()
    assert set(values) - {"MEDSHAKE_BRIDGE_INSTANCE"} <= set(DEFAULTS), "unknown settings"
    config = {key: value for key, value in values.items() if key != "MEDSHAKE_BRIDGE_INSTANCE"}
    config.update(INSTANCE_PATH=str(tmp_path / "instance"),
                  MEDSHAKE_BRIDGE_SECRET_KEYS=[TEST_SECRET_KEY],
                  MEDSHAKE_BRIDGE_DATABASE_URL="",
                  MEDSHAKE_BRIDGE_DATA_DIR=str(tmp_path / "data"))
    app = create_app(config)
    assert executor_mode(app) == "celery"
    assert broker_url(app) == values["MEDSHAKE_BRIDGE_CELERY_BROKER_URL"]
    assert visibility_timeout(app) == 900


@pytest.mark.parametrize("number", [0, 1, 2])
def test_each_unit_runs_a_real_command(number, tmp_path):
    unit = _blocks("ini")[number]
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string(unit)
    assert {"Unit", "Service", "Install"} <= set(parser.sections())
    service = parser["Service"]
    assert service["EnvironmentFile"] == "/etc/medshake-bridge/env"
    assert service["UMask"] == "0077"
    command = shlex.split(service["ExecStart"].replace("%i", "1").replace("%H", "host"))
    assert command[0].endswith("/bin/medshake-bridge")
    env = {**os.environ, "MEDSHAKE_BRIDGE_INSTANCE": str(tmp_path / "instance"),
           "MEDSHAKE_BRIDGE_SECRET_KEYS": TEST_SECRET_KEY}
    result = subprocess.run([BRIDGE, *command[1:], "--help"], env=env, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert command[1] in {"run", "scheduler", "worker"}


def test_the_day_to_day_commands_run(make_app, server_databases, tmp_path):
    from databases import empty_tables, server_database_or_skip
    from support.components import require_component

    server = server_database_or_skip(server_databases, "postgresql", require_component)
    app = make_app(MEDSHAKE_BRIDGE_DATABASE_URL=server.url)
    if not server.migrated:
        migrate.upgrade(app)
        server.migrated = True
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    env = {**os.environ, "MEDSHAKE_BRIDGE_INSTANCE": str(tmp_path / "instance"),
           "MEDSHAKE_BRIDGE_SECRET_KEYS": TEST_SECRET_KEY,
           "MEDSHAKE_BRIDGE_DATABASE_URL": server.url,
           "MEDSHAKE_BRIDGE_DATA_DIR": str(tmp_path / "data"),
           "MEDSHAKE_BRIDGE_EXECUTOR": "celery",
           "MEDSHAKE_BRIDGE_CELERY_BROKER_URL": redis.url(),
           "MEDSHAKE_BRIDGE_CHECK_TIMEOUT": "1"}
    try:
        (block,) = _blocks("console")
        outputs = {}
        for line in block.splitlines():
            assert line.startswith("$ medshake-bridge ")
            args = shlex.split(line[2:])[1:]
            result = subprocess.run([BRIDGE, *args], env=env, capture_output=True, text=True,
                                    timeout=180, check=False)
            outputs[args[0]] = (result.returncode, result.stdout + result.stderr)
            assert "Usage:" not in result.stderr, result.stderr
    finally:
        redis.stop()
        empty_tables(server.url)
    assert outputs["fetch"] == (0, outputs["fetch"][1]), outputs["fetch"]
    assert "0 mailbox(es): 0 queued" in outputs["fetch"][1]
    code, text = outputs["workers"]
    assert code == 1 and "no worker has ever reported" in text  # nobody started one here
    code, text = outputs["doctor"]
    assert "Queue workers: no worker alive" in text and code == 1
