"""The password policy: long enough, not blank or one repeated pattern, not the login, not a
password that guessing tools try first.

The policy answers with a *reason code* (``short``, ``blank``, ``repetitive``, ``login``,
``common``) so the web pages say it in the reader's language and the services raise a
:class:`~medshake_bridge.users.UserError` with a fix. The common passwords ship as a file
(``data/common_passwords.txt``) so a site can read and extend the list
(``MEDSHAKE_BRIDGE_PASSWORD_EXTRA_WORDS``: words specific to the site, e.g. the clinic's name).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from flask import current_app, has_app_context

MIN_LENGTH = 10
MIN_DISTINCT_CHARACTERS = 5
COMMON_FILE = Path(__file__).parent / "data" / "common_passwords.txt"
_AROUND = re.compile(r"^[\W\d_]+|[\W\d_]+$")
# Runs of keys or digits typed in order ("1234567890", "azertyuiop", "0987654321").
_RUNS = ("01234567890123456789", "98765432109876543210", "azertyuiopqsdfghjklmwxcvbn",
         "qwertyuiopasdfghjklzxcvbnm", "qwertzuiopasdfghjklyxcvbnm", "abcdefghijklmnopqrstuvwxyz")


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list, lower case, comments and blank lines left out."""
    lines = COMMON_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines
                     if line.strip() and not line.startswith("#"))


def min_length() -> int:
    if has_app_context():
        try:
            return max(int(current_app.config.get("MEDSHAKE_BRIDGE_PASSWORD_MIN_LENGTH")
                           or MIN_LENGTH), 8)
        except (TypeError, ValueError):
            return MIN_LENGTH
    return MIN_LENGTH


def _extra_words() -> set[str]:
    if not has_app_context():
        return set()
    words = current_app.config.get("MEDSHAKE_BRIDGE_PASSWORD_EXTRA_WORDS") or []
    if isinstance(words, str):
        words = words.split(",")
    return {str(word).strip().lower() for word in words if str(word).strip()}


def _variants(password: str) -> set[str]:
    """The password as guessing tools build it: lower case, without spaces, without the digits
    and punctuation added around a word."""
    lowered = password.strip().lower()
    squeezed = re.sub(r"\s+", "", lowered)
    return {lowered, squeezed, _AROUND.sub("", lowered), _AROUND.sub("", squeezed)} - {""}


def password_problem(password: str, *, login: str = "") -> str:
    """The first rule ``password`` breaks, as a reason code, or ``""`` when it is acceptable."""
    if not password.strip():
        return "blank"
    if len(password) < min_length():
        return "short"
    if len(set(password.lower())) < MIN_DISTINCT_CHARACTERS:
        return "repetitive"
    variants = _variants(password)
    if login and (login.lower() in variants or login.lower() in password.lower()):
        return "login"
    if variants & (common_passwords() | _extra_words()):
        return "common"
    squeezed = re.sub(r"\s+", "", password.lower())
    if any(squeezed in run or squeezed in run[::-1] for run in _RUNS):
        return "common"
    return ""


def problem_text(code: str) -> str:
    """English text and fix for a reason code (the services' error messages)."""
    return {
        "blank": "the password is empty or only spaces; choose a real password",
        "short": f"the password is too short; choose one of at least {min_length()} characters",
        "repetitive": "the password repeats too few characters; mix at least "
                      f"{MIN_DISTINCT_CHARACTERS} different characters",
        "login": "the password contains the login; choose one that does not",
        "common": "the password is in the list of common passwords; choose a less guessable "
                  "one (a sentence of several words works well)",
    }.get(code, "the password is not accepted")
