"""The plugin testing kit: pytest fixtures that give a plugin's tests a real bridge.

Enable it in your plugin's ``tests/conftest.py``::

    pytest_plugins = ["medshake_bridge.testing"]

and override ``bridge_config`` to register your plugin (when it is not installed with an
entry point) or to set configuration keys. Everything is real: a migrated SQLite database in a
temporary instance folder, the sandbox's Apicrypt programs and keys, a Maildir, the real
collection pipeline. See ``docs/testing-plugins.md``.

Fixtures: ``bridge_config``, ``bridge_app``, ``bridge_client``, ``login_as``,
``sandbox_network``, ``maildir_mailbox``, ``collect``, ``system_checks``.
"""

from __future__ import annotations

import email.policy
import email.utils
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from flask import Flask
from flask.testing import FlaskClient

from medshake_bridge import create_app, migrate
from medshake_bridge.public import BridgeUser

ALICE, BOB = "alice.MARTIN", "bob.DURAND"
"""The sandbox's two practitioners: Alice sends, Bob receives (Apicrypt user names)."""
DOMAIN = "medical69.apicrypt.org"
PASSWORD = "password for tests"  # noqa: S105 - test users only
"""The password of every user ``login_as`` creates."""

SAMPLE_HPRIM = (
    "LAB123\nDUPONT\nJeanne\n12 rue des Lilas\n\n69003 LYON\n12/03/1961\n2610369123456 82\n"
    "DOS-2026-001\n27/11/2026\nLABOCENTRE laboratoire.central\nDR0000001 bob.DURAND\n\n"
    "Bilan biologique de contrôle, hémoglobine à surveiller.\n"
    "****LAB****\n"
    "RES|Hémoglobine|HB|N|10.2|g/dl|12|16|L|F\n"
    "RES|Leucocytes|GB|N|7.1|G/l|4|10|N|F\n"
    "****FINLAB****\n"
    "****FIN****\n****FINFICHIER****\n"
)
"""An HPRIM lab report for Jeanne DUPONT with one abnormal result (haemoglobin low)."""

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def bridge_config() -> dict[str, Any]:
    """Extra configuration of ``bridge_app``; override it in your conftest, e.g.
    ``{"MEDSHAKE_BRIDGE_PLUGINS": ["my_plugin.plugin"]}`` for a plugin not installed."""
    return {}


@pytest.fixture
def bridge_app(tmp_path: Path, bridge_config: dict[str, Any]) -> Iterator[Flask]:
    """A standalone bridge on a migrated SQLite database in a temporary instance folder.

    Plugins are strict (one that fails to load fails the test) and the sandbox's fault
    switches reach the programs it runs."""
    from medshake_bridge.db import db
    from medshake_bridge.sandbox import SANDBOX_ENV_VARS

    config: dict[str, Any] = {
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "TESTING": True,
        "MEDSHAKE_BRIDGE_SECRET_KEYS": [Fernet.generate_key().decode()],
        "MEDSHAKE_BRIDGE_STRICT_PLUGINS": True,
        "MEDSHAKE_BRIDGE_RUNNER_ENV_PASSTHROUGH": list(SANDBOX_ENV_VARS),
    }
    config.update(bridge_config)
    app = create_app(config)
    migrate.upgrade(app)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def bridge_client(bridge_app: Flask) -> FlaskClient:
    """A test client of ``bridge_app`` (cookies kept between requests)."""
    return bridge_app.test_client()


@pytest.fixture
def login_as(bridge_app: Flask, bridge_client: FlaskClient
             ) -> Callable[..., BridgeUser]:
    """``login_as("admin" | "practitioner" | "secretary", login=None)``: create that user and
    log ``bridge_client`` in through the login form (CSRF included), after logging out whoever
    was; returns the user."""
    from medshake_bridge.users import create_user

    def login(role: str, login: str | None = None, **fields: Any) -> BridgeUser:
        name = login or role
        with bridge_app.app_context():
            user = BridgeUser.from_row(create_user(name, PASSWORD, role=role, **fields))
        answer = bridge_client.get("/login")
        if answer.status_code == 302:  # someone is logged in: log them out first
            token = _CSRF.search(bridge_client.get("/").get_data(as_text=True))
            assert token, "no CSRF token to log the previous user out"
            bridge_client.post("/logout", data={"csrf_token": token.group(1)})
            answer = bridge_client.get("/login")
        token = _CSRF.search(answer.get_data(as_text=True))
        assert token, "the login page has no CSRF token"
        answer = bridge_client.post("/login", data={"login": name, "password": PASSWORD,
                                                    "csrf_token": token.group(1)})
        assert answer.status_code == 302, f"login of {name} failed ({answer.status_code})"
        return user

    return login


