"""French by default, English available: the catalog is complete and the choice is honoured."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from web_helpers import login, make_people, post

from medshake_bridge.i18n import LANGUAGE_COOKIE, TRANSLATIONS, read_catalogs

ROOT = Path(__file__).resolve().parents[1]


def _source_messages() -> set[str | tuple[str, ...]]:
    keywords = {**DEFAULT_KEYWORDS, "_": None, "ngettext": (1, 2)}
    found: set[str | tuple[str, ...]] = set()
    sources = [
        (ROOT / "medshake_bridge", [("**.py", "python")], {}),
        (ROOT / "plugins", [("**.py", "python"), ("**.html", "jinja2")], {"**.html": {
            "extensions": "jinja2.ext.i18n"}}),
        (ROOT / "templates", [("**.html", "jinja2")], {"**.html": {
            "extensions": "jinja2.ext.i18n"}}),
        # the example plugin shipped with the docs (its strings are in platform.po)
        (ROOT / "docs" / "examples", [("**.py", "python"), ("**.html", "jinja2")], {"**.html": {
            "extensions": "jinja2.ext.i18n"}}),
    ]
    for folder, method_map, options in sources:
        for _file, _line, message, _comments, _context in extract_from_dir(
                folder, method_map, options_map=options, keywords=keywords):
            found.add(message)
    return found


def test_every_message_has_a_french_translation():
    catalog = read_catalogs(TRANSLATIONS, "fr")
    messages = _source_messages()
    assert len(messages) > 150
    missing = []
    for message in messages:
        key = message[0] if isinstance(message, tuple) else message
        entry = catalog.get(key)
        translated = entry is not None and (
            all(entry.string) if isinstance(entry.string, tuple) else bool(entry.string))
        if not translated or (entry is not None and entry.fuzzy):
            missing.append(key)
    assert missing == [], "run scripts/update-translations and translate: " + repr(missing)


def test_french_by_default_english_from_the_browser_or_the_switch(app):
    make_people(app)
    client = app.test_client()
    assert "Se connecter" in client.get("/login").get_data(as_text=True)
    english = client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert "Log in" in english.get_data(as_text=True)
    assert '<html lang="en">' in english.get_data(as_text=True)
    login(client, "admin")
    response = post(client, "/language", {"lang": "en", "next": "/admin/settings/"}, page="/")
    assert response.location == "/admin/settings/"
    assert f"{LANGUAGE_COOKIE}=en" in response.headers["Set-Cookie"]
    page = client.get("/admin/settings/", headers={"Accept-Language": "fr"}).get_data(
        as_text=True)
    assert "Global settings" in page and "Receiving server (POP3)" in page
    post(client, "/language", {"lang": "fr", "next": "/"}, page="/")
    page = client.get("/admin/settings/").get_data(as_text=True)
    assert "Paramètres globaux" in page and "Serveur de réception (POP3)" in page
    post(client, "/language", {"lang": "xx"}, page="/")  # unknown: ignored
    assert "Paramètres globaux" in client.get("/admin/settings/").get_data(as_text=True)
