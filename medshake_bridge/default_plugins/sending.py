"""Sending: its settings, its pages (compose, sent messages, address book) and menu entries,
offered through the same hooks as any plugin."""

from __future__ import annotations

from typing import Any

from medshake_bridge.hookspecs import hookimpl
from medshake_bridge.interfaces import MenuItem
from medshake_bridge.settings import SettingSpec
from medshake_bridge.settings.spec import ValueProblem


def _check_domains(value: Any) -> None:
    for item in value or []:
        text = str(item).strip().lower()
        if not text or " " in text or "@" in text or "." not in text:
            raise ValueProblem(f"{item!r} is not a domain name",
                               "list domains such as apicrypt.org, separated by commas")


def _check_size(value: Any) -> None:
    if not 1 <= int(value) <= 100:
        raise ValueProblem("the limit must be between 1 and 100 MB", "enter e.g. 10")


@hookimpl
def medshake_settings() -> list[SettingSpec]:
    return [
        SettingSpec(
            name="apicryptSendAllowedDomains", type="list", default=["apicrypt.org"],
            category="Apicrypt", label_fr="Domaines des destinataires",
            label_en="Recipient domains",
            help_fr="Domaines auxquels l'envoi est permis (un domaine permet aussi ses "
                    "sous-domaines : apicrypt.org permet medical69.apicrypt.org).",
            help_en="Domains mail may be sent to (a domain also allows its subdomains: "
                    "apicrypt.org allows medical69.apicrypt.org).",
            validator=_check_domains, plugin="host"),
        SettingSpec(
            name="apicryptSendMaxAttachmentMo", type="int", default=10, category="Apicrypt",
            label_fr="Taille maximale d'une pièce jointe (Mo)",
            label_en="Largest attachment (MB)",
            help_fr="Une pièce jointe plus grande est refusée avant tout envoi.",
            help_en="A larger attachment is refused before anything is sent.",
            validator=_check_size, plugin="host"),
    ]


@hookimpl
def medshake_blueprints(app: Any) -> list[Any]:
    from medshake_bridge.views.sending import sending_pages

    return [sending_pages]


@hookimpl
def medshake_menu_items(user: Any) -> list[MenuItem]:
    if user is None:
        return []
    return [
        MenuItem("Nouveau message", "New message", "bridge_send.compose", order=22),
        MenuItem("Messages envoyés", "Sent messages", "bridge_send.sent", order=24),
        MenuItem("Correspondants", "Correspondents", "bridge_send.correspondents", order=26),
    ]
