"""A real dovecot (POP3 + IMAP, plain, STARTTLS and implicit TLS) for the tests.

Pytest plugin. Fixtures:

* ``dovecot`` (session): a ``DovecotServer`` started in the foreground with a self-contained
  config in a temp folder (nothing from ``/etc/dovecot``), on free loopback ports, presenting a
  ``localhost`` certificate signed by the throwaway CA (``dovecot.ca_file``). The plain ports
  (``pop3``, ``imap``) allow plaintext login and offer STARTTLS; ``pop3s``/``imaps`` are
  implicit TLS.
* ``dovecot_untrusted`` (session, started only when asked for): a second dovecot, same users
  and mailboxes, presenting a certificate from a CA nobody trusts.
* ``mail_user`` (function): a fresh user (unique login, random password) on ``dovecot``.
* ``drop_proxy`` (function): a factory of ``support.net.DropProxy`` in front of a port, to cut
  a connection in the middle of a message.

Tests share the session's dovecot; isolation comes from fresh users (``add_user()`` with no
argument makes a unique login). Users can be added while dovecot runs and log in at once: each
user has its own passwd-file, read at its first lookup (dovecot looks at a given passwd-file at
most once per second, so one shared file would lag; ``set_password`` waits that second out).
Checked by ``tests/test_infrastructure.py``. The auth penalty (2-15 s delay after a failed
login from the same IP) is off, and ``auth_failure_delay = 0``; a failed login still answers
after about 0.5 s (dovecot flushes its queue of failures every 500 ms).

Runs as root (mail processes then run as ``nobody``, dovecot's own services as its Debian users
``dovecot``/``dovenull``) and as an unprivileged user (everything runs as that user).
"""

from __future__ import annotations

import contextlib
import email
import email.message
import email.policy
import grp
import itertools
import math
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.components import DOVECOT_BINARY, component_fixtures, ensure_component
from support.net import LOOPBACK, DropProxy, free_ports, wait_for_ports
from support.tls import ServerCertificate, ThrowawayPKI

pytest_plugins = ["support.tls"]

component_fixtures("dovecot", "dovecot", "dovecot_untrusted", "mail_user")

_LOGIN_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]*$")
_START_ATTEMPTS = 5


@dataclass(frozen=True)
class MailUser:
    """A mailbox user on the test dovecot."""

    login: str
    password: str
    maildir: Path


@dataclass(frozen=True)
class StoredMessage:
    """A message file still in a user's INBOX (``new/`` or ``cur/``)."""

    key: str  # the maildir base name (what ``seed`` returned), without ``:2,flags``
    folder: str  # "new" (never seen by a client) or "cur"
    flags: str  # maildir flags, e.g. "S" once read ("" in new/)
    path: Path
    raw: bytes

    @property
    def message(self) -> email.message.EmailMessage:
        parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(parsed, email.message.EmailMessage)
        return parsed


@dataclass(frozen=True)
class DovecotPorts:
    pop3: int
    pop3s: int
    imap: int
    imaps: int


def _check_password(password: str) -> None:
    if not password or any(c in password for c in ":\n\r"):
        raise ValueError("password: not empty, no ':' and no line break (passwd-file format)")


def _as_bytes(message: bytes | str | email.message.Message) -> bytes:
    if isinstance(message, email.message.Message):
        policy = message.policy.clone(linesep="\n")
        data = message.as_bytes(policy=policy)
    elif isinstance(message, str):
        data = message.encode("utf-8")
    else:
        data = bytes(message)
    # Maildir files use bare LF; dovecot sends CRLF on the wire.
    return data.replace(b"\r\n", b"\n")


