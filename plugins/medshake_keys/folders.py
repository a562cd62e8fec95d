"""Which key folders exist: the general one, and one per user whose folder differs.

``apicryptCheminVersClefs`` is set for the site and may be overridden for a user (or a
module). The page and the CLI name a folder by its *choice*, ``general`` or a user id, and the
path is always resolved here from the settings, never taken from a request.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import has_request_context

from medshake_bridge.api import BridgeUser, Runner, Settings, audit, get_user, program_runner, users
from medshake_keys.clock import today
from medshake_keys.manager import ClefsManager

SETTING = "apicryptCheminVersClefs"
GENERAL = "general"
_USER_SCOPE = re.compile(r"user-(?P<id>[0-9]{1,9})\Z")


@dataclass(frozen=True)
class FolderChoice:
    """One tab of the keys page: ``scope`` is ``general`` or ``user-<id>``."""

    scope: str
    user: BridgeUser | None
    keys_dir: Path | None
    settings: Mapping[str, Any]

    @property
    def user_id(self) -> int | None:
        return self.user.id if self.user is not None else None


def _keys_dir(settings: Mapping[str, Any]) -> Path | None:
    text = str(settings.get(SETTING) or "").strip()
    return Path(text) if text else None


def general_choice(state: Settings) -> FolderChoice:
    settings = state.for_user(None)
    return FolderChoice(GENERAL, None, _keys_dir(settings), settings)


def user_choice(state: Settings, user: BridgeUser) -> FolderChoice:
    settings = state.for_user(user.id)
    return FolderChoice(f"user-{user.id}", user, _keys_dir(settings), settings)


def folder_choices(state: Settings) -> list[FolderChoice]:
    """The general folder first, then each user whose effective folder is another one."""
    general = general_choice(state)
    choices = [general]
    for user in sorted(users(active_only=False), key=lambda user: user.login):
        choice = user_choice(state, user)
        if choice.keys_dir is not None and choice.keys_dir != general.keys_dir:
            choices.append(choice)
    return choices


def choice_for_scope(state: Settings, scope: str) -> FolderChoice | None:
    """The folder named by a URL's scope, or ``None`` (the page answers 404)."""
    if scope == GENERAL:
        return general_choice(state)
    match = _USER_SCOPE.match(scope)
    if match is None:
        return None
    user = get_user(int(match["id"]))
    return user_choice(state, user) if user is not None else None


def choice_for_user_id(state: Settings, user_id: int | None) -> FolderChoice | None:
    """``None`` user id: the general folder; an unknown id: ``None``."""
    if user_id is None:
        return general_choice(state)
    user = get_user(int(user_id))
    return user_choice(state, user) if user is not None else None


def record_event(action: str, target: str, outcome: str, detail: str) -> None:
    """The manager's event sink: the host's audit log (``cli`` outside a web request)."""
    audit(action, target=target, outcome=outcome, detail=detail,
          actor_login="" if has_request_context() else "cli")


def build_manager(settings: Mapping[str, Any], runner: Runner | None = None) -> ClefsManager:
    """The ``KeyManagerSpec`` factory: a manager for the folder these settings name."""
    return ClefsManager(_keys_dir(settings), settings=settings, runner=runner, today=today,
                        on_event=record_event)


def manager_for(state: Settings, choice: FolderChoice) -> ClefsManager:
    return build_manager(choice.settings, program_runner(choice.settings))
