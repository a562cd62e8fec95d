"""The command line through Click's runner, on a real SQLite database."""

from __future__ import annotations

from pathlib import Path

from medshake_bridge import bridge_state, migrate
from medshake_bridge.db import engine_url
from medshake_bridge.secrets import KEY_FILE_NAME, read_key_file


def _user(cli, login: str) -> str:
    result = cli("create-user", login, "--role", "secretary", "--password-stdin",
                 input="a long enough password\n")
    assert result.exit_code == 0, result.output
    return result.output.split(" id ")[1].split()[0]


def test_config_set_then_get_prints_value_and_level(cli):
    ids = [_user(cli, name) for name in ("alice", "bob", "carol")]
    assert ids == ["1", "2", "3"]
    result = cli("config", "set", "apicryptPopHost", "pop.example.org", "--user", "3")
    assert result.exit_code == 0 and "stored at the user 3" in result.output
    result = cli("config", "get", "apicryptPopHost", "--user", "3")
    assert result.output.strip() == "apicryptPopHost = pop.example.org    [user level (3)]"
    result = cli("config", "get", "apicryptPopHost", "--user", "2")
    assert "pop.intermedic.org" in result.output and "declared default" in result.output


def test_config_module_level_list_and_unset(cli):
    _user(cli, "alice")
    assert cli("config", "set", "apicryptSmtpPort", "2525", "--module", "base").exit_code == 0
    listing = cli("config", "list", "--user", "1", "--category", "Apicrypt").output
    assert "apicryptSmtpPort = 2525    [module level (base)]" in listing
    assert "apicryptSmtpHost = smtp.intermedic.org    [declared default]" in listing
    assert "optionGeActiverInboxApicrypt" not in listing
    result = cli("config", "unset", "apicryptSmtpPort", "--module", "base")
    assert "removed at the module level" in result.output
    assert "587" in cli("config", "get", "apicryptSmtpPort", "--user", "1").output


def test_config_errors_are_one_clear_line(cli):
    result = cli("config", "set", "apicryptPopPort", "0")
    assert result.exit_code == 1
    assert "apicryptPopPort (default level): 0 is not a TCP port" in result.output
    assert "Traceback" not in result.output
    result = cli("config", "get", "nope")
    assert result.exit_code == 1 and "unknown setting 'nope'" in result.output
    result = cli("config", "set", "apicryptPopHost", "x.org", "--user", "1", "--module", "m")
    assert result.exit_code == 2 and "not both" in result.output


def test_secret_is_masked_unless_revealed(cli):
    cli("config", "set", "apicryptPopPassword", "--value-stdin", input="s3cret-value!\n")
    shown = cli("config", "get", "apicryptPopPassword").output
    assert "s3cret" not in shown and "(set)" in shown
    assert "s3cret" not in cli("config", "list").output
    revealed = cli("config", "get", "apicryptPopPassword", "--reveal").output
    assert "s3cret-value!" in revealed


def test_create_user_refuses_short_password_and_duplicates(cli):
    result = cli("create-user", "dora", "--password-stdin", input="short\n")
    assert result.exit_code == 1 and "at least 10 characters" in result.output
    _user(cli, "dora")
    result = cli("create-user", "dora", "--password-stdin", input="another long one\n")
    assert result.exit_code == 1 and "already exists" in result.output
    assert "1  dora  secretary" in cli("users", "list").output


def test_init_db_is_idempotent_and_makes_a_key_when_none(make_app):
    app = make_app(MEDSHAKE_BRIDGE_SECRET_KEYS=[])
    runner = app.test_cli_runner()
    first = runner.invoke(args=["bridge", "init-db"])
    assert "upgraded from empty to" in first.output
    key_file = Path(app.instance_path) / KEY_FILE_NAME
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert len(read_key_file(key_file)) == 1
    second = runner.invoke(args=["bridge", "init-db"])
    assert "already at revision" in second.output
    assert migrate.current_revision(app) == migrate.head_revision()
    result = runner.invoke(args=["bridge", "config", "set", "apicryptPopPassword",
                                 "--value-stdin"], input="abcdef\n")
    assert result.exit_code == 0, result.output


def test_rotate_keys_generate_keeps_secrets_readable(make_app):
    app = make_app(MEDSHAKE_BRIDGE_SECRET_KEYS=[])
    runner = app.test_cli_runner()
    runner.invoke(args=["bridge", "init-db"])
    runner.invoke(args=["bridge", "config", "set", "apicryptPopPassword", "--value-stdin"],
                  input="kept-across\n")
    key_file = Path(app.instance_path) / KEY_FILE_NAME
    before = read_key_file(key_file)
    result = runner.invoke(args=["bridge", "rotate-keys", "--generate"])
    assert result.exit_code == 0 and "1 secret value(s) re-encrypted" in result.output
    after = read_key_file(key_file)
    assert len(after) == 2 and after[1:] == before
    fresh = make_app(MEDSHAKE_BRIDGE_SECRET_KEYS=[after[0]],
                     MEDSHAKE_BRIDGE_DATABASE_URL=engine_url(app))
    with fresh.app_context():
        assert bridge_state().settings.get("apicryptPopPassword") == "kept-across"


def test_console_script_runs_commands_on_create_app(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from medshake_bridge.cli import main

    monkeypatch.setenv("MEDSHAKE_BRIDGE_INSTANCE", str(tmp_path / "inst"))
    runner = CliRunner()
    assert "upgraded from empty" in runner.invoke(main, ["init-db"]).output
    result = runner.invoke(main, ["config", "get", "apicryptVersion"])
    assert result.output.strip() == "apicryptVersion = 1    [declared default]"
    assert (tmp_path / "inst" / "medshake_bridge.db").stat().st_mode & 0o777 == 0o600
    from medshake_bridge import __version__

    assert runner.invoke(main, ["--version"]).output == f"medshake-bridge {__version__}\n"
    listing = runner.invoke(main, ["--help"]).output
    assert "  fetch " in listing and "  bridge " not in listing