class MailStore:
    """The passwd files and the mail folders, shared by the dovecot instances of a session."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.passwd_dir = root / "passwd.d"
        self.passwd_dir.mkdir()
        os.chmod(self.passwd_dir, 0o755)  # noqa: S103 - dovecot's auth process reads it
        self.mail_root = root / "mail"
        self.mail_root.mkdir()
        if os.geteuid() == 0:
            # dovecot refuses to open mailboxes as root: use nobody's ids.
            try:
                nobody = pwd.getpwnam("nobody")
                self.uid, self.gid = nobody.pw_uid, nobody.pw_gid
            except KeyError:
                self.uid = self.gid = 65534
        else:
            self.uid, self.gid = os.getuid(), os.getgid()
        self._chown(self.mail_root)
        self._users: dict[str, str] = {}
        self._lock = threading.Lock()
        self._counter = itertools.count(1)

    # --- users ------------------------------------------------------------------------------

    def add_user(self, login: str | None = None, password: str | None = None) -> MailUser:
        if login is None:
            login = f"user{next(self._counter)}-{secrets.token_hex(4)}"
        if password is None:
            password = secrets.token_urlsafe(12)
        if not _LOGIN_RE.match(login):
            raise ValueError(f"login {login!r}: use letters, digits and . _ @ + - only")
        _check_password(password)
        with self._lock:
            if login in self._users:
                raise ValueError(f"user {login!r} exists already")
            self._users[login] = password
            self._make_maildir(login)
            self._write_passwd(login)
        return MailUser(login, password, self.maildir(login))

    def set_password(self, login: str, password: str) -> None:
        """Change a password. Waits for the next wall-clock second (< 1 s): dovecot looks at
        a passwd-file at most once per second and may have just done so."""
        _check_password(password)
        with self._lock:
            if login not in self._users:
                raise KeyError(login)
            self._users[login] = password
            self._write_passwd(login)
        now = time.time()
        time.sleep(math.ceil(now) - now + 0.01)

    def _write_passwd(self, login: str) -> None:
        # One passwd-file per user (``passwd.d/%u``): dovecot stats a given passwd-file at most
        # once per second, so a user added to a shared file could stay "unknown" for up to a
        # second; a new file for a new login is read at its first lookup.
        path = self.passwd_dir / login
        tmp = self.passwd_dir / f".{login}.tmp"
        tmp.write_text(f"{login}:{{PLAIN}}{self._users[login]}\n", encoding="utf-8")
        os.chmod(tmp, 0o644)
        # dovecot re-reads the file when its mtime (in seconds) or size changes: move the
        # mtime on by a whole second at each write (a same-length password changes no size).
        previous = path.stat().st_mtime if path.exists() else 0.0
        stamp = max(time.time(), previous + 1.0)
        os.utime(tmp, (stamp, stamp))
        os.replace(tmp, path)

    # --- mailboxes --------------------------------------------------------------------------

    def home(self, login: str) -> Path:
        return self.mail_root / login

    def maildir(self, login: str) -> Path:
        return self.home(login) / "Maildir"

    def _make_maildir(self, login: str) -> None:
        home = self.home(login)
        home.mkdir()
        self._chown(home)
        maildir = self.maildir(login)
        maildir.mkdir()
        self._chown(maildir)
        for sub in ("cur", "new", "tmp"):
            (maildir / sub).mkdir()
            self._chown(maildir / sub)

    def _chown(self, path: Path) -> None:
        if os.geteuid() == 0:
            os.chown(path, self.uid, self.gid)

    def seed(self, login: str, message: bytes | str | email.message.Message) -> str:
        """Deliver ``message`` into ``login``'s INBOX the maildir way; return its key."""
        maildir = self.maildir(login)
        if not (maildir / "new").is_dir():
            raise KeyError(f"no maildir for {login!r}: add_user() first")
        data = _as_bytes(message)
        now = time.time()
        seconds = int(now)
        micros = int((now - seconds) * 1_000_000)
        key = (
            f"{seconds}.M{micros:06d}P{os.getpid()}Q{next(self._counter):06d}."
            f"{socket.gethostname() or 'localhost'}"
        )
        tmp = maildir / "tmp" / key
        tmp.write_bytes(data)
        self._chown(tmp)
        os.rename(tmp, maildir / "new" / key)
        return key

    def messages(self, login: str) -> list[StoredMessage]:
        """What is still in ``login``'s INBOX, oldest key first."""
        maildir = self.maildir(login)
        found = []
        for folder in ("new", "cur"):
            for path in (maildir / folder).iterdir():
                key, _, info = path.name.partition(":")
                flags = info[2:] if info.startswith("2,") else ""
                try:
                    raw = path.read_bytes()
                except FileNotFoundError:  # expunged meanwhile
                    continue
                found.append(StoredMessage(key, folder, flags, path, raw))
        return sorted(found, key=lambda m: m.key)


