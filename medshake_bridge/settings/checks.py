"""Checking settings where they are used, and command settings where they are saved.

Values are validated when saved, but rows written by an older version, by hand or restored from
a backup can still be unreadable or wrong. Collection reads each user's settings through
:func:`check_effective_settings`, so one user's bad row fails that user's mailbox with a message
naming the user and the setting, never everyone's collection (issue 17).
"""

from __future__ import annotations

import os
import shutil
from typing import Any

from medshake_bridge.errors import ConfigurationError
from medshake_bridge.runner import MINIMAL_PATH, parse_prefix
from medshake_bridge.settings.spec import ValueProblem, coerce_value

NUMERIC = ("int", "port")
# Command settings collection depends on (the restart command is checked by the system page).
COMMAND_SETTINGS = ("apicryptCommandPrefix",)


def _fix_for(names: list[str], who: str, user_id: int | None) -> str:
    where = f" --user {user_id}" if user_id is not None else ""
    return (f"set {', '.join(names)} again for {who} (settings page, or `medshake-bridge "
            f"config set NAME VALUE{where}`)")


def check_effective_settings(store: Any, user_id: int | None, *, who: str) -> dict[str, Any]:
    """``store.values_for_user(user_id)``, or a :class:`ConfigurationError` naming each
    unusable setting: unreadable (not JSON, cannot be decrypted), not a number where one is
    needed, or a command that is not an argument list of an existing program."""
    try:
        values = store.values_for_user(user_id)
    except Exception:  # noqa: BLE001 - find which rows, and say so
        bad = []
        for spec in store.registry:
            try:
                store.get(spec.name, user_id=user_id)
            except Exception:  # noqa: BLE001
                bad.append(spec.name)
        raise ConfigurationError(
            f"the setting(s) {', '.join(bad) or '(unknown)'} of {who} cannot be read (the "
            "stored value is damaged or was encrypted with a key this instance does not have)",
            fix=_fix_for(bad or ["them"], who, user_id)) from None
    for spec in store.registry:
        value = values.get(spec.name)
        if value in (None, ""):
            continue
        try:
            if spec.type in NUMERIC:
                coerce_value(spec, value)
            if spec.name in COMMAND_SETTINGS:
                check_command(str(value))
        except ValueProblem as problem:
            raise ConfigurationError(
                f"the setting {spec.name} of {who} is not usable: {problem.problem}",
                fix=f"{problem.fix}; {_fix_for([spec.name], who, user_id)}") from None
    return values


def resolve_program(program: str, *, path: str = MINIMAL_PATH) -> str | None:
    """The executable ``program`` names (a path, or a bare name looked up in ``path``)."""
    if os.sep in program:
        return program if os.path.isfile(program) and os.access(program, os.X_OK) else None
    return shutil.which(program, path=path)


def check_command(text: str) -> list[str]:
    """An argument list whose first word is an existing executable, or a :class:`ValueProblem`.

    Never a shell: ``;``, ``|``, ``&``, redirections and ``$(…)`` are refused.
    """
    try:
        words = parse_prefix(text)
    except ConfigurationError as exc:
        raise ValueProblem(exc.message, exc.fix) from None
    if not words:
        return words
    if resolve_program(words[0]) is None:
        raise ValueProblem(
            f"the program {words[0]!r} does not exist or is not executable"
            + ("" if os.sep in words[0] else f" (searched {MINIMAL_PATH})"),
            "give the full path of an installed program, e.g. /usr/bin/sudo -n")
    return words


def command_validator(value: Any) -> None:
    """A :class:`~medshake_bridge.settings.SettingSpec` validator for command settings."""
    check_command(str(value))


def programs_folder_validator(value: Any) -> None:
    """``apicryptCheminVersBinaires``: the bridge runs what this folder holds, so a folder every
    account may write into (or a program there that anyone may replace) is refused."""
    import stat

    folder = str(value or "").strip()
    if not folder or not os.path.exists(folder):
        return  # "missing" is reported by the folder check and the system information page
    if not os.path.isabs(folder):
        raise ValueProblem(f"{folder} is not an absolute path",
                           "give the full path, e.g. /usr/local/apicrypt/bin")
    writable = [path for path in [folder, *(os.path.join(folder, name)
                                            for name in _listing(folder))]
                if os.path.exists(path) and os.stat(path).st_mode & stat.S_IWOTH
                and not os.path.islink(path)]
    if writable:
        raise ValueProblem(
            f"{writable[0]} may be changed by every account on this machine, and the bridge "
            "runs the programs found there",
            f"remove write access for others (chmod o-w {writable[0]}) or install the programs "
            "in a folder only administrators can write")


def _listing(folder: str) -> list[str]:
    try:
        return sorted(os.listdir(folder))[:200]
    except OSError:
        return []
