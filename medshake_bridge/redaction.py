"""Keep secret values out of logs.

Every secret the settings store decrypts or stores is remembered here, and a logging filter
installed on the ``medshake_bridge`` logger replaces those strings in every record. Secrets are
also redacted at the source (we never log a value on purpose); this is the safety net.
"""

from __future__ import annotations

import logging
import threading

REPLACEMENT = "[secret]"
_MIN_LENGTH = 4
_lock = threading.Lock()
_known: set[str] = set()


def remember_secret(value: str) -> None:
    if isinstance(value, str) and len(value) >= _MIN_LENGTH:
        with _lock:
            _known.add(value)


def redact(text: str) -> str:
    with _lock:
        known = sorted(_known, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, REPLACEMENT)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites a record's message with every known secret replaced."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave the record alone
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True


def install(logger_name: str = "medshake_bridge") -> None:
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
