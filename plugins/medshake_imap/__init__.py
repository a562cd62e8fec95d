"""IMAP mailbox collector plugin (login and password: apicryptPopUser / apicryptPopPassword)."""

from __future__ import annotations

from medshake_bridge import hookimpl
from medshake_bridge.settings import SettingSpec


@hookimpl
def medshake_settings() -> list[SettingSpec]:
    return [
        SettingSpec(
            name="apicryptImapHost", type="host", default="", category="Apicrypt",
            label_fr="Serveur IMAP", label_en="IMAP server",
            help_fr="Serveur IMAP, si la boîte est relevée en IMAP.",
            help_en="IMAP server, when the mailbox is collected over IMAP.",
        ),
        SettingSpec(
            name="apicryptImapPort", type="port", default=993, category="Apicrypt",
            label_fr="Port IMAP", label_en="IMAP port",
            help_fr="993 (TLS) ou 143 (STARTTLS).", help_en="993 (TLS) or 143 (STARTTLS).",
        ),
        SettingSpec(
            name="apicryptImapTls", type="choice", default="tls",
            choices=("none", "starttls", "tls"), category="Apicrypt",
            label_fr="Chiffrement IMAP", label_en="IMAP TLS mode",
            help_fr="none, starttls ou tls ; le certificat est toujours vérifié.",
            help_en="none, starttls or tls; the certificate is always verified.",
        ),
        SettingSpec(
            name="apicryptImapFolder", type="text", default="INBOX", category="Apicrypt",
            label_fr="Dossier IMAP", label_en="IMAP folder",
            help_fr="Dossier relevé.", help_en="Folder collected.",
        ),
    ]
