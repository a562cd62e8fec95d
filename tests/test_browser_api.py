"""In Chromium: a user creates a token on the tokens page, same-origin JavaScript uses the API
with the session (a write needs the CSRF token), the token works without any cookie, and
revoking it on the page stops it at once.

Screenshots go to ``test-artifacts/screenshots/api-*.png``.
"""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from api_helpers import PASSWORD, api_site
from support.browser import screenshot

from medshake_bridge.i18n import LANGUAGE_COOKIE

pytestmark = pytest.mark.real_component("chromium")


def _status(url: str, token: str) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - loopback
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_token_page_session_fetch_with_csrf_and_revocation(world, live_server, page):
    site = api_site(world)
    base = live_server(site.app)
    page.context.add_cookies([{"name": LANGUAGE_COOKIE, "value": "fr", "url": base}])
    page.goto(f"{base}/login")
    page.fill("#login", "bob")
    page.fill("#password", PASSWORD)
    page.click("button.primary")

    page.goto(f"{base}/tokens/")
    page.fill("#name", "script du cabinet")
    page.click("form.grid-form button.primary")
    token = page.inner_text("code.token-text").strip()
    assert token.startswith("msb_")
    screenshot(page, "api-01-token-created")
    assert _status(f"{base}/api/v1/inbox/unread-count", token) == 200

    unread = page.evaluate("""async () => {
        const answer = await fetch('/api/v1/inbox/unread-count');
        return [answer.status, await answer.json()];
    }""")
    assert unread[0] == 200 and unread[1]["total"] == 1
    url = f"/api/v1/documents/{site.document_id}/remove"
    refused = page.evaluate("async (url) => (await fetch(url, {method: 'POST'})).status", url)
    assert refused == 400
    accepted = page.evaluate("""async (url) => {
        const token = document.querySelector('input[name=csrf_token]').value;
        const answer = await fetch(url, {method: 'POST', headers: {'X-CSRFToken': token}});
        return [answer.status, (await answer.json()).state];
    }""", url)
    assert accepted == [200, "removed"]

    page.goto(f"{base}/tokens/")
    assert "script du cabinet" in page.inner_text("table.tokens")
    assert token not in page.content()
    page.click("table.tokens tr.token-active button.danger")
    assert "révoqué" in page.inner_text("table.tokens").lower()
    screenshot(page, "api-02-token-revoked")
    assert _status(f"{base}/api/v1/inbox/unread-count", token) == 401
