"""Helpers for the JSON API tests: a site with mail for Bob, people with tokens."""

from __future__ import annotations

from dataclasses import dataclass, field

from mailworld import PDF_1
from sqlalchemy import select

from medshake_bridge import bridge_state
from medshake_bridge.apiv1.tokens import create_token
from medshake_bridge.db import db
from medshake_bridge.models import InboxDocument, User
from medshake_bridge.users import create_user

PASSWORD = "password for tests"
ALL = ["inbox:read", "inbox:write", "send", "patients:read"]


@dataclass
class ApiSite:
    world: object
    app: object
    document_id: int = 0
    ids: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def token(self, login: str, scopes: list[str] | None = None, **kwargs) -> str:
        with self.app.app_context():
            user = db.session.scalars(select(User).where(User.login == login)).one()
            return create_token(user, scopes or ALL, **kwargs).text

    def get(self, url: str, who: str = "bob", **kwargs):
        headers = {"Authorization": f"Bearer {self.tokens[who]}", **kwargs.pop("headers", {})}
        return self.app.test_client().get(url, headers=headers, **kwargs)

    def post(self, url: str, who: str = "bob", **kwargs):
        headers = {"Authorization": f"Bearer {self.tokens[who]}", **kwargs.pop("headers", {})}
        return self.app.test_client().post(url, headers=headers, **kwargs)


def api_site(world) -> ApiSite:
    """Bob has one collected document with a PDF; Carol (practitioner) has none; Sophie
    (secretary) reads Bob's mail; Ada is an admin. Each has a token with every non-admin
    scope (Ada's also has admin)."""
    world.deliver(world.mail(attachments=[("compte-rendu.pdf", PDF_1)]))
    world.collect()
    site = ApiSite(world, world.app)
    with world.app.app_context():
        carol = create_user("carol", PASSWORD, role="practitioner")
        sophie = create_user("sophie", PASSWORD, role="secretary", display_name="Sophie")
        ada = create_user("ada", PASSWORD, role="admin")
        bridge_state().settings.set("apicryptInboxMailForUserID", str(world.bob),
                                    level="user", user_id=sophie.id)
        site.document_id = db.session.scalars(select(InboxDocument.id)).one()
        site.ids = {"bob": world.bob, "carol": carol.id, "sophie": sophie.id, "ada": ada.id}
    for login in ("bob", "carol", "sophie"):
        site.tokens[login] = site.token(login)
    site.tokens["ada"] = site.token("ada", [*ALL, "admin"])
    return site