class DovecotServer:
    """One running dovecot. Use ``host`` (``localhost``) for TLS, ``ip`` for plain sockets."""

    host = "localhost"
    ip = LOOPBACK

    def __init__(
        self,
        workdir: Path,
        store: MailStore,
        certificate: ServerCertificate,
        *,
        trusted_ca_file: Path,
        name: str = "dovecot",
    ) -> None:
        self.workdir = workdir
        self.store = store
        self.certificate = certificate
        self.ca_file = trusted_ca_file  # what a client should trust
        self.name = name
        self.config_file = workdir / "dovecot.conf"
        self.log_file = workdir / "dovecot.log"
        self.stderr_file = workdir / "dovecot.stderr"
        self.ports: DovecotPorts | None = None
        self._process: subprocess.Popen[bytes] | None = None

    # --- the addresses --------------------------------------------------------------------

    @property
    def pop3(self) -> int:
        return self._ports().pop3

    @property
    def pop3s(self) -> int:
        return self._ports().pop3s

    @property
    def imap(self) -> int:
        return self._ports().imap

    @property
    def imaps(self) -> int:
        return self._ports().imaps

    def _ports(self) -> DovecotPorts:
        if self.ports is None:
            raise RuntimeError("dovecot is not running")
        return self.ports

    def client_context(self) -> ssl.SSLContext:
        """A verifying ``ssl`` client context trusting ``ca_file``."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    # --- users and mail (shared with the other instance) ------------------------------------

    def add_user(self, login: str | None = None, password: str | None = None) -> MailUser:
        """Add a user (unique login and random password by default); usable at once."""
        return self.store.add_user(login, password)

    def set_password(self, login: str, password: str) -> None:
        self.store.set_password(login, password)

    def maildir(self, login: str) -> Path:
        return self.store.maildir(login)

    def seed(self, login: str, message: bytes | str | email.message.Message) -> str:
        """Put a message in the INBOX (tmp/ then rename into new/); returns its key."""
        return self.store.seed(login, message)

    def messages(self, login: str) -> list[StoredMessage]:
        return self.store.messages(login)

    def log_text(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # --- process ------------------------------------------------------------------------------

    def _config(self, ports: DovecotPorts) -> str:
        work = self.workdir
        store = self.store
        lines = [
            "protocols = imap pop3",
            f"listen = {LOOPBACK}",
            f"instance_name = medshake-test-{self.name}-{os.getpid()}",
            f"base_dir = {work / 'run'}",
            f"state_dir = {work / 'state'}",
            f"log_path = {self.log_file}",
            "ssl = yes",
            f"ssl_cert = <{self.certificate.cert_file}",
            f"ssl_key = <{self.certificate.key_file}",
            "ssl_min_protocol = TLSv1.2",
            "disable_plaintext_auth = no",
            "auth_mechanisms = plain login",
            "auth_failure_delay = 0",
            "auth_verbose = yes",
            f"mail_location = maildir:{store.mail_root}/%u/Maildir",
            "mail_fsync = never",
            f"first_valid_uid = {store.uid}",
            f"first_valid_gid = {store.gid}",
            "pop3_uidl_format = %08Xu%08Xv",
            "passdb {",
            "  driver = passwd-file",
            f"  args = scheme=PLAIN username_format=%u {store.passwd_dir}/%u",
            "}",
            "userdb {",
            "  driver = static",
            f"  args = uid={store.uid} gid={store.gid} home={store.mail_root}/%u",
            "}",
        ]
        if os.geteuid() != 0:
            user = pwd.getpwuid(os.getuid()).pw_name
            group = grp.getgrgid(os.getgid()).gr_name
            lines += [
                f"default_internal_user = {user}",
                f"default_internal_group = {group}",
                f"default_login_user = {user}",
            ]
        lines += [
            "service anvil {",
            # no auth penalty: it delays logins from an IP after a failed one by 2 to 15 s
            "  unix_listener anvil-auth-penalty {",
            "    mode = 0",
            "  }",
            *(["  chroot ="] if os.geteuid() != 0 else []),
            "}",
        ]
        chroot = "  chroot =" if os.geteuid() != 0 else ""
        listeners = (("pop3", ports.pop3, ports.pop3s), ("imap", ports.imap, ports.imaps))
        for protocol, plain, tls in listeners:
            lines += [
                f"service {protocol}-login {{",
                f"  inet_listener {protocol} {{",
                f"    port = {plain}",
                "  }",
                f"  inet_listener {protocol}s {{",
                f"    port = {tls}",
                "    ssl = yes",
                "  }",
                *([chroot] if chroot else []),
                "}",
            ]
        return "\n".join(lines) + "\n"

    def start(self) -> None:
        last_error = ""
        for _attempt in range(_START_ATTEMPTS):
            ports = DovecotPorts(*free_ports(4))
            self.config_file.write_text(self._config(ports))
            for sub in ("run", "state"):
                (self.workdir / sub).mkdir(exist_ok=True)
            with self.stderr_file.open("wb") as stderr:
                process = subprocess.Popen(
                    [DOVECOT_BINARY, "-F", "-c", str(self.config_file)],
                    stdin=subprocess.DEVNULL,
                    stdout=stderr,
                    stderr=stderr,
                    start_new_session=True,
                )
            try:
                wait_for_ports(
                    LOOPBACK,
                    [ports.pop3, ports.pop3s, ports.imap, ports.imaps],
                    timeout=15,
                    process=process,
                    describe=self._diagnostics,
                )
            except (RuntimeError, TimeoutError) as error:
                last_error = str(error)
                self._kill(process)
                if "in use" in last_error:
                    continue  # another process took a port meanwhile: new ports
                raise
            self._process = process
            self.ports = ports
            return
        raise RuntimeError(f"dovecot did not start after {_START_ATTEMPTS} tries: {last_error}")

    def _diagnostics(self) -> str:
        stderr = self.stderr_file.read_text(errors="replace") if self.stderr_file.exists() else ""
        return f"dovecot output: {stderr.strip()[-2000:]!r}; log: {self.log_text()[-2000:]!r}"

    @staticmethod
    def _kill(process: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop(self) -> None:
        if self._process is not None:
            self._kill(self._process)
            self._process = None
            self.ports = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None


# --- fixtures ------------------------------------------------------------------------------


def _workdir(prefix: str) -> Path:
    # Outside pytest's 0700 basetemp: dovecot's service users (root runs) must reach it.
    path = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(path, 0o755)  # noqa: S103 - read by dovecot's unprivileged service users
    return path


@pytest.fixture(scope="session")
def _dovecot_store() -> Iterator[MailStore]:
    root = _workdir("medshake-mail-")
    yield MailStore(root)
    shutil.rmtree(root, ignore_errors=True)


def _run_dovecot(
    name: str, store: MailStore, certificate: ServerCertificate, pki: ThrowawayPKI
) -> Iterator[DovecotServer]:
    ensure_component("dovecot")
    workdir = _workdir(f"medshake-{name}-")
    server = DovecotServer(workdir, store, certificate, trusted_ca_file=pki.ca_file, name=name)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def dovecot(_dovecot_store: MailStore, throwaway_pki: ThrowawayPKI) -> Iterator[DovecotServer]:
    """The session's dovecot, trusted certificate (``dovecot.ca_file``)."""
    yield from _run_dovecot("dovecot", _dovecot_store, throwaway_pki.server, throwaway_pki)


