"""Contained hooks (issue 15): a plugin that raises in a hook is logged, recorded and skipped;
the other plugins still run; repeated failures suspend it until an admin re-enables it."""

from __future__ import annotations

import types

import pytest
from mailworld import World
from web_helpers import events, login, make_people, post

from medshake_bridge import bridge_state, hookimpl, migrate
from medshake_bridge.sandbox import SANDBOX_ENV_VARS
from medshake_bridge.sysinfo import run_system_checks


def _plugin(name: str, **hooks) -> types.ModuleType:
    module = types.ModuleType(name)
    for key, value in hooks.items():
        setattr(module, key, value)
    return module


class Reactions:
    """Two reactions to stored messages: a broken one and a recording one."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, int]] = []

        @hookimpl
        def medshake_message_stored(message, documents):
            raise RuntimeError("the broken reaction exploded")

        def recording(message, documents):
            self.seen.append((message.id, len(documents)))

        recording = hookimpl(specname="medshake_message_stored")(recording)
        self.broken = _plugin("broken_reaction", medshake_message_stored=medshake_message_stored)
        # registered first: pluggy calls it last, so a crash of the broken one would skip it
        self.recording = _plugin("recording_reaction", medshake_message_stored=recording)


@pytest.fixture
def reactions() -> Reactions:
    return Reactions()


def _world(make_app, tmp_path, monkeypatch, plugins, **config) -> World:
    app = make_app(MEDSHAKE_BRIDGE_RUNNER_ENV_PASSTHROUGH=list(SANDBOX_ENV_VARS),
                   MEDSHAKE_BRIDGE_PLUGINS=plugins, **config)
    migrate.upgrade(app)
    return World(app, tmp_path, monkeypatch)


def test_a_failing_reaction_does_not_skip_the_others_and_is_recorded(
        make_app, tmp_path, monkeypatch, reactions, caplog):
    world = _world(make_app, tmp_path, monkeypatch, [reactions.recording, reactions.broken])
    world.deliver(world.mail())
    report = world.collect()
    assert report.ok, report
    assert len(world.documents()) == 1 and world.on_server() == []
    assert [count for _id, count in reactions.seen] == [1]
    assert "plugin broken_reaction failed in medshake_message_stored" in caplog.text
    with world.app.app_context():
        failures = bridge_state().hooks.recent_failures("broken_reaction")
    assert [(f.hook, f.error) for f in failures] == [
        ("medshake_message_stored", "RuntimeError: the broken reaction exploded")]
    assert "Traceback" in failures[0].detail
    # shown by `plugins`, system information / doctor
    result = world.app.test_cli_runner().invoke(args=["bridge", "plugins"])
    assert "failed" in result.output and "the broken reaction exploded" in result.output
    report = run_system_checks(world.app)
    lines = [c for group in report.groups for c in group.checks
             if c.name == "Plugin broken_reaction"]
    assert lines and lines[0].ok is None and "exploded" in lines[0].detail


def test_a_collectors_hook_that_raises_leaves_the_builtin_collectors(
        make_app, tmp_path, monkeypatch):
    @hookimpl
    def medshake_mail_collectors():
        raise ImportError("no module named dropbox_sdk")

    broken = _plugin("broken_collectors", medshake_mail_collectors=medshake_mail_collectors)
    world = _world(make_app, tmp_path, monkeypatch, [broken])
    world.deliver(world.mail())
    result = world.app.test_cli_runner().invoke(args=["bridge", "fetch"])
    assert result.exit_code == 0, result.output
    assert len(world.documents()) == 1
    with world.app.app_context():
        assert bridge_state().hooks.recent_failures("broken_collectors")


def test_repeated_failures_suspend_a_plugin_until_an_admin_reenables_it(make_app):
    calls = []

    @hookimpl
    def medshake_menu_items(user):
        calls.append(user)
        raise ValueError("menu broken")

    app = make_app(MEDSHAKE_BRIDGE_PLUGINS=[_plugin("flaky_menu",
                                                     medshake_menu_items=medshake_menu_items)],
                   MEDSHAKE_BRIDGE_PLUGIN_FAILURE_LIMIT=3)
    migrate.upgrade(app)
    make_people(app)
    client = app.test_client()
    assert login(client, "admin").status_code == 302
    for _ in range(5):
        assert client.get("/").status_code in (200, 302)
    assert len(calls) == 3  # suspended after the third failure in a row: not called again
    page = client.get("/admin/plugins/").get_data(as_text=True)
    assert "3 failures in a row" in page and "menu broken" in page
    response = post(client, "/admin/plugins/reenable", {"name": "flaky_menu"},
                    page="/admin/plugins/")
    assert response.status_code == 302
    assert [e.target for e in events(app, "plugin.reenable")] == ["flaky_menu"]
    client.get("/")
    assert len(calls) == 4  # called again
    # re-enabling a plugin that is not suspended is refused
    response = post(client, "/admin/plugins/reenable", {"name": "flaky_menu"},
                    page="/admin/plugins/")
    assert response.status_code == 404


def test_suspension_and_reenable_from_the_command_line(make_app):
    @hookimpl
    def medshake_system_checks(app):
        raise OSError("disk gone")

    app = make_app(MEDSHAKE_BRIDGE_PLUGINS=[_plugin("bad_checks",
                                                     medshake_system_checks=medshake_system_checks)],
                   MEDSHAKE_BRIDGE_PLUGIN_FAILURE_LIMIT=1)
    migrate.upgrade(app)
    report = run_system_checks(app)
    names = {c.name: c for group in report.groups for c in group.checks}
    assert names["Checks of plugin bad_checks"].ok is False
    runner = app.test_cli_runner()
    listing = runner.invoke(args=["bridge", "plugins"]).output
    assert "[third-party, suspended]" in listing and "--reenable bad_checks" in listing
    result = runner.invoke(args=["bridge", "doctor", "--quiet"])
    assert "suspended" in result.output
    result = runner.invoke(args=["bridge", "plugins", "--reenable", "bad_checks"])
    assert result.exit_code == 0, result.output
    assert [e.actor_login for e in events(app, "plugin.reenable")] == ["cli"]
    assert "suspended" not in runner.invoke(args=["bridge", "plugins"]).output
    result = runner.invoke(args=["bridge", "plugins", "--reenable", "bad_checks"])
    assert result.exit_code != 0 and "not suspended" in result.output


def test_a_failing_firstresult_implementation_lets_the_next_one_answer(make_app):
    @hookimpl(tryfirst=True)
    def medshake_host_user_role(identity):
        raise KeyError("ldap down")

    def role_ok(identity):
        return "secretary"

    app = make_app(MEDSHAKE_BRIDGE_PLUGINS=[
        _plugin("role_ok", medshake_host_user_role=hookimpl(role_ok)),
        _plugin("role_broken", medshake_host_user_role=medshake_host_user_role)])
    migrate.upgrade(app)
    with app.app_context():
        answer = bridge_state().hooks.call_first("medshake_host_user_role", identity=None)
        assert answer == "secretary"
        assert bridge_state().hooks.recent_failures("role_broken")


def test_a_collector_that_raises_fails_only_its_own_mailbox(make_app, tmp_path, monkeypatch):
    from medshake_bridge.api import CollectorSpec, MailboxIdentity

    class Exploding:
        def __init__(self, settings):
            pass

        def open(self):
            raise TypeError("NoneType is not iterable")  # a bug, not a foreseen error

        def abort(self):
            pass

    @hookimpl
    def medshake_mail_collectors():
        return [CollectorSpec("exploding", "Exploding", factory=Exploding,
                              identity=lambda s: MailboxIdentity("exploding", "h", 1, "x"))]

    broken = _plugin("exploding_collector", medshake_mail_collectors=medshake_mail_collectors)
    world = _world(make_app, tmp_path, monkeypatch, [broken])
    (tmp_path / "unused").mkdir()
    with world.app.app_context():
        other = world.add_user("carol", "carol.PETIT", tmp_path / "unused")
        bridge_state().settings.set("apicryptCollector", "exploding", level="user",
                                    user_id=other)
    world.deliver(world.mail())
    result = world.app.test_cli_runner().invoke(args=["bridge", "fetch"])
    assert len(world.documents()) == 1 and world.on_server() == []  # Bob's Maildir collected
    assert "plugin exploding_collector" in result.output and "NoneType" in result.output
    with world.app.app_context():
        [failure] = bridge_state().hooks.recent_failures("exploding_collector")
    assert failure.hook == "collector exploding"
