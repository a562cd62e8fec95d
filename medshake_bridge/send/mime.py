"""The outgoing MIME message: plain text, the armour as body, ``.apz`` attachments.

Apicrypt readers expect a plain-text body holding the armour and each attachment as an
``application/octet-stream`` part named ``<original name>.apz`` (DOMAIN §6). The subject
travels in clear: the caller has already checked it carries no identity.
"""

from __future__ import annotations

import email.utils
from collections.abc import Sequence
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path

from medshake_bridge.errors import CryptoError

MAILER = "medshake-bridge"


def new_message_id(sender: str) -> str:
    """A Message-ID on the sender's domain (recorded in the sent history)."""
    domain = sender.rpartition("@")[2] or "localhost"
    return email.utils.make_msgid(domain=domain)


def build_message(*, sender: str, recipients: Sequence[str], subject: str, armour: bytes,
                  attachments: Sequence[Path], message_id: str) -> EmailMessage:
    """Assemble the message; the armour must be ASCII (both back-ends write it so)."""
    try:
        body = armour.decode("ascii")
    except UnicodeDecodeError as exc:
        raise CryptoError("the encrypted body is not ASCII armour; it cannot be sent as text",
                          fix="check the Apicrypt programs or companion (see System "
                              "information)") from exc
    message = EmailMessage(policy=SMTP_POLICY)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message["Date"] = email.utils.formatdate(localtime=True)
    message["Message-ID"] = message_id
    message["X-Mailer"] = MAILER
    message.set_content(body, subtype="plain", charset="us-ascii", cte="7bit")
    for path in attachments:
        message.add_attachment(path.read_bytes(), maintype="application",
                               subtype="octet-stream", filename=path.name)
    return message
