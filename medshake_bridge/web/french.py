"""French wording for texts built in English by checks, errors and the audit log.

System checks, transport errors and audit details are composed in English where they are made
(the CLI, the logs and the tests read them there); the French pages show them through
:func:`french`, which rewrites the known phrases and keeps what they carry (paths, setting
names, numbers) as they are. A phrase not in the table is shown unchanged: adding a line here
is the fix when the French-pages test finds one.
"""

from __future__ import annotations

import re
from datetime import datetime

from flask import has_request_context
from flask_babel import get_locale

_PATH = r"(\S+)"
# Checks of folders and files: "<path> <state>" (the path is \1, the state's own values \2...).
_FILE_PHRASES: list[tuple[str, str]] = [
    (r" \(folder, mode (\d+)\)", r" (dossier, mode \2)"),
    (r" \(key file, mode (\d+)\)", r" (fichier de clef, mode \2)"),
    (r" \(SQLite database, mode (\d+)\)", r" (base SQLite, mode \2)"),
    (r" \((\w[\w ]*), mode (\d+)\)", r" (\2, mode \3)"),
    (rf" will be created \(mode (\d+)\) in {_PATH}", r" sera créé (mode \2) dans \3"),
    (r" is writable but open to other accounts \(mode (\d+)\)",
     r" est accessible en écriture mais ouvert aux autres comptes (mode \2)"),
    (r" is open to other accounts \(mode (\d+), expected (\d+)\)",
     r" est ouvert aux autres comptes (mode \2, attendu \3)"),
    (r" \(writable\)", " (accessible en écriture)"),
    (r" exists, writable, private \(mode (\d+)\)",
     r" existe, accessible en écriture, privé (mode \2)"),
    (" exists and is usable", " existe et est utilisable"),
    (" exists but is not a folder", " existe mais n'est pas un dossier"),
    (" does not exist", " n'existe pas"),
    (" is not writable by the bridge", " n'est pas accessible en écriture par le pont"),
    (" is not readable and writable by the bridge",
     " n'est pas accessible en lecture et écriture par le pont"),
    (" is executable", " est exécutable"),
    (" is not executable", " n'est pas exécutable"),
    (": readable, writable", " : lisible, accessible en écriture"),
    (": (NOT readable|readable), (NOT writable|writable)", r" : \2, \3"),
    (" present", " présente"),
    (" not yet installed", " pas encore installée"),
    (" missing or unreadable", " absente ou illisible"),
]
# (English pattern, French replacement); applied in order, each with re.sub.
PHRASES: list[tuple[str, str]] = [
    # webhooks (the JSON API's deliveries)
    (r"^no event given up$", "aucun évènement abandonné"),
    (r"^(\d+) event\(s\) could not be delivered for 24 hours: (.*); last error: (.*)$",
     r"\1 évènement(s) non livré(s) depuis 24 heures : \2 ; dernière erreur : \3"),
    # MedShakeEHR write-back copies not made (the connector's checks)
    (r"^(\d+) document\(s\) not copied into MedShakeEHR's inbox since (.*); last error: (.*)$",
     r"\1 document(s) non copié(s) dans la boîte de réception de MedShakeEHR depuis le \2 ; "
     r"dernière erreur : \3"),
    (r"^every collected document was copied$", "tous les documents relevés ont été copiés"),
    (r"^fix the cause, then run ", "corrigez la cause, puis lancez "),
    (r", then run (medshake-bridge medshakeehr retry-copies) ", r" ; puis lancez \1 "),
    (r"\(or Retry on the MedShakeEHR copies page\)$",
     "(ou « Réessayer les copies » sur la page Copies vers MedShakeEHR)"),
    # the job queue (celery execution mode, medshake_bridge/scale/checks.py)
    (r"^broker (\S+) unreachable: (.*)$", r"serveur de file \1 injoignable : \2"),
    (r"^broker (\S+); waiting jobs: collect (\d+), jobs (\d+)$",
     r"serveur de file \1 ; tâches en attente : relève \2, autres tâches \3"),
    (r"^(\d+) job\(s\) kept since the broker was unreachable$",
     r"\1 tâche(s) gardée(s) depuis que le serveur de file était injoignable"),
    (r"(\d+) worker\(s\), (\d+) running, (\d+) ok, (\d+) failed, (\d+) retried, (\d+) "
     r"interrupted",
     r"\1 worker(s), \2 en cours, \3 réussie(s), \4 échouée(s), \5 relancée(s), "
     r"\6 interrompue(s)"),
    (r"^(\d+) alive; per host \(24 h\): ", r"\1 en marche ; par machine (24 h) : "),
    (r"^no worker alive; per host \(24 h\): ", "aucun worker en marche ; par machine (24 h) : "),
    (r"^no worker alive$", "aucun worker en marche"),
    (r"^start Redis again; collections are kept in the database and sent again when it is "
     r"back$", "redémarrez Redis ; les relèves sont gardées dans la base de données et envoyées "
     "à son retour"),
    (r"^they are sent again at the next collection; check Redis$",
     "elles sont renvoyées à la prochaine relève ; vérifiez Redis"),
    (r"^start `medshake-bridge worker` on at least one host$",
     "lancez `medshake-bridge worker` sur au moins une machine"),
    # interrupted runs and queue jobs (medshake_bridge/scheduler/runs.py, scale/recovery.py)
    (r"^interrupted: the process (\d+) on (\S+) stopped before the end",
     r"interrompue : le processus \1 sur \2 s'est arrêté avant la fin"),
    (r"^interrupted: the worker on (\S+) stopped answering \(no heartbeat for (\d+) s\); its "
     r"job is delivered again",
     r"interrompue : le worker sur \1 ne répond plus (aucun signe de vie depuis \2 s) ; sa "
     r"tâche est confiée à nouveau à un worker"),
    (r"^the process running it stopped before the end",
     "le processus qui l'exécutait s'est arrêté avant la fin"),
    (r"; run again by a queue worker$", " ; relancée par un worker de la file"),
    (r"^interrupted on (\S+) \(worker (\S+)\): its worker stopped before the end; "
     r"delivered again to a worker$",
     r"interrompue sur \1 (worker \2) : son worker s'est arrêté avant la fin ; confiée à "
     r"nouveau à un worker"),
    (r"^interrupted on (\S+) \(worker (\S+)\): no heartbeat for (\d+) s; delivered again "
     r"to a worker$",
     r"interrompue sur \1 (worker \2) : aucun signe de vie depuis \3 s ; confiée à nouveau "
     r"à un worker"),
    # folders and files
    *[(rf"^{_PATH}{english}$", r"\1" + french) for english, french in _FILE_PHRASES],
    (r"^Run 'chmod (\d+) (.+)'\.$", r"Lancez « chmod \1 \2 »."),
    (r"^Run 'install -d -m 700 (.+)' as the bridge's account.*$",
     r"Lancez « install -d -m 700 \1 » avec le compte du pont."),
    (r"^Install next year's key (\S+) before 1 January\.$",
     r"Installez la clef de l'an prochain \1 avant le 1er janvier."),
    # plugins, secrets, scheduler
    (r"^(\d+) loaded, none failed$", r"\1 chargées, aucune en échec"),
    (r"^Key for (\d+)$", r"Clef \1"),
    (r"^keys$", "Clefs"),
    (r"^Key for (\d+) \((.*)\)$", r"Clef \1 (\2)"),
    (r"^failed to load$", "échec du chargement"),
    (r"^configured \(secret settings are stored encrypted\)$",
     "en place (les réglages secrets sont stockés chiffrés)"),
    (r"^not available in this process \(configured mode: (\w+)\)$",
     r"pas disponible dans ce processus (mode choisi : « \1 »)"),
    (r"^Scheduled collection is not running here; use 'medshake-bridge fetch' or the "
     r"scheduler once it is installed\.$",
     "La relève planifiée ne tourne pas ici ; utilisez « medshake-bridge fetch » ou le "
     "planificateur une fois installé."),
    (r"^not running$", "arrêté"),
    (r"^no user has an Apicrypt address: nothing is collected$",
     "aucun utilisateur n'a d'adresse Apicrypt : rien n'est relevé"),
    (r"^Set apicryptAdresse and the mailbox settings of each user who receives mail\.$",
     "Renseignez apicryptAdresse et la boîte de chaque utilisateur qui reçoit du courrier."),
    (r"^Mail is retried automatically once the cause is fixed\.$",
     "Le courrier est réessayé automatiquement une fois la cause corrigée."),
    (r"^(\d+) message\(s\) kept for a retry: (.*)$",
     r"\1 message(s) gardé(s) pour un nouvel essai : \2"),
    # mail servers
    (r"^reachable, (\w+) \(([\w.]+)\), certificate trusted, valid until (\d{4})-(\d{2})-(\d{2}) "
     r"\((\d+) days left\)$",
     r"joignable, \1 (\2), certificat reconnu, valable jusqu'au \5/\4/\3 (encore \6 jour(s))"),
    (r"^reachable, (\w+) \(([\w.]+)\), certificate trusted, valid until (\d{4})-(\d{2})-(\d{2})$",
     r"joignable, \1 (\2), certificat reconnu, valable jusqu'au \5/\4/\3"),
    (r"^reachable, (\w+) \(([\w.]+)\), certificate trusted$",
     r"joignable, \1 (\2), certificat reconnu"),
    (r"^reachable, WITHOUT TLS \((\w+) in clear text\)$", r"joignable, SANS TLS (\1 en clair)"),
    (r"^tell the mail server's admin that its certificate expires soon$",
     "prévenez l'administrateur du serveur de messagerie : son certificat expire bientôt"),
    (r"^the host name (\S+) could not be resolved$", r"le nom d'hôte \1 est introuvable"),
    (r"^check (\w+) and the server's DNS$", r"vérifiez \1 et le DNS du serveur"),
    (r"^check (\w+), the DNS and the network$", r"vérifiez \1, le DNS et le réseau"),
    (r"^(\S+) refused the connection$", r"\1 a refusé la connexion"),
    (r"^no answer within ([\d.]+) s \(name resolution or connection hung\)$",
     r"pas de réponse en \1 s (résolution de nom ou connexion bloquée)"),
    (r"^login accepted \(nothing was sent\)$", "connexion acceptée (rien n'a été envoyé)"),
    (r"^the server offers no login \(AUTH\) here$",
     "le serveur ne propose pas d'authentification (AUTH) ici"),
    (r"^(\w+) is empty$", r"\1 est vide"),
    (r"^Set (\w+)\.$", r"Renseignez \1."),
    # Apicrypt v2 companion
    (r"^The Apicrypt v2 companion at (\S+) does not answer \(ping: Connection refused\)\.?$",
     r"Le compagnon Apicrypt v2 à \1 ne répond pas (ping : connexion refusée)."),
    (r"^The Apicrypt v2 companion at (\S+) does not answer \(ping: (.*)\)\.?$",
     r"Le compagnon Apicrypt v2 à \1 ne répond pas (ping : \2)."),
    (r"^The Apicrypt v2 companion at (\S+) does not answer(.*)$",
     r"Le compagnon Apicrypt v2 à \1 ne répond pas\2"),
    (r"^The compagnonApicrypt service is not running or not on that port: start it or use "
     r"the restart button on the system information page, and check (\w+)\.$",
     r"Le service compagnonApicrypt est arrêté ou n'écoute pas sur ce port : démarrez-le ou "
     r"utilisez le bouton de redémarrage de la page Informations système, et vérifiez \1."),
    # audit details
    (r"\bon behalf of\b", "au nom de"),
    (r"^for user (\d+)$", r"pour l'utilisateur n° \1"),
    (r"^sent message (\d+), <[^>]*>, patient ([^,]*), (\d+) attachment\(s\)(.*)$",
     r"message envoyé n° \1, patient \2, \3 pièce(s) jointe(s)\4"),
    (r"^sent message (\d+)(.*)$", r"message envoyé n° \1\2"),
    (r"^run (\d+): (\w+)$", r"exécution n° \1 : \2"),
    (r"^secret value changed$", "valeur secrète modifiée"),
    (r"^mail of another user$", "courrier d'un autre utilisateur"),
    (r"^admin page$", "page d'administration"),
    (r"^patient (\S+)$", r"patient \1"),
    (r"^user (\d+)$", r"utilisateur n° \1"),
]
_COMPILED = [(re.compile(pattern), replacement) for pattern, replacement in PHRASES]


