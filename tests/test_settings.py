"""The settings store on SQLite, PostgreSQL and MariaDB: resolution, typing, validation."""

from __future__ import annotations

import pytest

from medshake_bridge import bridge_state
from medshake_bridge.errors import SettingLevelError, SettingValueError, UnknownSettingError
from medshake_bridge.users import create_user


@pytest.fixture
def store(db_app):
    with db_app.app_context():
        yield bridge_state(db_app).settings


def _users(*modules: str) -> list[int]:
    return [
        create_user(f"user{index}", "correct horse battery", module=module).id
        for index, module in enumerate(modules)
    ]


def test_resolution_order_user_module_default_declared(store):
    alice, bob = _users("cardio", "base")
    assert store.effective("apicryptPopHost", user_id=alice).level == "declared"
    assert store.get("apicryptPopHost", user_id=alice) == "pop.intermedic.org"

    store.set("apicryptPopHost", "default.example.org")
    assert store.effective("apicryptPopHost", user_id=alice).level == "default"

    store.set("apicryptPopHost", "cardio.example.org", level="module", module="cardio")
    eff = store.effective("apicryptPopHost", user_id=alice)
    assert (eff.value, eff.level, eff.scope) == ("cardio.example.org", "module", "cardio")
    assert store.get("apicryptPopHost", user_id=bob) == "default.example.org"

    store.set("apicryptPopHost", "alice.example.org", level="user", user_id=alice)
    assert store.get("apicryptPopHost", user_id=alice) == "alice.example.org"
    assert store.get("apicryptPopHost", user_id=bob) == "default.example.org"
    assert store.get("apicryptPopHost") == "default.example.org"

    assert store.unset("apicryptPopHost", level="user", user_id=alice)
    assert store.get("apicryptPopHost", user_id=alice) == "cardio.example.org"
    assert not store.unset("apicryptPopHost", level="user", user_id=alice)


def test_values_are_typed(store):
    (alice,) = _users("base")
    assert store.set("apicryptPopPort", "995", level="user", user_id=alice) == 995
    assert store.get("apicryptPopPort", user_id=alice) == 995
    store.set("apicryptKeepOnServer", "oui")
    assert store.get("apicryptKeepOnServer") is True
    store.set("apicryptInboxMailForUserID", f"{alice}, {alice}", level="user", user_id=alice)
    assert store.get("apicryptInboxMailForUserID", user_id=alice) == [alice]
    assert store.get("apicryptCommandTimeout") == 60


def test_effective_all_reports_each_level_in_one_call(store):
    (alice,) = _users("base")
    store.set("apicryptSmtpPort", "2525", level="user", user_id=alice)
    everything = store.effective_all(user_id=alice)
    assert everything["apicryptSmtpPort"].value == 2525
    assert everything["apicryptSmtpPort"].level == "user"
    assert everything["apicryptSmtpHost"].level == "declared"
    assert len(everything) == len(store.registry)


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("apicryptPopPort", "0", "between 1 and 65535"),
        ("apicryptPopPort", "abc", "whole number"),
        ("apicryptPopHost", "pop example.org", "host name"),
        ("apicryptAdresse", "not-an-address", "e-mail"),
        ("apicryptVersion", "3", "one of: 1, 2"),
        ("apicryptCheminVersClefs", "/does/not/exist/anywhere", "does not exist"),
        ("apicryptCheminVersClefs", "relative/path", "absolute"),
        ("apicryptKeepOnServer", "maybe", "yes/no"),
    ],
)
def test_invalid_values_are_refused_with_setting_level_and_fix(store, name, value, words):
    with pytest.raises(SettingValueError) as caught:
        store.set(name, value)
    message = str(caught.value)
    assert name in message and "default level" in message and words in message
    assert caught.value.fix
    assert store.stored(name, "default") is None  # nothing half-saved


@pytest.mark.parametrize(("value", "words"), [("999", "no user with id 999"),
                                               ("x", "not a user id")])
def test_invalid_user_ids_are_refused_at_the_user_level(store, value, words):
    (alice,) = _users("base")
    with pytest.raises(SettingValueError) as caught:
        store.set("apicryptInboxMailForUserID", value, level="user", user_id=alice)
    message = str(caught.value)
    assert "apicryptInboxMailForUserID" in message and "user level" in message
    assert words in message and caught.value.fix


def test_unknown_setting_and_bad_levels(store):
    with pytest.raises(UnknownSettingError, match="apicryptPopHots"):
        store.set("apicryptPopHots", "x")
    with pytest.raises(SettingLevelError, match="only|default level"):
        store.set("bridgeDisabledPlugins", "x", level="user", user_id=1)
    with pytest.raises(SettingLevelError, match="no user with id 42"):
        store.set("apicryptPopHost", "a.example.org", level="user", user_id=42)
    with pytest.raises(SettingLevelError, match="--module"):
        store.set("apicryptPopHost", "a.example.org", level="module")
    with pytest.raises(SettingLevelError, match="unknown level"):
        store.set("apicryptPopHost", "a.example.org", level="site")


def test_secret_is_typed_back_and_overrides_per_user(store):
    alice, bob = _users("base", "base")
    store.set("apicryptPopPassword", "p@ss-alice-123", level="user", user_id=alice)
    assert store.get("apicryptPopPassword", user_id=alice) == "p@ss-alice-123"
    assert store.get("apicryptPopPassword", user_id=bob) == ""
    row = store.overrides("user", str(alice))[0]
    assert row.encrypted and "p@ss" not in row.value
