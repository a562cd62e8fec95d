"""Throttling failed logins.

Only failures count: a user who types the password right is never slowed down. Two limits apply,
both checked *before* the password is verified: per (address, login), which stops guessing one
account, and per address, which stops trying many accounts. A good password clears that
account's failures.

The counting is done by ``limits``, the engine of Flask-Limiter (same storage URIs, same
strategies), created on the first login attempt rather than in ``create_app``: its memory
storage starts a timer thread when it is built, and ``create_app`` must start no thread. Storage
is in memory by default; several worker processes need a shared store
(``MEDSHAKE_BRIDGE_RATELIMIT_STORAGE_URI``, e.g. ``redis://localhost:6379``), or each counts on
its own.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from flask import Flask, request
from limits import RateLimitItem, parse
from limits.storage import SCHEMES, storage_from_string
from limits.strategies import FixedWindowRateLimiter, RateLimiter

from medshake_bridge.errors import ConfigurationError

NAMESPACE = "medshake_bridge/login-failures"


@dataclass
class LoginThrottle:
    storage_uri: str
    per_account: RateLimitItem
    per_address: RateLimitItem
    _strategy: RateLimiter | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def strategy(self) -> RateLimiter:
        with self._lock:
            if self._strategy is None:
                self._strategy = FixedWindowRateLimiter(storage_from_string(self.storage_uri))
            return self._strategy

    def _keys(self, login: str) -> list[tuple[RateLimitItem, tuple[str, ...]]]:
        address = request.remote_addr or "unknown"
        return [
            (self.per_account, (NAMESPACE, address, login.strip().lower()[:80])),
            (self.per_address, (NAMESPACE, address)),
        ]

    def allowed(self, login: str) -> bool:
        """False when this address (or this address and login) failed too often recently."""
        return all(self.strategy.test(item, *key) for item, key in self._keys(login))

    def failed(self, login: str) -> None:
        for item, key in self._keys(login):
            self.strategy.hit(item, *key)

    def succeeded(self, login: str) -> None:
        """A good password clears this account's failures from this address."""
        item, key = self._keys(login)[0]
        self.strategy.clear(item, *key)

    def retry_after(self, login: str) -> int:
        """Seconds until the exhausted limits reset (at least 1)."""
        now = time.time()
        waits = [
            self.strategy.get_window_stats(item, *key).reset_time - now
            for item, key in self._keys(login)
            if not self.strategy.test(item, *key)
        ]
        return max(1, int(max(waits, default=0)) + 1)


def _limit(app: Flask, key: str) -> RateLimitItem:
    text = app.config[key]
    try:
        return parse(text)
    except ValueError:
        raise ConfigurationError(
            f"{key} = {text!r} is not a rate limit",
            fix="write it like '5 per minute' or '20/hour'",
        ) from None


def init_throttle(app: Flask) -> LoginThrottle:
    """Read and check the limits now (a typo fails at start); the storage comes later."""
    uri = app.config["MEDSHAKE_BRIDGE_RATELIMIT_STORAGE_URI"] or "memory://"
    scheme = uri.split("://", 1)[0]
    if scheme not in SCHEMES or scheme.startswith("async+"):
        raise ConfigurationError(
            f"MEDSHAKE_BRIDGE_RATELIMIT_STORAGE_URI = {uri!r} is not a storage the limiter "
            "knows", fix="use memory://, redis://host:6379, memcached://host:11211, "
            "mongodb://host or valkey://host")
    return LoginThrottle(
        storage_uri=uri,
        per_account=_limit(app, "MEDSHAKE_BRIDGE_LOGIN_LIMIT_PER_ACCOUNT"),
        per_address=_limit(app, "MEDSHAKE_BRIDGE_LOGIN_LIMIT_PER_ADDRESS"),
    )
