"""Real components in tests: skip locally when one is missing, fail under CI.

Pytest plugin. ``require_component(name, available, reason)`` is the one rule:

* component available: nothing happens;
* missing, locally: the test is *skipped*, with a reason naming the component and the fix;
* missing, under CI (environment variable ``CI`` set to anything but empty, ``0``, ``false``,
  ``no`` or ``off``: ``true``, ``1``, ``yes``, a CI system's name): the test *fails*.

The ``real_component(name)`` marker (declared in ``pyproject.toml``) does the same from a
marker: a test marked ``@pytest.mark.real_component("dovecot")`` is checked before it runs
against the probe registered for that name (built in: ``dovecot``, ``chromium``,
``postgresql``, ``mariadb``; add more with ``register_component``). Tests that use a fixture
registered for a component (``dovecot``, ``page``, ...) get the marker automatically, so
``-m real_component`` / ``-m "not real_component"`` select them.

Under CI, any skip of a test carrying the marker (a ``skipif``, an ``importorskip``, a skip
from a fixture) is reported as a failure: a CI run cannot silently lose its real-server tests.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

MARKER = "real_component"

#: A probe answers ``None`` when the component is usable, else the reason it is not.
Probe = Callable[[], "str | None"]

_PROBES: dict[str, Probe] = {}
_PROBE_RESULTS: dict[str, str | None] = {}
_FIXTURE_COMPONENTS: dict[str, str] = {}


FALSY = frozenset({"", "0", "false", "no", "off", "n", "f"})


def running_under_ci() -> bool:
    """True when the environment variable ``CI`` is set to a truthy value (any case).

    CI systems differ: ``true`` (GitHub, GitLab), ``1``, ``yes``, or their own name
    (Woodpecker sets ``woodpecker``). Only an empty value or an explicit no means "not CI"."""
    return os.environ.get("CI", "").strip().lower() not in FALSY


def _ci_label() -> str:
    return f"CI={os.environ.get('CI', '').strip()}"


def require_component(name: str, available: bool, reason: str) -> None:
    """Skip (locally) or fail (under CI) the current test when ``name`` is missing.

    Call it from a test or a fixture. ``reason`` says what is missing and how to get it.
    """
    if available:
        return
    if running_under_ci():
        pytest.fail(
            f"real component {name!r} is missing and {_ci_label()}, so this is a failure: "
            f"{reason}",
            pytrace=False,
        )
    pytest.skip(f"real component {name!r} not available: {reason}")


def register_component(name: str, probe: Probe, fixtures: Iterable[str] = ()) -> None:
    """Register (or replace) the probe for ``name``; ``fixtures`` imply the marker."""
    _PROBES[name] = probe
    _PROBE_RESULTS.pop(name, None)
    for fixture in fixtures:
        _FIXTURE_COMPONENTS[fixture] = name


def component_fixtures(name: str, *fixtures: str) -> None:
    """Tests using any of ``fixtures`` get ``@pytest.mark.real_component(name)``."""
    for fixture in fixtures:
        _FIXTURE_COMPONENTS[fixture] = name


def component_missing(name: str) -> str | None:
    """The reason ``name`` is unusable here, or ``None`` if it is usable (cached)."""
    if name not in _PROBES:
        return None  # a label without a probe: the fixture checks for itself
    if name not in _PROBE_RESULTS:
        _PROBE_RESULTS[name] = _PROBES[name]()
    return _PROBE_RESULTS[name]


def ensure_component(name: str) -> None:
    """``require_component`` with the registered probe's answer."""
    reason = component_missing(name)
    require_component(name, reason is None, reason or "")


# --- built-in probes -----------------------------------------------------------------------

DOVECOT_BINARY = "/usr/sbin/dovecot"
DOVECOT_LIBEXEC = Path("/usr/lib/dovecot")
CHROMIUM_BINARY = "/usr/bin/chromium"


def _probe_dovecot() -> str | None:
    binary = shutil.which("dovecot") or (
        DOVECOT_BINARY if os.access(DOVECOT_BINARY, os.X_OK) else None
    )
    if binary is None:
        return (
            "no dovecot binary; install it with "
            "`apt-get install -y --no-install-recommends dovecot-core dovecot-pop3d "
            "dovecot-imapd`"
        )
    missing = [p for p in ("pop3", "imap") if not (DOVECOT_LIBEXEC / p).exists()]
    if missing:
        return (
            f"dovecot is there but {', '.join(missing)} is not "
            f"(looked in {DOVECOT_LIBEXEC}); install dovecot-pop3d and dovecot-imapd"
        )
    return None


def _probe_chromium() -> str | None:
    if not os.access(CHROMIUM_BINARY, os.X_OK):
        return f"no {CHROMIUM_BINARY}; install it with `apt-get install -y chromium`"
    if importlib.util.find_spec("playwright") is None:
        return "the Python package playwright is not installed (test extra)"
    return None


def _tcp_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _probe_database(label: str, port: int, module: str) -> str | None:
    if importlib.util.find_spec(module) is None:
        return f"the Python driver {module} is not installed (test extra)"
    if not _tcp_open("127.0.0.1", port):
        return f"no {label} server listening on 127.0.0.1:{port}"
    return None


register_component("dovecot", _probe_dovecot)
register_component("chromium", _probe_chromium)
register_component("postgresql", lambda: _probe_database("PostgreSQL", 5432, "psycopg"))
register_component("mariadb", lambda: _probe_database("MariaDB", 3306, "pymysql"))


# --- pytest hooks ------------------------------------------------------------------------


def _marker_name(marker: pytest.Mark) -> str | None:
    if marker.args:
        return str(marker.args[0])
    name = marker.kwargs.get("name")
    return None if name is None else str(name)


def pytest_configure(config: pytest.Config) -> None:
    declared = config.getini("markers")
    if not any(str(line).startswith(f"{MARKER}(") or line == MARKER for line in declared):
        config.addinivalue_line(
            "markers",
            f"{MARKER}(name): needs a real server or program; skipped locally when missing, "
            "a failure under CI",
        )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        present = {_marker_name(m) for m in item.iter_markers(MARKER)}
        for fixture in getattr(item, "fixturenames", ()):
            name = _FIXTURE_COMPONENTS.get(fixture)
            if name is not None and name not in present:
                item.add_marker(pytest.mark.real_component(name))
                present.add(name)


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in item.iter_markers(MARKER):
        name = _marker_name(marker)
        if name is not None:
            ensure_component(name)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if not (report.skipped and running_under_ci()):
        return
    if hasattr(report, "wasxfail") or item.get_closest_marker(MARKER) is None:
        return
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else longrepr
    report.outcome = "failed"
    report.longrepr = (
        f"real-component test skipped while {_ci_label()}, which counts as a failure: {reason}"
    )
