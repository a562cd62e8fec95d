"""Building Apicrypt-like test mail with the sandbox: what a lab or a colleague would send.

The sender encrypts with its own keys through the real v1 back-end and sandbox programs, the
sandbox server step re-encrypts for the recipient, and the result is a MIME message as it would
sit in the recipient's mailbox.
"""

from __future__ import annotations

import email.policy
import email.utils
from email.message import EmailMessage
from pathlib import Path

from medshake_apicrypt_v1.backend import ApicryptV1Backend, ApicryptV1Config

from medshake_bridge.runner import Runner
from medshake_bridge.sandbox import SANDBOX_ENV_VARS, reencrypt
from medshake_bridge.sandbox.network import SandboxNetwork

DOMAIN = "medical69.apicrypt.org"

HPRIM_LAB = (
    "LAB123\nDUPONT\nJeanne\n12 rue des Lilas\n\n69003 LYON\n12/03/1961\n2610369123456 82\n"
    "DOS-2026-001\n27/11/2026\nLABOCENTRE laboratoire.central\nDR0000001 bob.DURAND\n\n"
    "Bilan biologique de contrôle, hémoglobine à surveiller.\n"
    "****LAB****\n"
    "RES|Hémoglobine|HB|N|10.2|g/dl|12|16|L|F\n"
    "RES|Leucocytes|GB|N|7.1|G/l|4|10|N|F\n"
    "****FINLAB****\n"
    "****FIN****\n****FINFICHIER****\n"
)


def sender_backend(net: SandboxNetwork, work: Path, user: str) -> ApicryptV1Backend:
    return ApicryptV1Backend(ApicryptV1Config(
        binaries_dir=net.bin_dir, keys_dir=net.keys_dir(user), user=user,
        clear_dir=work / "NC", encrypted_dir=work / "C",
        runner=Runner(timeout=30, passthrough_env=SANDBOX_ENV_VARS),
    ))


def sandbox_mail(net: SandboxNetwork, work: Path, *, sender: str, recipient: str, text: str,
                 attachments: list[tuple[str, bytes]] = (),
                 clear_attachments: list[tuple[str, bytes]] = (), subject: str = "Résultats",
                 message_id: str | None = None, with_body: bool = True) -> bytes:
    """A MIME message encrypted by ``sender`` and re-encrypted for ``recipient``.

    ``attachments`` go through ``apicryptpj`` (``<name>.apz``); ``clear_attachments`` are added
    as they are, with their names as given (a hostile sender's names included). Without
    ``with_body`` the message has no text part at all (attachment-only mail).
    """
    backend = sender_backend(net, work / sender, sender)
    armour = reencrypt(net.network_dir, backend.encrypt_body(text, [recipient]).armour)
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = f"{sender}@{DOMAIN}"
    message["To"] = f"{recipient}@{DOMAIN}"
    message["Subject"] = subject
    message["Date"] = email.utils.formatdate(localtime=True)
    message["Message-ID"] = message_id or email.utils.make_msgid(domain=DOMAIN)
    if with_body:
        message.set_content(armour[recipient].decode("ascii"))
    source_dir = work / "attachments"
    source_dir.mkdir(parents=True, exist_ok=True)
    for name, data in attachments:
        source = source_dir / name
        source.write_bytes(data)
        apz = backend.encrypt_attachment(source, [recipient], work / "apz")
        for_recipient = reencrypt(net.network_dir, apz.read_bytes())[recipient]
        message.add_attachment(for_recipient, maintype="application", subtype="octet-stream",
                               filename=f"{name}.apz")
    for name, data in clear_attachments:
        message.add_attachment(data, maintype="application", subtype="octet-stream",
                               filename=name)
    return message.as_bytes()


def clear_mail(sender: str) -> bytes:
    """An HPRIM lab report sent WITHOUT Apicrypt (plain text, windows-1252): what a forger or a
    misconfigured sender produces; the bridge must flag it, not trust it."""
    return (f"From: {sender}\r\nTo: bob.DURAND@medical69.apicrypt.org\r\n".encode()
            + b"Subject: R\xe9sultats\r\nMessage-ID: <forged@attacker.example>\r\n"
            b"Content-Type: text/plain; charset=windows-1252\r\n"
            b"Content-Transfer-Encoding: 8bit\r\n\r\n"
            + HPRIM_LAB.replace("\n", "\r\n").encode("cp1252"))


def seed_maildir(folder: Path, raw: bytes, name: str) -> Path:
    for sub in ("cur", "new", "tmp"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    tmp = folder / "tmp" / name
    tmp.write_bytes(raw)
    return tmp.rename(folder / "new" / name)
