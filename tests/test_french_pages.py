"""French everywhere: log in as each role with the French interface, visit every page of the
bridge, and look for English words and ISO dates in what the pages show.

Technical values are allowed where they are values (setting names in ``<code>``, paths,
addresses, the raw text of a document in ``<pre>``, what a user typed in a field); the words
around them must be French, and dates are ``01/12/2026 10:32`` in local time.
"""

from __future__ import annotations

import html as htmllib
import re

import pytest
from officeworld import PASSWORD, make_office
from test_inbox_results import K_MID, K_NEW, lab
from web_helpers import csrf_token

from medshake_bridge.db import db
from medshake_bridge.i18n import LANGUAGE_COOKIE
from medshake_bridge.models import User
from medshake_bridge.users import create_user

# English words that have no business on a French page (none of them is also French).
ENGLISH = {
    "the", "and", "of", "with", "without", "folder", "loaded", "failed", "none", "deleted",
    "fetched", "collected", "not_collected", "embedded", "where", "run", "error", "errors",
    "true", "false", "yes", "hook", "hooks", "enabled", "disabled", "missing", "readable",
    "writable", "found", "running", "pending", "skipped", "outcome", "trigger", "sent",
    "unread", "inbox", "settings", "setting", "users", "user", "password", "login", "logout",
    "mailbox", "mailboxes", "send", "received", "filed", "removed", "new", "read", "next",
    "previous", "last", "never", "today", "yesterday", "ago", "seconds", "minutes", "hours",
    "days", "every", "from", "to", "at", "on", "by", "is", "are", "was", "not", "no", "or",
    "if", "this", "that", "please", "click", "here", "save", "saved", "cancel", "delete",
    "remove", "edit", "add", "search", "filter", "show", "hide", "open", "close", "download",
    "upload", "loading", "failure", "success", "warning", "info", "ok", "denied", "key",
    "keys", "year", "check", "checks", "fix", "how", "what", "why", "when", "who",
}
# Words that look English but are French too, or are names of things.
ALLOWED = {"message", "messages", "date", "type", "source", "module", "modules", "page",
           "pages", "total", "mode", "note", "notes", "minute", "plugins", "plugin", "ok"}
DEBUG = False
ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2})?")
_DROP = re.compile(r"<(script|style|pre|code|textarea|option|select|kbd|samp)\b.*?</\1>",
                   re.S | re.I)
_TAG = re.compile(r"<[^>]+>")
_TECHNICAL = re.compile(r"«[^»]*»|\b\w+/|\b[A-Z][A-Z0-9]+\b|[\w.+-]+@[\w.-]+"
                        r"|(?:/[\w.@:+-]+)+/?|\b\w+\.\w+(?:\.\w+)*\b"
                        r"|\b[a-z]+[A-Z]\w*\b|\b\w*_\w+\b|https?://\S+|\{[^}]*\}")


def visible_text(page: str) -> str:
    """What a reader sees: no scripts, styles, code or raw text blocks, no tags."""
    body = page.split("<body", 1)[-1]
    text = _TAG.sub(" ", _DROP.sub(" ", body))
    return htmllib.unescape(text)


def problems(text: str) -> list[str]:
    """English words and ISO dates in ``text`` (technical tokens set aside)."""
    found = [f"ISO date {match.group(0)!r}" for match in ISO_DATE.finditer(text)]
    if re.search(r"\bUTC\b", text):
        found.append("UTC")
    words = re.findall(r"[A-Za-z_]+", _TECHNICAL.sub(" ", text))
    found += [f"English word {word!r}" for word in words
              if word.lower() in ENGLISH and word.lower() not in ALLOWED]
    return found


@pytest.fixture
def practice(send_world):
    sw = make_office(send_world)
    with sw.app.app_context():
        root = create_user("root", PASSWORD, role="admin")
        root.display_name = "Ada Admin"
        db.session.commit()
    for exam, results in (("20/11/2026", K_MID), ("30/11/2026", K_NEW)):
        sw.world.deliver(sw.world.mail(text=lab(exam, results), subject="Résultats"))
    assert sw.world.collect().ok
    sw.send()
    return sw


