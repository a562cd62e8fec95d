"""Setting declarations and the typing of their values.

A plugin declares each of its settings once with a :class:`SettingSpec`; the store, the CLI and
the configuration pages all read the declaration, so a value is checked the same way wherever it
is entered.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

LEVELS: tuple[str, ...] = ("default", "module", "user")

TYPES: tuple[str, ...] = (
    "text",
    "email",
    "host",
    "port",
    "int",
    "bool",
    "choice",
    "folder",
    "file",
    "url",
    "userids",
    "list",
)

_TRUE = {"1", "true", "yes", "on", "oui", "vrai"}
_FALSE = {"0", "false", "no", "off", "non", "faux", ""}
_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_EMAIL = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$")


class ValueProblem(ValueError):
    """Raised by coercion and validators; the store turns it into a SettingValueError."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix


@dataclass(frozen=True)
class SettingSpec:
    """The declaration of one setting.

    ``default`` may be a callable taking the Flask app (for defaults under the instance folder).
    ``validator`` receives the coerced value and raises :class:`ValueProblem` to refuse it.
    ``must_exist`` applies to folder and file settings.
    ``per_person`` marks a value that belongs to one person (an address, a mailbox login and
    password, a certificate): pages offer it per user only (the practitioner set-up page and
    the per-user overrides), never on the global or module pages, where one value would be
    every user's. A site-wide value already stored still applies (imports and the command line
    may set one); the global page names it so an admin can move it to each person.
    """

    name: str
    type: str
    default: Any
    category: str
    label_fr: str
    label_en: str
    help_fr: str = ""
    help_en: str = ""
    secret: bool = False
    levels: tuple[str, ...] = LEVELS
    choices: tuple[str, ...] = ()
    validator: Callable[[Any], None] | None = None
    must_exist: bool = True
    plugin: str = field(default="", compare=False)
    #: Where a choice setting's values come from when plugins offer them: the name of a list
    #: hook (``"medshake_mail_collectors"``) or a function ``(app) -> [(value, label)]``
    #: (see :mod:`medshake_bridge.settings.choices`). ``choices`` then only adds fixed extras.
    choices_from: str | Callable[[Any], Any] | None = field(default=None, compare=False)
    # What to tell someone who tries a level not in ``levels`` (why, and where to set it).
    levels_fix: str = field(default="", compare=False)
    per_person: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"setting {self.name}: unknown type {self.type!r} (one of {TYPES})")
        if not set(self.levels) <= set(LEVELS) or not self.levels:
            raise ValueError(f"setting {self.name}: levels must be a subset of {LEVELS}")
        if self.type == "choice" and not (self.choices or self.choices_from):
            raise ValueError(f"setting {self.name}: a choice setting needs choices (or "
                             "choices_from, to take them from what plugins offer)")

    def offered_at(self, level: str) -> bool:
        """Whether the settings pages offer this setting at ``level`` (see ``per_person``)."""
        return level in self.levels and (level == "user" or not self.per_person)

    def label(self, lang: str = "fr") -> str:
        return self.label_en if lang == "en" else self.label_fr

    def help(self, lang: str = "fr") -> str:
        return self.help_en if lang == "en" else self.help_fr


def coerce_value(spec: SettingSpec, raw: Any, *, choices: tuple[str, ...] | None = None) -> Any:
    """Turn user input (text from the CLI or a form, or a Python value) into the typed value.

    ``choices`` are the live choices of a setting whose plugins offer them (the store passes
    them). Raises :class:`ValueProblem` with the problem and the fix; never returns a
    half-typed value.
    """
    kind = spec.type
    if kind == "bool":
        return _coerce_bool(raw)
    if kind in ("int", "port"):
        return _coerce_int(raw, port=kind == "port")
    if kind == "userids":
        return _coerce_userids(raw)
    if kind == "list":
        return _coerce_list(raw)
    text = "" if raw is None else str(raw).strip()
    if kind == "choice":
        allowed = spec.choices if choices is None else choices
        if text not in allowed:
            offered = "installed plugins offer " if spec.choices_from else ""
            raise ValueProblem(
                f"{text!r} is not one of the choices {offered}".rstrip(),
                f"use one of: {', '.join(allowed) or '(none installed)'}"
                + ("; a value from a plugin needs that plugin installed and enabled"
                   if spec.choices_from else ""),
            )
        return text
    if text == "":
        return ""
    checker = _TEXT_CHECKS.get(kind)
    if checker is not None:
        checker(text, spec)
    return text


def _coerce_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueProblem(f"{raw!r} is not a yes/no value", "use true or false (1/0, oui/non)")


def _coerce_int(raw: Any, *, port: bool) -> int:
    if isinstance(raw, bool):
        raise ValueProblem(f"{raw!r} is not a whole number", "give a whole number")
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise ValueProblem(f"{raw!r} is not a whole number", "give a whole number") from None
    if port and not 1 <= value <= 65535:
        raise ValueProblem(f"{value} is not a TCP port", "give a port between 1 and 65535")
    if not port and value < 0:
        raise ValueProblem(f"{value} is negative", "give zero or a positive number")
    return value


def _split(raw: Any) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, list | tuple):
        return [str(item).strip() for item in raw if str(item).strip()]
    return [part.strip() for part in str(raw).split(",") if part.strip()]


def _coerce_userids(raw: Any) -> list[int]:
    ids: list[int] = []
    for part in _split(raw):
        if not part.isdigit() or int(part) <= 0:
            raise ValueProblem(
                f"{part!r} is not a user id", "give numeric user ids separated by commas (2,5)"
            )
        if int(part) not in ids:
            ids.append(int(part))
    return ids


def _coerce_list(raw: Any) -> list[str]:
    return _split(raw)


def _check_email(text: str, spec: SettingSpec) -> None:
    if not _EMAIL.match(text):
        raise ValueProblem(f"{text!r} is not an e-mail address", "write it as name@domain.tld")


def _check_host(text: str, spec: SettingSpec) -> None:
    try:
        ipaddress.ip_address(text)
        return
    except ValueError:
        pass
    labels = text.rstrip(".").split(".")
    if len(text) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        raise ValueProblem(
            f"{text!r} is not a host name",
            "give a host name such as pop.intermedic.org or an IP address, without spaces",
        )


def _check_path(text: str, spec: SettingSpec) -> None:
    if "\x00" in text or "\n" in text:
        raise ValueProblem("the path contains a control character", "retype the path")
    if not os.path.isabs(text):
        raise ValueProblem(f"{text!r} is not an absolute path", "give a path starting with /")
    if not spec.must_exist:
        return
    if spec.type == "folder" and not os.path.isdir(text):
        raise ValueProblem(
            f"the folder {text} does not exist", "create it first or correct the path"
        )
    if spec.type == "file" and not os.path.isfile(text):
        raise ValueProblem(f"the file {text} does not exist", "check the path")


def _check_url(text: str, spec: SettingSpec) -> None:
    if not _URL.match(text):
        raise ValueProblem(f"{text!r} is not a URL", "write it as http://host:port")


_TEXT_CHECKS: dict[str, Callable[[str, SettingSpec], None]] = {
    "email": _check_email,
    "host": _check_host,
    "folder": _check_path,
    "file": _check_path,
    "url": _check_url,
}


def render_value(spec: SettingSpec, value: Any) -> str:
    """Show a typed value as text (CLI output, form fields). Secrets are never rendered here."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return "" if value is None else str(value)
