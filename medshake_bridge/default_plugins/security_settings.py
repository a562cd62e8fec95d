"""Settings of the protections against forged and oversized mail (issue #17, items 14 and 17):
which sender domains count as Apicrypt, whether unprotected mail is refused, and the limits
on a downloaded message and on what a decryption may write."""

from __future__ import annotations

from typing import Any

from medshake_bridge.default_plugins.sending import _check_domains
from medshake_bridge.hookspecs import hookimpl
from medshake_bridge.settings import SettingSpec
from medshake_bridge.settings.spec import ValueProblem

DEFAULT_SENDER_DOMAINS = ["apicrypt.org"]
DEFAULT_MAX_MESSAGE_MB = 100
DEFAULT_MAX_DECRYPTED_MB = 200
DEFAULT_MAX_DECRYPTED_FILES = 50


def _between(low: int, high: int, unit: str) -> Any:
    def check(value: Any) -> None:
        if not low <= int(value) <= high:
            raise ValueProblem(f"the limit must be between {low} and {high}{unit}",
                               f"enter a number from {low} to {high}")

    return check


@hookimpl
def medshake_settings() -> list[SettingSpec]:
    return [
        SettingSpec(
            name="apicryptSenderDomains", type="list", default=DEFAULT_SENDER_DOMAINS,
            category="Apicrypt", label_fr="Domaines des expéditeurs Apicrypt",
            label_en="Apicrypt sender domains",
            help_fr="Un message reçu d'une adresse hors de ces domaines (et de leurs "
                    "sous-domaines) est signalé « expéditeur externe » dans la boîte.",
            help_en="A message from an address outside these domains (and their subdomains) "
                    "is marked “external sender” in the inbox.",
            validator=_check_domains, plugin="host"),
        SettingSpec(
            name="apicryptRefuseUnprotectedMail", type="bool", default=False,
            category="Apicrypt", label_fr="Refuser le courrier non chiffré ou externe",
            label_en="Refuse unencrypted or external mail",
            help_fr="Activé : un message non chiffré par Apicrypt ou d'un expéditeur externe "
                    "ne devient pas un document de la boîte ; il est mis en quarantaine "
                    "(rien n'est perdu). Désactivé : il est signalé.",
            help_en="On: a message not encrypted with Apicrypt or from an external sender "
                    "does not become an inbox document; it is quarantined (nothing is lost). "
                    "Off: it is marked.",
            plugin="host"),
        SettingSpec(
            name="apicryptMaxMessageMB", type="int", default=DEFAULT_MAX_MESSAGE_MB,
            category="Apicrypt", label_fr="Taille maximale d'un message reçu (Mo)",
            label_en="Largest received message (MB)",
            help_fr="Un message plus grand n'est pas téléchargé (il reste sur le serveur) ; "
                    "la taille annoncée par le serveur n'est pas crue, le téléchargement est "
                    "coupé à cette taille.",
            help_en="A larger message is not downloaded (it stays on the server); the size "
                    "the server announces is not trusted, the download is cut at this size.",
            validator=_between(1, 2000, " MB"), plugin="host"),
        SettingSpec(
            name="apicryptMaxDecryptedMo", type="int", default=DEFAULT_MAX_DECRYPTED_MB,
            category="Apicrypt", label_fr="Taille maximale déchiffrée par pièce jointe (Mo)",
            label_en="Largest decrypted output per attachment (MB)",
            help_fr="Ce qu'un programme de déchiffrement écrit pour une pièce jointe ; au-delà "
                    "le message est mis de côté avec une explication.",
            help_en="What a decryption program writes for one attachment; beyond it the "
                    "message is set aside with an explanation.",
            validator=_between(1, 5000, " MB"), plugin="host"),
        SettingSpec(
            name="apicryptMaxDecryptedFiles", type="int", default=DEFAULT_MAX_DECRYPTED_FILES,
            category="Apicrypt", label_fr="Nombre maximal de fichiers par pièce jointe",
            label_en="Most files per decrypted attachment",
            help_fr="Nombre de fichiers qu'une pièce jointe .apz peut contenir.",
            help_en="How many files one .apz attachment may hold.",
            validator=_between(1, 1000, ""), plugin="host"),
    ]
