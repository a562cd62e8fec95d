"""The demo's sandbox: keys, programs, the FAKE relay and each demo user's Apicrypt settings.

Everything lives under ``<instance>/sandbox`` (private folders). Alice and Bob send through the
relay (STARTTLS verified against the relay's own throwaway certificate, AUTH with their
sandbox passwords) and collect from local Maildirs the relay delivers into, so nothing ever
touches a real server and nothing is deleted anywhere but in those local folders.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet
from flask import Flask
from sqlalchemy import select

from medshake_bridge.config import bridge_home
from medshake_bridge.db import db
from medshake_bridge.extension import bridge_state
from medshake_bridge.models import Correspondent, Patient
from medshake_bridge.paths import ensure_private_dir, write_private_file
from medshake_bridge.sandbox import SandboxNetwork, create_network
from medshake_bridge.sandbox.relay import SandboxRelay, maildirs_under, read_users_file
from medshake_bridge.sandbox.relay_cli import USERS_FILE
from medshake_bridge.sandbox.relay_tls import make_localhost_certificate
from medshake_bridge.secrets import KEY_FILE_NAME, SecretBox, read_key_file, write_key_file
from medshake_bridge.users import find_user

DOMAIN = "medical69.apicrypt.org"
#: demo login -> (Apicrypt user name, name in the address book)
PRACTITIONERS = {"alice": ("alice.MARTIN", "Dr Alice Martin (démo)"),
                 "bob": ("bob.DURAND", "Dr Bob Durand (démo)")}


@dataclass(frozen=True)
class DemoSandbox:
    network: SandboxNetwork
    maildirs: Path
    cert: Path
    key: Path
    users: dict[str, str]

    def relay(self, port: int) -> SandboxRelay:
        return SandboxRelay(self.network.network_dir, maildirs_under(self.maildirs),
                            self.users, port=port, tls_cert=self.cert, tls_key=self.key)


def ensure_secret_key(app: Flask) -> None:
    """Secrets (the mailbox passwords) need a key: make the instance's key file if missing."""
    state = bridge_state(app)
    if state.secrets.configured:
        return
    path = bridge_home(app) / KEY_FILE_NAME
    keys = read_key_file(path) or [Fernet.generate_key().decode("ascii")]
    write_key_file(path, keys)
    box = SecretBox(keys)
    state.secrets = box
    state.settings.secrets = box


def prepare_sandbox(app: Flask) -> DemoSandbox:
    """Keys, programs, relay certificate and relay passwords (made once, then reused)."""
    root = ensure_private_dir(bridge_home(app) / "sandbox")
    network = create_network(root, [])
    for apicrypt_user, _name in PRACTITIONERS.values():
        if not (network.keys_dir(apicrypt_user) / "Clefs").is_dir():
            network.add_user(apicrypt_user)
    users_file = network.network_dir / USERS_FILE
    users = read_users_file(users_file) if users_file.is_file() else {}
    for apicrypt_user, _name in PRACTITIONERS.values():
        users.setdefault(apicrypt_user, secrets.token_urlsafe(12))
    write_private_file(users_file, "".join(f"{login}:{password}\n"
                                           for login, password in users.items()).encode())
    maildirs = ensure_private_dir(root / "maildirs")
    lookup = maildirs_under(maildirs)
    for apicrypt_user, _name in PRACTITIONERS.values():
        lookup(apicrypt_user)
    cert, key = make_localhost_certificate(root / "tls")
    return DemoSandbox(network, maildirs, cert, key, users)


def configure_users(app: Flask, sandbox: DemoSandbox, relay_port: int) -> None:
    """Apicrypt settings of the demo practitioners; the secretary reads both inboxes."""
    store = bridge_state(app).settings
    ids = {}
    for login, (apicrypt_user, name) in PRACTITIONERS.items():
        user = find_user(login)
        if user is None:
            continue
        ids[login] = user.id
        for setting, value in {
            "apicryptAdresse": f"{apicrypt_user}@{DOMAIN}",
            "apicryptUtilisateur": apicrypt_user,
            "apicryptPopUser": apicrypt_user,
            "apicryptPopPassword": sandbox.users[apicrypt_user],
            "apicryptCheminVersBinaires": str(sandbox.network.bin_dir),
            "apicryptCheminVersClefs": str(sandbox.network.keys_dir(apicrypt_user)),
            "apicryptCollector": "maildir",
            "apicryptMaildir": str(sandbox.maildirs / apicrypt_user),
            "apicryptSmtpHost": "localhost",
            "apicryptSmtpPort": str(relay_port),
            "apicryptSmtpTls": "starttls",
            "apicryptTlsCaFile": str(sandbox.cert),
        }.items():
            store.set(setting, value, level="user", user_id=user.id)
        if db.session.scalars(select(Correspondent).where(
                Correspondent.address == f"{apicrypt_user}@{DOMAIN}")).first() is None:
            db.session.add(Correspondent(name=name, address=f"{apicrypt_user}@{DOMAIN}"))
    secretary = find_user("sophie")
    if secretary is not None and ids:
        store.set("apicryptInboxMailForUserID", sorted(ids.values()), level="user",
                  user_id=secretary.id)
    if db.session.scalars(select(Patient)).first() is None:
        db.session.add(Patient(last_name="DUPONT", first_name="Jeanne",
                               birth_date=dt.date(1961, 3, 12), nir="2610369123456",
                               postcode="69003", city="LYON"))
    db.session.commit()
