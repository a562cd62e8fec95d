"""Planned tasks: the host's built-in jobs, the scheduler's settings, and the *Tâches
planifiées* / *Historique des tâches* pages, offered through the same hooks as any plugin's."""

from __future__ import annotations

from typing import Any

from medshake_bridge.hookspecs import hookimpl
from medshake_bridge.interfaces import JobSpec, MenuItem
from medshake_bridge.scheduler.jobs import clean_work_folders, collect_job
from medshake_bridge.settings import SettingSpec

CATEGORY = "Tâches planifiées"

COLLECT_JOB = JobSpec(
    id="apicrypt-collect",
    func=collect_job,
    label_fr="Relève Apicrypt",
    label_en="Apicrypt collection",
    description_fr="Relève les boîtes Apicrypt de tous les utilisateurs qui ont une adresse, "
    "déchiffre les messages et les range dans la boîte de réception.",
    description_en="Collects the Apicrypt mailbox of every user with an address, decrypts the "
    "messages and puts them in the inbox.",
    cron={"minute": "*/5", "hour": "8-20", "day": "*", "month": "*", "day_of_week": "1-6"},
)

CLEANUP_JOB = JobSpec(
    id="work-folders-cleanup",
    func=clean_work_folders,
    label_fr="Nettoyage des dossiers de travail",
    label_en="Working folders clean-up",
    description_fr="Efface les restes de plus d'une heure dans les dossiers de travail privés "
    "(apicryptCheminFichierNC, apicryptCheminFichierC, dossier d'échange v2). Jamais la boîte "
    "de réception ni les archives.",
    description_en="Removes leftovers older than an hour from the private working folders "
    "(apicryptCheminFichierNC, apicryptCheminFichierC, v2 spool). Never the inbox or the "
    "archive.",
    cron={"minute": "0", "hour": "20", "day": "*", "month": "*", "day_of_week": "*"},
)


def _at_least_one(value: Any) -> None:
    from medshake_bridge.settings.spec import ValueProblem

    if int(value) < 1:
        raise ValueProblem("must be 1 or more", "give a number of at least 1")


SCHEDULER_SETTINGS = [
    SettingSpec(name="bridgeSchedulerMisfireGrace", type="int", default=300, category=CATEGORY,
                label_fr="Retard toléré (s)", label_en="Misfire grace (s)",
                help_fr="Une tâche partie en retard (serveur occupé, changement de meneur) est "
                "encore exécutée si le retard ne dépasse pas ce nombre de secondes.",
                help_en="A run that starts late (busy server, leader change) still runs when "
                "it is no later than this many seconds.",
                levels=("default",), validator=_at_least_one, plugin="host"),
    SettingSpec(name="bridgeSchedulerHistoryDays", type="int", default=30, category=CATEGORY,
                label_fr="Historique des tâches conservé (jours)",
                label_en="Task history kept (days)",
                help_fr="Les exécutions plus anciennes sont effacées de l'historique.",
                help_en="Older runs are removed from the history.",
                levels=("default",), validator=_at_least_one, plugin="host"),
]


@hookimpl
def medshake_settings() -> list[SettingSpec]:
    return list(SCHEDULER_SETTINGS)


@hookimpl
def medshake_scheduled_jobs() -> list[JobSpec]:
    return [COLLECT_JOB, CLEANUP_JOB]


@hookimpl
def medshake_blueprints(app: Any) -> list[Any]:
    from medshake_bridge.views.tasks import task_pages

    return [task_pages]


@hookimpl
def medshake_menu_items(user: Any) -> list[MenuItem]:
    if user is None:
        return []
    return [
        MenuItem("Tâches planifiées", "Planned tasks", "bridge_tasks.index", admin_only=True,
                 order=89),
        MenuItem("Historique des tâches", "Task history", "bridge_tasks.history",
                 admin_only=True, order=90),
    ]
