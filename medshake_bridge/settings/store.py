"""The hierarchical settings store: default → module → user.

One resolution function (:meth:`SettingsStore.effective`) is used by the pages, the CLI and the
scheduler alike: a user-level value beats the user's module value, which beats the default-level
value, which beats the declared default. Every write is validated against the declaration first,
so nothing invalid or half-saved ever reaches the table.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask
from sqlalchemy import event, select

from medshake_bridge import redaction
from medshake_bridge.db import BridgeSession, db
from medshake_bridge.errors import (
    SettingLevelError,
    SettingValueError,
    UnknownSettingError,
)
from medshake_bridge.models import SettingValue, User
from medshake_bridge.secrets import SecretBox
from medshake_bridge.settings.spec import LEVELS, SettingSpec, ValueProblem, coerce_value

SECRET_MASK = "********"  # noqa: S105 - the mask shown instead of a secret

# Values read during a run of work that asked to remember them (:meth:`SettingsStore.
# remembering`), keyed by (store, name, user, module); ``None`` outside such a run. A context
# variable: each thread (and each run) has its own, so nothing is shared between them.
# Other readers may keep what they read for the same run in it, under their own keys (see
# :func:`run_memo`).
_REMEMBERED: ContextVar[dict[tuple[Any, ...], Any] | None] = ContextVar(
    "medshake_bridge_settings_remembered", default=None)


_T = TypeVar("_T")


def run_memo() -> dict[tuple[Any, ...], Any] | None:
    """The memo of the current :meth:`SettingsStore.remembering` block (``None`` outside one):
    a reader keeps there, under a key of its own (a tuple starting with a string naming it),
    what it may read once per run, e.g. the public copies of a mailbox's owners."""
    return _REMEMBERED.get()


def once_per_run(key: tuple[Any, ...], compute: Callable[[], _T]) -> _T:
    """``compute()``'s answer kept under ``key`` in the run's memo (:func:`run_memo`): asked
    once per run; outside a run, every time."""
    memo = run_memo()
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]  # type: ignore[no-any-return]


@dataclass(frozen=True)
class EffectiveValue:
    """A resolved value and where it came from (``declared`` = the plugin's default)."""

    spec: SettingSpec
    value: Any
    level: str
    scope: str = ""

    @property
    def is_set(self) -> bool:
        return self.value not in ("", None, [])


