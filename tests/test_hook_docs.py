"""Every hookspec is documented, in its docstring and in docs/plugins.md."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from medshake_bridge import hookspecs

DOCS = Path(__file__).parent.parent / "docs" / "plugins.md"
DESIGN_HOOKS = {
    "medshake_settings", "medshake_crypto_backends", "medshake_mail_collectors",
    "medshake_key_managers", "medshake_scheduled_jobs", "medshake_blueprints",
    "medshake_system_checks", "medshake_message_stored", "medshake_patient_providers",
    "medshake_before_send", "medshake_message_sent",
    "medshake_current_user",
}


def _hookspecs() -> dict[str, object]:
    return {
        name: func for name, func in inspect.getmembers(hookspecs, inspect.isfunction)
        if name.startswith("medshake_")
    }


def test_every_design_hook_exists():
    assert set(_hookspecs()) >= DESIGN_HOOKS


def test_every_hookspec_has_a_docstring_saying_when_it_is_called():
    for name, func in _hookspecs().items():
        doc = inspect.getdoc(func) or ""
        assert "Called" in doc, f"{name}: the docstring must say when it is called"


def test_every_hookspec_has_a_doc_section_with_an_example():
    text = DOCS.read_text(encoding="utf-8")
    sections = dict(re.findall(r"^### (medshake_\w+)\n(.*?)(?=^### |\Z)", text, re.M | re.S))
    missing = sorted(set(_hookspecs()) - set(sections))
    assert not missing, f"docs/plugins.md has no section for: {missing}"
    for name in _hookspecs():
        assert "```python" in sections[name], f"{name}: the doc section needs an example"
        assert f"def {name}(" in sections[name], f"{name}: the example must implement it"
    unknown = sorted(set(sections) - set(_hookspecs()))
    assert not unknown, f"docs/plugins.md documents hooks that do not exist: {unknown}"


def test_the_replaced_patient_hooks_are_gone():
    """Candidates and filing are provider methods now (a bare patient id filed a document into
    another source's patient): the old hooks must not come back."""
    assert not {"medshake_patient_candidates", "medshake_file_to_patient"} & set(_hookspecs())
