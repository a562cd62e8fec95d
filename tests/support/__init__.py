"""Test support: real components (dovecot, SMTP, Chromium) started by pytest fixtures.

Each module is a pytest plugin; ``tests/conftest.py`` loads them with::

    pytest_plugins = ["support.components", "support.dovecot", "support.smtp", "support.browser"]

``support.tls`` and ``support.net`` are plain helper modules (no fixtures of their own except
``test_pki``, which ``support.dovecot`` and ``support.smtp`` re-export).
"""

import pytest

# The plugins import each other (e.g. support.dovecot imports support.tls before pytest loads
# it as a plugin): have the whole package rewritten, so pytest does not warn about it.
pytest.register_assert_rewrite(
    "support.browser",
    "support.components",
    "support.dovecot",
    "support.net",
    "support.smtp",
    "support.tls",
)
