"""Choosing, per user, the crypto back-end and the mailbox collector the plugins offer.

Everything a back-end or collector needs comes from the user's effective settings (one
resolution for the web, the CLI and the scheduler) plus the host's program runner, so the code
path is the same against the sandbox and against the real programs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from medshake_bridge.errors import ConfigurationError
from medshake_bridge.extension import BridgeState
from medshake_bridge.interfaces import BackendSpec, CollectorSpec, CryptoBackend, MailCollector
from medshake_bridge.runner import Runner
from medshake_bridge.settings.store import once_per_run


def make_runner(state: BridgeState, settings: Mapping[str, Any]) -> Runner:
    """The program runner configured by ``apicryptCommandPrefix`` / ``apicryptCommandTimeout``."""
    secrets = [settings.get("apicryptPopPassword"), settings.get("apicrypt2CertPassword")]
    try:
        timeout = float(settings.get("apicryptCommandTimeout") or 60)
    except (TypeError, ValueError):
        raise ConfigurationError(
            f"The setting apicryptCommandTimeout is not a number "
            f"({settings.get('apicryptCommandTimeout')!r}).",
            fix="Set apicryptCommandTimeout to a number of seconds such as 60.") from None
    return Runner.from_prefix_text(
        settings.get("apicryptCommandPrefix") or "",
        timeout=timeout,
        passthrough_env=state.app.config["MEDSHAKE_BRIDGE_RUNNER_ENV_PASSTHROUGH"],
        redact=[str(value) for value in secrets if value],
        max_file_bytes=decrypted_limits(settings).max_bytes,
    )


@dataclass(frozen=True)
class DecryptedLimits:
    """What one decryption may write: bytes per attachment, files per attachment."""

    max_bytes: int
    max_files: int


def decrypted_limits(settings: Mapping[str, Any]) -> DecryptedLimits:
    """``apicryptMaxDecryptedMo`` / ``apicryptMaxDecryptedFiles`` (defaults when unset or
    unreadable: a limit must never fail a collection by itself)."""
    def number(name: str, default: int) -> int:
        try:
            value = int(settings.get(name) or default)
        except (TypeError, ValueError):
            value = default
        return max(value, 1)

    return DecryptedLimits(max_bytes=number("apicryptMaxDecryptedMo", 200) * 1024 * 1024,
                           max_files=number("apicryptMaxDecryptedFiles", 50))


def backend_specs(state: BridgeState) -> dict[str, BackendSpec]:
    """The back-ends installed plugins offer now, by ``apicryptVersion`` value."""
    return _offered(state, "medshake_crypto_backends", BackendSpec)


def collector_specs(state: BridgeState) -> dict[str, CollectorSpec]:
    """The collectors installed plugins offer now, by ``apicryptCollector`` value."""
    return _offered(state, "medshake_mail_collectors", CollectorSpec)


def _offered(state: BridgeState, hook_name: str, kind: type[Any]) -> dict[str, Any]:
    """Each plugin asked on its own; an item of the wrong kind is that plugin's failure only."""
    specs: dict[str, Any] = {}
    for answer in state.hooks.call_owned(hook_name):
        spec = answer.value
        if not isinstance(spec, kind):
            state.hooks.record_failure(answer.plugin, hook_name, TypeError(
                f"{hook_name} returned {spec!r}, not a {kind.__name__}"))
            continue
        if not spec.plugin:
            object.__setattr__(spec, "plugin", answer.plugin)
        specs.setdefault(spec.key, spec)
    return specs


def backend_for(state: BridgeState, settings: Mapping[str, Any]) -> CryptoBackend:
    """A new back-end for ``settings`` (each message of a collection gets its own: the v2
    back-end holds an HTTP client, and an outage must not outlive its message's try).

    Within a run (:meth:`SettingsStore.remembering`) the plugins are asked once which
    back-ends they offer: a plugin enabled or disabled meanwhile counts from the next run."""
    version = str(settings.get("apicryptVersion") or "1")
    spec = once_per_run(("backend_specs",), lambda: backend_specs(state)).get(version)
    if spec is None:
        raise ConfigurationError(
            f"no crypto back-end for Apicrypt version {version} is installed",
            fix="enable the plugin for that version (Extensions page) or change apicryptVersion",
        )
    return state.hooks.run(spec.plugin or version, "BackendSpec.factory", spec.factory,
                           settings, make_runner(state, settings))


def collector_spec_for(state: BridgeState, settings: Mapping[str, Any]) -> CollectorSpec:
    key = str(settings.get("apicryptCollector") or "pop3")
    spec = collector_specs(state).get(key)
    if spec is None:
        raise ConfigurationError(
            f"no mailbox collector {key!r} is installed",
            fix="enable the plugin (Extensions page) or change apicryptCollector",
        )
    return spec


def collector_for(state: BridgeState, settings: Mapping[str, Any]) -> MailCollector:
    return collector_spec_for(state, settings).factory(settings)
