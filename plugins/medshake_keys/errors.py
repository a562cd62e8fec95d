"""The key manager's errors: each says what happened, that nothing changed, and what to do.

They derive from the host's :class:`~medshake_bridge.errors.BridgeError` (a message and a
``fix``), so the page and the CLI show them the same way. None ever contains the long code.
"""

from __future__ import annotations

from medshake_bridge.api import BridgeError, ConfigurationError


class KeyManagementError(BridgeError):
    """Base of every refused or failed key operation (the folder is left as it was)."""


class KeyFolderError(KeyManagementError, ConfigurationError):
    """The key folder is not configured, missing, not a folder, or not readable / writable."""


class KeyNameError(KeyManagementError):
    """A file name was refused (path parts, hidden file, control characters, wrong pattern)."""


class KeyFileSizeError(KeyManagementError):
    """An uploaded key is empty or larger than the size cap."""


class KeyExistsError(KeyManagementError):
    """A key with that name is already in the folder; it is never overwritten silently."""


class KeyNotFoundError(KeyManagementError):
    """No key file with that name in this folder."""


class CurrentYearKeyError(KeyManagementError):
    """Deleting the current year's key needs a second, explicit confirmation."""


class LongCodeError(KeyManagementError):
    """The long code typed does not look like a code (checked before anything runs)."""


class AesDecryptError(KeyManagementError):
    """``ApiV2AESUtility`` could not open the ``.aes`` key (missing, failed, hung, wrong code)."""
