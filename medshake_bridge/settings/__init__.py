"""Declared, hierarchical, typed settings (default → module → user)."""

from medshake_bridge.settings.spec import LEVELS, TYPES, SettingSpec, ValueProblem
from medshake_bridge.settings.store import EffectiveValue, SettingsRegistry, SettingsStore

__all__ = [
    "LEVELS",
    "TYPES",
    "EffectiveValue",
    "SettingSpec",
    "SettingsRegistry",
    "SettingsStore",
    "ValueProblem",
]
