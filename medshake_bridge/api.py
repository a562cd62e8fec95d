"""The public API: everything a plugin may import, and nothing else.

Plugins (the built-in ones included) import from here only; what is not exported here is the
host's internals and may change without notice. Names are grouped by what they are for.
"""

from __future__ import annotations

from typing import Any

from medshake_bridge.errors import (
    CONFIGURATION,
    CONTENT,
    TRANSIENT,
    BridgeError,
    ConfigurationError,
    CryptoError,
    MailError,
    PatientError,
    ProgramError,
    error_cause,
)
from medshake_bridge.hookspecs import hookimpl
from medshake_bridge.host_identity import (
    create_linked_user,
    host_identity_of,
    link_host_identity,
    linked_user,
)
from medshake_bridge.interfaces import (
    BackendSpec,
    CheckResult,
    CollectorSpec,
    CryptoBackend,
    HostIdentity,
    JobSpec,
    KeyManager,
    KeyManagerSpec,
    MailboxIdentity,
    MailCollector,
    MenuItem,
    ServerMessage,
)
from medshake_bridge.patient_ref import (
    ActingUser,
    DocumentToFile,
    FiledRecord,
    FilingAttachment,
    NewPatient,
    PatientCandidate,
    PatientProvider,
    PatientRef,
    PatientSummary,
)
from medshake_bridge.settings import SettingSpec, SettingsStore
from medshake_bridge.settings.checks import check_command, command_validator, resolve_program
from medshake_bridge.users import UserError, find_user, list_users


def bridge_settings(app: Any = None) -> SettingsStore:
    """The settings store of ``app`` (default: the current app): ``get``, ``set``, ``stored``."""
    from medshake_bridge.extension import bridge_state

    return bridge_state(app).settings

__all__ = [
    # declaring a plugin
    "hookimpl",
    "SettingSpec",
    "command_validator",
    "check_command",
    "resolve_program",
    # why something failed (issue 20): only CONTENT counts toward quarantine
    "TRANSIENT",
    "CONFIGURATION",
    "CONTENT",
    "error_cause",
    # crypto back-ends, collectors, keys, jobs, pages, checks
    "BackendSpec",
    "CryptoBackend",
    "CollectorSpec",
    "MailCollector",
    "MailboxIdentity",
    "ServerMessage",
    "KeyManager",
    "KeyManagerSpec",
    "JobSpec",
    "MenuItem",
    "CheckResult",
    # patients
    "PatientRef",
    "PatientSummary",
    "PatientProvider",
    "PatientCandidate",
    "NewPatient",
    "DocumentToFile",
    "FilingAttachment",
    "FiledRecord",
    "ActingUser",
    # embedding
    "HostIdentity",
    # bridge users and settings (connectors importing an EHR's accounts and settings)
    "bridge_settings",
    "SettingsStore",
    "find_user",
    "list_users",
    "UserError",
    "link_host_identity",
    "linked_user",
    "host_identity_of",
    "create_linked_user",
    # errors
    "BridgeError",
    "ConfigurationError",
    "CryptoError",
    "MailError",
    "PatientError",
    "ProgramError",
]
