"""Hook implementations of the MedShakeEHR connector."""

from __future__ import annotations

from typing import Any

from medshake_bridge.api import CheckResult, SettingSpec, hookimpl
from medshake_medshakeehr.settings import SETTINGS


@hookimpl
def medshake_settings() -> list[SettingSpec]:
    """Database URL (secret), config.yml, storage, web address, and the write switches."""
    return list(SETTINGS)


@hookimpl
def medshake_system_checks(app: Any) -> list[CheckResult]:
    """Once the database URL is set: the same lines as ``medshakeehr check``."""
    from medshake_medshakeehr.checks import connector_checks
    from medshake_medshakeehr.config import connector_config

    config = connector_config(app)
    return connector_checks(config) if config.configured else []


@hookimpl
def medshake_patient_providers(app: Any) -> list[Any]:
    """The ``medshakeehr`` source (its settings are read when it is used)."""
    from medshake_medshakeehr.provider import MedShakeEhrProvider

    return [MedShakeEhrProvider()]


@hookimpl
def medshake_message_stored(message: Any, documents: list[Any]) -> None:
    """Migration mode: copy each collected document into MedShakeEHR's inbox (failures are
    logged with the fix; the bridge's own copy is already committed)."""
    from medshake_bridge.api import settings
    from medshake_medshakeehr.config import connector_config
    from medshake_medshakeehr.settings import WRITE_BACK

    if not settings().get(WRITE_BACK):
        return
    from medshake_medshakeehr.writeback import copy_message

    copy_message(connector_config(), message, documents)


@hookimpl
def medshake_blueprints(app: Any) -> list[Any]:
    """The admin page of write-back copies not made (and their retry)."""
    from medshake_medshakeehr.views import copies_pages

    return [copies_pages]


@hookimpl
def medshake_cli_commands(cli: Any) -> None:
    """``medshake-bridge medshakeehr check|install-tables|link-user|import-users|…``."""
    from medshake_medshakeehr.cli import medshakeehr_group

    cli.add_command(medshakeehr_group)


@hookimpl
def medshake_current_user(app: Any, request: Any) -> Any:
    """Single sign-on from MedShakeEHR's cookies, when turned on (off by default)."""
    from medshake_medshakeehr.sso import current_user

    return current_user(app, request)
