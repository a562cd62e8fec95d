"""The public API: everything a plugin may import, and nothing else.

Plugins (the built-in ones included: a test enforces it) import from here only; what is not
exported here is the host's internals and may change without notice. Names are grouped by what
they are for; ``docs/plugins.md`` lists them (generated from this module).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from medshake_bridge.access import (
    ADMIN,
    PUBLIC,
    USER,
    deny,
    may_read_mail_of,
    protect,
    require_mail_access,
)
from medshake_bridge.clock import today, utcnow
from medshake_bridge.crypto_common import (
    LOCAL_PART,
    EncryptedBody,
    InvalidRecipientError,
    attachment_source,
    destination_folder,
    free_name,
    safe_work_name,
    validate_recipients,
    write_new_private,
)
from medshake_bridge.errors import (
    CONFIGURATION,
    CONTENT,
    TRANSIENT,
    BridgeError,
    ConfigurationError,
    CryptoError,
    MailAuthenticationError,
    MailConnectionError,
    MailError,
    MailProtocolError,
    MailTlsError,
    PatientError,
    ProgramError,
    error_cause,
)
from medshake_bridge.flashes import flash
from medshake_bridge.hookspecs import hookimpl
from medshake_bridge.host_identity import (
    create_linked_user,
    host_identity_of,
    link_host_identity,
    linked_user,
)
from medshake_bridge.i18n import _, human_size
from medshake_bridge.interfaces import (
    Advice,
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
    Renewal,
    ServerMessage,
)
from medshake_bridge.mailtls import (
    SOCKET_TIMEOUT,
    MailEndpoint,
    client_context,
    endpoint_from_settings,
    network_failure,
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
from medshake_bridge.public import (
    BridgeUser,
    LabResult,
    SentRecord,
    Settings,
    StoredAttachment,
    StoredDocument,
    StoredMessage,
    audit,
    current_user,
    data_folder,
    get_user,
    is_admin,
    plugin_folder,
    program_runner,
    received_document,
    service_account,
    settings,
    users,
)
from medshake_bridge.renewals import renewals
from medshake_bridge.runner import (
    MINIMAL_PATH,
    ProgramFailedError,
    ProgramMissingError,
    ProgramNotExecutableError,
    ProgramOutputMissingError,
    ProgramResult,
    ProgramRunError,
    ProgramTimeoutError,
    Runner,
)
from medshake_bridge.settings import SettingSpec, SettingsStore, ValueProblem
from medshake_bridge.settings.checks import check_command, command_validator, resolve_program
from medshake_bridge.textdecode import encode_outgoing_latin1
from medshake_bridge.users import UserError, find_user, list_users
from medshake_bridge.workfolders import prepare_work_folder, private_work_dir, reused_work_dir

if TYPE_CHECKING:  # imported on first use: see __getattr__
    from medshake_bridge.scheduler.runs import JobFailed
    from medshake_bridge.send.service import OutgoingMessage
    from medshake_bridge.web.limits import upload_route

# Names whose modules pull in APScheduler, the sending service or the web layer (Flask-WTF,
# limits): imported when a plugin first uses them, so a process that only collects does not
# pay for them at start-up (issue 18).
_LAZY = {
    "JobFailed": "medshake_bridge.scheduler.runs",
    "OutgoingMessage": "medshake_bridge.send.service",
    "upload_route": "medshake_bridge.web.limits",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    # declaring a plugin
    "hookimpl",
    "SettingSpec",
    "ValueProblem",
    "command_validator",
    "check_command",
    "resolve_program",
    "data_folder",
    # what hooks receive, and reading the bridge
    "BridgeUser",
    "StoredMessage",
    "StoredDocument",
    "StoredAttachment",
    "LabResult",
    "SentRecord",
    "OutgoingMessage",
    "Settings",
    "settings",
    "users",
    "get_user",
    "current_user",
    "is_admin",
    "audit",
    "plugin_folder",
    "received_document",
    "program_runner",
    "service_account",
    # pages: access levels and helpers
    "PUBLIC",
    "USER",
    "ADMIN",
    "protect",
    "deny",
    "require_mail_access",
    "may_read_mail_of",
    "_",
    "human_size",
    "flash",
    # pages that receive files: body up to MEDSHAKE_BRIDGE_MAX_UPLOAD_BYTES (or less)
    "upload_route",
    # clear-text work: private folders removed on the way out, and after a crash
    "prepare_work_folder",
    "private_work_dir",
    "reused_work_dir",
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
    "JobFailed",
    "MenuItem",
    "CheckResult",
    "Advice",
    # yearly deadlines beside the keys (certificates, credentials)
    "Renewal",
    "renewals",
    # programs (v1-style back-ends) and crypto helpers
    "Runner",
    "ProgramResult",
    "ProgramRunError",
    "ProgramFailedError",
    "ProgramMissingError",
    "ProgramNotExecutableError",
    "ProgramOutputMissingError",
    "ProgramTimeoutError",
    "MINIMAL_PATH",
    "EncryptedBody",
    "InvalidRecipientError",
    "LOCAL_PART",
    "attachment_source",
    "destination_folder",
    "free_name",
    "safe_work_name",
    "validate_recipients",
    "write_new_private",
    "encode_outgoing_latin1",
    # mail servers (collectors)
    "MailEndpoint",
    "SOCKET_TIMEOUT",
    "client_context",
    "endpoint_from_settings",
    "network_failure",
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
    "SettingsStore",
    "find_user",
    "list_users",
    "UserError",
    "link_host_identity",
    "linked_user",
    "host_identity_of",
    "create_linked_user",
    # the bridge's clock (tests and demos can fix it: medshake_bridge.clock)
    "today",
    "utcnow",
    # errors
    "BridgeError",
    "ConfigurationError",
    "CryptoError",
    "MailError",
    "MailConnectionError",
    "MailAuthenticationError",
    "MailTlsError",
    "MailProtocolError",
    "PatientError",
    "ProgramError",
]