def is_french() -> bool:
    if not has_request_context():
        return False
    locale = get_locale()
    return locale is not None and locale.language == "fr"


def french(text: object) -> str:
    """``text`` in French when the page is French and the phrase is known; else unchanged."""
    value = "" if text is None else str(text)
    if not value or not is_french():
        return value
    for pattern, replacement in _COMPILED:
        value = pattern.sub(replacement, value)
    return value


def french_counts(key: str) -> str:
    """A task run's counter name as a French label."""
    if not is_french():
        return key
    return COUNT_LABELS.get(key, key.replace("_", " "))


COUNT_LABELS = {
    "mailboxes": "boîtes", "listed": "listés", "fetched": "récupérés",
    "processed": "traités", "documents": "documents", "duplicates": "doublons",
    "failed": "en échec", "quarantined": "en quarantaine", "deleted": "effacés sur le serveur",
    "skipped_too_large": "trop gros, ignorés", "adopted": "repris", "waiting": "en attente",
    "not_collected": "non relevées", "problems": "problèmes", "where": "où",
    "errors": "erreurs", "removed": "retirés", "kept": "gardés", "runs": "exécutions",
    "sent": "envoyés", "checked": "vérifiés", "purged": "purgés",
    "users_checked": "utilisateurs vérifiés", "missing_current": "clés manquantes cette année",
    "missing_next": "clés manquantes l'an prochain", "renewals_due": "échéances à traiter",
}

