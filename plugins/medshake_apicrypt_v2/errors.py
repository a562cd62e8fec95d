"""The v2 back-end's errors: each names what failed and how to fix it, never a secret.

They derive from the host's :class:`~medshake_bridge.errors.CryptoError` (a message could not
be encrypted or decrypted) or :class:`~medshake_bridge.errors.ConfigurationError` (the settings
are wrong), so the pipeline's retry and quarantine logic treats them like the v1 ones. Neither
the certificate password nor the companion token ever appears in a message.
"""

from __future__ import annotations

from datetime import date

from medshake_bridge.api import (
    CONFIGURATION,
    CONTENT,
    TRANSIENT,
    ConfigurationError,
    CryptoError,
)

RESTART_FIX = "start it or use the restart button on the system information page"


class ApicryptV2ConfigError(ConfigurationError):
    """A v2 setting is missing or unusable (certificate name, URL, spool, restart command)."""


class CompanionError(CryptoError):
    """Base of everything the companion refused or could not do."""


class CompanionUnavailableError(CompanionError):
    """Nothing answers at the companion's URL (not running, refused, connection dropped)."""

    cause = TRANSIENT


class CompanionTimeoutError(CompanionUnavailableError):
    """The companion accepted the connection but did not answer in time."""


class CompanionAuthError(CompanionError):
    """The companion refused the bridge's token (HTTP 401)."""

    cause = CONFIGURATION


class CompanionProtocolError(CompanionError):
    """The companion answered something outside the contract (not JSON, missing fields)."""

    cause = CONFIGURATION


class CompanionRefusedError(CompanionError):
    """The companion refused one request (not a recipient, tampered message, bad path...)."""

    def __init__(self, message: str, *, fix: str = "", code: str = "") -> None:
        super().__init__(message, fix=fix)
        self.code = code
        self.cause = _REFUSAL_CAUSES.get(code, CONTENT)


# A refusal is the message's fault (not a recipient, tampered, not UTF-8, bad request) unless
# the code says the site's side is wrong or the companion broke.
_REFUSAL_CAUSES = {
    "key-missing": CONFIGURATION, "bad-path": CONFIGURATION, "unauthorized": CONFIGURATION,
    "internal": TRANSIENT,
}


class CertificateError(CompanionError):
    """The v2 certificate cannot be used (a matter of this site's settings, never of a
    message: mail waits instead of being quarantined)."""

    cause = CONFIGURATION


class CertificatePasswordError(CertificateError):
    """The certificate refused its password."""


class CertificateExpiredError(CertificateError):
    """The certificate is past its expiry date."""

    def __init__(self, message: str, *, fix: str = "", not_after: date | None = None) -> None:
        super().__init__(message, fix=fix)
        self.not_after = not_after


class CertificateUnknownError(CertificateError):
    """The companion knows no certificate by that name."""