class SettingsRegistry:
    """All declared settings, by name, in declaration order."""

    def __init__(self) -> None:
        self._specs: dict[str, SettingSpec] = {}

    def add(self, spec: SettingSpec) -> None:
        if spec.name in self._specs:
            owner = self._specs[spec.name].plugin or "another plugin"
            raise ValueError(f"setting {spec.name} is already declared by {owner}")
        self._specs[spec.name] = spec

    def get(self, name: str) -> SettingSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise UnknownSettingError(
                f"unknown setting {name!r}",
                fix="check the spelling (`medshake-bridge config list` shows every setting) or "
                "enable the plugin that declares it",
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __iter__(self):
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    def categories(self) -> dict[str, list[SettingSpec]]:
        grouped: dict[str, list[SettingSpec]] = {}
        for spec in self._specs.values():
            grouped.setdefault(spec.category, []).append(spec)
        return grouped


class SettingsStore:
    """Reads and writes setting values for one app."""

    def __init__(self, app: Flask, registry: SettingsRegistry, secrets: SecretBox) -> None:
        self.app = app
        self.registry = registry
        self.secrets = secrets

    # -- reading ---------------------------------------------------------------------------

    def get(self, name: str, *, user_id: int | None = None, module: str | None = None) -> Any:
        """The effective typed value of ``name`` for a user (or a module, or the site)."""
        return self.effective(name, user_id=user_id, module=module).value

    def effective(
        self, name: str, *, user_id: int | None = None, module: str | None = None
    ) -> EffectiveValue:
        remembered = _REMEMBERED.get()
        key = (id(self), name, user_id, module)
        if remembered is not None and key in remembered:
            found = remembered[key]
            value = found.value
            if isinstance(value, list | dict):  # the caller may change its copy
                return EffectiveValue(found.spec, copy.deepcopy(value), found.level,
                                      found.scope)
            return found
        spec = self.registry.get(name)
        rows = self._rows_for([name], user_id=user_id, module=module)
        found = self._resolve(spec, rows.get(name, {}), user_id=user_id, module=module)
        if remembered is not None:
            remembered[key] = found
            if isinstance(found.value, list | dict):
                return EffectiveValue(spec, copy.deepcopy(found.value), found.level,
                                      found.scope)
        return found

    @staticmethod
    @contextlib.contextmanager
    def remembering() -> Iterator[None]:
        """Read each setting once for the length of the block (in this thread), not once per
        call.

        A collection asks plugins to react to every stored message, and a plugin reading a
        site setting in ``medshake_message_stored`` cost one query per message (9 % of the
        processing time of a pass-through collection, issue 18). Inside the block a value is
        read from the database the first time only; a value written through this store (in
        this thread) clears what was remembered. A change made elsewhere (a page, another
        process) is seen by the next run of work: a collection run is short, and the
        pipeline reads its own mailbox settings once per run already.
        """
        if _REMEMBERED.get() is not None:  # nested: the outer block decides
            yield
            return
        token = _REMEMBERED.set({})
        try:
            yield
        finally:
            _REMEMBERED.reset(token)

    @staticmethod
    def _forget_remembered(*_event_args: Any) -> None:
        """Clear the memo of this thread's run: after a write through the store, and after a
        rollback of the bridge's session (a value read after a write that was not committed
        must not outlive the rollback)."""
        remembered = _REMEMBERED.get()
        if remembered:
            remembered.clear()

    def effective_all(
        self, *, user_id: int | None = None, module: str | None = None,
        skip_damaged: bool = False,
    ) -> dict[str, EffectiveValue]:
        """Every declared setting resolved at once (one query), e.g. to build a back-end.

        A stored value that cannot be read (not JSON, not decryptable) raises, unless
        ``skip_damaged``: then it is ignored as if absent (for checks that report it anyway).
        """
        names = [spec.name for spec in self.registry]
        rows = self._rows_for(names, user_id=user_id, module=module)
        if skip_damaged:
            rows = {name: {level: row for level, row in found.items() if self._readable(row)}
                    for name, found in rows.items()}
        return {
            spec.name: self._resolve(spec, rows.get(spec.name, {}), user_id=user_id, module=module)
            for spec in self.registry
        }

    def values_for_user(self, user_id: int | None, *, skip_damaged: bool = False
                        ) -> dict[str, Any]:
        """A plain name → value mapping for a user (what back-ends and collectors receive)."""
        return {name: eff.value for name, eff in self.effective_all(
            user_id=user_id, skip_damaged=skip_damaged).items()}

    def _readable(self, row: SettingValue) -> bool:
        try:
            self._decode(row)
        except Exception:  # noqa: BLE001 - damaged: reported by the collection's checks
            return False
        return True

    def stored(self, name: str, level: str, *, user_id: int | None = None,
               module: str | None = None) -> Any:
        """The value stored at exactly one level, or ``None`` when nothing is stored there."""
        spec = self.registry.get(name)
        scope = self._scope(spec, level, user_id=user_id, module=module)
        row = self._row(name, level, scope)
        return None if row is None else self._decode(row)

    def overrides(self, level: str, scope: str) -> list[SettingValue]:
        """Rows stored at one level and scope (e.g. everything user 3 overrides)."""
        query = select(SettingValue).where(
            SettingValue.level == level, SettingValue.scope == scope
        )
        return list(db.session.scalars(query.order_by(SettingValue.name)))

    def users_with_value(self, name: str) -> list[int]:
        """Ids of users that store ``name`` at the user level."""
        query = select(SettingValue.scope).where(
            SettingValue.name == name, SettingValue.level == "user"
        )
        return sorted(int(scope) for scope in db.session.scalars(query) if scope.isdigit())

    # -- writing ---------------------------------------------------------------------------

    def set(self, name: str, raw: Any, *, level: str = "default", user_id: int | None = None,
            module: str | None = None, commit: bool = True) -> Any:
        """Validate and store a value; returns the typed value. Commits unless ``commit`` is
        False (a page saving several values commits them together, or none)."""
        spec = self.registry.get(name)
        scope = self._scope(spec, level, user_id=user_id, module=module)
        value = self.validate(spec, raw, level=level)
        stored, encrypted = self._encode(spec, value)
        self._forget_remembered()
        row = self._row(name, level, scope)
        if row is None:
            row = SettingValue(name=name, level=level, scope=scope, value=stored,
                               encrypted=encrypted)
            db.session.add(row)
        else:
            row.value, row.encrypted = stored, encrypted
        if commit:
            db.session.commit()
        else:
            db.session.flush()
        return value

    def unset(self, name: str, *, level: str = "default", user_id: int | None = None,
              module: str | None = None, commit: bool = True) -> bool:
        """Remove the value stored at one level; True when something was removed. Commits
        unless ``commit`` is False."""
        spec = self.registry.get(name)
        scope = self._scope(spec, level, user_id=user_id, module=module)
        row = self._row(name, level, scope)
        if row is None:
            return False
        self._forget_remembered()
        db.session.delete(row)
        if commit:
            db.session.commit()
        return True

    def validate(self, spec: SettingSpec, raw: Any, *, level: str) -> Any:
        """Coerce and check a value; raises SettingValueError naming setting, level and fix."""
        try:
            choices = None
            if spec.type == "choice" and spec.choices_from:
                from medshake_bridge.settings.choices import live_values

                choices = live_values(spec, self.app)
            value = coerce_value(spec, raw, choices=choices)
            if spec.type == "userids":
                self._check_users_exist(value)
            if spec.validator is not None and value not in ("", None):
                spec.validator(value)
        except ValueProblem as problem:
            raise SettingValueError(
                f"{spec.name} ({level} level): {problem.problem}", fix=problem.fix
            ) from None
        return value

    def rotate_secrets(self) -> int:
        """Re-encrypt every secret row under the newest key. Commits; returns the count."""
        rows = db.session.scalars(select(SettingValue).where(SettingValue.encrypted.is_(True)))
        count = 0
        for row in rows:
            row.value = self.secrets.rotate(row.value)
            count += 1
        db.session.commit()
        return count

    # -- internals -------------------------------------------------------------------------

    def _scope(self, spec: SettingSpec, level: str, *, user_id: int | None,
               module: str | None) -> str:
        if level not in LEVELS:
            raise SettingLevelError(
                f"{spec.name}: unknown level {level!r}", fix=f"use one of {', '.join(LEVELS)}"
            )
        if level not in spec.levels:
            raise SettingLevelError(
                f"{spec.name} cannot be stored at the {level} level",
                fix=spec.levels_fix or f"store it at the {' or '.join(spec.levels)} level",
            )
        if level == "user":
            if user_id is None:
                raise SettingLevelError(f"{spec.name}: the user level needs a user",
                                        fix="pass --user ID")
            if db.session.get(User, int(user_id)) is None:
                raise SettingLevelError(f"{spec.name}: there is no user with id {user_id}",
                                        fix="check the id (`medshake-bridge users list`)")
            return str(int(user_id))
        if level == "module":
            if not module:
                raise SettingLevelError(f"{spec.name}: the module level needs a module name",
                                        fix="pass --module NAME")
            return module
        return ""

    def _row(self, name: str, level: str, scope: str) -> SettingValue | None:
        query = select(SettingValue).where(
            SettingValue.name == name, SettingValue.level == level, SettingValue.scope == scope
        )
        return db.session.scalars(query).first()

    def _user_module(self, user_id: int | None, module: str | None) -> str | None:
        if module or user_id is None:
            return module
        user = db.session.get(User, int(user_id))
        return user.module if user is not None else None

    def _rows_for(self, names: Iterable[str], *, user_id: int | None,
                  module: str | None) -> dict[str, dict[str, SettingValue]]:
        module = self._user_module(user_id, module)
        wanted = [("default", "")]
        if module:
            wanted.append(("module", module))
        if user_id is not None:
            wanted.append(("user", str(int(user_id))))
        clauses = [
            (SettingValue.level == level) & (SettingValue.scope == scope)
            for level, scope in wanted
        ]
        query = select(SettingValue).where(SettingValue.name.in_(list(names)))
        condition = clauses[0]
        for clause in clauses[1:]:
            condition = condition | clause
        found: dict[str, dict[str, SettingValue]] = {}
        for row in db.session.scalars(query.where(condition)):
            found.setdefault(row.name, {})[row.level] = row
        return found

    def _resolve(self, spec: SettingSpec, rows: Mapping[str, SettingValue], *,
                 user_id: int | None, module: str | None) -> EffectiveValue:
        for level in ("user", "module", "default"):
            # A row at a level the declaration no longer allows (left by an older version,
            # e.g. a delegation granted to everyone) is ignored, never applied.
            row = rows.get(level) if level in spec.levels else None
            if row is not None:
                return EffectiveValue(spec, self._decode(row), level, row.scope)
        return EffectiveValue(spec, self.declared_default(spec), "declared")

    def declared_default(self, spec: SettingSpec) -> Any:
        default = spec.default
        return default(self.app) if callable(default) else default

    def _encode(self, spec: SettingSpec, value: Any) -> tuple[str, bool]:
        text = json.dumps(value, ensure_ascii=False)
        if spec.secret:
            if isinstance(value, str):
                redaction.remember_secret(value)
            return self.secrets.encrypt(text), True
        return text, False

    def _decode(self, row: SettingValue) -> Any:
        text = self.secrets.decrypt(row.value) if row.encrypted else row.value
        value = json.loads(text)
        if row.encrypted and isinstance(value, str):
            redaction.remember_secret(value)
        return value

    def _check_users_exist(self, ids: list[int]) -> None:
        if not ids:
            return
        found = set(db.session.scalars(select(User.id).where(User.id.in_(ids))))
        missing = [str(i) for i in ids if i not in found]
        if missing:
            raise ValueProblem(
                f"no user with id {', '.join(missing)}",
                "give ids of existing users (`medshake-bridge users list`)",
            )


# Any rollback of a bridge session (never a host portal's) forgets what this thread's run read.
event.listen(BridgeSession, "after_soft_rollback", SettingsStore._forget_remembered)
