"""Plugin-declared choices (issue 15): ``apicryptCollector`` and ``apicryptVersion`` accept what
the installed plugins offer, everywhere (pages, ``config set``, validation); a value whose
plugin is gone is shown as such with the fix. The example plugin's drop-folder collector is the
third-party collector."""

from __future__ import annotations

from pathlib import Path

import pytest
from mailworld import World
from web_helpers import login

from medshake_bridge import bridge_state, migrate
from medshake_bridge.errors import SettingValueError
from medshake_bridge.interfaces import CollectorSpec
from medshake_bridge.sandbox import SANDBOX_ENV_VARS
from medshake_bridge.sysinfo import run_system_checks

EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "examples" / "example_plugin"
PASSWORD = "password for tests"


@pytest.fixture
def example_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE))
    return "medshake_bridge_example.plugin"


def _app(make_app, instance: Path, plugins=()):
    app = make_app(INSTANCE_PATH=str(instance), MEDSHAKE_BRIDGE_PLUGINS=list(plugins),
                   MEDSHAKE_BRIDGE_RUNNER_ENV_PASSTHROUGH=list(SANDBOX_ENV_VARS))
    migrate.upgrade(app)
    return app


def test_a_collector_offered_by_no_plugin_is_refused_with_the_live_list(make_app, tmp_path):
    app = _app(make_app, tmp_path / "instance")
    with app.app_context(), pytest.raises(SettingValueError) as refused:
        bridge_state().settings.set("apicryptCollector", "dropfolder")
    assert "one of: imap, maildir, pop3" in refused.value.fix
    assert "plugin installed" in refused.value.fix
    result = app.test_cli_runner().invoke(args=["bridge", "config", "set", "apicryptVersion", "7"])
    assert result.exit_code != 0 and "one of: 1, 2" in result.output


def test_a_third_party_collector_is_selectable_and_collects(make_app, tmp_path, monkeypatch,
                                                           example_on_path):
    app = _app(make_app, tmp_path / "instance", [example_on_path])
    world = World(app, tmp_path, monkeypatch)
    drop = tmp_path / "drop"
    drop.mkdir()
    runner = app.test_cli_runner()
    for name, value in (("apicryptCollector", "dropfolder"), ("exampleDropFolder", str(drop))):
        result = runner.invoke(args=["bridge", "config", "set", name, value,
                                     "--user", str(world.bob)])
        assert result.exit_code == 0, result.output
    (drop / "first.eml").write_bytes(world.mail())
    (drop / "notes.txt").write_text("not mail: ignored")
    result = runner.invoke(args=["bridge", "fetch"])
    assert result.exit_code == 0, result.output
    assert len(world.documents()) == 1
    assert sorted(p.name for p in drop.iterdir()) == ["done", "notes.txt"]
    assert (drop / "done" / "first.eml").is_file()
    # the reaction, the page and the check of the same plugin
    client = app.test_client()
    assert login(client, "bob", PASSWORD).status_code == 302
    page = client.get("/example/").get_data(as_text=True)
    assert 'id="example-journal"' in page and "<td>1</td>" in page
    checks = {c.name: c for group in run_system_checks(app).groups for c in group.checks}
    assert checks["Drop folder (bob)"].ok is True
    # the configuration page offers it
    with app.app_context():
        from medshake_bridge.users import create_user

        create_user("root", PASSWORD, role="admin")
    admin = app.test_client()
    assert login(admin, "root", PASSWORD).status_code == 302
    page = admin.get(f"/admin/users/{world.bob}/settings?edit=apicryptCollector"
                     ).get_data(as_text=True)
    assert 'value="dropfolder"' in page and "(not installed)" not in page


def test_an_uninstalled_plugins_value_is_shown_with_the_fix(make_app, tmp_path, monkeypatch,
                                                           example_on_path):
    instance = tmp_path / "instance"
    app = _app(make_app, instance, [example_on_path])
    world = World(app, tmp_path, monkeypatch)
    with app.app_context():
        bridge_state().settings.set("apicryptCollector", "dropfolder", level="user",
                                    user_id=world.bob)
    # the same site started again without the plugin
    later = _app(make_app, instance)
    result = later.test_cli_runner().invoke(args=["bridge", "config", "get", "apicryptCollector",
                                                  "--user", str(world.bob)])
    assert "dropfolder" in result.output and "no installed plugin offers" in result.output
    checks = {c.name: c for group in run_system_checks(later).groups for c in group.checks}
    line = checks[f"Setting apicryptCollector (user {world.bob})"]
    assert line.ok is False and "--user" in line.fix
    with later.app_context():
        from medshake_bridge.collect.pipeline import collect_all

        report = collect_all(bridge_state())
    assert any("no mailbox collector 'dropfolder' is installed" in p for p in report.problems)
    with later.app_context():
        from medshake_bridge.users import create_user

        create_user("root", PASSWORD, role="admin")
    admin = later.test_client()
    assert login(admin, "root", PASSWORD).status_code == 302
    page = admin.get(f"/admin/users/{world.bob}/settings?edit=apicryptCollector"
                     ).get_data(as_text=True)
    assert "dropfolder (non installée)" in page and "aucune extension installée" in page


def test_a_badly_built_collector_spec_says_what_to_write():
    with pytest.raises(ValueError, match="identity must be a function"):
        CollectorSpec("dropfolder", "Drop", factory=lambda settings: None)
    with pytest.raises(ValueError, match="factory must be a function"):
        CollectorSpec("dropfolder", "Drop", factory="not callable",
                      identity=lambda settings: None)


def test_a_plugin_setting_may_take_its_choices_from_patient_sources_or_a_function(make_app):
    import types

    from medshake_bridge import hookimpl
    from medshake_bridge.api import SettingSpec

    class Source:
        can_create = can_file = False

        def __init__(self, source, label):
            self.source, self.label = source, label

        def search(self, query, *, limit):
            return []

        def get(self, patient_id):
            return None

        def candidates(self, identity, *, limit):
            return []

        def create(self, patient, *, user):
            raise NotImplementedError

        def file_document(self, document, patient_id, *, user):
            raise NotImplementedError

    @hookimpl
    def medshake_patient_providers(app):
        return [Source("mine", "Mon logiciel")]

    @hookimpl
    def medshake_settings():
        return [
            SettingSpec(name="myFilingSource", type="choice", default="", category="Test",
                        label_fr="Source", label_en="Source",
                        choices_from="medshake_patient_providers"),
            SettingSpec(name="myColour", type="choice", default="blue", category="Test",
                        label_fr="Couleur", label_en="Colour",
                        choices_from=lambda app: [("blue", "Bleu"), ("red", "Rouge")]),
        ]

    plugin = types.ModuleType("choosy")
    plugin.medshake_patient_providers = medshake_patient_providers
    plugin.medshake_settings = medshake_settings
    app = make_app(MEDSHAKE_BRIDGE_PLUGINS=[plugin])
    migrate.upgrade(app)
    with app.app_context():
        store = bridge_state().settings
        assert store.set("myFilingSource", "mine") == "mine"
        with pytest.raises(SettingValueError, match="one of: .*mine"):
            store.set("myFilingSource", "elsewhere")
        assert store.set("myColour", "red") == "red"
        with pytest.raises(SettingValueError, match="one of: blue, red"):
            store.set("myColour", "green")
