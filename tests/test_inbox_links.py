"""The inbox list's links, built once per page (``urls.id_url_builder``) instead of one
``url_for`` per line, lead where ``url_for`` leads: under a URL prefix, under a mount point,
for the line's page and for the removed tab's "put back" form."""

from __future__ import annotations

import re

from flask import url_for
from test_inbox_search_sqlite import _fill
from test_inbox_triage import PASSWORD
from web_helpers import post

from medshake_bridge import migrate
from medshake_bridge.db import db
from medshake_bridge.models.mail import REMOVED, InboxDocument
from medshake_bridge.urls import id_url_builder

LINE = re.compile(r'data-document="(\d+)">\s*<td[^>]*><a href="([^"]+)"')
RESTORE = re.compile(r'data-document="(\d+)">.*?<form method="post" action="([^"]+)"', re.S)


def test_each_line_links_to_its_document_under_a_url_prefix(make_app):
    app = make_app(MEDSHAKE_BRIDGE_URL_PREFIX="/bridge")
    migrate.upgrade(app)
    _fill(app, 3)
    client = app.test_client()
    assert post(client, "/bridge/login", {"login": "bob", "password": PASSWORD}
                ).status_code == 302
    lines = LINE.findall(client.get("/bridge/inbox/").get_data(as_text=True))
    assert len(lines) == 3, lines
    assert all(href == f"/bridge/inbox/{number}" for number, href in lines), lines
    with app.app_context():
        db.session.get(InboxDocument, int(lines[0][0])).state = REMOVED
        db.session.commit()
    removed = RESTORE.findall(client.get("/bridge/inbox/?state=removed").get_data(as_text=True))
    assert removed == [(lines[0][0], f"/bridge/inbox/{lines[0][0]}/restore")], removed


def test_the_built_links_are_url_for_s_under_a_mount_point(app):
    with app.test_request_context("/", base_url="http://localhost/mount/"):
        for endpoint in ("bridge_inbox.view", "bridge_inbox.restore"):
            build = id_url_builder(endpoint, "document_id")
            for number in (1, 42, 918273645, 10**12):
                assert build(number) == url_for(endpoint, document_id=number)
            assert build(7).startswith("/mount/inbox/7")
