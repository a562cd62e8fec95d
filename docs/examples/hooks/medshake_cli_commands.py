import click
from flask.cli import with_appcontext

from medshake_bridge.api import hookimpl, users


@click.command("count-users")
@with_appcontext
def count_users() -> None:
    """Print how many bridge users there are."""
    click.echo(f"{len(users())} users")


@hookimpl
def medshake_cli_commands(cli):
    cli.add_command(count_users)
