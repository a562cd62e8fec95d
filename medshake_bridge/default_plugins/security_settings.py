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


def _apicrypt(name: str, type: str, default: Any, labels: tuple[str, str],
              helps: tuple[str, str], validator: Any = None) -> SettingSpec:
    """One host setting of the Apicrypt category: (French, English) label and help."""
    return SettingSpec(name=name, type=type, default=default, category="Apicrypt",
                       label_fr=labels[0], label_en=labels[1], help_fr=helps[0],
                       help_en=helps[1], validator=validator, plugin="host")


@hookimpl
def medshake_settings() -> list[SettingSpec]:
    return [
        _apicrypt(
            "apicryptSenderDomains", "list", DEFAULT_SENDER_DOMAINS,
            ("Domaines des expéditeurs Apicrypt", "Apicrypt sender domains"),
            ("Un message reçu d'une adresse hors de ces domaines (et de leurs "
             "sous-domaines) est signalé « expéditeur externe » dans la boîte.",
             "A message from an address outside these domains (and their subdomains) "
             "is marked “external sender” in the inbox."),
            _check_domains),
        _apicrypt(
            "apicryptRefuseUnprotectedMail", "bool", False,
            ("Refuser le courrier non chiffré ou externe",
             "Refuse unencrypted or external mail"),
            ("Activé : un message non chiffré par Apicrypt ou d'un expéditeur externe "
             "ne devient pas un document de la boîte ; il est mis en quarantaine "
             "(rien n'est perdu). Désactivé : il est signalé.",
             "On: a message not encrypted with Apicrypt or from an external sender "
             "does not become an inbox document; it is quarantined (nothing is lost). "
             "Off: it is marked.")),
        _apicrypt(
            "apicryptMaxMessageMB", "int", DEFAULT_MAX_MESSAGE_MB,
            ("Taille maximale d'un message reçu (Mo)", "Largest received message (MB)"),
            ("Un message plus grand n'est pas téléchargé (il reste sur le serveur) ; "
             "la taille annoncée par le serveur n'est pas crue, le téléchargement est "
             "coupé à cette taille.",
             "A larger message is not downloaded (it stays on the server); the size "
             "the server announces is not trusted, the download is cut at this size."),
            _between(1, 2000, " MB")),
        _apicrypt(
            "apicryptMaxDecryptedMo", "int", DEFAULT_MAX_DECRYPTED_MB,
            ("Taille maximale déchiffrée par pièce jointe (Mo)",
             "Largest decrypted output per attachment (MB)"),
            ("Ce qu'un programme de déchiffrement écrit pour une pièce jointe ; au-delà "
             "le message est mis de côté avec une explication.",
             "What a decryption program writes for one attachment; beyond it the "
             "message is set aside with an explanation."),
            _between(1, 5000, " MB")),
        _apicrypt(
            "apicryptMaxDecryptedFiles", "int", DEFAULT_MAX_DECRYPTED_FILES,
            ("Nombre maximal de fichiers par pièce jointe", "Most files per decrypted attachment"),
            ("Nombre de fichiers qu'une pièce jointe .apz peut contenir.",
             "How many files one .apz attachment may hold."),
            _between(1, 1000, "")),
    ]