def _client(sw, login: str):
    client = sw.app.test_client()
    client.set_cookie(LANGUAGE_COOKIE, "fr")
    token = csrf_token(client, "/login")
    assert client.post("/login", data={"login": login, "password": PASSWORD,
                                       "csrf_token": token}).status_code == 302
    return client


def _pages(sw, client, role: str) -> list[str]:
    """Every page a person of ``role`` can open (GET routes, with real ids for the others)."""
    documents = [doc.id for doc in sw.world.documents()]
    with sw.app.app_context():
        users = [user.id for user in db.session.scalars(db.select(User))]
    urls = ["/", "/inbox/", "/inbox/?state=filed", "/inbox/?state=removed",
            "/inbox/?q=Jeanne&abnormal=1", *[f"/inbox/{i}" for i in documents],
            "/send/compose", f"/send/compose?patient={sw.patient_id}",
            f"/send/compose?document={documents[0]}&mode=reply", "/send/sent",
            "/send/correspondents"]
    if role == "admin":
        from medshake_bridge import bridge_state

        with sw.app.app_context():
            topics = list(bridge_state(sw.app).registry.categories())
        urls += [f"/admin/settings/?topic={topic}" for topic in topics]
        urls += ["/admin/users/", *[f"/admin/users/{i}" for i in users],
                 *[f"/admin/users/{i}/settings" for i in users], "/admin/overrides",
                 *[f"/admin/users/{i}/setup" for i in users],
                 "/admin/modules/base/settings", "/admin/settings/", "/admin/audit/",
                 "/admin/plugins/", "/admin/system/", "/admin/tasks/", "/admin/tasks/history",
                 "/admin/quarantine/", "/admin/keys/", "/admin/apicrypt2/",
                 "/admin/medshakeehr/copies"]
    return urls


@pytest.mark.parametrize("role,login", [("practitioner", "bob"), ("secretary", "sophie"),
                                        ("admin", "root")])
def test_every_page_is_in_french_without_iso_dates(practice, role, login):
    client = _client(practice, login)
    if role == "admin":
        client.post("/admin/tasks/apicrypt-collect/run",
                    data={"csrf_token": csrf_token(client, "/admin/tasks/")})
    client.get(f"/inbox/{practice.world.documents()[0].id}")
    report = {}
    for url in _pages(practice, client, role):
        response = client.get(url, follow_redirects=True)
        assert response.status_code == 200, (url, response.status_code)
        found = problems(visible_text(response.get_data(as_text=True)))
        if DEBUG and url in ("/admin/system/", "/admin/apicrypt2/"):
            import sys
            sys.path.insert(0, "/tmp")
            import dump_sys
            dump_sys.dump(response.get_data(as_text=True))
        if found:
            report[url] = sorted(set(found))
            if DEBUG:
                text = visible_text(response.get_data(as_text=True))
                for item in sorted(set(found)):
                    if "'" not in item:
                        continue
                    word = item.split("'")[1]
                    for match in re.finditer(rf"\b{re.escape(word)}\b", text):
                        print(url, "|", " ".join(text[max(0, match.start() - 80):
                                                     match.end() + 80].split()))
                        break
    assert report == {}, "English or ISO dates on French pages:\n" + "\n".join(
        f"{url}: {', '.join(items)}" for url, items in report.items())


def test_one_menu_entry_is_current(practice):
    client = _client(practice, "sophie")
    for url, label in (("/send/sent", "Messages envoyés"), ("/send/compose", "Nouveau message"),
                       ("/send/correspondents", "Correspondants"), ("/inbox/", "Boîte")):
        page = client.get(url).get_data(as_text=True)
        menu = page.split('id="bridge-menu"')[1].split("</nav>")[0]
        assert menu.count('aria-current="page"') == 1, url
        assert label in menu.split('aria-current="page"')[1].split("</a>")[0], url


def test_every_page_still_renders_in_english(practice):
    client = _client(practice, "root")
    client.set_cookie(LANGUAGE_COOKIE, "en")
    for url in _pages(practice, client, "admin"):
        response = client.get(url, follow_redirects=True)
        assert response.status_code == 200, url
        assert 'lang="en"' in response.get_data(as_text=True), url
    page = client.get("/admin/tasks/").get_data(as_text=True)
    assert "data-schedule-summary" not in page  # the plain summary is French only
