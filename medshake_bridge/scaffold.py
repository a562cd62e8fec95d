"""``medshake-bridge new-plugin NAME``: the skeleton of a third-party plugin that works at once.

It writes an installable distribution (``pyproject.toml`` with the ``medshake_bridge`` entry
point), a plugin module importing only ``medshake_bridge.api`` (a setting, a system check and
a reaction to stored messages) and tests written with the testing kit, which pass as generated
(``tests/test_scaffold.py`` generates one, installs it and runs them).
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path

from medshake_bridge.errors import ConfigurationError

NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")

PYPROJECT = '''[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "{dist}"
version = "0.1.0"
description = "A medshake-bridge plugin."
requires-python = ">=3.11"
dependencies = ["medshake-bridge"]

[project.optional-dependencies]
test = ["pytest"]

[project.entry-points.medshake_bridge]
{name} = "{package}.plugin"

[tool.hatch.build.targets.wheel]
packages = ["{package}"]

[tool.pytest.ini_options]
testpaths = ["tests"]
'''

README = '''# {dist}

A [medshake-bridge](https://github.com/) plugin. Install it next to the bridge and restart:

    pip install -e .
    medshake-bridge plugins          # "{name}" is listed, with its hooks

Test it (the bridge's testing kit gives the tests a real bridge, see the bridge's
docs/testing-plugins.md):

    pip install -e '.[test]' && pytest

Hooks, their arguments and the public API: the bridge's docs/plugins.md. Import from
`medshake_bridge.api` only.
'''

INIT = '''"""The {name} plugin of medshake-bridge (hooks in :mod:`{package}.plugin`)."""
'''

PLUGIN = '''"""Hooks of the {name} plugin. Import from ``medshake_bridge.api`` only."""

from __future__ import annotations

import logging
from typing import Any

from medshake_bridge.api import (
    CheckResult,
    SettingSpec,
    StoredDocument,
    StoredMessage,
    hookimpl,
    settings,
)

log = logging.getLogger(__name__)
SETTING = "{setting}"
SEEN: list[int] = []  # ids of the messages this process saw (replace with your reaction)


@hookimpl
def medshake_settings() -> list[SettingSpec]:
    return [SettingSpec(name=SETTING, type="bool", default=True, category="{title}",
                        label_fr="{title} : activée", label_en="{title}: enabled",
                        help_fr="Réagir aux messages reçus.",
                        help_en="React to received messages.")]


@hookimpl
def medshake_message_stored(message: StoredMessage, documents: list[StoredDocument]) -> None:
    if not settings().get(SETTING):
        return
    SEEN.append(message.id)
    log.info("message %s stored: %d document(s)", message.id, len(documents))


@hookimpl
def medshake_system_checks(app: Any) -> list[CheckResult]:
    enabled = bool(settings(app).get(SETTING))
    return [CheckResult("{title}", True if enabled else None,
                        "enabled" if enabled else "disabled",
                        fix="" if enabled else f"set {{SETTING}} to true to enable it",
                        category="{name}")]
'''

CONFTEST = '''"""The bridge's testing kit (docs/testing-plugins.md) gives these tests a bridge."""

from importlib.metadata import entry_points

import pytest

pytest_plugins = ["medshake_bridge.testing"]


@pytest.fixture
def bridge_config():
    # installed (pip install -e .): found through its entry point; else registered by name
    installed = any(ep.name == "{name}" for ep in entry_points(group="medshake_bridge"))
    return {{}} if installed else {{"MEDSHAKE_BRIDGE_PLUGINS": ["{package}.plugin"]}}
'''

TEST = '''"""Tests of the {name} plugin, with the bridge's testing kit."""

from medshake_bridge.api import settings

from {package} import plugin


def test_the_plugin_is_loaded_and_declares_its_setting(bridge_app):
    with bridge_app.app_context():
        assert settings().get(plugin.SETTING) is True


def test_a_stored_message_reaches_the_reaction(bridge_app, login_as, sandbox_network,
                                               maildir_mailbox, collect):
    bob = login_as("practitioner", "bob")
    sandbox_network.configure(bob.id, apicryptCollector="maildir",
                              apicryptMaildir=str(maildir_mailbox.folder))
    maildir_mailbox.deliver(sandbox_network.mail())
    before = len(plugin.SEEN)

    report = collect()

    assert report.ok, report
    assert len(plugin.SEEN) == before + 1
    assert maildir_mailbox.waiting() == []


def test_the_check_says_when_it_is_disabled(bridge_app):
    with bridge_app.app_context():  # the host calls checks inside an app context
        settings().set(plugin.SETTING, False)
        [line] = plugin.medshake_system_checks(bridge_app)
    assert line.ok is None and plugin.SETTING in line.fix
'''


def _setting_name(name: str) -> str:
    """``lab_alerts`` → ``labAlertsEnabled`` (the bridge's settings are camel case)."""
    first, *rest = [part for part in name.split("_") if part]
    return first + "".join(part[:1].upper() + part[1:] for part in rest) + "Enabled"


def new_plugin(name: str, dest: Path) -> Path:
    """Write the skeleton of plugin ``name`` under ``dest``; returns its folder."""
    if not NAME.match(name) or keyword.iskeyword(name):
        raise ConfigurationError(
            f"{name!r} is not a usable plugin name",
            fix="use lower-case letters, digits and underscores, starting with a letter "
                "(e.g. lab_alerts)")
    dist = "medshake-bridge-" + name.replace("_", "-")
    package = f"medshake_bridge_{name}"
    folder = Path(dest) / dist
    if folder.exists():
        raise ConfigurationError(f"{folder} already exists",
                                 fix="choose another --dest or remove that folder")
    values = {"name": name, "dist": dist, "package": package,
              "setting": _setting_name(name),
              "title": name.replace("_", " ").capitalize()}
    files = {
        "pyproject.toml": PYPROJECT, "README.md": README, f"{package}/__init__.py": INIT,
        f"{package}/plugin.py": PLUGIN, "tests/conftest.py": CONFTEST,
        "tests/test_plugin.py": TEST,
    }
    for relative, template in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.format(**values), encoding="utf-8")
    return folder
