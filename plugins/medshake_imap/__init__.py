"""IMAP mailbox collector plugin (login and password: apicryptPopUser / apicryptPopPassword).

Declares the IMAP settings and offers the ``imap`` collector (``medshake_mail_collectors``);
the collector lives in :mod:`medshake_imap.collector`.
"""

from __future__ import annotations

from medshake_bridge.api import CollectorSpec, SettingSpec, hookimpl
from medshake_imap.collector import imap_collector, imap_identity


@hookimpl
def medshake_mail_collectors() -> list[CollectorSpec]:
    return [CollectorSpec(key="imap", label="IMAP", factory=imap_collector,
                          identity=imap_identity,
                          required=("apicryptImapHost", "apicryptPopUser"))]


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
            help_fr="« none » (sans chiffrement), « starttls » ou « tls » ; le certificat est "
                    "toujours vérifié.",
            help_en="none, starttls or tls; the certificate is always verified.",
        ),
        SettingSpec(
            name="apicryptImapFolder", type="text", default="INBOX", category="Apicrypt",
            label_fr="Dossier IMAP", label_en="IMAP folder",
            help_fr="Dossier relevé.", help_en="Folder collected.",
        ),
        SettingSpec(
            name="apicryptImapMoveTo", type="text", default="", category="Apicrypt",
            label_fr="Dossier des messages relevés", label_en="Folder for collected mail",
            help_fr="Vide : les messages relevés sont effacés du serveur. Sinon ils sont "
                    "déplacés dans ce dossier (qui doit exister).",
            help_en="Empty: collected mail is deleted on the server. Otherwise it is moved to "
                    "this folder (which must exist).",
        ),
    ]
