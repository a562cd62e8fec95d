"""*Préparer un praticien*: everything one practitioner needs, in one form.

Setting up a doctor used to take a dozen separate overrides. This page shows the settings a
practitioner's mail needs (address, mailbox, keys, collection) with their current values, and
who may act for them (the delegates); one "save" validates everything and writes all of it or
nothing. A value left as shown is not written (so a site-wide value is not pinned on the user);
delegation is stored on each delegate (``apicryptInboxMailForUserID`` is the delegate's
setting), always at the user level.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from medshake_bridge.access import ADMIN, protect
from medshake_bridge.audit import audit, setting_target
from medshake_bridge.db import db
from medshake_bridge.extension import bridge_state
from medshake_bridge.flashes import flash
from medshake_bridge.i18n import _
from medshake_bridge.models import User
from medshake_bridge.settings.spec import render_value
from medshake_bridge.views.setting_fields import (
    PREFIX,
    UNCHANGED,
    build_field,
    read_field,
    source_label,
)
from medshake_bridge.views.setting_save import save_settings

setup_pages = protect(Blueprint("bridge_setup", __name__, url_prefix="/admin/users"), ADMIN)
DELEGATION = "apicryptInboxMailForUserID"

# (section title, settings) in the order a person fills them in.
SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Apicrypt address", ("apicryptVersion", "apicryptAdresse", "apicryptUtilisateur",
                          "apicrypt2CertName", "apicrypt2CertPassword")),
    ("Mailbox", ("apicryptCollector", "apicryptPopHost", "apicryptPopPort", "apicryptPopUser",
                 "apicryptPopPassword", "apicryptImapHost", "apicryptMaildir")),
    ("Keys", ("apicryptCheminVersClefs",)),
    ("Collection", ("apicryptKeepOnServer", "apicryptDeleteAfterDays")),
)


def _specs() -> list[tuple[str, list[Any]]]:
    registry = bridge_state().registry
    return [(title, [registry.get(name) for name in names
                     if name in registry and "user" in registry.get(name).levels])
            for title, names in SECTIONS]


def _practitioner(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


def _delegates_of(user_id: int) -> set[int]:
    store = bridge_state().settings
    return {delegate for delegate in store.users_with_value(DELEGATION)
            if user_id in (store.stored(DELEGATION, "user", user_id=delegate) or [])}


def _changed_only(specs: list[Any], user_id: int) -> MultiDict[str, str]:
    """The submitted fields whose value differs from what applies now (the rest stays)."""
    store = bridge_state().settings
    kept: MultiDict[str, str] = MultiDict()
    for spec in specs:
        raw = read_field(spec, request.form)
        if raw is UNCHANGED:
            continue
        current = store.get(spec.name, user_id=user_id)
        text = ",".join(raw) if isinstance(raw, list) else str(raw)
        if text == render_value(spec, current):
            continue
        key = PREFIX + spec.name
        for value in request.form.getlist(key) or [str(raw)]:
            kept.add(key, value)
        for suffix in ("__shown", "__clear"):
            if key + suffix in request.form:
                kept.add(key + suffix, request.form[key + suffix])
    return kept


def _cross_check(user_id: int, form: MultiDict[str, str]) -> dict[str, str]:
    """The address's local part is the Apicrypt user name (prenom.NOM)."""
    store = bridge_state().settings
    address = form.get(PREFIX + "apicryptAdresse", store.get("apicryptAdresse", user_id=user_id))
    login = form.get(PREFIX + "apicryptUtilisateur",
                     store.get("apicryptUtilisateur", user_id=user_id))
    local = str(address or "").partition("@")[0]
    if address and login and local.lower() != str(login).lower():
        return {"apicryptUtilisateur": _(
            "The Apicrypt user name (%(login)s) must be the part of the address before the @ "
            "(%(local)s): correct one of them.", login=login, local=local)}
    return {}


@setup_pages.route("/<int:user_id>/setup", methods=["GET", "POST"])
def setup(user_id: int) -> Any:
    practitioner = _practitioner(user_id)
    store = bridge_state().settings
    sections = _specs()
    every_spec = [spec for _title, specs in sections for spec in specs]
    users = list(db.session.scalars(select(User).where(User.active.is_(True))
                                    .order_by(User.display_name, User.login)))
    delegates = _delegates_of(user_id)
    errors: dict[str, str] = {}
    submitted: dict[str, Any] = {}
    if request.method == "POST":
        changed = _changed_only(every_spec, user_id)
        errors = _cross_check(user_id, request.form)
        wanted = {int(item) for item in request.form.getlist("delegate") if item.isdigit()}
        wanted &= {user.id for user in users if user.id != user_id}
        if not errors:
            result = save_settings(store, every_spec, changed, level="user", user_id=user_id,
                                   keep_equal=True)
            errors, submitted = result.errors, result.submitted
            if not errors:
                changes = _save_delegates(user_id, delegates, wanted)
                total = len(result.saved) + changes
                flash(_("%(name)s is set up: %(count)s change(s) saved.",
                        name=practitioner.display_name or practitioner.login, count=total)
                      if total else _("Nothing changed."), "success" if total else "info")
                return redirect(url_for(".setup", user_id=user_id))
        submitted = {spec.name: read_field(spec, request.form) for spec in every_spec}
        delegates = wanted
        flash(_("Nothing was saved: correct the values shown in red."), "error")
    fields = []
    for title, specs in sections:
        row = []
        for spec in specs:
            effective = store.effective(spec.name, user_id=user_id)
            shown = submitted.get(spec.name, effective.value)
            if shown is UNCHANGED:
                shown = effective.value
            row.append(build_field(spec, shown, users=users, source=source_label(effective),
                                   error=errors.get(spec.name, "")))
        fields.append((title, row))
    return render_template("bridge/practitioner_setup.html", practitioner=practitioner,
                           sections=fields, users=[u for u in users if u.id != user_id],
                           delegates=delegates, errors=errors), 400 if errors else 200


def _save_delegates(user_id: int, before: set[int], wanted: set[int]) -> int:
    """Add or remove ``user_id`` in each delegate's own list; returns the number changed."""
    store = bridge_state().settings
    changed = 0
    for delegate in sorted(before ^ wanted):
        current = list(store.stored(DELEGATION, "user", user_id=delegate) or [])
        updated = sorted({*current, user_id} if delegate in wanted else
                         set(current) - {user_id})
        if updated:
            store.set(DELEGATION, ",".join(str(item) for item in updated), level="user",
                      user_id=delegate)
            audit("setting.set", target=setting_target(DELEGATION, "user", user_id=delegate),
                  detail=f"value: {','.join(str(item) for item in updated)}")
        else:
            store.unset(DELEGATION, level="user", user_id=delegate)
            audit("setting.unset", target=setting_target(DELEGATION, "user", user_id=delegate))
        changed += 1
    return changed

