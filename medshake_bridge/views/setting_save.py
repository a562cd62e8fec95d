"""Saving settings submitted from a page: all valid, or nothing saved.

Every submitted value is validated by the settings store first (the one authority on what is
valid); only when all pass are they written, in one transaction, and each change audited
(a secret's audit entry says it changed, never what to). Refusals are explained in the reader's
language, next to the field.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from medshake_bridge.audit import audit, setting_target
from medshake_bridge.db import db
from medshake_bridge.errors import SettingError
from medshake_bridge.i18n import _
from medshake_bridge.models import User
from medshake_bridge.settings import SettingSpec, SettingsStore
from medshake_bridge.settings.spec import _split, render_value
from medshake_bridge.views.setting_fields import UNCHANGED, read_field


@dataclass
class SaveResult:
    saved: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    submitted: dict[str, Any] = field(default_factory=dict)


def save_settings(store: SettingsStore, specs: Sequence[SettingSpec], form: MultiDict[str, str],
                  *, level: str, user_id: int | None = None, module: str | None = None,
                  keep_equal: bool = False) -> SaveResult:
    """Validate every submitted setting of ``specs``; write them all or none.

    Without ``keep_equal``, a value equal to what already applies at this level is not
    written (so saving the global page does not pin every declared default).
    """
    result = SaveResult()
    pending: dict[str, Any] = {}
    for spec in specs:
        raw = read_field(spec, form)
        if raw is UNCHANGED:
            continue
        result.submitted[spec.name] = raw
        current = _current(store, spec, level, user_id, module)
        if not keep_equal and _as_text(raw) == render_value(spec, current):
            continue  # shown and sent back untouched: not re-validated (a default folder
            # that does not exist yet must not block saving the rest of the page)
        try:
            typed = store.validate(spec, raw, level=level)
        except SettingError as error:
            result.errors[spec.name] = explain(spec, raw, error)
            continue
        if not keep_equal and typed == current:
            continue
        pending[spec.name] = raw
    if result.errors or not pending:
        return result
    try:
        for name, raw in pending.items():
            store.set(name, raw, level=level, user_id=user_id, module=module, commit=False)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    for name in pending:
        spec = store.registry.get(name)
        value = store.stored(name, level, user_id=user_id, module=module)
        detail = "secret value changed" if spec.secret else f"value: {render_value(spec, value)}"
        audit("setting.set", target=setting_target(name, level, user_id=user_id, module=module),
              detail=detail)
    result.saved = list(pending)
    return result


def remove_setting(store: SettingsStore, name: str, *, level: str, user_id: int | None = None,
                   module: str | None = None) -> bool:
    """Remove the value stored at one level (audited); False when there was none."""
    removed = store.unset(name, level=level, user_id=user_id, module=module)
    if removed:
        audit("setting.unset", target=setting_target(name, level, user_id=user_id, module=module))
    return removed


def _as_text(raw: Any) -> str:
    return ",".join(str(part) for part in raw) if isinstance(raw, list) else str(raw).strip()


def _current(store: SettingsStore, spec: SettingSpec, level: str, user_id: int | None,
             module: str | None) -> Any:
    stored = store.stored(spec.name, level, user_id=user_id, module=module)
    return store.declared_default(spec) if stored is None else stored


def explain(spec: SettingSpec, raw: Any, error: SettingError) -> str:
    """Why ``raw`` was refused, in the reader's language, with what to do."""
    text = _as_text(raw)
    kind = spec.type
    if kind == "port":
        return _("“%(value)s” is not a port: give a number between 1 and 65535.", value=text)
    if kind == "int":
        return _("“%(value)s” is not allowed: give a whole number, zero or more.", value=text)
    if kind == "host" and text:
        return _("“%(value)s” is not a host name: give a name such as pop.intermedic.org or an "
                 "IP address, without spaces.", value=text)
    if kind in ("folder", "file") and text:
        if not os.path.isabs(text):
            return _("“%(value)s” is not an absolute path: give a path starting with /.",
                     value=text)
        if kind == "folder":
            return _("The folder %(value)s does not exist: create it first or correct the "
                     "path.", value=text)
        return _("The file %(value)s does not exist: check the path.", value=text)
    if kind == "email":
        return _("“%(value)s” is not an e-mail address: write it as name@domain.tld.",
                 value=text)
    if kind == "url":
        return _("“%(value)s” is not a URL: write it as http://host:port.", value=text)
    if kind == "choice":
        from flask import current_app

        from medshake_bridge.settings.choices import live_values

        app = current_app._get_current_object()  # type: ignore[attr-defined]
        return _("Choose one of: %(choices)s.", choices=", ".join(live_values(spec, app)))
    if kind == "bool":
        return _("Choose yes or no.")
    if kind == "userids":
        missing = _missing_user_ids(raw)
        if missing:
            return _("There is no user with id %(ids)s: choose existing users.",
                     ids=", ".join(missing))
        return _("Give user ids (numbers) separated by commas.")
    return _("Value refused: %(reason)s", reason=str(error))


def _missing_user_ids(raw: Any) -> list[str]:
    parts = _split(raw)
    if not parts or not all(part.isdigit() for part in parts):
        return []
    ids = [int(part) for part in parts]
    found = set(db.session.scalars(select(User.id).where(User.id.in_(ids))))
    return [str(i) for i in ids if i not in found]
