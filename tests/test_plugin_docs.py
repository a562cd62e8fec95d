"""docs/plugins.md is generated from the code and cannot drift (issue 15): the page equals
what scripts/generate-plugin-docs writes, every hook has an example file, and every example
(each hook's, and the blocks of the hand-written part) is executed here."""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.util
import re
import types
from pathlib import Path

import pytest
from web_helpers import login, make_people

from medshake_bridge import bridge_state, migrate
from medshake_bridge.api import (
    Advice,
    BackendSpec,
    BridgeUser,
    CheckResult,
    CollectorSpec,
    HostIdentity,
    JobSpec,
    KeyManagerSpec,
    LabResult,
    MenuItem,
    Renewal,
    SentRecord,
    SettingSpec,
    StoredDocument,
    StoredMessage,
    renewals,
)
from medshake_bridge.plugin_docs import (
    EXAMPLES,
    ROOT,
    SOURCE,
    TARGET,
    TESTING_TARGET,
    hookspec_functions,
    render,
    render_testing,
)

HOOKS = sorted(hookspec_functions())
USER = BridgeUser(id=1, login="admin", display_name="Ada Admin", role="admin")


def _load(path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_plugins_md_is_up_to_date():
    assert (ROOT / TARGET).read_text(encoding="utf-8") == render(), (
        "docs/plugins.md is out of date: run scripts/generate-plugin-docs")


def test_docs_testing_plugins_md_is_up_to_date_and_its_code_is_the_tested_files():
    text = (ROOT / TESTING_TARGET).read_text(encoding="utf-8")
    assert text == render_testing(), "run scripts/generate-plugin-docs"
    blocks = re.findall(r"^```python\n(.*?)^```", text, re.M | re.S)
    example_tests = ROOT / "docs" / "examples" / "example_plugin" / "tests"
    assert [block.rstrip() for block in blocks] == [
        (example_tests / name).read_text(encoding="utf-8").rstrip()
        for name in ("conftest.py", "test_example.py")]  # run by tests/test_example_plugin.py


def test_every_hook_has_an_example_and_every_example_a_hook():
    files = {path.stem for path in (ROOT / EXAMPLES).glob("*.py")}
    assert sorted(set(HOOKS) - files) == [], "add docs/examples/hooks/<hook>.py"
    assert sorted(files - set(HOOKS)) == [], "remove the examples of hooks that are gone"


def test_the_generated_page_has_types_firstresult_and_the_exception_behaviour():
    text = render()
    assert "`medshake_message_stored(message: StoredMessage, documents: list[StoredDocument])" \
           " -> None`" in text
    section = text[text.index("### medshake_current_user"):]
    assert section.index("**First result**") < section.index("**If it raises:**")
    assert "`StoredMessage(id, mailbox, server_id" in text  # the public API is listed
    for title in ("## Writing a collector", "## Writing a back-end",
                  "## Writing a patient provider"):
        assert title in text


def _message() -> tuple[StoredMessage, list[StoredDocument]]:
    owner = BridgeUser(id=2, login="bob", display_name="Dr Bob")
    document = StoredDocument(
        id=5, message_id=4, owner=owner, position=0, state="new", has_header=True,
        patient_last_name="DUPONT", patient_first_name="Jeanne",
        patient_birth_date=dt.date(1961, 3, 12), sender_name="LABOCENTRE", abnormal=True,
        body="", header={"last_name": "DUPONT"},
        results=(LabResult(label="Hémoglobine", value="10.2", flag="L", abnormal=True),))
    message = StoredMessage(id=4, mailbox="maildir://x", server_id="1", message_id="<a@b>",
                            subject="Résultats", from_address="a@b", to_address="c@d",
                            date="", signature_status="valid", signer="", owners=(owner,),
                            signature_invalid=False, attachment_names=())
    return message, [document]


def _exercise(name: str, app, module) -> None:  # noqa: C901 - one case per hook
    hooks = bridge_state(app).hooks
    call = hooks.call_list if not name.endswith(("_user", "_role", "_patient")) else None
    if name == "medshake_settings":
        assert all(isinstance(s, SettingSpec) for s in call(name))
    elif name == "medshake_crypto_backends":
        [spec] = [s for s in call(name) if s.key == "clear"]
        assert isinstance(spec, BackendSpec)
        assert isinstance(spec.factory({}, None).checks()[0], CheckResult)
    elif name == "medshake_mail_collectors":
        [spec] = [s for s in call(name) if s.key == "empty"]
        assert isinstance(spec, CollectorSpec)
        assert spec.identity({}) is None and spec.identity({"apicryptPopUser": "x"})
        collector = spec.factory({})
        collector.open()
        assert collector.list_messages() == []
        collector.close()
    elif name == "medshake_key_managers":
        [spec] = [s for s in call(name) if s.key == "none"]
        assert isinstance(spec, KeyManagerSpec) and spec.factory({}, None).list_keys() == []
    elif name == "medshake_scheduled_jobs":
        [job] = [j for j in call(name) if j.id == "my-plugin-count-users"]
        assert isinstance(job, JobSpec)
        with app.app_context():
            assert job.func(app) == {"users": 4}
    elif name == "medshake_blueprints":
        client = app.test_client()
        assert login(client, "admin").status_code == 302
        assert "Bonjour Ada Admin" in client.get("/my-plugin/").get_data(as_text=True)
    elif name == "medshake_menu_items":
        assert isinstance(call(name, user=USER)[0], MenuItem) and call(name, user=None) == []
    elif name == "medshake_system_checks":
        assert [c.ok for c in module.medshake_system_checks(app)] == [True]
    elif name == "medshake_config_advice":
        with app.app_context():
            assert call(name, app=app, account="www-data") == []
            bridge_state(app).settings.set("apicryptCommandPrefix", "/usr/bin/env")
            [advice] = call(name, app=app, account="www-data")
        assert isinstance(advice, Advice) and "www-data" in advice.lines[0]
    elif name == "medshake_renewals":
        with app.app_context():
            [item] = [r for r in renewals(app) if r.what.startswith("Licence")]
            assert isinstance(item, Renewal) and item.logins == ("alice",)
            assert item.expires.month == 12 and (item.ok is True) == (item.fix == "")
    elif name == "medshake_message_stored":
        message, documents = _message()
        hooks.call(name, message=message, documents=documents)
    elif name == "medshake_patient_providers":
        [provider] = [p for p in call(name, app=app) if p.source == "mine"]
        [found] = provider.search("dup", limit=5)
        assert str(found.ref) == "mine:17"
        document = types.SimpleNamespace(key="doc-1", text="...")
        first = provider.file_document(document, "17", user=USER)
        assert provider.file_document(document, "17", user=USER) is first
    elif name == "medshake_cli_commands":
        result = app.test_cli_runner().invoke(args=["count-users"])
        assert result.exit_code == 0, result.output
        assert result.output.strip().endswith("users") and result.output.split()[0].isdigit()
    elif name == "medshake_before_send":
        outgoing = types.SimpleNamespace(patient_id="", text="")
        assert "patient" in hooks.call(name, message=outgoing, user=USER)[0].value
    elif name == "medshake_message_sent":
        sent = SentRecord(id=1, user=USER, recipients=("a@b",), subject="", message_id="<m>",
                          patient_id="mine:17", sent_at=None)
        hooks.call(name, message=sent, user=USER)
        assert module.LETTERS == [("mine:17", "<m>")]
    elif name == "medshake_current_user":
        environ = {"portal.user": {"id": 7, "login": "jdoe", "name": "J. Doe"}}
        with app.test_request_context("/", environ_overrides=environ) as context:
            answer = module.medshake_current_user(app=app, request=context.request)
        assert answer == HostIdentity(key="portal:7", login="jdoe", display_name="J. Doe")
    elif name == "medshake_host_user_role":
        assert hooks.call_first(name, identity=HostIdentity("k", "sec-ann")) == "secretary"
    else:
        pytest.fail(f"no test runs the example of {name}: add a case to _exercise")


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_example_runs(make_app, name):
    module = _load(ROOT / EXAMPLES / f"{name}.py")
    app = make_app(MEDSHAKE_BRIDGE_PLUGINS=[module])
    migrate.upgrade(app)
    make_people(app)
    _exercise(name, app, module)
    plugin = module.__name__
    with app.app_context():
        assert bridge_state(app).hooks.recent_failures(plugin) == []


def _literal_blocks() -> list[str]:
    text = (ROOT / SOURCE).read_text(encoding="utf-8")
    return re.findall(r"^```python\n(.*?)^```", text, re.M | re.S)


def test_the_hand_written_blocks_run(make_app, monkeypatch):
    accessor, collector_hook = _literal_blocks()
    settings_example = _load(ROOT / EXAMPLES / "medshake_settings.py")
    app = make_app(MEDSHAKE_BRIDGE_PLUGINS=[settings_example])
    migrate.upgrade(app)
    make_people(app)
    with app.app_context():
        bridge_state(app).settings.set("myPluginGreeting", "Salut", level="user", user_id=3)
        namespace = {"app": app}
        exec(compile(accessor, "plugins.md#settings", "exec"), namespace)  # noqa: S102
        assert namespace["store"].get("myPluginGreeting", user_id=3) == "Salut"
        assert namespace["store"].source("myPluginGreeting", user_id=3) == "user"
        assert namespace["store"].get("myPluginGreeting") == "Bonjour"
    monkeypatch.syspath_prepend(str(ROOT / "docs" / "examples" / "example_plugin"))
    plugin = importlib.import_module("medshake_bridge_example.plugin")
    namespace = dict(vars(plugin))
    exec(compile(collector_hook, "plugins.md#collector", "exec"), namespace)  # noqa: S102
    [spec] = namespace["medshake_mail_collectors"]()
    assert spec.key == "dropfolder" and spec.required == ("exampleDropFolder",)
