"""Helpers for the page tests (Flask test client): users, CSRF tokens, logging in."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from medshake_bridge.db import db
from medshake_bridge.models import AuditEvent, User
from medshake_bridge.users import hash_password

PASSWORD = "correct horse battery"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class People:
    admin: int
    alice: int
    bob: int
    sophie: int


@functools.cache
def _password_hash() -> str:
    return hash_password(PASSWORD)  # scrypt is slow on purpose: hash once per session


def make_people(app: Flask) -> People:
    """An admin, two practitioners and a secretary, all with :data:`PASSWORD`.

    Rows are made directly with one shared hash (``create_user`` itself is tested by the CLI
    and users-page tests)."""
    spec = [("admin", "admin", "Ada Admin", "base"), ("alice", "practitioner", "Dr Alice", "base"),
            ("bob", "practitioner", "Dr Bob", "cardio"),
            ("sophie", "secretary", "Sophie", "base")]
    with app.app_context():
        users = [User(login=login, role=role, display_name=name, module=module, active=True,
                      password_hash=_password_hash()) for login, role, name, module in spec]
        db.session.add_all(users)
        db.session.commit()
        return People(*(user.id for user in users))


def csrf_token(client: FlaskClient, page: str = "/login") -> str:
    response = client.get(page)
    match = _TOKEN.search(response.get_data(as_text=True))
    assert match, f"no CSRF token on {page} ({response.status_code})"
    return match.group(1)


def post(client: FlaskClient, url: str, data: dict | list | None = None, *,
         page: str | None = None, **kwargs):
    """POST ``data`` to ``url`` with a CSRF token taken from ``page`` (default: ``url``)."""
    token = csrf_token(client, page or url)
    if isinstance(data, list):
        return client.post(url, data=MultiDict([*data, ("csrf_token", token)]), **kwargs)
    return client.post(url, data={**(data or {}), "csrf_token": token}, **kwargs)


def login(client: FlaskClient, user: str, password: str = PASSWORD):
    return post(client, "/login", {"login": user, "password": password}, page="/login")


def events(app: Flask, action: str | None = None) -> list[AuditEvent]:
    with app.app_context():
        query = select(AuditEvent).order_by(AuditEvent.id)
        if action:
            query = query.where(AuditEvent.action == action)
        found = list(db.session.scalars(query))
        db.session.expunge_all()
        return found
