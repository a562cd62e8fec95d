"""POP3 mailbox collector plugin: the Apicrypt default (pop.intermedic.org:110).

Declares the POP3 settings and offers the ``pop3`` collector (``medshake_mail_collectors``);
the collector lives in :mod:`medshake_pop3.collector`.
"""

from __future__ import annotations

from medshake_bridge.api import CollectorSpec, SettingSpec, hookimpl
from medshake_pop3.collector import pop3_collector, pop3_identity

TLS_CHOICES = ("none", "starttls", "tls")


@hookimpl
def medshake_mail_collectors() -> list[CollectorSpec]:
    return [CollectorSpec(key="pop3", label="POP3", factory=pop3_collector,
                          identity=pop3_identity,
                          required=("apicryptPopHost", "apicryptPopUser"))]


@hookimpl
def medshake_settings() -> list[SettingSpec]:
    return [
        SettingSpec(
            name="apicryptPopHost", type="host", default="pop.intermedic.org",
            category="Apicrypt", label_fr="Serveur de réception (POP3)",
            label_en="Receiving server (POP3)",
            help_fr="Serveur POP3 de la boîte Apicrypt.", help_en="POP3 server of the mailbox.",
        ),
        SettingSpec(
            name="apicryptPopPort", type="port", default=110, category="Apicrypt",
            label_fr="Port POP3", label_en="POP3 port",
            help_fr="110 (STARTTLS) ou 995 (TLS).", help_en="110 (STARTTLS) or 995 (TLS).",
        ),
        SettingSpec(
            name="apicryptPopTls", type="choice", default="starttls", choices=TLS_CHOICES,
            category="Apicrypt", label_fr="Chiffrement POP3", label_en="POP3 TLS mode",
            help_fr="« none » (sans chiffrement), « starttls » ou « tls » ; le certificat est "
                    "toujours vérifié.",
            help_en="none, starttls or tls; the certificate is always verified.",
        ),
    ]
