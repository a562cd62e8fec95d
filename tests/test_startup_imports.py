"""Start-up cost (issue 18): building the app does not import the command line.

``create_app()`` registers ``flask bridge`` as a lazy group; the command modules (and Alembic,
which ``init-db`` needs) are imported only when a command is listed or run. Timings are in
``benchmarks/`` (``benchmarks/README.md``, start-up); here only what is imported, and that the
commands still work through the lazy group.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from medshake_bridge.lazy_cli import COMMAND_NAMES

PROBE = r"""
import json, sys
from medshake_bridge import create_app
app = create_app({"INSTANCE_PATH": sys.argv[1]})
print(json.dumps(sorted(name for name in sys.modules
                        if name in ("alembic", "medshake_bridge.cli")
                        or name.startswith("medshake_bridge.cli."))))
"""


def test_building_the_app_imports_no_command_module(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path / "instance")],  # noqa: S603
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_the_known_command_names_are_the_registered_ones() -> None:
    from medshake_bridge.cli import bridge_group

    assert set(bridge_group.commands) == COMMAND_NAMES


def test_flask_bridge_commands_run_through_the_lazy_group(app) -> None:
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["bridge", "--help"])
    assert listed.exit_code == 0, listed.output
    assert "fetch" in listed.output and "init-db" in listed.output
    config = runner.invoke(args=["bridge", "config", "get", "apicryptCollector"])
    assert config.exit_code == 0, config.output
    assert config.output.strip()


FETCH_PROBE = r"""
import json, sys
from medshake_bridge.cli import main
sys.argv = ["medshake-bridge", "fetch", "--jobs", "1"]
code = None
try:
    main()
except SystemExit as exc:
    code = exc.code
heavy = ("alembic", "apscheduler", "pydantic", "flask_wtf", "limits", "medshake_bridge.apiv1",
         "medshake_bridge.views", "medshake_bridge.web", "medshake_bridge.cli.core_cmds",
         "medshake_bridge.cli.demo_cmds", "medshake_bridge.scheduler.service",
         "babel", "flask_babel", "pytz", "sqlalchemy.dialects.postgresql")
print(json.dumps({"code": code, "imported": sorted(
    name for name in heavy if name in sys.modules)}))