@pytest.fixture(scope="session")
def dovecot_untrusted(
    dovecot: DovecotServer, _dovecot_store: MailStore, throwaway_pki: ThrowawayPKI
) -> Iterator[DovecotServer]:
    """A second dovecot whose certificate comes from a CA nobody trusts.

    Same users and mailboxes as ``dovecot``. Its ``ca_file`` is still the *trusted* CA (what a
    correctly configured client trusts), so verifying against it fails;
    ``throwaway_pki.untrusted_ca_file`` is the CA that really signed its certificate.
    """
    yield from _run_dovecot(
        "dovecot-untrusted", _dovecot_store, throwaway_pki.untrusted_server, throwaway_pki
    )


@pytest.fixture
def mail_user(dovecot: DovecotServer) -> MailUser:
    """A fresh user on the session's dovecot (unique login, random password)."""
    return dovecot.add_user()


@pytest.fixture
def drop_proxy() -> Iterator[Callable[..., DropProxy]]:
    """Factory: ``drop_proxy(port, cut_after=N, trigger=b"RETR ", mode="close", cuts=1)``.

    Returns a ``DropProxy`` listening on 127.0.0.1 (``.port``; ``.host`` is ``localhost`` for
    TLS) in front of ``127.0.0.1:port``. Closed at the end of the test.
    """
    proxies: list[DropProxy] = []

    def make(port: int, *, host: str = LOOPBACK, **options: object) -> DropProxy:
        proxy = DropProxy((host, port), **options)  # type: ignore[arg-type]
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.close()
