"""The settings the connector declares (category "MedShakeEHR", site level only).

The database URL holds MedShakeEHR's SQL password: it is declared secret, so the store
encrypts it and the pages never show it. Writing into MedShakeEHR is off until an admin turns
filing or write-back on: until then the connector's connections are read-only.
"""

from __future__ import annotations

from typing import Any

from medshake_bridge.api import SettingSpec

CATEGORY = "MedShakeEHR"
PLUGIN = "medshakeehr"
SITE = ("default",)

DATABASE_URL = "medshakeEhrDatabaseUrl"
CONFIG_FILE = "medshakeEhrConfigFile"
STORAGE = "medshakeEhrStorage"
BASE_URL = "medshakeEhrUrl"
FILING = "medshakeEhrFilingEnabled"
WRITE_BACK = "medshakeEhrWriteBack"
INBOX_USER = "medshakeEhrInboxUserId"
SSO = "medshakeEhrSingleSignOn"


def _setting(name: str, type_: str, default: Any, fr: str, en: str, help_fr: str,
             help_en: str, **extra: Any) -> SettingSpec:
    return SettingSpec(name=name, type=type_, default=default, category=CATEGORY, label_fr=fr,
                       label_en=en, help_fr=help_fr, help_en=help_en, plugin=PLUGIN,
                       levels=SITE, **extra)


SETTINGS = [
    _setting(DATABASE_URL, "text", "", "Base de données MedShakeEHR", "MedShakeEHR database",
             "Adresse SQLAlchemy de la base MariaDB de MedShakeEHR, par exemple "
             "mysql+pymysql://medshake:motdepasse@127.0.0.1/medshakeehr. Stockée chiffrée.",
             "SQLAlchemy URL of MedShakeEHR's MariaDB database, e.g. "
             "mysql+pymysql://medshake:password@127.0.0.1/medshakeehr. Stored encrypted.",
             secret=True),
    _setting(CONFIG_FILE, "file", "", "Fichier config.yml de MedShakeEHR",
             "MedShakeEHR config.yml file",
             "Son fichier config/config.yml (sqlVarPassword, fingerprint, stockageLocation).",
             "Its config/config.yml file (sqlVarPassword, fingerprint, stockageLocation).",
             must_exist=False),
    _setting(STORAGE, "folder", "", "Dossier de stockage MedShakeEHR",
             "MedShakeEHR storage folder",
             "Vide : le stockageLocation de config.yml. Les documents classés y sont copiés.",
             "Empty: config.yml's stockageLocation. Filed documents are copied there.",
             must_exist=False),
    _setting(BASE_URL, "text", "", "Adresse web de MedShakeEHR", "MedShakeEHR web address",
             "Par exemple https://ehr.example.org ; sert aux liens vers les dossiers patients.",
             "For example https://ehr.example.org; used for links to patient records."),
    _setting(FILING, "bool", False, "Classer dans MedShakeEHR", "File into MedShakeEHR",
             "Autorise l'écriture des documents classés dans la base et le stockage de "
             "MedShakeEHR (sinon la connexion est en lecture seule).",
             "Allows writing filed documents into MedShakeEHR's database and storage "
             "(otherwise the connection is read-only)."),
    _setting(WRITE_BACK, "bool", False, "Recopier dans la boîte de réception MedShakeEHR",
             "Copy into MedShakeEHR's inbox",
             "Mode migration : chaque document relevé devient aussi une ligne de la boîte de "
             "réception de MedShakeEHR (arrêtez alors sa tâche cron/inbox.php).",
             "Migration mode: each collected document also becomes a row of MedShakeEHR's "
             "inbox (then stop its cron/inbox.php job)."),
    _setting(INBOX_USER, "int", 0, "Compte MedShakeEHR destinataire par défaut",
             "Default MedShakeEHR recipient account",
             "people.id utilisé pour la recopie quand le propriétaire de la boîte n'est lié à "
             "aucun compte MedShakeEHR (0 : ne pas recopier).",
             "people.id used for write-back when the mailbox owner is linked to no MedShakeEHR "
             "account (0: do not copy)."),
    _setting(SSO, "bool", False, "Connexion unique MedShakeEHR", "MedShakeEHR single sign-on",
             "Reconnaît un utilisateur connecté à MedShakeEHR par ses cookies (même origine, "
             "comptes liés uniquement). Voir docs/medshakeehr.md avant d'activer.",
             "Recognises a user logged into MedShakeEHR from its cookies (same origin, linked "
             "accounts only). Read docs/medshakeehr.md before turning it on."),
]
