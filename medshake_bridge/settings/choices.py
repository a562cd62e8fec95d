"""Choices that come from what the installed plugins offer.

``apicryptCollector`` lists the collectors plugins offer, ``apicryptVersion`` the crypto
back-ends, a patient-source setting the patient providers: a third-party collector is a valid
choice as soon as its plugin is installed, and one that is uninstalled stops being offered. A
:class:`~medshake_bridge.settings.SettingSpec` says where its choices come from with
``choices_from``:

* the name of a list hook (``"medshake_mail_collectors"``): each item offered gives a value
  (its ``key``, else its ``source``) and a label (its ``label``, else the value);
* or a function ``(app) -> list of (value, label)`` a plugin writes itself.

Pages, ``config set`` and validation all use :func:`live_choices`; a stored value that is no
longer offered is shown as such, with the fix (:func:`unknown_choice`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from flask import Flask

Choice = tuple[str, str]


def live_choices(spec: Any, app: Flask) -> list[Choice]:
    """The (value, label) pairs ``spec`` accepts now (static ``choices`` when it has no
    ``choices_from``)."""
    source = getattr(spec, "choices_from", None)
    if not source:
        return [(choice, choice) for choice in spec.choices]
    offered = _from_hook(app, source) if isinstance(source, str) else _from_function(source, app)
    seen: dict[str, str] = {}
    for value, label in sorted(offered):
        seen.setdefault(value, label)
    for choice in spec.choices:  # static extras stay valid (e.g. a value meaning "none")
        seen.setdefault(choice, choice)
    return list(seen.items())


def live_values(spec: Any, app: Flask) -> tuple[str, ...]:
    return tuple(value for value, _label in live_choices(spec, app))


def unknown_choice(spec: Any, value: Any, app: Flask) -> str | None:
    """A sentence saying that a stored ``value`` is offered by no installed plugin, with the
    fix; ``None`` when the value is fine (or empty)."""
    if spec.type != "choice" or value in (None, "") or not getattr(spec, "choices_from", None):
        return None
    values = live_values(spec, app)
    if str(value) in values:
        return None
    return (f"{spec.name} is {value!r}, which no installed plugin offers (uninstalled or "
            f"disabled?): install or enable the plugin that offers it, or choose one of "
            f"{', '.join(values) or '(none installed)'}")


def _from_hook(app: Flask, hook_name: str) -> list[Choice]:
    from medshake_bridge.extension import bridge_state

    state = bridge_state(app)
    caller = getattr(state.pm.hook, hook_name, None)
    if caller is None or caller.spec is None:
        raise ValueError(f"choices_from names {hook_name!r}, which is not a hook "
                         "(use a medshake_* list hook or a function (app) -> [(value, label)])")
    arguments = {name: app for name in caller.spec.argnames if name == "app"}
    arguments.update({name: None for name in caller.spec.argnames if name not in arguments})
    choices = []
    for answer in state.hooks.call_owned(hook_name, **arguments):
        value = getattr(answer.value, "key", None) or getattr(answer.value, "source", None)
        if value is None and isinstance(answer.value, str):
            value = answer.value
        if value:
            label = getattr(answer.value, "label", None) or value
            choices.append((str(value), str(label)))
    return choices


def _from_function(function: Callable[[Flask], Sequence[Any]], app: Flask) -> list[Choice]:
    from medshake_bridge.extension import bridge_state

    plugin = getattr(function, "__module__", "") or "?"
    try:
        offered = function(app)
    except Exception as exc:  # noqa: BLE001 - contained like a hook: the choice list is empty
        bridge_state(app).hooks.record_failure(plugin, "choices_from", exc)
        return []
    return [(str(item[0]), str(item[1])) if isinstance(item, tuple | list) else (str(item),
                                                                                  str(item))
            for item in offered]


def stale_choices(app: Flask) -> list[tuple[str, str, str, str]]:
    """Stored values no installed plugin offers any more: (name, level, scope, value)."""
    import json

    from sqlalchemy import select

    from medshake_bridge.db import db
    from medshake_bridge.extension import bridge_state
    from medshake_bridge.models import SettingValue

    state = bridge_state(app)
    specs = {spec.name: spec for spec in state.registry
             if spec.type == "choice" and spec.choices_from}
    if not specs:
        return []
    stale = []
    offered = {name: live_values(spec, app) for name, spec in specs.items()}
    for row in db.session.scalars(select(SettingValue).where(SettingValue.name.in_(specs))
                                  .order_by(SettingValue.name, SettingValue.id)):
        try:
            value = json.loads(row.value)
        except ValueError:
            continue  # damaged rows are reported by the settings checks
        if value not in (None, "") and str(value) not in offered[row.name]:
            stale.append((row.name, row.level, row.scope, str(value)))
    default_values = {name: spec.default for name, spec in specs.items()}
    for name, value in default_values.items():
        if value not in (None, "") and str(value) not in offered[name] and not any(
                entry[0] == name and entry[1] == "default" for entry in stale):
            stale.append((name, "built-in default", "", str(value)))
    return stale
