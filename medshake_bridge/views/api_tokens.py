"""API tokens on a page: each user manages their own; an admin sees and revokes everyone's.

The token's text is shown once, on the page that answers its creation, and never again (only
its hash is kept). Creating and revoking are audited; every form carries the CSRF token.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from medshake_bridge.access import USER, can_admin, current_bridge_user, deny, protect
from medshake_bridge.apiv1.tokens import (
    TokenError,
    create_token,
    list_tokens,
    revoke_token,
    token_state,
)
from medshake_bridge.audit import audit
from medshake_bridge.db import db
from medshake_bridge.flashes import flash
from medshake_bridge.i18n import _
from medshake_bridge.models import ApiToken, User
from medshake_bridge.models.api import SCOPES

token_pages = protect(Blueprint("bridge_tokens", __name__, url_prefix="/tokens"), USER)
EXPIRIES = ("30d", "90d", "365d", "never")


def _page(user: User, *, created: Any = None, errors: dict[str, str] | None = None,
          form: dict[str, Any] | None = None, status: int = 200) -> tuple[str, int]:
    admin = can_admin(user)
    rows = list_tokens(None if admin else user.id)
    users = {row.id: row for row in db.session.scalars(select(User).order_by(User.login))}
    scopes = [scope for scope in SCOPES if scope != "admin" or admin]
    return render_template(
        "bridge/api_tokens.html", rows=rows, users=users, admin=admin, scopes=scopes,
        expiries=EXPIRIES, created=created, errors=errors or {}, state=token_state,
        form=form or {"name": "", "scopes": ["inbox:read"], "expires": "90d",
                      "user": user.id}), status


@token_pages.route("/", methods=["GET", "POST"])
def index() -> Any:
    user = current_bridge_user()
    if request.method == "GET":
        return _page(user)
    form = {"name": request.form.get("name", "").strip(),
            "scopes": request.form.getlist("scope"),
            "expires": request.form.get("expires", "90d"),
            "user": request.form.get("user", str(user.id))}
    owner = user
    if can_admin(user) and str(form["user"]).isdigit():
        owner = db.session.get(User, int(form["user"])) or user
    try:
        if form["expires"] not in EXPIRIES:
            raise TokenError("unknown lifetime", fix=_("Choose a lifetime in the list."))
        created = create_token(owner, form["scopes"], name=form["name"],
                               expires=form["expires"])
    except TokenError as exc:
        return _page(user, errors={"form": str(exc)}, form=form, status=400)
    audit("api.token.create", target=f"token {created.row.id}",
          detail=f"user {owner.login}, scopes {created.row.scopes}", actor=user)
    return _page(user, created=created)


@token_pages.post("/<int:token_id>/revoke")
def revoke(token_id: int) -> Response:
    user = current_bridge_user()
    row = db.session.get(ApiToken, token_id)
    if row is None or (row.user_id != user.id and not can_admin(user)):
        deny(f"api token {token_id}", detail="not the owner")
    revoke_token(token_id)
    audit("api.token.revoke", target=f"token {token_id}", actor=user)
    flash(_("Token revoked: it no longer works."), "success")
    return redirect(url_for(".index"))