"""


def test_fetch_builds_an_app_without_pages_and_imports_only_its_command(tmp_path: Path) -> None:
    """``medshake-bridge fetch`` imports its own command module only and builds its app with
    ``web=False``: no page, no ``/api/v1`` schemas (pydantic), no scheduler service, no
    Alembic (issue 18: a third of a collection process's start-up), no Babel: a process
    that translates nothing does not import the catalogs' machinery (``i18n``), and not
    SQLAlchemy's PostgreSQL dialect on SQLite (``models.mail.declare_postgresql_options``)."""
    env = _initialised_instance(tmp_path)
    done = subprocess.run([sys.executable, "-c", FETCH_PROBE],  # noqa: S603
                          capture_output=True, text=True, timeout=120, check=False, env=env)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["code"] in (0, None) and result["imported"] == [], done.stdout


def _initialised_instance(tmp_path: Path) -> dict[str, str]:
    """The environment of a ``medshake-bridge`` process on a new instance after ``init-db``."""
    from conftest import TEST_SECRET_KEY

    env = {**os.environ, "MEDSHAKE_BRIDGE_INSTANCE": str(tmp_path / "instance"),
           "MEDSHAKE_BRIDGE_SECRET_KEYS": TEST_SECRET_KEY}
    init = subprocess.run(  # noqa: S603
        [sys.executable, "-c", "from medshake_bridge.cli import main; main()", "init-db"],
        capture_output=True, text=True, timeout=120, check=False, env=env)
    assert init.returncode == 0, init.stderr
    return env


CLI_IMPORT_PROBE = r"""
import json, sys
import medshake_bridge.cli
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] in (
    "sqlalchemy", "cryptography", "pluggy", "babel")
    or name in ("medshake_bridge.app", "medshake_bridge.extension", "medshake_bridge.models",
                "medshake_bridge.db"))))
"""


def test_importing_the_command_line_imports_no_app() -> None:
    """``import medshake_bridge.cli`` (what the console script does before ``main()``) leaves
    SQLAlchemy, the models, the plugin machinery and the app factory to the command: the
    package's names are imported on first use, so ``fetch`` pauses the garbage collector
    before the bulk of its imports (:mod:`medshake_bridge.startup`)."""
    done = subprocess.run([sys.executable, "-c", CLI_IMPORT_PROBE],  # noqa: S603
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_the_package_names_are_there_on_first_use() -> None:
    import medshake_bridge
    from medshake_bridge.app import create_app
    from medshake_bridge.extension import MedshakeBridge, bridge_state
    from medshake_bridge.hookspecs import hookimpl

    assert medshake_bridge.create_app is create_app
    assert (medshake_bridge.MedshakeBridge, medshake_bridge.bridge_state,
            medshake_bridge.hookimpl) == (MedshakeBridge, bridge_state, hookimpl)
    assert medshake_bridge.__version__ and isinstance(medshake_bridge.__version__, str)
    assert set(medshake_bridge.__all__) <= set(dir(medshake_bridge))
    try:
        medshake_bridge.no_such_name  # noqa: B018
    except AttributeError:
        pass
    else:
        raise AssertionError("an unknown name was found")


GC_PROBE = r"""
import gc, json, sys
import medshake_bridge.cli.collect_cmds as commands
seen = {}
real_collect_all = commands.collect_all

def collect_all(*args, **kwargs):  # what the command's own work runs with
    seen["enabled_during_command"] = gc.isenabled()
    seen["frozen_during_command"] = gc.get_freeze_count()
    return real_collect_all(*args, **kwargs)

commands.collect_all = collect_all
from medshake_bridge.cli import main
sys.argv = ["medshake-bridge", *sys.argv[1:]]
code = None
try:
    main()
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "enabled_after": gc.isenabled(),
                  "frozen_after": gc.get_freeze_count(), **seen}))
"""


def _gc_probe(env: dict[str, str], *args: str) -> dict:
    done = subprocess.run([sys.executable, "-c", GC_PROBE, *args],  # noqa: S603
                          capture_output=True, text=True, timeout=120, check=False, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_fetch_collects_garbage_again_once_its_app_is_built(tmp_path: Path) -> None:
    """The start-up pause of the garbage collector (``medshake_bridge.startup``) ends when
    the app is built: the collection itself runs with the collector on, and the start-up's
    objects (the app, SQLAlchemy, the plugins: over 50,000) are frozen, never walked again.
    Frozen, the engine's pool is not collected at exit: it is closed explicitly, so SQLite
    still checkpoints and removes its -wal and -shm files when the command ends.
    ``fetch --help`` builds no app: the collector is on again when ``main()`` returns."""
    env = _initialised_instance(tmp_path)
    run = _gc_probe(env, "fetch", "--jobs", "1")
    assert run["code"] in (0, None), run
    assert run["enabled_during_command"] is True and run["enabled_after"] is True
    assert run["frozen_during_command"] > 50_000, run
    database = tmp_path / "instance" / "medshake_bridge.db"
    assert database.is_file()
    assert [path.name for path in database.parent.glob("medshake_bridge.db-*")] == []
    helped = _gc_probe(env, "fetch", "--help")
    assert helped["code"] in (0, None) and helped["enabled_after"] is True, helped
    assert helped["frozen_after"] == 0 and "enabled_during_command" not in helped, helped


IN_PROCESS_PROBE = r"""
import gc, json
from click.testing import CliRunner
from medshake_bridge.cli import main
result = CliRunner().invoke(main, ["fetch", "--jobs", "1"], catch_exceptions=False)
print(json.dumps({"code": result.exit_code, "output": result.output,
                  "enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}))
"""


def test_a_command_line_run_inside_another_program_leaves_its_collector_alone(
        tmp_path: Path) -> None:
    """Called with arguments (a test runner, a host's own process), ``main`` is not the
    program: no pause and no freeze of the caller's objects."""
    env = _initialised_instance(tmp_path)
    done = subprocess.run([sys.executable, "-c", IN_PROCESS_PROBE],  # noqa: S603
                          capture_output=True, text=True, timeout=120, check=False, env=env)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["code"] == 0 and "mailbox(es)" in result["output"], result
    assert result["enabled"] is True and result["frozen"] == 0, result


TREE_PROBE = r"""
import json, sys
import click
from medshake_bridge.lazy_cli import load_command

def tree(command):
    if isinstance(command, click.Group):
        return {name: tree(sub) for name, sub in sorted(command.commands.items())}
    return None

name = sys.argv[1]
if name == "*":
    from medshake_bridge.cli import bridge_group
    print(json.dumps({key: tree(value) for key, value in bridge_group.commands.items()}))
else:
    print(json.dumps(tree(load_command(name))))
"""


def _tree(name: str) -> object:
    done = subprocess.run([sys.executable, "-c", TREE_PROBE, name],  # noqa: S603
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_each_command_loaded_alone_has_all_its_subcommands() -> None:
    """``load_command`` imports only the modules named for a command: loaded alone (a fresh
    process), each command has the same subcommands as when every module is imported."""
    from medshake_bridge.lazy_cli import COMMAND_MODULES

    everything = _tree("*")
    assert set(everything) == set(COMMAND_MODULES)
    groups = [name for name, sub in everything.items() if sub is not None]
    assert {"users", "sandbox", "config"} <= set(groups)
    for name in groups:
        assert _tree(name) == everything[name], name


def test_a_collection_only_app_has_no_pages(app) -> None:
    from medshake_bridge import bridge_state, create_app

    bare = create_app({"INSTANCE_PATH": app.instance_path,
                       "MEDSHAKE_BRIDGE_SECRET_KEYS": app.config["MEDSHAKE_BRIDGE_SECRET_KEYS"]},
                      web=False)
    assert bridge_state(app).web and not bridge_state(bare).web
    assert len({rule.endpoint for rule in app.url_map.iter_rules()}) > 10
    assert {rule.endpoint for rule in bare.url_map.iter_rules()} == {"static"}
    with bare.app_context():  # settings, plugins and hooks work as in the full app
        assert bridge_state(bare).settings.get("apicryptCollector") == "pop3"
        assert "pop3" in bridge_state(bare).plugins
        assert bridge_state(bare).hooks.implementations("medshake_message_stored")
        # no Flask-Babel on such an app (``send`` explains what it replaced): French, the default
        from medshake_bridge.i18n import _

        assert _("Inbox") == "Boîte de réception"


@pytest.mark.parametrize("make_db_app", ["postgresql"], indirect=True)
def test_a_postgresql_engine_gives_the_search_index_its_options(db_app) -> None:
    """The trigram index's PostgreSQL options are declared when a PostgreSQL engine is built
    (not with the model, which would import the dialect everywhere): DDL made from the models
    is then the migration's."""
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.schema import CreateIndex

    from medshake_bridge.db import db
    from medshake_bridge.models.mail import SEARCH_INDEX, InboxDocument

    with db_app.app_context():
        assert db.engine.dialect.name == "postgresql"
    index = next(index for index in InboxDocument.__table__.indexes
                 if index.name == SEARCH_INDEX)
    ddl = str(CreateIndex(index).compile(dialect=postgresql.dialect()))
    assert ddl == (f"CREATE INDEX {SEARCH_INDEX} ON bridge_inbox_documents "
                   "USING gin (search_text gin_trgm_ops) WITH (fastupdate = off)")
