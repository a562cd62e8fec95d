"""Commands about the installation itself: database, plugins, keys, serving."""

from __future__ import annotations

import click
from flask import current_app

from medshake_bridge import migrate
from medshake_bridge.audit import audit
from medshake_bridge.cli.group import bridge_group
from medshake_bridge.cli.serve_options import serve_app, server_options
from medshake_bridge.config import bridge_home
from medshake_bridge.extension import bridge_state
from medshake_bridge.secrets import (
    KEY_FILE_NAME,
    SecretBox,
    new_key,
    parse_keys,
    read_key_file,
    write_key_file,
)


@bridge_group.command("init-db")
def init_db() -> None:
    """Create or upgrade the database schema to the latest version."""
    before = migrate.current_revision(current_app)
    after = migrate.upgrade(current_app)
    if before == after:
        click.echo(f"Database already at revision {after}.")
    else:
        click.echo(f"Database upgraded from {before or 'empty'} to {after}.")
    state = bridge_state()
    if not state.secrets.configured:
        path = bridge_home(current_app) / KEY_FILE_NAME
        write_key_file(path, [new_key()])
        state.secrets = state.settings.secrets = SecretBox(read_key_file(path))
        click.echo(f"No secret key was configured: created {path} (mode 0600). Back it up.")


@bridge_group.command("plugins")
@click.option("--verbose", "-v", is_flag=True, help="Show tracebacks of failed plugins.")
@click.option("--reenable", metavar="NAME",
              help="Lift the suspension of a plugin whose hooks kept failing (audited).")
def plugins_cmd(verbose: bool, reenable: str | None) -> None:
    """List plugins: name, version, hooks implemented, load errors, failures while running."""
    state = bridge_state()
    if reenable:
        if not state.hooks.reenable(reenable):
            raise click.ClickException(f"plugin {reenable} is not suspended "
                                       "(run 'medshake-bridge plugins' to see which are)")
        audit("plugin.reenable", target=reenable, actor=None, actor_login="cli")
        click.echo(f"{reenable} re-enabled: its hooks are called again.")
        return
    suspended = state.hooks.suspensions()
    records = sorted(state.plugins.values(), key=lambda r: (not r.builtin, r.name))
    for record in records:
        origin = "built-in" if record.builtin else "third-party"
        version = record.version or "-"
        status = "suspended" if record.name in suspended else record.status
        click.echo(f"{record.name}  {version}  [{origin}, {status}]")
        if record.hooks:
            click.echo(f"    hooks: {', '.join(record.hooks)}")
        if record.error:
            click.echo(f"    error: {record.error}")
            if verbose and record.detail:
                click.echo(record.detail)
        if record.name in suspended:
            click.echo(f"    suspended: {suspended[record.name].reason}")
            click.echo(f"    fix: once fixed, run 'medshake-bridge plugins --reenable "
                       f"{record.name}'")
        for failure in state.hooks.recent_failures(record.name, limit=3 if verbose else 1):
            click.echo(f"    failed {failure.created_at:%Y-%m-%d %H:%M} in {failure.hook}: "
                       f"{failure.error}")
            if verbose:
                click.echo(failure.detail)


@bridge_group.command("generate-secret-key")
@click.option("--write", is_flag=True,
              help=f"Put the new key first in <instance>/{KEY_FILE_NAME} instead of printing it.")
def generate_secret_key(write: bool) -> None:
    """Make a new encryption key for secrets at rest."""
    key = new_key()
    if not write:
        click.echo(key)
        return
    path = bridge_home(current_app) / KEY_FILE_NAME
    write_key_file(path, [key, *read_key_file(path)])
    click.echo(f"New key written first in {path}. Run `medshake-bridge rotate-keys` next.")


@bridge_group.command("rotate-keys")
@click.option("--generate", is_flag=True,
              help=f"Add a new key first in <instance>/{KEY_FILE_NAME} before rotating.")
def rotate_keys(generate: bool) -> None:
    """Re-encrypt every stored secret with the newest key."""
    state = bridge_state()
    if generate:
        path = bridge_home(current_app) / KEY_FILE_NAME
        if parse_keys(current_app.config["MEDSHAKE_BRIDGE_SECRET_KEYS"]):
            raise click.ClickException(
                "keys come from MEDSHAKE_BRIDGE_SECRET_KEYS: put the new key first there "
                "(keep the old one after it) and run rotate-keys without --generate"
            )
        keys = [new_key(), *read_key_file(path)]
        write_key_file(path, keys)
        state.secrets = state.settings.secrets = SecretBox(keys)
        click.echo(f"New key added first in {path}.")
    count = state.settings.rotate_secrets()
    click.echo(f"{count} secret value(s) re-encrypted with the newest key. Old keys may now be "
               "removed from the list.")


@bridge_group.command("run")
@server_options(workers=2)
def run_cmd(host: str, port: int, workers: int, threads: int, debug: bool) -> None:
    """Serve the bridge with gunicorn (put a TLS reverse proxy in front)."""
    serve_app(current_app._get_current_object(),  # type: ignore[attr-defined]
              host=host, port=port, workers=workers, threads=threads, debug=debug)
