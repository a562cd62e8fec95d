"""*Paramètres globaux*: every declared setting that has a site-wide (default-level) value,
grouped by category, drawn from the declarations.

Values that belong to one person (``SettingSpec.per_person``: an address, a mailbox login and
password, a certificate, a delegation) are not offered here: one value would be everyone's.
They are set on each practitioner's set-up page. A site-wide value of one of them that is
already stored (an import, the command line) is named, with what it does and a button to
remove it.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from medshake_bridge.access import ADMIN, protect
from medshake_bridge.extension import bridge_state
from medshake_bridge.flashes import flash
from medshake_bridge.i18n import _, current_language, ngettext
from medshake_bridge.settings import SettingSpec
from medshake_bridge.users import list_users
from medshake_bridge.views.setting_fields import SettingField, build_field
from medshake_bridge.views.setting_save import remove_setting, save_settings

settings_pages = protect(Blueprint("bridge_settings", __name__, url_prefix="/admin/settings"),
                         ADMIN)
LEVEL = "default"


def _global_specs() -> list[SettingSpec]:
    return [spec for spec in bridge_state().registry if spec.offered_at(LEVEL)]


def _per_person_specs() -> list[SettingSpec]:
    return [spec for spec in bridge_state().registry if spec.per_person]


def _stored_per_person() -> list[SettingSpec]:
    """Per-person settings that nevertheless have a site-wide value stored."""
    store = bridge_state().settings
    return [spec for spec in _per_person_specs()
            if LEVEL in spec.levels and store.stored(spec.name, LEVEL) is not None]


def _categories(submitted: dict[str, Any], errors: dict[str, str]) -> list[
        tuple[str, list[SettingField]]]:
    store = bridge_state().settings
    users = list_users()
    grouped: dict[str, list[SettingField]] = {}
    for spec in _global_specs():
        stored = store.stored(spec.name, LEVEL)
        current = store.declared_default(spec) if stored is None else stored
        source = _("declared default") if stored is None else _("global setting")
        shown = submitted.get(spec.name, current) if not spec.secret else current
        grouped.setdefault(spec.category, []).append(
            build_field(spec, shown, users=users, source=source,
                        error=errors.get(spec.name, "")))
    return list(grouped.items())


def _topic(categories: list[tuple[str, list[SettingField]]], errors: dict[str, str]) -> str:
    """The topic shown: the one with a refused value, else the one asked for, else the
    first (the page shows one topic at a time instead of one very long form)."""
    names = [name for name, _fields in categories]
    for name, fields in categories:
        if any(field.name in errors for field in fields):
            return name
    wanted = request.values.get("topic", "")
    return wanted if wanted in names else (names[0] if names else "")


@settings_pages.route("/", methods=["GET", "POST"])
def index() -> Response | tuple[str, int]:
    store = bridge_state().settings
    if request.method == "POST" and request.form.get("reset"):
        name = request.form["reset"]
        if name in store.registry and LEVEL in store.registry.get(name).levels:
            if remove_setting(store, name, level=LEVEL):
                flash(_("%(name)s is back to its declared default.", name=name), "success")
            else:
                flash(_("%(name)s already had its declared default.", name=name), "info")
        return redirect(url_for(".index", topic=request.form.get("topic") or None)
                        + f"#setting-{name}")
    submitted: dict[str, Any] = {}
    errors: dict[str, str] = {}
    if request.method == "POST":
        result = save_settings(store, _global_specs(), request.form, level=LEVEL)
        if not result.errors:
            if result.saved:
                flash(ngettext("%(num)s setting saved: %(names)s.",
                               "%(num)s settings saved: %(names)s.", len(result.saved),
                               names=", ".join(result.saved)), "success")
            else:
                flash(_("Nothing changed."), "info")
            return redirect(url_for(".index", topic=request.form.get("topic") or None))
        submitted, errors = result.submitted, result.errors
        flash(ngettext("Nothing was saved: %(num)s value is refused. Correct it below.",
                       "Nothing was saved: %(num)s values are refused. Correct them below.",
                       len(errors)), "error")
    status = 400 if errors else 200
    lang = current_language()
    categories = _categories(submitted, errors)
    topic = _topic(categories, errors)
    return render_template("bridge/settings_global.html", categories=categories,
                           topic=topic, errors=errors,
                           per_person=[spec.label(lang) for spec in _per_person_specs()],
                           stored_per_person=[(spec.name, spec.label(lang))
                                              for spec in _stored_per_person()]), status