@dataclass
class SandboxKit:
    """A sandbox Apicrypt network (programs, keys of Alice and Bob) used by ``bridge_app``."""

    app: Flask
    root: Path
    network: Any
    sent: int = field(default=0)

    def keys_dir(self, user: str) -> Path:
        return self.network.keys_dir(user)

    def configure(self, user_id: int, apicrypt_user: str = BOB, **settings: Any) -> None:
        """Give a bridge user the settings of ``apicrypt_user`` on this network (address,
        programs, keys), plus ``settings`` (e.g. ``apicryptCollector="maildir"``)."""
        from medshake_bridge.public import settings as settings_of

        store = settings_of(self.app)
        values = {
            "apicryptAdresse": f"{apicrypt_user}@{DOMAIN}",
            "apicryptUtilisateur": apicrypt_user,
            "apicryptCheminVersBinaires": str(self.network.bin_dir),
            "apicryptCheminVersClefs": str(self.keys_dir(apicrypt_user)),
            **settings,
        }
        with self.app.app_context():
            for name, value in values.items():
                store.set(name, value, user_id=user_id)

    def mail(self, text: str = SAMPLE_HPRIM, *, sender: str = ALICE, recipient: str = BOB,
             subject: str = "Résultats") -> bytes:
        """A message as Apicrypt delivers it: ``text`` encrypted by ``sender`` with the
        installed v1 back-end, re-encrypted for ``recipient`` by the sandbox's server."""
        from medshake_bridge.backends import backend_for
        from medshake_bridge.extension import bridge_state
        from medshake_bridge.sandbox import reencrypt

        self.sent += 1
        work = self.root / "senders" / f"{sender}-{self.sent}"
        for sub in ("NC", "C"):
            (work / sub).mkdir(parents=True, exist_ok=True)
        with self.app.app_context():
            backend = backend_for(bridge_state(self.app), {
                "apicryptVersion": "1", "apicryptUtilisateur": sender,
                "apicryptCheminVersBinaires": str(self.network.bin_dir),
                "apicryptCheminVersClefs": str(self.keys_dir(sender)),
                "apicryptCheminFichierNC": str(work / "NC"),
                "apicryptCheminFichierC": str(work / "C"),
                "apicryptCommandTimeout": 60})
            armour = backend.encrypt_body(text, [recipient]).armour
        message = EmailMessage(policy=email.policy.SMTP)
        message["From"] = f"{sender}@{DOMAIN}"
        message["To"] = f"{recipient}@{DOMAIN}"
        message["Subject"] = subject
        message["Date"] = email.utils.formatdate(localtime=True)
        message["Message-ID"] = email.utils.make_msgid(domain=DOMAIN)
        message.set_content(reencrypt(self.network.network_dir, armour)[recipient]
                            .decode("ascii"))
        return message.as_bytes()


@pytest.fixture
def sandbox_network(bridge_app: Flask, tmp_path: Path) -> SandboxKit:
    """The sandbox Apicrypt network of the test (Alice and Bob have this year's keys)."""
    from medshake_bridge.sandbox import create_network

    root = tmp_path / "sandbox"
    return SandboxKit(bridge_app, root, create_network(root, [ALICE, BOB]))


@dataclass
class MaildirMailbox:
    """A local Maildir a user's mail is collected from (``apicryptCollector = maildir``)."""

    folder: Path
    delivered: int = 0

    def deliver(self, raw: bytes) -> Path:
        """Put a message in ``new/`` the way a delivery agent does (through ``tmp/``)."""
        self.delivered += 1
        name = f"1700000000.M{self.delivered}P1.testing"
        (self.folder / "tmp" / name).write_bytes(raw)
        return (self.folder / "tmp" / name).rename(self.folder / "new" / name)

    def waiting(self) -> list[Path]:
        """Messages still on the "server" (not yet collected and deleted)."""
        return sorted(path for sub in ("new", "cur") for path in (self.folder / sub).iterdir())


@pytest.fixture
def maildir_mailbox(tmp_path: Path) -> MaildirMailbox:
    """An empty Maildir (``cur/``, ``new/``, ``tmp/``)."""
    folder = tmp_path / "maildir"
    for sub in ("cur", "new", "tmp"):
        (folder / sub).mkdir(parents=True)
    return MaildirMailbox(folder)


@pytest.fixture
def collect(bridge_app: Flask) -> Callable[..., Any]:
    """``collect(user_id=None)``: run the real collection (every mailbox, or one user's) as
    ``medshake-bridge fetch`` does, and return its report (``report.ok``,
    ``report.mailboxes``, ``report.problems``)."""
    from medshake_bridge.collect.pipeline import collect_all
    from medshake_bridge.extension import bridge_state

    def run(user_id: int | None = None, **options: Any) -> Any:
        with bridge_app.app_context():
            return collect_all(bridge_state(bridge_app), user_id=user_id, **options)

    return run


@pytest.fixture
def system_checks(bridge_app: Flask) -> Callable[[], dict[str, Any]]:
    """``system_checks()``: every plugin's checks as the system information page and
    ``doctor`` run them, by name (``CheckResult`` with ``ok``, ``detail``, ``fix``)."""
    from medshake_bridge.sysinfo import run_system_checks

    def run() -> dict[str, Any]:
        report = run_system_checks(bridge_app)
        return {check.name: check for group in report.groups for check in group.checks}

    return run
