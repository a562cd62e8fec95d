"""Which provider owns which patient source, built once when the app starts.

A source has exactly one owner: two plugins claiming ``portal`` would make "file into
portal:17" ambiguous, so the app refuses to start and names both plugins.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from medshake_bridge.errors import ConfigurationError, PatientError
from medshake_bridge.patient_ref import SOURCE_PATTERN, PatientProvider, PatientRef

EXTRAS_KEY = "patient_providers"
_METHODS = ("search", "get", "candidates", "create", "file_document")


def build_registry(state: Any, loader: Any = None) -> dict[str, PatientProvider]:
    """Ask every plugin for its providers (hook ``medshake_patient_providers``) and check them.

    Two providers claiming one source always stop the start (:class:`ConfigurationError`
    naming both plugins, so the admin knows which to disable). A plugin whose hook raises or
    whose provider lacks part of the contract is recorded as failed, like a plugin that fails
    to import (fatal only with ``MEDSHAKE_BRIDGE_STRICT_PLUGINS``), and offers nothing.
    """
    from medshake_bridge.plugin_manager import PluginRecord

    found: dict[str, PatientProvider] = {}
    owners: dict[str, str] = {}
    for impl in state.pm.hook.medshake_patient_providers.get_hookimpls():
        try:
            offered = list(impl.function(**_arguments(impl, state.app)) or [])
            for provider in offered:
                _check(provider, impl.plugin_name)
        except Exception as exc:
            if loader is None:
                raise
            record = loader.records.get(impl.plugin_name) or PluginRecord(impl.plugin_name,
                                                                          "loaded")
            loader.record_failure(record, "patient providers", exc)
            continue
        for provider in offered:
            source = provider.source
            if source in found:
                raise ConfigurationError(
                    f"two patient providers claim the source {source!r}: plugin "
                    f"{owners[source]!r} and plugin {impl.plugin_name!r}",
                    fix="disable one of the two plugins (MEDSHAKE_BRIDGE_DISABLED_PLUGINS), or "
                        "give one of the providers another source name")
            found[source], owners[source] = provider, impl.plugin_name
    return found


def _arguments(impl: Any, app: Flask) -> dict[str, Any]:
    return {"app": app} if "app" in impl.argnames else {}


def _check(provider: Any, plugin: str) -> None:
    source = getattr(provider, "source", None)
    if not isinstance(source, str) or not SOURCE_PATTERN.match(source):
        raise ConfigurationError(
            f"plugin {plugin!r} offers a patient provider with an invalid source {source!r}",
            fix="give the provider a lower-case source name such as 'portal'")
    missing = [name for name in _METHODS if not callable(getattr(provider, name, None))]
    missing += [name for name in ("label", "can_create", "can_file")
                if not hasattr(provider, name)]
    if missing:
        raise ConfigurationError(
            f"the patient provider {source!r} of plugin {plugin!r} lacks "
            f"{', '.join(missing)}",
            fix="implement the whole PatientProvider contract (see docs/patients.md)")


def patient_providers(app: Flask | None = None) -> dict[str, PatientProvider]:
    """Every provider of the app, by source (the ``bridge`` store is always one of them)."""
    from medshake_bridge.extension import bridge_state

    return bridge_state(app).extras[EXTRAS_KEY]


def provider_for(ref: PatientRef | str) -> PatientProvider:
    """The one provider owning ``ref``'s source; :class:`PatientError` for an unknown one."""
    if not isinstance(ref, PatientRef):
        ref = PatientRef.parse(ref)
    try:
        return patient_providers()[ref.source]
    except KeyError:
        raise PatientError(f"no patient provider for the source {ref.source!r} of {ref}",
                           fix="enable the plugin that provides these patients, or choose "
                               "the patient again") from None


def source_checks(state: Any) -> list[Any]:
    """One line of the system page: which sources exist and what each allows. Broken when no
    source accepts documents (nothing could be filed), a warning when none can create."""
    from medshake_bridge.interfaces import CheckResult

    providers = state.extras.get(EXTRAS_KEY, {})
    parts = []
    for source, provider in providers.items():
        can = [word for word, flag in (("create", provider.can_create),
                                       ("file", provider.can_file)) if flag]
        parts.append(f"{source} ({provider.label}): {', '.join(can) or 'read only'}")
    detail = "; ".join(parts) or "none"
    if not any(provider.can_file for provider in providers.values()):
        return [CheckResult("Patient sources", False, detail,
                            "Enable a patient provider plugin (or MEDSHAKE_BRIDGE_STANDALONE_"
                            "PATIENTS): received documents cannot be filed anywhere.",
                            "plugins")]
    if not any(provider.can_create for provider in providers.values()):
        return [CheckResult("Patient sources", None, detail,
                            "Patients are created in your records application only; the "
                            "bridge cannot create one.", "plugins")]
    return [CheckResult("Patient sources", True, detail, "", "plugins")]
