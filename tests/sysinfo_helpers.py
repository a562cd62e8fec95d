"""Helpers for the system information, doctor and Apicrypt v2 reception tests.

Everything is real: the sandbox companion listens on a loopback port in a thread, the sandbox
network's keys and certificates are files, and mail goes through a Maildir.
"""

from __future__ import annotations

import email.policy
import email.utils
import json
import sys
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from medshake_apicrypt_v2.backend import build_backend

from medshake_bridge import bridge_state
from medshake_bridge.sandbox import reencrypt
from medshake_bridge.sandbox.companion import SandboxCompanion
from medshake_bridge.sandbox.network import SandboxNetwork
from medshake_bridge.sandbox.v2 import make_certificate

TOKEN = "sysinfo-token-8d1e"
DOMAIN = "medical69.apicrypt.org"

FAKE_SERVICE = """#!{python}
import json, sys
from pathlib import Path
with open(Path(__file__).with_suffix(".log"), "a", encoding="utf-8") as log:
    log.write(json.dumps(sys.argv) + "\\n")
print("compagnonApicrypt restarted (fake)")
print("to stderr", file=sys.stderr)
sys.exit(int(sys.argv[-1]) if sys.argv[-1].isdigit() else 0)
"""


def password(user: str) -> str:
    return f"mot de passe {user} é!"


def certify(net: SandboxNetwork, *users: str) -> None:
    """Make ``users`` v2 users of the sandbox network (a certificate each)."""
    for user in users:
        make_certificate(user, net.keys_dir(user), password(user))


def v2_settings(user: str, companion: SandboxCompanion, spool: Path, **extra: Any
                ) -> dict[str, Any]:
    values: dict[str, Any] = {
        "apicryptVersion": "2",
        "apicrypt2CertName": user,
        "apicrypt2CertPassword": password(user),
        "apicrypt2CompanionUrl": companion.url,
        "apicrypt2CompanionToken": TOKEN,
        "apicrypt2Spool": str(spool),
        "apicrypt2CompanionTimeout": 2,
    }
    values.update(extra)
    return values


def store_settings(app, values: dict[str, Any], *, user_id: int | None = None) -> None:
    """Save ``values`` at the site level, or at ``user_id``'s level."""
    with app.app_context():
        store = bridge_state(app).settings
        for name, value in values.items():
            if user_id is None:
                store.set(name, value)
            else:
                store.set(name, value, level="user", user_id=user_id)


def v2_mail(net: SandboxNetwork, companion: SandboxCompanion, spool: Path, *, sender: str,
            recipient: str, text: str, subject: str = "Résultats",
            attachments: list[tuple[str, bytes]] = (), with_body: bool = True) -> bytes:
    """A message signed and encrypted by a v2 ``sender`` through the companion, relayed by
    the sandbox server step for ``recipient``, as it sits in the recipient's mailbox.
    ``attachments`` are encrypted (and signed) one by one into ``<name>.apz``; without
    ``with_body`` the message has no text part (attachment-only mail)."""
    backend = build_backend(v2_settings(sender, companion, spool))
    armour = backend.encrypt_body(text, [recipient]).armour
    relayed = reencrypt(net.network_dir, armour)[recipient]
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = f"{sender}@{DOMAIN}"
    message["To"] = f"{recipient}@{DOMAIN}"
    message["Subject"] = subject
    message["Date"] = email.utils.formatdate(localtime=True)
    message["Message-ID"] = email.utils.make_msgid(domain=DOMAIN)
    if with_body:
        message.set_content(relayed.decode("ascii"))
    work = spool.parent / f"v2-attachments-{sender}"
    work.mkdir(exist_ok=True)
    for name, data in attachments:
        source = work / name
        source.write_bytes(data)
        apz = backend.encrypt_attachment(source, [recipient], work / "apz")
        for_recipient = reencrypt(net.network_dir, apz.read_bytes())[recipient]
        apz.unlink()
        message.add_attachment(for_recipient, maintype="application", subtype="octet-stream",
                               filename=f"{name}.apz")
    return message.as_bytes()


def fake_service(folder: Path) -> Path:
    """A tiny program that logs its argv as JSON (one line per run) and prints something."""
    script = folder / "fake-service"
    folder.mkdir(parents=True, exist_ok=True)
    script.write_text(FAKE_SERVICE.format(python=sys.executable), "utf-8")
    script.chmod(0o755)
    return script


def logged(script: Path) -> list[list[str]]:
    log = script.with_suffix(".log")
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text("utf-8").splitlines()]


RESTARTING_SERVICE = """#!{python}
import json, sys, urllib.request
from pathlib import Path
here = Path(__file__)
with open(here.with_suffix(".log"), "a", encoding="utf-8") as log:
    log.write(json.dumps(sys.argv) + "\\n")
target = json.loads(here.with_suffix(".json").read_text("utf-8"))
request = urllib.request.Request(
    target["url"] + "/_sandbox/mode", data=json.dumps({{"mode": "normal"}}).encode(),
    headers={{"Authorization": "Bearer " + target["token"], "Content-Type": "application/json"}})
with urllib.request.urlopen(request, timeout=5) as answer:
    print("compagnonApicrypt restarted (fake): mode", json.load(answer)["mode"])
"""


def restarting_service(folder: Path, companion: SandboxCompanion) -> Path:
    """A fake restart program that really brings the sandbox companion back (mode normal)."""
    script = folder / "fake-restart"
    folder.mkdir(parents=True, exist_ok=True)
    script.write_text(RESTARTING_SERVICE.format(python=sys.executable), "utf-8")
    script.chmod(0o755)
    script.with_suffix(".json").write_text(
        json.dumps({"url": companion.url, "token": companion.token}), "utf-8")
    return script
