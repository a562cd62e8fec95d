"""Plugin loading: entry points, guarded failures, strict mode, disabling, misspelt hooks."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import pytest

from medshake_bridge import bridge_state, hookimpl, migrate
from medshake_bridge.errors import PluginLoadError

PLUGINS_SOURCE = Path(__file__).parent / "plugins"
EXAMPLE_SOURCE = Path(__file__).resolve().parent.parent / "docs" / "examples" / "example_plugin"
BUILTIN = {"apicrypt_v1", "pop3", "imap", "maildir"}


def _pip_install_target(source: Path, target: Path) -> Path:
    """A real ``pip install`` of a plugin distribution into its own folder."""
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(target), str(source)],
        check=True, capture_output=True, timeout=180,
    )
    return target


@pytest.fixture(scope="session")
def example_site(tmp_path_factory) -> Path:
    return _pip_install_target(EXAMPLE_SOURCE,
                               tmp_path_factory.mktemp("example-site"))


@pytest.fixture(scope="session")
def broken_site(tmp_path_factory) -> Path:
    return _pip_install_target(PLUGINS_SOURCE / "broken_plugin",
                               tmp_path_factory.mktemp("broken-site"))


def test_builtin_plugins_come_through_entry_points(make_app):
    app = make_app()
    records = bridge_state(app).plugins
    assert set(records) >= BUILTIN
    for name in BUILTIN:
        assert records[name].builtin and records[name].status == "loaded"
        assert records[name].hooks, f"{name} implements no hook"
    assert "medshake_crypto_backends" in records["apicrypt_v1"].hooks
    assert "medshake_settings" in records["pop3"].hooks


def test_example_plugin_discovered_declares_setting_and_implements_hook(
        make_app, example_site, monkeypatch):
    monkeypatch.syspath_prepend(str(example_site))
    app = make_app()
    migrate.upgrade(app)
    state = bridge_state(app)
    record = state.plugins["example"]
    assert (record.status, record.version, record.builtin) == ("loaded", "1.2.3", False)
    assert record.distribution == "medshake-bridge-example"
    assert {"medshake_settings", "medshake_system_checks", "medshake_message_stored",
            "medshake_mail_collectors", "medshake_scheduled_jobs", "medshake_blueprints"} <= set(
        record.hooks)
    with app.app_context():
        assert state.settings.get("exampleJournalKeep") == 1000
        assert "example-journal-trim" in {
            job.id for job in state.call_list_hook("medshake_scheduled_jobs")}


def test_broken_plugin_is_recorded_and_app_still_starts(make_app, broken_site, monkeypatch):
    monkeypatch.syspath_prepend(str(broken_site))
    app = make_app(MEDSHAKE_BRIDGE_STRICT_PLUGINS=False)
    record = bridge_state(app).plugins["broken"]
    assert record.status == "failed"
    assert "broken on purpose" in record.error and "import failed" in record.error
    assert {n for n, r in bridge_state(app).plugins.items() if r.status == "loaded"} >= BUILTIN


def test_strict_mode_makes_a_broken_plugin_fatal(make_app, broken_site, monkeypatch):
    monkeypatch.syspath_prepend(str(broken_site))
    with pytest.raises(PluginLoadError, match="broken"):
        make_app(MEDSHAKE_BRIDGE_STRICT_PLUGINS=True)


def test_disabled_plugin_is_skipped_by_config(make_app, broken_site, monkeypatch):
    monkeypatch.syspath_prepend(str(broken_site))
    app = make_app(MEDSHAKE_BRIDGE_DISABLED_PLUGINS=["broken", "imap"])
    records = bridge_state(app).plugins
    assert records["broken"].status == "disabled"
    assert records["imap"].status == "disabled"
    assert "apicryptImapHost" not in bridge_state(app).registry


def test_disabled_plugin_setting_applies_at_next_start(make_app, tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    first = make_app(MEDSHAKE_BRIDGE_DATABASE_URL=url)
    migrate.upgrade(first)
    with first.app_context():
        bridge_state().settings.set("bridgeDisabledPlugins", "maildir")
    second = make_app(MEDSHAKE_BRIDGE_DATABASE_URL=url)
    assert bridge_state(second).plugins["maildir"].status == "disabled"
    assert "apicryptMaildir" not in bridge_state(second).registry


def _plugin_module(name: str, **attrs) -> types.ModuleType:
    module = types.ModuleType(name)
    for key, value in attrs.items():
        setattr(module, key, value)
    return module


def test_misspelt_hook_name_is_an_error(make_app):
    @hookimpl
    def medshake_setings():  # misspelt on purpose
        return []

    plugin = _plugin_module("typo_plugin", medshake_setings=medshake_setings)
    with pytest.raises(PluginLoadError, match="medshake_setings"):
        make_app(MEDSHAKE_BRIDGE_PLUGINS=[plugin])
    app = make_app(MEDSHAKE_BRIDGE_PLUGINS=[plugin], MEDSHAKE_BRIDGE_STRICT_PLUGINS=False)
    record = bridge_state(app).plugins["typo_plugin"]
    assert record.status == "failed" and "unknown hook" in record.error
    assert not bridge_state(app).pm.is_registered(plugin)


def test_wrong_hook_arguments_are_refused_at_registration(make_app):
    @hookimpl
    def medshake_blueprints(app, unexpected):
        return []

    plugin = _plugin_module("bad_args", medshake_blueprints=medshake_blueprints)
    app = make_app(MEDSHAKE_BRIDGE_PLUGINS=[plugin], MEDSHAKE_BRIDGE_STRICT_PLUGINS=False)
    record = bridge_state(app).plugins["bad_args"]
    assert record.status == "failed" and "registration failed" in record.error


def test_duplicate_setting_declaration_names_the_plugin(make_app):
    from medshake_bridge.settings import SettingSpec

    @hookimpl
    def medshake_settings():
        return [SettingSpec(name="apicryptPopHost", type="host", default="", category="x",
                            label_fr="x", label_en="x")]

    plugin = _plugin_module("dup_plugin", medshake_settings=medshake_settings)
    with pytest.raises(PluginLoadError, match="apicryptPopHost is already declared"):
        make_app(MEDSHAKE_BRIDGE_PLUGINS=[plugin])


def test_plugins_command_lists_versions_hooks_and_errors(make_app, broken_site, monkeypatch):
    monkeypatch.syspath_prepend(str(broken_site))
    app = make_app(MEDSHAKE_BRIDGE_STRICT_PLUGINS=False)
    result = app.test_cli_runner().invoke(args=["bridge", "plugins"])
    assert result.exit_code == 0
    assert "pop3  0." in result.output and "[built-in, loaded]" in result.output
    assert "hooks: medshake_settings" in result.output
    assert "broken  0.0.1  [third-party, failed]" in result.output
    assert "broken on purpose" in result.output
