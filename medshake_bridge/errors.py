"""The bridge's exception tree.

Every error the product raises on purpose derives from :class:`BridgeError` and carries a
``fix``: one sentence telling the reader what to do. Pages, the CLI and the logs show both, so a
clinician or an admin never meets a bare traceback for a condition we foresaw.
"""

from __future__ import annotations

# Why something failed, so the pipeline knows whether trying again can help (issue 20):
TRANSIENT = "transient"          # an outage (a service or server not answering, too slow)
CONFIGURATION = "configuration"  # a setting, a certificate or a program of this site
CONTENT = "content"              # the message itself (not a recipient, tampered, malformed)
CAUSES = (TRANSIENT, CONFIGURATION, CONTENT)


class BridgeError(Exception):
    """Base of every foreseen failure: a message saying what happened and a ``fix``.

    ``cause`` says whose fault it is (:data:`TRANSIENT`, :data:`CONFIGURATION` or
    :data:`CONTENT`); subclasses set it, and one raise may override it.
    """

    cause: str = CONTENT

    def __init__(self, message: str, *, fix: str = "", cause: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        if cause is not None:
            self.cause = cause

    def __str__(self) -> str:
        return f"{self.message} ({self.fix})" if self.fix else self.message


class ConfigurationError(BridgeError):
    """The site's configuration (instance config, environment) is missing or wrong."""

    cause = CONFIGURATION


class SettingError(BridgeError):
    """A setting name, value or level was refused."""

    cause = CONFIGURATION


class UnknownSettingError(SettingError):
    """No plugin declares a setting by that name."""


class SettingValueError(SettingError):
    """A value does not fit the setting's type or validator."""


class SettingLevelError(SettingError):
    """The setting may not be stored at that level (default / module / user)."""


class SecretKeyMissingError(ConfigurationError):
    """A secret must be stored or read but no encryption key is configured."""


class PluginLoadError(BridgeError):
    """A plugin failed to import or register (fatal only in strict mode)."""


class ProgramError(BridgeError):
    """An external program (Apicrypt v1, ApiV2AESUtility, a restart command) failed."""


class CryptoError(BridgeError):
    """Encryption or decryption by a back-end failed."""


class MailError(BridgeError):
    """A mailbox or a mail server could not be used."""


class HprimError(BridgeError):
    """HPRIM text could not be built (parsing never raises: it reports)."""


class MailConnectionError(MailError):
    """The mail server could not be reached (DNS, refused, timeout, dropped connection)."""

    cause = TRANSIENT


class MailAuthenticationError(MailError):
    """The mail server refused the login or password."""

    cause = CONFIGURATION


class MailTlsError(MailError):
    """TLS failed: certificate not trusted, wrong host name, or STARTTLS not offered."""

    cause = CONFIGURATION


class MailProtocolError(MailError):
    """The server answered something the protocol does not allow (or a message vanished)."""


class PatientError(BridgeError):
    """A patient reference, a patient provider or a filing request was refused."""


def error_cause(exc: BaseException) -> str:
    """:data:`TRANSIENT`, :data:`CONFIGURATION` or :data:`CONTENT` for any exception.

    A :class:`BridgeError` says it itself (following ``raise … from`` when the outer error has
    no opinion of its own); anything unforeseen is treated as the message's fault, so it keeps
    the bounded retry-then-quarantine path instead of retrying forever.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        cause = getattr(current, "cause", None)
        if isinstance(current, BridgeError) and cause in CAUSES and (
                cause != CONTENT or current.__cause__ is None):
            return str(cause)
        current = current.__cause__
    return CONTENT
