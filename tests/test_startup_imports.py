"""Start-up cost (issue 18): building the app does not import the command line.

``create_app()`` registers ``flask bridge`` as a lazy group; the command modules (and Alembic,
which ``init-db`` needs) are imported only when a command is listed or run. Timings are in
``benchmarks/`` (``benchmarks/README.md``, start-up); here only what is imported, and that the
commands still work through the lazy group.
"""

from __future__ import annotations

import json
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
