"""The execution mode and its settings, read from the app's configuration.

``MEDSHAKE_BRIDGE_EXECUTOR``: ``inline`` (default) or ``celery``. In ``celery`` mode the broker
URL is required; a wrong value stops with a message naming the setting and the fix, never a
silent fall-back to ``inline`` (that would collect every mailbox on the web host).
"""

from __future__ import annotations

from flask import Flask

from medshake_bridge.errors import ConfigurationError

EXECUTOR_CONFIG = "MEDSHAKE_BRIDGE_EXECUTOR"
BROKER_CONFIG = "MEDSHAKE_BRIDGE_CELERY_BROKER_URL"
RESULT_CONFIG = "MEDSHAKE_BRIDGE_CELERY_RESULT_BACKEND"
VISIBILITY_CONFIG = "MEDSHAKE_BRIDGE_CELERY_VISIBILITY_TIMEOUT"
HEARTBEAT_CONFIG = "MEDSHAKE_BRIDGE_WORKER_HEARTBEAT_SECONDS"
INLINE, CELERY = "inline", "celery"
MODES = (INLINE, CELERY)
COLLECT_QUEUE, JOBS_QUEUE = "collect", "jobs"
QUEUES = (COLLECT_QUEUE, JOBS_QUEUE)


def executor_mode(app: Flask) -> str:
    """``inline`` or ``celery``; anything else is a configuration error."""
    mode = str(app.config.get(EXECUTOR_CONFIG) or INLINE).strip().lower()
    if mode not in MODES:
        raise ConfigurationError(
            f"{EXECUTOR_CONFIG}={mode!r} is not an execution mode",
            fix=f"set {EXECUTOR_CONFIG} to inline (one process, the default) or celery")
    return mode


def uses_celery(app: Flask) -> bool:
    return executor_mode(app) == CELERY


def broker_url(app: Flask) -> str:
    url = str(app.config.get(BROKER_CONFIG) or "").strip()
    if not url:
        raise ConfigurationError(
            f"{EXECUTOR_CONFIG}=celery needs a broker, and {BROKER_CONFIG} is empty",
            fix=f"set {BROKER_CONFIG} (for example redis://127.0.0.1:6379/0), or set "
            f"{EXECUTOR_CONFIG}=inline to go back to one process")
    if not url.startswith(("redis://", "rediss://")):
        raise ConfigurationError(
            f"{BROKER_CONFIG} must be a Redis URL (redis:// or rediss://)",
            fix="use the Redis broker the scale-out guide describes (docs/scale-out.md)")
    return url


def result_backend(app: Flask) -> str | None:
    return str(app.config.get(RESULT_CONFIG) or "").strip() or None


def _seconds(app: Flask, key: str, default: float, minimum: float) -> float:
    value = app.config.get(key)
    try:
        number = float(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        raise ConfigurationError(f"{key}={value!r} is not a number of seconds",
                                 fix=f"set {key} to a number of seconds") from None
    if number < minimum:
        raise ConfigurationError(f"{key}={value!r} is below {minimum:g} seconds",
                                 fix=f"set {key} to {minimum:g} or more")
    return number


def visibility_timeout(app: Flask) -> float:
    """Seconds before the broker redelivers a job whose worker stopped acknowledging it."""
    return _seconds(app, VISIBILITY_CONFIG, 900, 1)


def heartbeat_seconds(app: Flask) -> float:
    return _seconds(app, HEARTBEAT_CONFIG, 10, 0.2)


def stale_after(app: Flask) -> float:
    """A worker not seen for this long is shown as gone (three missed heartbeats)."""
    return max(3 * heartbeat_seconds(app), 1.0)
