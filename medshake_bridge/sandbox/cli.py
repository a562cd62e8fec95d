"""``medshake-bridge sandbox ...``: set up the FAKE Apicrypt stand-ins from the command line.

A plain :class:`click.Group` (no Flask app needed: these commands touch only folders), which the
host attaches to its own CLI. Errors are shown as one line with the fix, never a traceback.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import click

from medshake_bridge.sandbox.aeskey import make_aes_key
from medshake_bridge.sandbox.companion import DEFAULT_PORT, MODES, SandboxCompanion
from medshake_bridge.sandbox.errors import SandboxError
from medshake_bridge.sandbox.faults import FAULT_ENV, FAULT_MODES, LOG_ENV
from medshake_bridge.sandbox.keys import YEAR_ENV, current_year, make_keys
from medshake_bridge.sandbox.programs import install_programs
from medshake_bridge.sandbox.relay_crypto import reencrypt
from medshake_bridge.sandbox.v2 import make_certificate

CERT_PASSWORD_ENV = "MEDSHAKE_SANDBOX_CERT_PASSWORD"  # noqa: S105 - a variable name
COMPANION_TOKEN_ENV = "MEDSHAKE_SANDBOX_COMPANION_TOKEN"  # noqa: S105 - a variable name


@click.group(name="sandbox")
def sandbox() -> None:
    """FAKE Apicrypt stand-ins for tests and demos (not Apicrypt, not compatible with it)."""


@sandbox.command("install-programs")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def install_programs_command(directory: Path) -> None:
    """Write the sandbox apicrypt, apicryptpj, apiuncrypt, apiuncryptpj and ApiV2AESUtility."""
    for path in install_programs(directory):
        click.echo(str(path))
    click.echo("These are FAKE sandbox programs; set apicryptCheminVersBinaires to this folder.")


@sandbox.command("make-keys")
@click.option("--user", required=True, help="User name prenom.NOM (case kept).")
@click.option(
    "--keys",
    "keys_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder that contains (or will contain) Clefs/.",
)
@click.option("--year", type=int, default=None, help="Key year (default: this year).")
@click.option("--aes", is_flag=True, help="Also write next year's key as .aes; prints its code.")
@click.option("--v2", is_flag=True, help="Also write an Apicrypt v2 sandbox certificate.")
@click.option(
    "--password",
    envvar=CERT_PASSWORD_ENV,
    default=None,
    help=f"Password of the v2 certificate (or {CERT_PASSWORD_ENV}).",
)
@click.option(
    "--expires",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Expiry of the v2 certificate, YYYY-MM-DD (default: 31 December of the key year).",
)
@click.option("--replace", is_flag=True, help="Replace an existing v2 certificate.")
def make_keys_command(
    user: str,
    keys_dir: Path,
    year: int | None,
    aes: bool,
    v2: bool,
    password: str | None,
    expires: datetime | None,
    replace: bool,
) -> None:
    """Write fake key files Clefs/<user>.<yy> and Clefs/Master.<yy> (existing ones are kept).

    With --v2, also Clefs/<user>.p12.sandbox: the user's FAKE v2 certificate (its name is the
    user name), which the sandbox companion opens with --password.
    """
    if v2 and not password:
        raise click.UsageError(f"--v2 needs --password (or {CERT_PASSWORD_ENV}).")
    try:
        for path in make_keys(user, keys_dir, year):
            click.echo(str(path))
        if v2:
            key_year = current_year() if year is None else year
            not_after = expires.date() if expires is not None else date(key_year, 12, 31)
            click.echo(
                str(make_certificate(user, keys_dir, password or "", not_after=not_after,
                                     replace=replace))
            )
        if aes:
            next_year = (current_year() if year is None else year) + 1
            aes_path, code = make_aes_key(user, keys_dir, next_year)
            click.echo(str(aes_path))
            click.echo(f"Long code: {code}")
    except SandboxError as exc:
        raise click.ClickException(str(exc)) from exc


@sandbox.command("reencrypt")
@click.option(
    "--network",
    "network_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder holding every sandbox user's key folder: NETWORK/<user>/Clefs/.",
)
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
def reencrypt_command(network_dir: Path, source: Path, out: Path) -> None:
    """Play APICEM's server: re-encrypt SOURCE for each recipient into OUT/<recipient>/<name>.

    SOURCE is a body armour or a .apz written by the sender's program; each recipient gets a
    copy with the same file name in its own sub-folder of OUT.
    """
    try:
        copies = reencrypt(network_dir, source.read_bytes())
    except SandboxError as exc:
        raise click.ClickException(str(exc)) from exc
    for recipient, armour in copies.items():
        folder = out / recipient
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / source.name
        target.write_bytes(armour)
        click.echo(str(target))


@sandbox.command("faults")
def faults_command() -> None:
    """List the environment switches of the sandbox programs and the fault modes."""
    click.echo(f"{FAULT_ENV}=[program:]mode[,...]  inject a fault; modes:")
    for mode, meaning in FAULT_MODES.items():
        click.echo(f"  {mode:<9} {meaning}")
    click.echo(f"{LOG_ENV}=FILE  append one JSON line per program call (argv, cwd, uid...)")
    click.echo(f"{YEAR_ENV}=YYYY  the year the programs take as 'now'")
    click.echo("They reach the programs only through the runner's passthrough_env.")


@sandbox.command("companion")
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True,
              help="Loopback port to listen on (0: any free port).")
@click.option("--spool", "spool_dir", required=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder shared with the bridge (its apicrypt2Spool).")
@click.option("--keys", "keys_dir", required=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Sandbox network folder: KEYS/<user>/Clefs/ (keys and v2 certificates).")
@click.option("--token", envvar=COMPANION_TOKEN_ENV, default=None,
              help=f"Bearer token the bridge must send (or {COMPANION_TOKEN_ENV}); "
              "default: a random one, printed.")
@click.option("--mode", type=click.Choice(list(MODES)), default="normal", show_default=True,
              help="Fault mode at start; switch at run time with POST /_sandbox/mode.")
@click.option("--slow-seconds", type=float, default=30.0, show_default=True,
              help="How long 'slow' mode waits before answering.")
def companion_command(port: int, spool_dir: Path, keys_dir: Path, token: str | None, mode: str,
                      slow_seconds: float) -> None:
    """Run the FAKE Apicrypt v2 companion on 127.0.0.1 until interrupted (Ctrl-C)."""
    try:
        server = SandboxCompanion(spool_dir, keys_dir, token=token, port=port, mode=mode,
                                  slow_seconds=slow_seconds)
    except SandboxError as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        raise click.ClickException(
            f"Cannot listen on 127.0.0.1:{port} ({exc.strerror}); choose another --port."
        ) from exc
    click.echo(f"FAKE Apicrypt v2 companion (medshake-bridge sandbox, not Apicrypt) on "
               f"{server.url}, mode {server.mode}")
    if not token:
        click.echo(f"Token: {server.token}")
    click.echo(f"Set apicrypt2CompanionUrl={server.url} and apicrypt2Spool={spool_dir.resolve()}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server.server_close()
