"""French by default, English available: the bridge's translations.

Messages are written in English in the code and templates; the French catalog
(``translations/fr/LC_MESSAGES/messages.po``) is compiled in memory when first needed, so there is
no binary ``.mo`` file to forget to rebuild. The bridge uses its own Flask-Babel ``Domain``, made
the request's domain for the bridge's pages only: inside a host portal that has its own
Flask-Babel set-up, the host's pages keep the host's catalogs.

Language choice: the user's pick (a cookie set by the language switch), else the browser's
preferred language among those offered, else French.
"""

from __future__ import annotations

import threading
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app, has_app_context, has_request_context, request

if TYPE_CHECKING:  # Babel and Flask-Babel are imported on first use (see _bridge_domain)
    from babel import support
    from babel.messages.catalog import Catalog
    from flask_babel import Domain

TRANSLATIONS = Path(__file__).parent / "translations"
LANGUAGES: tuple[str, ...] = ("fr", "en")
DEFAULT_LANGUAGE = "fr"
LANGUAGE_COOKIE = "medshake_bridge_lang"
LANGUAGE_NAMES = {"fr": "Français", "en": "English"}


_made: dict[str, Any] = {}  # "class" and "domain", each made once (under _making)
_making = threading.Lock()


def _catalog_domain_class() -> type[Domain]:
    """:class:`CatalogDomain`, defined when first asked for: importing Babel and Flask-Babel
    (dates, numbers, time zones, the catalog readers: 28 modules) cost every process about
    19 ms of CPU at start-up, and a process without pages (``medshake-bridge fetch``) may
    translate nothing (issue 18). The class and :data:`BRIDGE_DOMAIN` are the same objects
    for every caller and thread."""
    made = _made.get("class")
    if made is not None:
        return made
    with _making:
        if "class" not in _made:
            _made["class"] = _define_catalog_domain()
    return _made["class"]


def _define_catalog_domain() -> type[Domain]:
    from babel import support
    from flask_babel import Domain, get_locale

    class CatalogDomain(Domain):
        """A Flask-Babel domain that reads ``.po`` catalogs directly (compiled in memory,
        cached)."""

        def __init__(self, folder: Path) -> None:
            super().__init__(translation_directories=[str(folder)], domain="messages")
            self.folder = folder

        def get_translations(self) -> support.NullTranslations:
            language = _page_less_language()
            if language is None:
                locale = get_locale()
                if locale is None:
                    return support.NullTranslations()
                language = str(locale.language)
            key = (language, "messages")
            if key not in self.cache:
                self.cache[key] = load_catalog(self.folder, language)
            return self.cache[key]

    CatalogDomain.__module__, CatalogDomain.__qualname__ = __name__, "CatalogDomain"
    return CatalogDomain


def _bridge_domain() -> Domain:
    """:data:`BRIDGE_DOMAIN`, made on first use (one per process, as when it was made at
    import)."""
    made = _made.get("domain")
    if made is not None:
        return made
    domain_class = _catalog_domain_class()
    with _making:
        if "domain" not in _made:
            _made["domain"] = domain_class(TRANSLATIONS)
    return _made["domain"]


def __getattr__(name: str) -> Any:
    """``CatalogDomain`` and ``BRIDGE_DOMAIN``, built on first use (PEP 562)."""
    if name == "CatalogDomain":
        return _catalog_domain_class()
    if name == "BRIDGE_DOMAIN":
        return _bridge_domain()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _page_less_language() -> str | None:
    """French for an app built without pages (``medshake-bridge fetch`` or ``send``: no
    Flask-Babel, whose locale selector reads a request anyway); ``None`` elsewhere."""
    if has_app_context() and "babel" not in current_app.extensions:
        return DEFAULT_LANGUAGE
    return None


def read_catalogs(folder: Path, language: str) -> Catalog | None:
    """Every ``<folder>/<language>/LC_MESSAGES/*.po`` merged into one catalog.

    ``messages.po`` comes first; a feature may ship its own ``<feature>.po`` beside it (so
    features built in parallel do not edit one file). A translated entry wins over an empty one.
    """
    files = sorted((folder / language / "LC_MESSAGES").glob("*.po"),
                   key=lambda path: (path.name != "messages.po", path.name))
    if not files:
        return None
    from babel.messages.pofile import read_po

    merged: Catalog | None = None
    for path in files:
        with path.open("rb") as handle:
            catalog = read_po(handle, locale=language)
        if merged is None:
            merged = catalog
            continue
        for message in catalog:
            if not message.id:
                continue
            existing = merged.get(message.id)
            if existing is None or not existing.string:
                merged[message.id] = message
    return merged


def load_catalog(folder: Path, language: str) -> support.NullTranslations:
    """Compile the merged catalogs of ``language``; none translates nothing (English is the
    source language)."""
    from babel import support
    from babel.messages.mofile import write_mo

    catalog = read_catalogs(folder, language)
    if catalog is None:
        return support.NullTranslations()
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return support.Translations(fp=buffer, domain="messages")


def _(message: str, **variables: Any) -> str:
    """Translate ``message`` with the bridge's catalog (``%(name)s`` placeholders)."""
    return _bridge_domain().gettext(message, **variables)


def ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
    return _bridge_domain().ngettext(singular, plural, num, **variables)


def select_language() -> str:
    """The standalone app's locale selector: cookie, then browser, then French."""
    if not has_request_context():
        return DEFAULT_LANGUAGE
    chosen = request.cookies.get(LANGUAGE_COOKIE, "")
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES) or DEFAULT_LANGUAGE


def current_language() -> str:
    """``"en"`` or ``"fr"``: which of the declared labels (label_fr / label_en) to show."""
    from flask_babel import get_locale

    locale = get_locale()
    return "en" if locale is not None and locale.language == "en" else "fr"


def init_babel(app: Flask) -> bool:
    """Set up Flask-Babel unless the host app did; returns True when the bridge set it up."""
    app.jinja_env.add_extension("jinja2.ext.i18n")
    if "babel" in app.extensions:
        return False
    from flask_babel import Babel

    Babel(app, locale_selector=select_language, default_locale=DEFAULT_LANGUAGE,
          default_translation_directories=str(TRANSLATIONS))
    return True


def template_helpers() -> dict[str, Any]:
    """Gettext callables bound to the bridge's catalog, for the bridge's templates.

    The catalog is looked up once per rendered page, not once per string: through
    Flask-Babel each call finds the request's locale and domain again (about 2 µs, with the
    lookups of werkzeug's proxies), and the inbox list translates about 450 strings a page.
    The result is the same as :func:`_` and :func:`ngettext` give during this request.
    """
    translations = _bridge_domain().get_translations()
    lookup, plural_lookup = translations.ugettext, translations.ungettext

    def page_gettext(message: str, **variables: Any) -> str:
        found = lookup(message)
        return found % variables if variables else found

    def page_ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
        variables.setdefault("num", num)
        return plural_lookup(singular, plural, num) % variables

    return {"_": page_gettext, "gettext": page_gettext, "ngettext": page_ngettext,
            "lang": current_language(),
            "languages": [(code, LANGUAGE_NAMES[code]) for code in LANGUAGES]}


def human_size(size: int) -> str:
    """A file size for people, in the page's language (kB below a megabyte)."""
    if size >= 1024 * 1024:
        return _("%(count)s MB", count=size // (1024 * 1024))
    return _("%(count)s kB", count=max(size // 1024, 1))
