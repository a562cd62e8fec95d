"""Errors of the sandbox: why a fake Apicrypt program or the fake relay refused a request.

Each carries the exit status the sandbox programs use for it, so a test (or an admin reading a
log) can tell "missing key" from "wrong year" from "not a recipient" from "tampered" without
parsing text. These statuses are the sandbox's own; the real programs' statuses are unknown.
"""

from __future__ import annotations

from medshake_bridge.errors import CryptoError


class SandboxError(CryptoError):
    """Base of the sandbox's refusals."""

    exit_code = 10


class SandboxUsageError(SandboxError):
    """Bad arguments, an unreadable input, or the wrong kind of armour for this program."""

    exit_code = 2


class SandboxKeyMissingError(SandboxError):
    """No usable sandbox key for that user in that ``Clefs/`` folder."""

    exit_code = 3


class SandboxKeyYearError(SandboxKeyMissingError):
    """The user's key exists, but not for the year the armour (or today) needs."""

    exit_code = 4


class SandboxNotRecipientError(SandboxError):
    """The armour is not encrypted for any key in this ``Clefs/`` folder."""

    exit_code = 5


class SandboxTamperedError(SandboxError):
    """The armour is not a sandbox armour, is truncated, or failed authentication."""

    exit_code = 6


class SandboxLongCodeError(SandboxError):
    """The long code does not open this ``.aes`` key file."""

    exit_code = 7
