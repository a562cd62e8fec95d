"""The public API (issue 15): plugins import only ``medshake_bridge.api``, the host never
imports a plugin, and hooks receive public objects, not ORM rows."""

from __future__ import annotations

import ast
import json
import re
import tomllib
import types
from pathlib import Path

import medshake_bridge.api as api
from medshake_bridge import hookimpl, migrate
from medshake_bridge.public import BridgeUser, LabResult, StoredDocument, StoredMessage

ROOT = Path(__file__).resolve().parent.parent
HOST = ROOT / "medshake_bridge"
# The host's own default plugins may be imported by the plugin manager that registers them.
DEFAULT_PLUGINS_PACKAGE = "medshake_bridge.default_plugins"
# Files still importing a default plugin directly until the patient providers land (helper
# `providers` replaces this import with medshake_bridge.patients); emptied by that merge.
PENDING: set[str] = set()


def _plugin_packages() -> set[str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    targets = data["project"]["entry-points"]["medshake_bridge"].values()
    return {target.split(":")[0].split(".")[0] for target in targets}


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant | ast.JoinedStr)):
            text = ast.unparse(node.args[0])
            found.append((node.lineno, text.strip("'\"f")))
    return found


def _plugin_files() -> list[Path]:
    files = sorted((ROOT / "plugins").rglob("*.py"))
    return files + sorted((ROOT / "docs" / "examples").rglob("*.py"))


def test_plugins_import_only_the_public_api() -> None:
    """Plugins (built-in and examples) import the api; their tests also the testing kit."""
    offenders = []
    for path in _plugin_files():
        allowed = {"medshake_bridge.api"}
        if "tests" in path.relative_to(ROOT).parts:
            allowed.add("medshake_bridge.testing")
        for line, module in _imports(path):
            host = module == "medshake_bridge" or module.startswith("medshake_bridge.")
            if host and module not in allowed:
                offenders.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert offenders == [], "plugins must import from medshake_bridge.api only:\n" + "\n".join(
        offenders)


def test_the_host_never_imports_a_plugin() -> None:
    plugins = _plugin_packages()
    assert {"medshake_apicrypt_v1", "medshake_apicrypt_v2", "medshake_keys"} <= plugins
    offenders = []
    for path in sorted(HOST.rglob("*.py")):
        relative = str(path.relative_to(ROOT))
        in_defaults = relative.startswith("medshake_bridge/default_plugins/")
        for line, module in _imports(path):
            names_a_plugin = module.split(".")[0] in plugins or any(
                f"{name}." in module for name in plugins)
            reaches_a_default = (module.startswith(DEFAULT_PLUGINS_PACKAGE + ".")
                                 and not in_defaults and relative not in PENDING)
            if names_a_plugin or reaches_a_default:
                offenders.append(f"{relative}:{line} imports {module}")
    assert offenders == [], "the host must reach plugins through hooks:\n" + "\n".join(
        offenders)


def test_every_exported_name_exists_and_is_documented_by_a_docstring() -> None:
    missing = [name for name in api.__all__ if not hasattr(api, name)]
    assert missing == []
    assert len(set(api.__all__)) == len(api.__all__)
    undocumented = [name for name in api.__all__
                    if callable(getattr(api, name)) and not getattr(api, name).__doc__]
    assert undocumented == []


