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
         "medshake_bridge.cli.demo_cmds", "medshake_bridge.scheduler.service")
print(json.dumps({"code": code, "imported": sorted(
    name for name in heavy if name in sys.modules)}))
"""


def test_fetch_builds_an_app_without_pages_and_imports_only_its_command(tmp_path: Path) -> None:
    """``medshake-bridge fetch`` imports its own command module only and builds its app with
    ``web=False``: no page, no ``/api/v1`` schemas (pydantic), no scheduler service, no
    Alembic (issue 18: a third of a collection process's start-up)."""
    from conftest import TEST_SECRET_KEY

    env = {**os.environ, "MEDSHAKE_BRIDGE_INSTANCE": str(tmp_path / "instance"),
           "MEDSHAKE_BRIDGE_SECRET_KEYS": TEST_SECRET_KEY}
    init = subprocess.run(  # noqa: S603
        [sys.executable, "-c", "from medshake_bridge.cli import main; main()", "init-db"],
        capture_output=True, text=True, timeout=120, check=False, env=env)
    assert init.returncode == 0, init.stderr
    done = subprocess.run([sys.executable, "-c", FETCH_PROBE],  # noqa: S603
                          capture_output=True, text=True, timeout=120, check=False, env=env)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["code"] in (0, None) and result["imported"] == [], done.stdout


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
