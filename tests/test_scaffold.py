"""``medshake-bridge new-plugin`` (issue 15) writes an installable plugin whose own tests pass
as generated, against this bridge, once pip-installed."""

from __future__ import annotations

import ast
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from medshake_bridge.cli import main


def _new(tmp_path, *args):
    return CliRunner().invoke(main, ["new-plugin", *args, "--dest", str(tmp_path)])


@pytest.mark.slow
def test_the_generated_plugin_installs_and_its_tests_pass(tmp_path):
    result = _new(tmp_path / "src", "lab_alerts")
    assert result.exit_code == 0, result.output
    folder = tmp_path / "src" / "medshake-bridge-lab-alerts"
    assert "pip install -e" in result.output and str(folder) in result.output
    plugin = folder / "medshake_bridge_lab_alerts" / "plugin.py"
    imported = {node.module for node in ast.walk(ast.parse(plugin.read_text()))
                if isinstance(node, ast.ImportFrom) and node.module}
    assert {m for m in imported if m.startswith("medshake_bridge")} == {"medshake_bridge.api"}
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(site), str(folder)],
        check=True, capture_output=True, timeout=300)
    assert list(site.glob("medshake_bridge_lab_alerts-0.1.0.dist-info/entry_points.txt"))
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
         str(folder / "tests")],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(site)})
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 passed" in run.stdout


def test_bad_names_and_existing_folders_are_refused_with_the_fix(tmp_path):
    for bad in ("Lab", "1lab", "lab-alerts", "class", "x" * 41):
        result = _new(tmp_path, bad)
        assert result.exit_code != 0 and "lower-case letters" in result.output, bad
    assert _new(tmp_path, "again").exit_code == 0
    result = _new(tmp_path, "again")
    assert result.exit_code != 0 and "already exists" in result.output