ACTION_LABELS = {
    "login": "connexion", "login.failed": "connexion refusée", "logout": "déconnexion",
    "access.denied": "accès refusé", "keys.expiry_warning": "clé Apicrypt manquante",
    "keys.renewal_warning": "échéance à renouveler", "inbox.read": "lecture d'un document",
    "inbox.file": "classement", "inbox.remove": "retrait", "inbox.restore": "remise en boîte",
    "inbox.collect": "relève demandée", "inbox.open-invalid-signature":
    "ouverture malgré une signature invalide", "mail.send": "envoi",
    "setting.set": "réglage modifié", "setting.unset": "réglage retiré",
    "task.run": "tâche exécutée", "task.update": "tâche modifiée",
    "correspondent.add": "correspondant ajouté", "correspondent.delete":
    "correspondant retiré", "user.create": "utilisateur créé", "user.update":
    "utilisateur modifié", "key.upload": "clef importée", "key.delete": "clef supprimée",
    "key.decrypt": "clef déchiffrée", "apicrypt2.restart": "redémarrage du compagnon",
    "quarantine.retry": "nouvel essai d'un message en quarantaine",
    "medshakeehr.retry_copies": "nouvel essai des copies vers MedShakeEHR",
}
OUTCOME_LABELS = {"ok": "réussi", "denied": "refusé", "failed": "échec"}


