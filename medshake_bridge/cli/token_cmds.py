"""``medshake-bridge tokens create|list|revoke``: API tokens from the command line."""

from __future__ import annotations

import click
from sqlalchemy import select

from medshake_bridge.apiv1.tokens import (
    TokenError,
    create_token,
    list_tokens,
    revoke_token,
    token_state,
)
from medshake_bridge.audit import audit
from medshake_bridge.cli.config_cmds import clean_errors
from medshake_bridge.cli.group import bridge_group
from medshake_bridge.db import db
from medshake_bridge.models import User
from medshake_bridge.models.api import SCOPES


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


@bridge_group.group("tokens")
def tokens_group() -> None:
    """API tokens (``Authorization: Bearer msb_...``)."""


@tokens_group.command("create")
@click.option("--user", "login", required=True, help="Login of the user the token acts as.")
@click.option("--scope", "scopes", multiple=True, required=True, type=click.Choice(SCOPES),
              help="What the token may do (repeat for several).")
@click.option("--expires", default="90d", show_default=True,
              help="Lifetime: 90d, 12h, 30m, or never.")
@click.option("--name", default="", help="What the token is for (shown in lists).")
@clean_errors
def tokens_create(login: str, scopes: tuple[str, ...], expires: str, name: str) -> None:
    """Create a token and print it once (it is stored hashed: copy it now)."""
    user = db.session.scalars(select(User).where(User.login == login)).first()
    if user is None:
        raise TokenError(f"no user {login!r}", fix="see medshake-bridge users list")
    created = create_token(user, list(scopes), name=name, expires=expires)
    audit("api.token.create", target=f"token {created.row.id}", actor=None, actor_login="cli",
          detail=f"user {user.login}, scopes {created.row.scopes}")
    click.echo(created.text)
    click.echo(f"Token {created.row.id} for {user.login} ({created.row.scopes}), expires "
               f"{_when(created.row.expires_at)}. It is shown only now.", err=True)


@tokens_group.command("list")
@click.option("--user", "login", default=None, help="Only this user's tokens.")
@clean_errors
def tokens_list(login: str | None) -> None:
    """Every token: id, name, user, scopes, created, last used, expiry, state."""
    users = {user.id: user.login for user in db.session.scalars(select(User))}
    user_id = None
    if login is not None:
        user_id = next((key for key, value in users.items() if value == login), -1)
    for row in list_tokens(user_id):
        click.echo(f"{row.id}  {row.prefix}…  {row.name or '-'}  user={users.get(row.user_id)}  "
                   f"scopes={','.join(row.scope_list)}  created={_when(row.created_at)}  "
                   f"last-used={_when(row.last_used_at)}  expires={_when(row.expires_at)}  "
                   f"{token_state(row)}")


@tokens_group.command("revoke")
@click.argument("token_id", type=int)
@clean_errors
def tokens_revoke(token_id: int) -> None:
    """Revoke a token at once (its next request answers 401)."""
    row = revoke_token(token_id)
    audit("api.token.revoke", target=f"token {row.id}", actor=None, actor_login="cli")
    click.echo(f"Token {row.id} revoked.")
