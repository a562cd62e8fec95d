"""``medshake-bridge medshakeehr …``: check, install-tables, link-user, import-users,
import-settings, retry-copies. Each runs inside the bridge's app context (added by
``medshake_cli_commands``).
"""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup
from sqlalchemy.exc import SQLAlchemyError

from medshake_bridge.api import BridgeError
from medshake_medshakeehr.checks import connector_checks
from medshake_medshakeehr.config import connector_config

medshakeehr_group = AppGroup("medshakeehr", help="MedShakeEHR connector.")
LABELS = {True: "ok", None: "WARNING", False: "BROKEN"}


def _fail(exc: BridgeError) -> None:
    click.echo(f"error: {exc.message}", err=True)
    if exc.fix:
        click.echo(f"fix: {exc.fix}", err=True)
    sys.exit(1)


@medshakeehr_group.command("check")
def check() -> None:
    """Reachability, schema version, data types, config.yml and storage. Exits 1 if broken."""
    broken = False
    for line in connector_checks(connector_config()):
        click.echo(f"{LABELS[line.ok]:<7} {line.name}: {line.detail}")
        if line.ok is not True and line.fix:
            click.echo(f"        fix: {line.fix}")
        broken = broken or line.ok is False
    if broken:
        sys.exit(1)


@medshakeehr_group.command("install-tables")
def install_tables_command() -> None:
    """Create the connector's own tables (bridge_filings, bridge_inbox_copies) in
    MedShakeEHR's database. MedShakeEHR's tables are not changed."""
    from medshake_medshakeehr.database import _new_engine, unreachable
    from medshake_medshakeehr.schema import BRIDGE_TABLES, install_tables

    config = connector_config()
    try:
        if not config.configured:
            from medshake_medshakeehr.database import engine_for

            engine_for(config)
        engine = _new_engine(config.database_url, read_only=False)
        try:
            with engine.begin() as connection:
                install_tables(connection)
        except SQLAlchemyError as exc:
            raise unreachable(exc, config) from None
        finally:
            engine.dispose()
    except BridgeError as exc:
        _fail(exc)
    click.echo(f"tables ready: {', '.join(BRIDGE_TABLES)}")


@medshakeehr_group.command("link-user")
@click.argument("bridge_login")
@click.argument("people_id", type=int)
def link_user_command(bridge_login: str, people_id: int) -> None:
    """Link a bridge user to a MedShakeEHR account (its people.id): filing is then written
    in that account's name, and single sign-on recognises it."""
    from medshake_medshakeehr.accounts import link_user

    try:
        account = link_user(connector_config(), bridge_login, people_id)
    except BridgeError as exc:
        _fail(exc)
    click.echo(f"{bridge_login} linked to MedShakeEHR account {people_id} ({account})")


@medshakeehr_group.command("import-users")
@click.option("--dry-run", is_flag=True, help="Show what would be done, change nothing.")
def import_users_command(dry_run: bool) -> None:
    """Create a bridge user for each MedShakeEHR account (name and password set), linked to it.
    Roles: rank admin → admin, type pro → practitioner, others → secretary."""
    from medshake_medshakeehr.accounts import import_users

    try:
        lines = import_users(connector_config(), dry_run=dry_run)
    except BridgeError as exc:
        _fail(exc)
    for line in lines:
        click.echo(line.text())
    click.echo(_totals(lines, dry_run))


@medshakeehr_group.command("import-settings")
@click.option("--dry-run", is_flag=True, help="Show what would be done, change nothing.")
def import_settings_command(dry_run: bool) -> None:
    """Copy MedShakeEHR's apicrypt* parameters (default, module and user levels) into the
    bridge's settings; conflicting values are reported, never overwritten."""
    from medshake_medshakeehr.import_settings import import_settings

    try:
        lines = import_settings(connector_config(), dry_run=dry_run)
    except BridgeError as exc:
        _fail(exc)
    for line in lines:
        click.echo(line.text())
    click.echo(_totals(lines, dry_run))


@medshakeehr_group.command("retry-copies")
@click.option("--document", "documents", type=int, multiple=True,
              help="Only this bridge document (repeatable; recorded as failed or not).")
def retry_copies_command(documents: tuple[int, ...]) -> None:
    """Copy into MedShakeEHR's inbox the collected documents whose write-back copy failed
    (each once: a document already copied is not copied again). Exits 1 if some still fail."""
    from medshake_medshakeehr.pending import retry_pending

    report = retry_pending(connector_config(), list(documents))
    for error in report.errors:
        click.echo(f"not copied: {error}")
    click.echo(f"{report.copied} copied, {report.failing} still failing"
               + (f", {report.unassigned} with no MedShakeEHR account to receive them"
                  if report.unassigned else "")
               + (f", {report.gone} no longer in the bridge" if report.gone else ""))
    if report.failing:
        sys.exit(1)


def _totals(lines: list, dry_run: bool) -> str:
    counts: dict[str, int] = {}
    for line in lines:
        counts[line.outcome] = counts.get(line.outcome, 0) + 1
    summary = ", ".join(f"{count} {outcome}" for outcome, count in sorted(counts.items()))
    return ("dry run: " if dry_run else "") + (summary or "nothing to import")
