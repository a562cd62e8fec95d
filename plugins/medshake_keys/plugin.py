"""Hook implementations of the keys plugin."""

from __future__ import annotations

from typing import Any

from flask import Flask

from medshake_bridge.api import CheckResult, JobSpec, KeyManagerSpec, MenuItem, hookimpl

JOB_ID = "keys-expiry-check"


@hookimpl
def medshake_key_managers() -> list[KeyManagerSpec]:
    """The ``Clefs/`` folder named by ``apicryptCheminVersClefs`` (site or user level)."""
    from medshake_keys.folders import build_manager

    return [KeyManagerSpec(key="clefs", label="Dossier Clefs (Apicrypt)", factory=build_manager)]


@hookimpl
def medshake_system_checks(app: Flask) -> list[CheckResult]:
    """Each key folder's state, then the expiry watch (missing keys this year / next year)."""
    from medshake_bridge.api import _, settings
    from medshake_keys.clock import today
    from medshake_keys.expiry import CATEGORY, expiry_checks
    from medshake_keys.folder import folder_status
    from medshake_keys.folders import folder_choices

    state = settings(app)
    results = []
    for choice in folder_choices(state):
        if choice.keys_dir is None and choice.user is None:
            continue  # nothing configured for the site: the expiry lines say what is missing
        status = folder_status(choice.keys_dir)
        who = choice.user.login if choice.user is not None else _("general")
        results.append(CheckResult(
            name=_("Key folder (%(who)s)", who=who), ok=status.ok,
            detail=str(status.clefs or ""), fix=" ".join(status.problems), category=CATEGORY))
    results.extend(expiry_checks(state, today()))
    return results


@hookimpl
def medshake_scheduled_jobs() -> list[JobSpec]:
    """Every morning, record the missing yearly keys in the audit log."""
    from medshake_keys.expiry import run_expiry_check

    return [JobSpec(
        id=JOB_ID, func=run_expiry_check,
        label_fr="Surveillance des clefs Apicrypt", label_en="Apicrypt key expiry watch",
        description_fr="Signale chaque jour les clefs annuelles manquantes (l'année en cours, "
        "et l'année suivante à partir du 1er décembre).",
        description_en="Reports missing yearly keys every day (this year, and next year from "
        "1 December).",
        cron={"minute": "30", "hour": "7", "day": "*", "month": "*", "day_of_week": "*"})]


@hookimpl
def medshake_blueprints(app: Any) -> list[Any]:
    from medshake_keys.views import keys_pages

    return [keys_pages]


@hookimpl
def medshake_menu_items(user: Any) -> list[MenuItem]:
    if user is None:
        return []
    return [MenuItem("Clefs Apicrypt", "Apicrypt keys", "bridge_keys.start", admin_only=True,
                     order=85)]
