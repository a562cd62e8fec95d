"""Sending failures told in the page's language: what happened, and what to do.

The transport and crypto layers raise precise English errors (for logs, the CLI and admins);
a person at the compose page needs a sentence in French that says whether anything was sent
and who must do what. :func:`explain` maps an exception, :func:`explain_text` the error text
stored on a sent-message row (the history page).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from medshake_bridge.errors import (
    CryptoError,
    MailAuthenticationError,
    MailConnectionError,
    MailError,
    MailProtocolError,
    MailTlsError,
    ProgramError,
)
from medshake_bridge.i18n import _

_CODE = re.compile(r"\b([45]\d\d)\b")


@dataclass(frozen=True)
class Explained:
    message: str
    fix: str
    field: str = "form"  # the form field it concerns ("recipients" for refused addresses)

    def __str__(self) -> str:
        return f"{self.message} {_('What to do:')} {self.fix}"


def _server_code(text: str) -> str:
    found = _CODE.search(text)
    return found.group(1) if found else "?"


def explain(exc: BaseException) -> Explained:
    """The French (page-language) explanation of a sending failure."""
    from medshake_bridge.send.smtp import RecipientRefusedError

    if isinstance(exc, RecipientRefusedError):
        addresses = ", ".join(exc.refused) or "?"
        return Explained(
            _("The Apicrypt server does not know these recipients: %(addresses)s. Nothing was "
              "sent.", addresses=addresses),
            _("check the address with the correspondent (prenom.NOM@medicalXX.apicrypt.org), "
              "or remove it, then send again."), "recipients")
    return explain_text(getattr(exc, "message", "") or str(exc), kind=type(exc))


def explain_text(text: str, *, kind: type | None = None) -> Explained:
    """The explanation of a stored English error text (``kind``: the exception class when
    known)."""
    lowered = (text or "").lower()

    def is_(cls: type) -> bool:
        return kind is not None and issubclass(kind, cls)

    if "interrupted while sending" in lowered:
        return Explained(
            _("The sending was interrupted (the server sending it stopped in the middle): the "
              "message may or may not have gone out."),
            _("ask the recipient whether it arrived before sending it again (open a new "
              "message)."))
    if "queued message could not be read" in lowered:
        return Explained(
            _("The message waiting in the sending queue could not be read by the server that "
              "was to send it. Nothing was sent."),
            _("send it again (open a new message); if it happens again, ask an administrator "
              "to check that every server has the same MEDSHAKE_BRIDGE_SECRET_KEYS and the "
              "shared data folder."))
    if "refused" in lowered and "recipient" in lowered:
        return Explained(_("The Apicrypt server refused some recipients. Nothing was sent."),
                         _("check the addresses with the correspondents, then send again."),
                         "recipients")
    if is_(MailAuthenticationError) or "refused the login" in lowered or \
            "password" in lowered or "user name" in lowered:
        return Explained(
            _("The sending server refused the mailbox's user name or password. Nothing was "
              "sent."),
            _("ask an administrator to check the Apicrypt user name (apicryptUtilisateur) and "
              "the mailbox password (apicryptPopPassword) of the sending mailbox."))
    if is_(MailTlsError) or "tls" in lowered or "certificate" in lowered:
        return Explained(
            _("The secure connection to the sending server failed. Nothing was sent."),
            _("ask an administrator to check the SMTP settings (apicryptSmtpTls, "
              "apicryptSmtpPort, apicryptTlsCaFile) on the system information page."))
    if is_(MailConnectionError) or "did not answer" in lowered or \
            "refused the connection" in lowered or "could not be resolved" in lowered or \
            "connection to" in lowered:
        return Explained(
            _("The sending server cannot be reached right now. Nothing was sent."),
            _("try again in a few minutes; if it lasts, ask an administrator to check the "
              "network and the SMTP server (apicryptSmtpHost, apicryptSmtpPort)."))
    if "message this large" in lowered:
        return Explained(
            _("The sending server refuses a message this large. Nothing was sent."),
            _("send fewer or smaller attachments, in several messages if needed (encrypted "
              "and encoded, an attachment takes about twice its size in the message)."),
            "attachments")
    if "no smtp server" in lowered or "not a valid port" in lowered:
        return Explained(_("The sending server is not set up. Nothing was sent."),
                         _("ask an administrator to set apicryptSmtpHost and "
                           "apicryptSmtpPort."))
    if is_(ProgramError) or is_(CryptoError) or "program" in lowered or "key" in lowered or \
            "encrypt" in lowered or "companion" in lowered:
        return Explained(
            _("The message could not be encrypted. Nothing was sent."),
            _("ask an administrator to look at the system information and keys pages (the "
              "Apicrypt programs, the keys of the year, the v2 companion)."))
    if is_(MailProtocolError) or is_(MailError) or "smtp" in lowered:
        return Explained(
            _("The sending server refused the message (reply %(code)s). Nothing was sent.",
              code=_server_code(text)),
            _("try again later; if it lasts, ask an administrator (the audit log has the "
              "server's answer)."))
    return Explained(_("The message could not be sent. Nothing was sent."),
                     _("try again; if it lasts, ask an administrator (the audit log has the "
                       "details)."))
