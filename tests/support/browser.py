"""Headless Chromium (Debian's ``/usr/bin/chromium``) driven by Playwright, without
pytest-playwright. Never run ``playwright install``: the Debian browser is used.

Pytest plugin. Fixtures:

* ``browser`` (session): a Playwright ``Browser`` (Chromium, headless).
* ``page`` (function): a ``Page`` in a new browser context per test (closed after the test;
  when the test fails, a screenshot of the page is saved as ``<test name>-failed.png``).
* ``live_server`` (function): ``live_server(app) -> base_url`` serves a Flask/WSGI app on
  127.0.0.1 (free port, threaded) for the duration of the test.

Helper: ``screenshot(page, name) -> Path`` saves ``test-artifacts/screenshots/<name>.png`` in
the repository root (folder made on demand).
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from support.components import CHROMIUM_BINARY, component_fixtures, ensure_component

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

component_fixtures("chromium", "browser", "page")

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT_DIR = REPO_ROOT / "test-artifacts" / "screenshots"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

_failed_key = pytest.StashKey[bool]()


def _safe_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")
    return cleaned[:150] or "screenshot"


def screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """Save a PNG of ``page`` as ``test-artifacts/screenshots/<name>.png``; return its path."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / f"{_safe_name(name)}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Chromium for the session (flags: ``CHROMIUM_ARGS``)."""
    ensure_component("chromium")
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM_BINARY, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A page in a fresh context (own cookies and storage) for this test."""
    context = browser.new_context()
    context.set_default_timeout(10_000)
    new_page = context.new_page()
    try:
        yield new_page
        if request.node.stash.get(_failed_key, False):
            # best effort: the test has failed already
            with contextlib.suppress(Exception):
                screenshot(new_page, f"{request.node.nodeid}-failed")
    finally:
        context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        item.stash[_failed_key] = True


@pytest.fixture
def live_server() -> Iterator[Callable[[Any], str]]:
    """Factory: ``live_server(app) -> "http://127.0.0.1:<port>"``, stopped after the test."""
    from werkzeug.serving import make_server

    servers: list[tuple[Any, threading.Thread]] = []

    def serve(app: Any) -> str:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(
            target=server.serve_forever, name=f"live-server-{server.server_port}", daemon=True
        )
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}"

    yield serve
    for server, thread in servers:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()
