"""Settings shared by every back-end and collector (names kept from MedShakeEHR).

Settings that belong to one plugin (POP3 host, IMAP folder, v2 companion...) are declared by that
plugin; the ones here are used by the host itself: identity of the mailbox owner, folders,
sending, the program runner and the inbox.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medshake_bridge.api import command_validator
from medshake_bridge.hookspecs import hookimpl
from medshake_bridge.settings import SettingSpec
from medshake_bridge.settings.checks import programs_folder_validator

CATEGORY = "Apicrypt"


def data_folder(name: str):
    """A default under the instance data folder, computed for the app that asks."""

    def default(app: Any) -> str:
        return str(Path(app.config["MEDSHAKE_BRIDGE_DATA_DIR"]) / name)

    default.__doc__ = f"<instance data>/{name}"
    return default


def _apicrypt(name: str, type_: str, default: Any, fr: str, en: str, help_fr: str, help_en: str,
              **extra: Any) -> SettingSpec:
    return SettingSpec(name=name, type=type_, default=default, category=CATEGORY, label_fr=fr,
                       label_en=en, help_fr=help_fr, help_en=help_en, plugin="host", **extra)


SHARED_SETTINGS = [
    _apicrypt("apicryptVersion", "choice", "1", "Version d'Apicrypt", "Apicrypt version",
              "Version du protocole utilisée par cet utilisateur (1 ou 2).",
              "Protocol version this user uses (1 or 2).",
              choices_from="medshake_crypto_backends"),
    _apicrypt("apicryptAdresse", "email", "", "Adresse Apicrypt", "Apicrypt address",
              "Adresse complète (prenom.NOM@medicalXX.apicrypt.org). Les utilisateurs qui ont "
              "une adresse sont relevés.",
              "Full address (prenom.NOM@medicalXX.apicrypt.org). Users with an address are "
              "collected.", per_person=True),
    _apicrypt("apicryptUtilisateur", "text", "", "Utilisateur Apicrypt", "Apicrypt user name",
              "Nom d'utilisateur prenom.NOM (casse respectée) : clefs et connexion SMTP.",
              "User name prenom.NOM (case kept): key files and SMTP login.", per_person=True),
    _apicrypt("apicryptPopUser", "text", "", "Identifiant de la boîte", "Mailbox login",
              "Identifiant de connexion à la boîte de réception (POP3 ou IMAP).",
              "Login of the receiving mailbox (POP3 or IMAP).", per_person=True),
    _apicrypt("apicryptPopPassword", "text", "", "Mot de passe de la boîte", "Mailbox password",
              "Mot de passe de la boîte, utilisé aussi pour l'envoi SMTP. Stocké chiffré.",
              "Mailbox password, also used for SMTP sending. Stored encrypted.", secret=True,
              per_person=True),
    _apicrypt("apicryptSmtpHost", "host", "smtp.intermedic.org", "Serveur d'envoi (SMTP)",
              "Sending server (SMTP)", "Serveur SMTP d'Apicrypt.", "Apicrypt's SMTP server."),
    _apicrypt("apicryptSmtpPort", "port", 587, "Port SMTP", "SMTP port",
              "Port du serveur d'envoi (587 avec STARTTLS par défaut).",
              "Sending server port (587 with STARTTLS by default)."),
    _apicrypt("apicryptSmtpTls", "choice", "starttls", "Chiffrement SMTP", "SMTP TLS mode",
              "« none » (sans chiffrement), « starttls » ou « tls » ; le certificat est toujours "
              "vérifié.",
              "none, starttls or tls; the certificate is always verified.",
              choices=("none", "starttls", "tls")),
    _apicrypt("apicryptTlsCaFile", "file", "", "Autorité de certification", "CA bundle",
              "Fichier de certificats supplémentaire (serveur de messagerie du site).",
              "Extra CA bundle (the site's own mail server)."),
    _apicrypt("apicryptDefautSujet", "text", "Document concernant votre patient",
              "Sujet par défaut", "Default subject",
              "Le sujet n'est jamais chiffré : n'y mettez jamais l'identité du patient.",
              "The subject is never encrypted: never put the patient's identity in it."),
    _apicrypt("apicryptCollector", "choice", "pop3", "Type de boîte", "Mailbox kind",
              "Comment la boîte est relevée : pop3, imap, maildir ou une méthode offerte par "
              "une extension.",
              "How the mailbox is reached: pop3, imap, maildir or a way a plugin offers.",
              choices_from="medshake_mail_collectors"),
    _apicrypt("apicryptKeepOnServer", "bool", False, "Garder les messages sur le serveur",
              "Keep mail on the server",
              "Ne jamais effacer les messages relevés sur le serveur.",
              "Never delete collected mail on the server."),
    _apicrypt("apicryptDeleteAfterDays", "int", 0, "Effacer après (jours)",
              "Delete after (days)",
              "Sans « garder » : n'effacer sur le serveur que les messages stockés depuis ce "
              "nombre de jours (0 = dès qu'ils sont stockés).",
              "Without keep-on-server: delete on the server only mail stored this many days "
              "ago (0 = as soon as stored)."),
    _apicrypt("apicryptCheminInbox", "folder", data_folder("inbox"), "Dossier de réception",
              "Inbox folder",
              "Où les messages reçus sont stockés ; jamais dans un dossier servi par le web.",
              "Where received messages are stored; never under a web-served folder."),
    _apicrypt("apicryptCheminArchivesInbox", "folder", data_folder("archives"),
              "Dossier d'archives", "Archive folder",
              "Archives des messages traités, rangées par date de traitement.",
              "Archive of processed messages, by processing date."),
    _apicrypt("apicryptCheminFichierNC", "folder", data_folder("work-clear"),
              "Dossier de travail (clair)", "Working folder (clear)",
              "Dossier privé des fichiers en clair pendant un chiffrement.",
              "Private folder for clear files during encryption."),
    _apicrypt("apicryptCheminFichierC", "folder", data_folder("work-encrypted"),
              "Dossier de travail (chiffré)", "Working folder (encrypted)",
              "Dossier privé des fichiers chiffrés pendant un déchiffrement.",
              "Private folder for encrypted files during decryption."),
    _apicrypt("apicryptCheminVersBinaires", "folder", "", "Dossier des programmes Apicrypt",
              "Apicrypt programs folder",
              "Dossier contenant apicrypt, apicryptpj, apiuncrypt, apiuncryptpj et "
              "ApiV2AESUtility (fournis par APICEM).",
              "Folder holding apicrypt, apicryptpj, apiuncrypt, apiuncryptpj and "
              "ApiV2AESUtility (supplied by APICEM).", validator=programs_folder_validator),
    _apicrypt("apicryptCheminVersClefs", "folder", "", "Dossier des clefs",
              "Keys folder",
              "Dossier qui CONTIENT le dossier Clefs/ (sans « Clefs » à la fin).",
              "Folder that CONTAINS the Clefs/ folder (without the final “Clefs”)."),
    _apicrypt("apicryptInboxMailForUserID", "userids", [], "Courrier d'autres utilisateurs",
              "Other users' mail",
              "Délégation : cet utilisateur (par ex. un secrétariat) peut lire, classer et "
              "retirer le courrier des utilisateurs choisis, relever leur boîte et envoyer en "
              "leur nom. Leur état « lu » reste le leur ; chaque ouverture est tracée. Se "
              "règle utilisateur par utilisateur, jamais pour tous.",
              "Delegation: this user (e.g. a secretary) may read, file and remove the mail of "
              "the chosen users, collect their mailbox and send on their behalf. Their own "
              "read state stays theirs; every opening is audited. Granted per user only, "
              "never to everyone.",
              levels=("user",), per_person=True,
              levels_fix="a delegation is granted to one person at a time, never at the default "
                         "or module level (that would let every user read this mail): set it "
                         "on the delegate's own page (Users → the secretary → settings)"),
    _apicrypt("apicryptCommandPrefix", "text", "", "Préfixe des commandes", "Command prefix",
              "Préfixe des programmes, par ex. « sudo -n » (jamais interprété par un shell).",
              "Prefix for the programs, e.g. “sudo -n” (never run through a shell).",
              validator=command_validator),
    _apicrypt("apicryptSudoAccount", "text", "", "Compte autorisé par sudo",
              "Account allowed by sudo",
              "Compte nommé dans les lignes sudoers proposées (celui du serveur web, par ex. "
              "www-data, quand le pont tourne dans le serveur web) ; vide : le compte qui "
              "exécute le pont.",
              "Account named in the suggested sudoers lines (the web server's, e.g. www-data, "
              "when the bridge runs inside the web server); empty: the account running the "
              "bridge.", levels=("default",)),
    _apicrypt("apicryptCommandTimeout", "int", 60, "Délai maximal d'un programme (s)",
              "Program timeout (s)", "Au-delà, le programme est arrêté et l'erreur signalée.",
              "Past this, the program is stopped and the error reported."),
    SettingSpec(name="optionGeActiverInboxApicrypt", type="bool", default=True,
                category="Activation services", label_fr="Boîte de réception Apicrypt",
                label_en="Apicrypt inbox", help_fr="Active la boîte de réception Apicrypt.",
                help_en="Turns the Apicrypt inbox on.", plugin="host"),
    SettingSpec(name="bridgeDisabledPlugins", type="list", default=[], category="Extensions",
                label_fr="Extensions désactivées", label_en="Disabled plugins",
                help_fr="Noms des extensions à ne pas charger (pris en compte au redémarrage).",
                help_en="Names of plugins not to load (applied at restart).",
                levels=("default",), plugin="host"),
]


@hookimpl
def medshake_settings() -> list[SettingSpec]:
    return list(SHARED_SETTINGS)
