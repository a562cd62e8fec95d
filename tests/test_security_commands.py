"""Settings that make the bridge run programs are checked when saved, from the pages, the CLI
and the store alike (issue #17, items 10 and 17): a command prefix or restart command with shell
syntax or a missing program, and a programs folder anyone may write into."""

from __future__ import annotations

import pytest
from web_helpers import login, make_people, post

from medshake_bridge import bridge_state
from medshake_bridge.errors import SettingValueError


@pytest.mark.parametrize(("name", "value"), [
    ("apicryptCommandPrefix", "sudo -n; id"),
    ("apicryptCommandPrefix", "sudo -n && id"),
    ("apicryptCommandPrefix", "$(id)"),
    ("apicryptCommandPrefix", "/nonexistent/sudo -n"),
    ("apicrypt2RestartCommand", "sudo -n service compagnonApicrypt restart | sh"),
    ("apicrypt2RestartCommand", "/no/such/program restart"),
    ("apicrypt2AesCommand", "ApiV2AESUtility {source} {destination} {code}; id"),
    ("apicrypt2AesCommand", "ApiV2AESUtility {source} {destination}"),
    ("apicrypt2AesCommand", "/no/such/ApiV2AESUtility {source} {destination} {code}"),
])
def test_command_settings_are_refused_when_saved(app_ctx, name, value):
    store = bridge_state().settings
    with pytest.raises(SettingValueError) as refused:
        store.set(name, value)
    assert refused.value.fix
    assert store.get(name) != value


def test_good_aes_commands_are_accepted(app_ctx):
    store = bridge_state().settings
    for value in ("ApiV2AESUtility {source} {destination} {code}",
                  "ApiV2AESUtility {source} {destination} --code-file={code_file}"):
        store.set("apicrypt2AesCommand", value)
        assert store.get("apicrypt2AesCommand") == value


def test_a_world_writable_programs_folder_is_refused(app_ctx, tmp_path):
    store = bridge_state().settings
    folder = tmp_path / "bin"
    folder.mkdir()
    folder.chmod(0o777)
    with pytest.raises(SettingValueError, match="every account"):
        store.set("apicryptCheminVersBinaires", str(folder))
    folder.chmod(0o755)
    program = folder / "apiuncrypt"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o777)
    with pytest.raises(SettingValueError, match="apiuncrypt"):
        store.set("apicryptCheminVersBinaires", str(folder))
    program.chmod(0o755)
    store.set("apicryptCheminVersBinaires", str(folder))
    assert store.get("apicryptCheminVersBinaires") == str(folder)


def test_the_cli_refuses_a_shell_prefix(cli):
    result = cli("config", "set", "apicryptCommandPrefix", "sudo -n; id")
    assert result.exit_code == 1
    assert "apicryptCommandPrefix" in result.output


def test_the_settings_page_refuses_a_shell_prefix(app):
    make_people(app)
    admin = app.test_client()
    login(admin, "admin")
    response = post(admin, "/admin/settings/", {"s-apicryptCommandPrefix": "sudo -n; id"})
    assert response.status_code == 400
    with app.app_context():
        assert not bridge_state().settings.get("apicryptCommandPrefix")
