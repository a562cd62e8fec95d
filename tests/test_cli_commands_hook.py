"""``medshake_cli_commands``: plugins add commands to the app's CLI; a taken name fails that
plugin only."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from medshake_bridge.api import hookimpl


class _Adds:
    __name__ = "adds_hello"

    @hookimpl
    def medshake_cli_commands(self, cli):
        group = AppGroup("hello-plugin")

        @group.command("greet")
        def greet():
            from flask import current_app

            click.echo(f"hello from {current_app.name}")

        cli.add_command(group)


class _Clashes:
    __name__ = "clashes"

    @hookimpl
    def medshake_cli_commands(self, cli):
        cli.add_command(click.Command("doctor", callback=lambda: None))


def test_a_plugin_command_runs_in_the_app_context(make_app):
    app = make_app(MEDSHAKE_BRIDGE_PLUGINS=[_Adds()])
    result = app.test_cli_runner().invoke(args=["hello-plugin", "greet"])
    assert result.exit_code == 0, result.output
    assert "hello from" in result.output


def test_a_taken_name_fails_only_that_plugin(make_app):
    app = make_app(MEDSHAKE_BRIDGE_PLUGINS=[_Adds(), _Clashes()],
                   MEDSHAKE_BRIDGE_STRICT_PLUGINS=False)
    from medshake_bridge.extension import bridge_state

    records = bridge_state(app).plugins
    assert records["clashes"].status == "failed"
    assert "already exists" in records["clashes"].error
    assert records["adds_hello"].status == "loaded"
    assert "hello-plugin" in app.cli.commands


def test_the_connector_adds_its_group(make_app):
    app = make_app()
    assert "medshakeehr" in app.cli.commands
    result = app.test_cli_runner().invoke(args=["medshakeehr", "--help"])
    for command in ("check", "install-tables", "link-user", "import-users", "import-settings"):
        assert command in result.output


def test_medshake_bridge_help_lists_plugin_commands(tmp_path, monkeypatch):
    from click.testing import CliRunner
    from conftest import TEST_SECRET_KEY

    from medshake_bridge.cli import main

    monkeypatch.setenv("MEDSHAKE_BRIDGE_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("MEDSHAKE_BRIDGE_SECRET_KEYS", TEST_SECRET_KEY)
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0, result.output
    assert "medshakeehr" in result.output and "doctor" in result.output
    assert "\n  bridge " not in result.output
