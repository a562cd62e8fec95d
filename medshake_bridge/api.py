"""The public API: everything a plugin may import, and nothing else.

Plugins (the built-in ones included) import from here only; what is not exported here is the
host's internals and may change without notice. Names are grouped by what they are for.
"""

from __future__ import annotations

from medshake_bridge.clock import today, utcnow
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
    PatientCandidate,
    ServerMessage,
)
from medshake_bridge.patient_ref import (
    ActingUser,
    DocumentToFile,
    FiledRecord,
    FilingAttachment,
    NewPatient,
    PatientProvider,
    PatientRef,
    PatientSummary,
)
from medshake_bridge.settings import SettingSpec
from medshake_bridge.settings.checks import check_command, command_validator, resolve_program

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
    # the bridge's clock (tests and demos can fix it: medshake_bridge.clock)
    "today",
    "utcnow",
    # errors
    "BridgeError",
    "ConfigurationError",
    "CryptoError",
    "MailError",
    "PatientError",
    "ProgramError",
]
