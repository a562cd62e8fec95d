"""``medshake-bridge keys list|import|delete|decrypt`` (through the key-manager hook)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_keys_manager import snapshot
from web_helpers import events, make_people

from medshake_bridge import bridge_state, migrate
from medshake_bridge.db import db
from medshake_bridge.interfaces import KeyManager
from medshake_bridge.sandbox import SANDBOX_ENV_VARS, install_programs, make_aes_key, make_keys

BOB = "bob.DURAND"


def said(result, english: str, french: str) -> bool:
    """The CLI speaks the site's language (French by default, English outside an app)."""
    return english in result.output or french in result.output


@pytest.fixture
def keys_cli(make_app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("MEDSHAKE_SANDBOX_FAULT", raising=False)
    app = make_app(MEDSHAKE_BRIDGE_RUNNER_ENV_PASSTHROUGH=list(SANDBOX_ENV_VARS),
                   MEDSHAKE_BRIDGE_TODAY="2026-11-28")
    migrate.upgrade(app)
    people = make_people(app)
    (tmp_path / "site").mkdir()
    (tmp_path / "alice").mkdir()
    install_programs(tmp_path / "bin")
    with app.app_context():
        store = bridge_state(app).settings
        store.set("apicryptCheminVersClefs", str(tmp_path / "site"))
        store.set("apicryptCheminVersBinaires", str(tmp_path / "bin"))
        store.set("apicryptCheminVersClefs", str(tmp_path / "alice"), level="user",
                  user_id=people.alice)
        db.session.remove()
    runner = app.test_cli_runner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(args=["bridge", "keys", *args], input=input)

    invoke.app, invoke.people, invoke.tmp = app, people, tmp_path
    return invoke


def test_the_hook_offers_a_key_manager(keys_cli):
    with keys_cli.app.app_context():
        state = bridge_state(keys_cli.app)
        specs = state.call_list_hook("medshake_key_managers")
        assert [spec.key for spec in specs] == ["clefs"]
        manager = specs[0].factory(state.settings.values_for_user(None))
        assert isinstance(manager, KeyManager)
        assert manager.clefs == keys_cli.tmp / "site" / "Clefs"


def test_import_list_delete_decrypt(keys_cli):
    source = keys_cli.tmp / "apicem"
    key, master = make_keys(BOB, source, 2026)
    aes, code = make_aes_key(BOB, source, 2027)
    for path in (key, master, aes):
        result = keys_cli("import", str(path))
        assert result.exit_code == 0, result.output
    listing = keys_cli("list")
    assert listing.exit_code == 0
    assert "bob.DURAND.126" in listing.output and "current-year" in listing.output
    assert "bob.DURAND.127.aes" in listing.output and "aes" in listing.output

    again = keys_cli("import", str(key))
    assert again.exit_code == 1 and said(again, "not overwritten", "pas été écrasé")

    result = keys_cli("decrypt", aes.name, "--code-stdin", input="WRONG-CODE-12345\n")
    assert result.exit_code == 1 and said(result, "long code is most likely wrong",
                                               "code long est très probablement faux")
    result = keys_cli("decrypt", aes.name, "--code-stdin", input=code + "\n")
    assert result.exit_code == 0, result.output
    assert code not in result.output
    assert (keys_cli.tmp / "site" / "Clefs" / "bob.DURAND.127").is_file()

    refused = keys_cli("delete", key.name, "--yes")
    assert refused.exit_code == 1 and "--confirm-current-year" in refused.output
    assert keys_cli("delete", key.name, input="n\n").exit_code == 1  # answered no
    assert (keys_cli.tmp / "site" / "Clefs" / key.name).exists()
    done = keys_cli("delete", key.name, "--yes", "--confirm-current-year")
    assert done.exit_code == 0 and not (keys_cli.tmp / "site" / "Clefs" / key.name).exists()

    recorded = events(keys_cli.app)
    assert {e.actor_login for e in recorded if e.action.startswith("keys.")} == {"cli"}
    assert all(code not in (e.detail or "") for e in recorded)


def test_user_folder_and_bad_input(keys_cli):
    key = make_keys(BOB, keys_cli.tmp / "apicem", 2026)[0]
    result = keys_cli("import", str(key), "--user", str(keys_cli.people.alice))
    assert result.exit_code == 0
    assert (keys_cli.tmp / "alice" / "Clefs" / key.name).exists()
    assert not (keys_cli.tmp / "site" / "Clefs").exists()
    before = snapshot(keys_cli.tmp / "alice")
    missing = keys_cli("delete", key.name, "--yes", "--confirm-current-year")  # general folder
    assert missing.exit_code == 1 and said(missing, "does not exist", "n'existe pas")
    assert keys_cli("list", "--user", "999").exit_code == 1
    outside = keys_cli("delete", "../alice/Clefs/" + key.name, "--yes")
    assert outside.exit_code == 1 and said(outside, "folder part", "contient un dossier")
    big = keys_cli.tmp / "bob.DURAND.125"
    with big.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    too_big = keys_cli("import", str(big), "--user", str(keys_cli.people.alice))
    assert too_big.exit_code == 1 and said(too_big, "larger than", "plus gros que")
    empty = keys_cli.tmp / "empty" / "bob.DURAND.124"
    empty.parent.mkdir()
    empty.write_bytes(b"")
    assert said(keys_cli("import", str(empty), "--user", str(keys_cli.people.alice)),
                "is empty", "est vide")
    assert snapshot(keys_cli.tmp / "alice") == before