def action_label(action: str) -> str:
    if not is_french():
        return action
    return ACTION_LABELS.get(action, action)


def outcome_label(outcome: str) -> str:
    return OUTCOME_LABELS.get(outcome, outcome) if is_french() else outcome


def local_time(value: datetime | None) -> str:
    from medshake_bridge.web.dates import local_datetime

    return local_datetime(value, seconds=True)


def cron_summary(fields: object) -> str:
    """A task's crontab fields ((name, value, error) triples or a mapping) in plain French
    (empty on an English page, or when a field is in error)."""
    if not is_french():
        return ""
    from medshake_bridge.scheduler.summary import summary_fr

    if isinstance(fields, dict):
        return summary_fr(fields)
    items = list(fields or [])
    if any(error for _name, _value, error in items):
        return ""
    return summary_fr({name: value for name, value, _error in items})


def register(app) -> None:
    """Offer the filters (and the local-date ones) to every template of the app."""
    from medshake_bridge.web.dates import local_date, local_datetime

    for name, function in (("french", french), ("french_count", french_counts),
                           ("action_label", action_label), ("outcome_label", outcome_label),
                           ("local_time", local_time), ("local_datetime", local_datetime),
                           ("local_date", local_date), ("cron_summary", cron_summary)):
        app.add_template_filter(function, name)