def test_a_stored_message_reaches_plugins_as_public_objects(make_app, tmp_path, monkeypatch):
    from mailworld import BOB, PDF_1, World

    from medshake_bridge.sandbox import SANDBOX_ENV_VARS

    seen: list[tuple[object, list[object]]] = []

    @hookimpl
    def medshake_message_stored(message, documents):
        seen.append((message, documents))

    plugin = types.ModuleType("watcher")
    plugin.medshake_message_stored = medshake_message_stored
    app = make_app(MEDSHAKE_BRIDGE_RUNNER_ENV_PASSTHROUGH=list(SANDBOX_ENV_VARS),
                   MEDSHAKE_BRIDGE_PLUGINS=[plugin])
    migrate.upgrade(app)
    world = World(app, tmp_path, monkeypatch)
    world.deliver(world.mail(attachments=[("compte rendu.pdf", PDF_1)]))
    assert world.collect().ok
    [(message, documents)] = seen
    assert isinstance(message, StoredMessage)
    assert [owner.login for owner in message.owners] == ["bob"]
    assert isinstance(message.owner, BridgeUser) and message.owner.id == world.bob
    assert BOB.split(".")[0] in message.to_address
    [attachment] = message.attachments
    assert attachment.name == "compte rendu.pdf" == message.attachment_names[0]
    assert attachment.path.read_bytes() == PDF_1 and attachment.size == len(PDF_1)
    [document] = documents
    assert isinstance(document, StoredDocument) and document.owner.login == "bob"
    assert document.header["last_name"] and document.patient_last_name
    assert document.results and all(isinstance(r, LabResult) for r in document.results)
    assert any(r.label for r in document.results)
    # the row's names still answer, for plugins written against rows
    assert document.owner_user_id == world.bob
    assert json.loads(document.header_json)["last_name"] == document.header["last_name"]
    assert json.loads(document.results_json)[0]["label"] == document.results[0].label
    assert json.loads(message.attachments_json)[0]["file"] == str(attachment.path)
    # frozen copies: the plugin cannot change the stored rows through them
    try:
        document.body = "changed"  # type: ignore[misc]
    except AttributeError:
        pass
    else:  # pragma: no cover
        raise AssertionError("StoredDocument must be frozen")
    # a plugin retrying its own work later reads the same copies by the document's id
    with world.app.app_context():
        again_message, again_document = api.received_document(document.id)
        assert again_document == document and again_message.id == message.id
        assert api.received_document(document.id + 1000) is None


def test_one_settings_accessor_reads_writes_and_checks_each_level(make_app):
    """``api.settings`` is the only settings accessor (``bridge_settings`` was folded into it):
    a connector importing another application's settings finds what it needs there."""
    assert not hasattr(api, "bridge_settings") and "bridge_settings" not in api.__all__
    app = make_app()
    migrate.upgrade(app)
    with app.app_context():
        found = api.settings()
        assert found.declaration("apicryptSenderDomains").type == "list"
        assert found.declaration("noSuchSetting") is None
        assert found.validate("apicryptSenderDomains", "a.org, b.org", level="module") == [
            "a.org", "b.org"]
        try:
            found.validate("apicryptMaxMessageMB", "0")
        except api.BridgeError as exc:
            assert "apicryptMaxMessageMB (default level)" in str(exc)
        else:  # pragma: no cover
            raise AssertionError("a refused value must raise")
        assert found.stored("apicryptSenderDomains", module="cardio") is None
        found.set("apicryptSenderDomains", "cardio.example", module="cardio")
        assert found.stored("apicryptSenderDomains", module="cardio") == ["cardio.example"]
        assert found.stored("apicryptSenderDomains") is None  # nothing at the default level
        assert found.get("apicryptSenderDomains", module="cardio") == ["cardio.example"]


def test_every_host_call_of_a_hook_goes_through_the_guard() -> None:
    """``pm.hook.medshake_x(...)`` stops at the first plugin that raises: the host calls hooks
    through ``bridge_state().hooks`` (medshake_bridge/hook_guard.py) instead."""
    direct = re.compile(r"\.hook\.medshake_\w+\(")
    offenders = [f"{path.relative_to(ROOT)}:{number}"
                 for path in sorted(HOST.rglob("*.py")) if path.name != "hook_guard.py"
                 for number, line in enumerate(path.read_text().splitlines(), 1)
                 if direct.search(line)]
    assert offenders == [], "call hooks through bridge_state().hooks:\n" + "\n".join(offenders)


def test_bridge_code_flashes_under_the_bridges_own_key() -> None:
    """Flask's ``flash``/``get_flashed_messages`` share ``_flashes`` with a host portal (issue
    12): the host and plugins use ``medshake_bridge.flashes`` / ``api.flash`` instead, and the
    bridge's templates ``bridge_flashed_messages``."""
    offenders = []
    for path in [*sorted(HOST.rglob("*.py")), *_plugin_files()]:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom) and node.module == "flask" and any(
                    alias.name in ("flash", "get_flashed_messages") for alias in node.names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    for path in [*sorted((ROOT / "templates").rglob("*.html")),
                 *sorted((ROOT / "plugins").rglob("*.html"))]:
        if "get_flashed_messages(" in path.read_text(encoding="utf-8"):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == [], "flash through medshake_bridge.flashes:\n" + "\n".join(offenders)
