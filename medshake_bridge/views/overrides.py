"""*Paramètres par utilisateur* (and per module): the values one user or one module overrides.

For the chosen user (or module): each override with the value that would apply without it and
a remove button; "add an override" listing only the settings it does not override yet; and
every effective value with where it comes from. Adding is two steps (choose the setting, then
type its value in the right kind of field), so the page needs no JavaScript.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from medshake_bridge.access import ADMIN, protect
from medshake_bridge.db import db
from medshake_bridge.extension import bridge_state
from medshake_bridge.flashes import flash
from medshake_bridge.i18n import _
from medshake_bridge.models import SettingValue, User
from medshake_bridge.settings import SettingSpec
from medshake_bridge.user_changes import MODULE_PATTERN
from medshake_bridge.users import list_users
from medshake_bridge.views.setting_fields import build_field, shown_value, source_label
from medshake_bridge.views.setting_save import remove_setting, save_settings

override_pages = protect(Blueprint("bridge_overrides", __name__, url_prefix="/admin"), ADMIN)


@dataclass(frozen=True)
class Scope:
    """The user or the module whose overrides a page shows."""

    level: str
    user: User | None = None
    module: str | None = None

    @property
    def key(self) -> str:
        return str(self.user.id) if self.user is not None else str(self.module)

    @property
    def store_kwargs(self) -> dict[str, Any]:
        return {"user_id": self.user.id} if self.user is not None else {"module": self.module}

    @property
    def page_url(self) -> str:
        if self.user is not None:
            return url_for(".user_settings", user_id=self.user.id)
        return url_for(".module_settings", module=self.module)

    @property
    def remove_url(self) -> str:
        if self.user is not None:
            return url_for(".user_remove", user_id=self.user.id)
        return url_for(".module_remove", module=self.module)


def _user_scope(user_id: int) -> Scope:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return Scope("user", user=user)


def _module_scope(module: str) -> Scope:
    if not MODULE_PATTERN.match(module):
        abort(404)
    return Scope("module", module=module)


def known_modules() -> list[str]:
    from_users = set(db.session.scalars(select(User.module).distinct()))
    from_settings = set(db.session.scalars(
        select(SettingValue.scope).where(SettingValue.level == "module").distinct()))
    return sorted(from_users | from_settings | {"base"})


@override_pages.route("/overrides")
def index() -> str | Response:
    store = bridge_state().settings
    module = request.args.get("module", "").strip()
    if module:
        if MODULE_PATTERN.match(module):
            return redirect(url_for(".module_settings", module=module))
        flash(_("Use letters, digits, dots, dashes or underscores for the module."), "error")
    users = list_users()
    counts = {user.id: len(store.overrides("user", str(user.id))) for user in users}
    modules = [(name, len(store.overrides("module", name))) for name in known_modules()]
    return render_template("bridge/overrides_index.html", users=users, counts=counts,
                           modules=modules)


def _inherited(scope: Scope, spec: SettingSpec) -> Any:
    """What applies to this user (module) for ``spec`` if its own override is removed."""
    store = bridge_state().settings
    if scope.user is not None:
        return store.effective(spec.name, module=scope.user.module)
    return store.effective(spec.name)


def _render(scope: Scope, *, edit_name: str = "", submitted: Any = None, error: str = "",
            status: int = 200) -> tuple[str, int]:
    state = bridge_state()
    store, registry = state.settings, state.registry
    users = list_users()
    users_by_id = {user.id: user for user in users}
    rows = []
    overridden = set()
    for row in store.overrides(scope.level, scope.key):
        overridden.add(row.name)
        spec = registry.get(row.name) if row.name in registry else None
        if spec is None:
            rows.append({"name": row.name, "spec": None})
            continue
        inherited = _inherited(scope, spec)
        own = store.stored(row.name, scope.level, **scope.store_kwargs)
        rows.append({
            "name": row.name, "spec": spec, "label": spec.label(_lang()),
            "inherited": shown_value(spec, inherited.value, users_by_id),
            "inherited_source": source_label(inherited),
            "own": shown_value(spec, own, users_by_id),
        })
    addable: dict[str, list[SettingSpec]] = {}
    for spec in registry:
        if spec.offered_at(scope.level) and spec.name not in overridden:
            addable.setdefault(spec.category, []).append(spec)
    field = None
    if edit_name:
        spec = registry.get(edit_name)
        own = store.stored(edit_name, scope.level, **scope.store_kwargs)
        current = own if own is not None else _inherited(scope, spec).value
        shown = current if submitted is None or spec.secret else submitted
        field = build_field(spec, shown, users=users, error=error)
        if spec.secret:
            field.is_set = own not in (None, "", [])
    effective = store.effective_all(**scope.store_kwargs)
    effective_rows = [
        {"name": name, "label": eff.spec.label(_lang()),
         "value": shown_value(eff.spec, eff.value, users_by_id), "source": source_label(eff)}
        for name, eff in effective.items()
    ]
    body = render_template("bridge/overrides.html", scope=scope, rows=rows, addable=addable,
                           field=field, editing=edit_name in overridden,
                           effective_rows=effective_rows)
    return body, status


def _lang() -> str:
    from medshake_bridge.i18n import current_language

    return current_language()


def _chosen_spec(scope: Scope, name: str) -> SettingSpec | None:
    registry = bridge_state().registry
    if name not in registry or not registry.get(name).offered_at(scope.level):
        return None  # a per-person value is never offered for a whole module
    return registry.get(name)


def _refuse_choice(scope: Scope, name: str) -> tuple[str, int]:
    registry = bridge_state().registry
    if name in registry and registry.get(name).per_person:
        flash(_("%(name)s belongs to one person: set it on that person's page (Users, then "
                "“Set up the practitioner”), not for a whole module.", name=name), "error")
    else:
        flash(_("Choose a setting from the list."), "error")
    return _render(scope, status=400)


def _page(scope: Scope) -> tuple[str, int] | Response:
    if request.method == "GET":
        name = request.args.get("edit", "").strip()
        if name and _chosen_spec(scope, name) is None:
            return _refuse_choice(scope, name)
        return _render(scope, edit_name=name)
    name = request.form.get("setting", "")
    spec = _chosen_spec(scope, name)
    if spec is None:
        return _refuse_choice(scope, name)
    store = bridge_state().settings
    result = save_settings(store, [spec], request.form, level=scope.level, keep_equal=True,
                           **scope.store_kwargs)
    if result.errors:
        flash(_("Nothing was saved: correct the value below."), "error")
        return _render(scope, edit_name=name, submitted=result.submitted.get(name),
                       error=result.errors[name], status=400)
    if result.saved:
        flash(_("%(name)s saved for %(who)s.", name=name, who=_who(scope)), "success")
    else:
        flash(_("Nothing changed: type a value (a secret's field is empty when unchanged)."),
              "info")
    return redirect(scope.page_url)


def _remove(scope: Scope) -> Response:
    name = request.form.get("setting", "")
    store = bridge_state().settings
    if name in store.registry and scope.level in store.registry.get(name).levels:
        removed = remove_setting(store, name, level=scope.level, **scope.store_kwargs)
    else:  # an override of a setting no plugin declares any more
        removed = _remove_undeclared(scope, name)
    if removed:
        flash(_("The override of %(name)s is removed for %(who)s.", name=name, who=_who(scope)),
              "success")
    else:
        flash(_("%(who)s had no override of %(name)s.", name=name, who=_who(scope)), "info")
    return redirect(scope.page_url)


def _remove_undeclared(scope: Scope, name: str) -> bool:
    from medshake_bridge.audit import audit

    row = db.session.scalars(select(SettingValue).where(
        SettingValue.name == name, SettingValue.level == scope.level,
        SettingValue.scope == scope.key)).first()
    if row is None:
        return False
    db.session.delete(row)
    db.session.commit()
    audit("setting.unset", target=f"{name}@{scope.level}:{scope.key}",
          detail="setting no longer declared")
    return True


def _who(scope: Scope) -> str:
    if scope.user is not None:
        return scope.user.login
    return _("module %(module)s", module=scope.module)


@override_pages.route("/users/<int:user_id>/settings", methods=["GET", "POST"])
def user_settings(user_id: int) -> tuple[str, int] | Response:
    return _page(_user_scope(user_id))


@override_pages.route("/users/<int:user_id>/settings/remove", methods=["POST"])
def user_remove(user_id: int) -> Response:
    return _remove(_user_scope(user_id))


@override_pages.route("/modules/<module>/settings", methods=["GET", "POST"])
def module_settings(module: str) -> tuple[str, int] | Response:
    return _page(_module_scope(module))


@override_pages.route("/modules/<module>/settings/remove", methods=["POST"])
def module_remove(module: str) -> Response:
    return _remove(_module_scope(module))
