"""Form fields generated from setting declarations, and reading them back from a form.

One :class:`SettingField` per declared setting tells the template which input to draw (text,
number, checkbox, list of choices, list of users, write-only secret) and what to show in it.
Secrets are write-only: the field carries only whether a value is set, never the value or its
length. Reading a form tells "left alone" (:data:`UNCHANGED`) apart from "set to empty", so a page
that shows only some settings never touches the others.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import MultiDict

from medshake_bridge.i18n import _, current_language
from medshake_bridge.models import User
from medshake_bridge.settings import SettingSpec
from medshake_bridge.settings.spec import render_value
from medshake_bridge.settings.store import EffectiveValue

UNCHANGED: Any = type("Unchanged", (), {"__repr__": lambda self: "UNCHANGED"})()
PREFIX = "s-"
SHOWN = "__shown"
CLEAR = "__clear"


@dataclass
class SettingField:
    spec: SettingSpec
    input_name: str
    label: str
    help: str
    widget: str  # text, email, url, number, checkbox, select, users, secret
    value: str = ""
    checked: bool = False
    selected: frozenset[str] = frozenset()
    choices: list[tuple[str, str]] = field(default_factory=list)
    is_set: bool = False
    minimum: int | None = None
    maximum: int | None = None
    source: str = ""
    error: str = ""

    @property
    def name(self) -> str:
        return self.spec.name


def widget_for(spec: SettingSpec) -> str:
    if spec.secret:
        return "secret"
    return {"bool": "checkbox", "choice": "select", "port": "number", "int": "number",
            "userids": "users", "email": "email", "url": "url"}.get(spec.type, "text")


def build_field(spec: SettingSpec, shown: Any, *, users: Sequence[User] = (),
                source: str = "", error: str = "") -> SettingField:
    """A field showing ``shown`` (a typed value, or what the user just submitted)."""
    lang = current_language()
    widget = widget_for(spec)
    result = SettingField(spec=spec, input_name=PREFIX + spec.name, label=spec.label(lang),
                          help=spec.help(lang), widget=widget, source=source, error=error)
    if widget == "secret":
        result.is_set = shown not in ("", None, [])
        return result
    if widget == "checkbox":
        result.checked = shown is True or str(shown).lower() in ("true", "1", "on", "yes")
    elif widget == "users":
        items = shown if isinstance(shown, list | tuple) else str(shown or "").split(",")
        result.selected = frozenset(str(item).strip() for item in items if str(item).strip())
        result.choices = [(str(user.id), f"{user.display_name} ({user.login}, n° {user.id})")
                          for user in users]
    else:
        result.value = shown if isinstance(shown, str) else render_value(spec, shown)
        if widget == "select":
            from flask import current_app

            from medshake_bridge.settings.choices import live_choices, unknown_choice

            app = current_app._get_current_object()  # type: ignore[attr-defined]
            result.choices = live_choices(spec, app)
            problem = unknown_choice(spec, result.value, app)
            if problem:  # keep the stored value visible and selected, marked as not installed
                result.choices.append((str(result.value), _("%(value)s (not installed)",
                                                            value=result.value)))
                result.error = result.error or _(
                    "“%(value)s” is offered by no installed plugin (uninstalled or disabled): "
                    "install or enable it, or choose another value.", value=result.value)
        if spec.type == "port":
            result.minimum, result.maximum = 1, 65535
        elif spec.type == "int":
            result.minimum = 0
    return result


def read_field(spec: SettingSpec, form: MultiDict[str, str]) -> Any:
    """The raw value submitted for ``spec``, or :data:`UNCHANGED` when the form left it alone."""
    key = PREFIX + spec.name
    widget = widget_for(spec)
    if widget == "secret":
        if form.get(key + CLEAR) == "1":
            return ""
        value = form.get(key, "")
        return UNCHANGED if value == "" else value
    if widget == "checkbox":
        return UNCHANGED if key + SHOWN not in form else ("true" if key in form else "false")
    if widget == "users":
        return UNCHANGED if key + SHOWN not in form else form.getlist(key)
    return form.get(key, UNCHANGED)


def source_label(eff: EffectiveValue) -> str:
    """Where an effective value comes from, in words."""
    if eff.level == "declared":
        return _("declared default")
    if eff.level == "default":
        return _("global setting")
    if eff.level == "module":
        return _("module %(module)s", module=eff.scope)
    return _("this user")


def shown_value(spec: SettingSpec, value: Any, users_by_id: Mapping[int, User]) -> str:
    """A value as text for tables; secrets are only "set" / "not set"."""
    if spec.secret:
        return _("set") if value not in ("", None, []) else _("not set")
    if spec.type == "bool":
        return _("yes") if value else _("no")
    if spec.type == "userids":
        names = []
        for user_id in value or []:
            user = users_by_id.get(int(user_id))
            names.append(f"{user.login} (n° {user_id})" if user else f"n° {user_id}")
        return ", ".join(names) or _("none")
    text = render_value(spec, value)
    return text if text != "" else _("(empty)")
