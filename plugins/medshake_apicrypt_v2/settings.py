"""The settings the v2 plugin declares (DOMAIN §4 names, category "Apicrypt").

Secrets (certificate password, companion token) are marked by their declaration, so the store
encrypts them at rest and the pages never show them. The restart and ``.aes`` commands run
programs, so only the site level may set them.
"""

from __future__ import annotations

from typing import Any

from medshake_apicrypt_v2.client import DEFAULT_TIMEOUT, DEFAULT_URL
from medshake_apicrypt_v2.service import DEFAULT_AES_COMMAND, DEFAULT_RESTART_COMMAND
from medshake_bridge.api import SettingSpec, command_validator, data_folder

CATEGORY = "Apicrypt"
PLUGIN = "apicrypt_v2"


def aes_command_validator(value: Any) -> None:
    """``apicrypt2AesCommand`` runs a program: refused when saved if it holds shell syntax or
    lacks a placeholder (a bare program name is looked up in the programs folder at run time,
    so only a path is checked for existence here)."""
    from pathlib import Path

    from medshake_apicrypt_v2.errors import ApicryptV2ConfigError
    from medshake_apicrypt_v2.service import aes_argv
    from medshake_bridge.api import ValueProblem, resolve_program

    try:
        argv = aes_argv({"apicrypt2AesCommand": str(value)}, Path("s"), Path("d"), "c")
    except ApicryptV2ConfigError as exc:
        raise ValueProblem(exc.message, exc.fix) from None
    if "/" in argv[0] and resolve_program(argv[0]) is None:
        raise ValueProblem(f"the program {argv[0]!r} does not exist or is not executable",
                           "give the path of the installed program, or its bare name "
                           "(looked up in the Apicrypt programs folder)")


def _setting(name: str, type_: str, default: Any, fr: str, en: str, help_fr: str,
             help_en: str, **extra: Any) -> SettingSpec:
    return SettingSpec(name=name, type=type_, default=default, category=CATEGORY, label_fr=fr,
                       label_en=en, help_fr=help_fr, help_en=help_en, plugin=PLUGIN, **extra)


SETTINGS = [
    _setting("apicrypt2CertName", "text", "", "Nom du certificat Apicrypt 2",
             "Apicrypt 2 certificate name",
             "Nom du certificat de l'utilisateur, tel que fourni par APICEM.",
             "The user's certificate name, as supplied by APICEM.", per_person=True),
    _setting("apicrypt2CertPassword", "text", "", "Mot de passe du certificat Apicrypt 2",
             "Apicrypt 2 certificate password",
             "Mot de passe du certificat. Stocké chiffré, jamais affiché ni journalisé.",
             "Certificate password. Stored encrypted, never shown or logged.", secret=True,
             per_person=True),
    _setting("apicrypt2CompanionUrl", "url", DEFAULT_URL, "Adresse du compagnon Apicrypt 2",
             "Apicrypt 2 companion URL",
             "Adresse locale du service compagnonApicrypt (http://127.0.0.1:port uniquement).",
             "Local address of the compagnonApicrypt service (http://127.0.0.1:port only)."),
    _setting("apicrypt2CompanionToken", "text", "", "Jeton du compagnon",
             "Companion token",
             "Jeton envoyé au compagnon à chaque appel. Stocké chiffré.",
             "Token sent to the companion with each call. Stored encrypted.", secret=True),
    _setting("apicrypt2Spool", "folder", data_folder("apicrypt2-spool"),
             "Dossier d'échange avec le compagnon", "Companion exchange folder",
             "Dossier partagé avec le compagnon (jamais /tmp) ; chaque appel y crée un "
             "sous-dossier privé, supprimé ensuite.",
             "Folder shared with the companion (never /tmp); each call creates a private "
             "sub-folder there, removed afterwards.", must_exist=False),
    _setting("apicrypt2CompanionTimeout", "int", int(DEFAULT_TIMEOUT),
             "Délai de réponse du compagnon (s)", "Companion timeout (s)",
             "Au-delà, l'appel est abandonné et le message gardé pour un nouvel essai.",
             "Past this, the call is abandoned and the message kept for a retry."),
    _setting("apicrypt2RestartCommand", "text", DEFAULT_RESTART_COMMAND,
             "Commande de redémarrage du compagnon", "Companion restart command",
             "Exécutée sans shell par le bouton « Redémarrer » de la page d'informations "
             "système (voir docs/apicrypt-v2.md pour la ligne sudoers).",
             "Run without a shell by the “Restart” button of the system information page "
             "(see docs/apicrypt-v2.md for the sudoers line).", levels=("default",),
             validator=command_validator),
    _setting("apicrypt2AesCommand", "text", DEFAULT_AES_COMMAND,
             "Commande de déchiffrement des clefs .aes", ".aes key decryption command",
             "Modèle d'arguments ; {source}, {destination} et {code} sont remplacés. Un nom "
             "de programme seul est cherché dans le dossier des programmes Apicrypt.",
             "Argument template; {source}, {destination} and {code} are replaced. A bare "
             "program name is looked for in the Apicrypt programs folder.",
             levels=("default",), validator=aes_command_validator),
]
