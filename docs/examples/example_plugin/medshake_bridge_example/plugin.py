"""The example plugin's hooks: a setting, a collector, a reaction, a job, a page, a check.

Everything comes from ``medshake_bridge.api``: a third-party plugin needs nothing else.
"""

from __future__ import annotations

import os
from typing import Any

from medshake_bridge.api import (
    CheckResult,
    CollectorSpec,
    JobSpec,
    MenuItem,
    SettingSpec,
    StoredDocument,
    StoredMessage,
    hookimpl,
    settings,
    users,
)
from medshake_bridge_example import journal
from medshake_bridge_example.dropfolder import (
    SETTING,
    drop_folder_collector,
    drop_folder_identity,
)

CATEGORY = "Exemple"


@hookimpl
def medshake_settings() -> list[SettingSpec]:
    return [
        SettingSpec(name=SETTING, type="folder", default="", category=CATEGORY,
                    label_fr="Dossier de dépôt", label_en="Drop folder",
                    help_fr="Dossier où un autre programme dépose des fichiers .eml "
                    "(type de boîte « dropfolder »).",
                    help_en="Folder where another program drops .eml files (mailbox kind "
                    "“dropfolder”)."),
        SettingSpec(name="exampleJournalKeep", type="int", default=1000, category=CATEGORY,
                    label_fr="Lignes de journal gardées", label_en="Journal lines kept",
                    levels=("default",)),
    ]


@hookimpl
def medshake_mail_collectors() -> list[CollectorSpec]:
    return [CollectorSpec(key="dropfolder", label="Dossier de dépôt",
                          factory=drop_folder_collector, identity=drop_folder_identity,
                          required=(SETTING,))]


@hookimpl
def medshake_message_stored(message: StoredMessage, documents: list[StoredDocument]) -> None:
    journal.record(message, documents)


def trim_journal(app: Any) -> dict[str, int]:
    """The ``example-journal-trim`` job: keep the newest ``exampleJournalKeep`` lines."""
    with app.app_context():
        return {"removed": journal.trim(int(settings(app).get("exampleJournalKeep")))}


@hookimpl
def medshake_scheduled_jobs() -> list[JobSpec]:
    return [JobSpec(id="example-journal-trim", func=trim_journal,
                    label_fr="Journal d'exemple : nettoyage", label_en="Example journal trim",
                    cron={"minute": "15", "hour": "3", "day": "*", "month": "*",
                          "day_of_week": "*"})]


@hookimpl
def medshake_blueprints(app: Any) -> list[Any]:
    from medshake_bridge_example.pages import example_pages

    return [example_pages]


@hookimpl
def medshake_menu_items(user: Any) -> list[MenuItem]:
    return [MenuItem("Journal", "Journal", "example.index", order=80)] if user else []


@hookimpl
def medshake_system_checks(app: Any) -> list[CheckResult]:
    """Each drop folder in use exists and can be emptied by the bridge."""
    store = settings(app)
    results = []
    for user in users():
        values = store.for_user(user.id, skip_damaged=True)
        if values.get("apicryptCollector") != "dropfolder":
            continue
        folder = str(values.get(SETTING) or "")
        ok = bool(folder) and os.path.isdir(folder) and os.access(folder, os.W_OK)
        results.append(CheckResult(
            name=f"Drop folder ({user.login})", ok=ok, detail=folder or "(not set)",
            fix="" if ok else f"create {folder or 'the folder'} writable by the bridge, or "
            f"set {SETTING} for {user.login}", category="example"))
    return results
