"""The JSON API, the token pages, the webhooks (delivery job, page, doctor check), offered
through the same plugin hooks as any plugin."""

from __future__ import annotations

from typing import Any

from medshake_bridge.hookspecs import hookimpl
from medshake_bridge.interfaces import CheckResult, JobSpec, MenuItem


def deliver_webhooks(app: Any) -> dict[str, int]:
    """Send the due webhook events (job call convention: ``func(app) -> counts``)."""
    from medshake_bridge.webhooks.delivery import deliver_due

    return deliver_due(timeout=float(app.config.get("MEDSHAKE_BRIDGE_WEBHOOK_TIMEOUT") or 10)
                       ).as_counts()


WEBHOOK_JOB = JobSpec(
    id="webhooks-deliver",
    func=deliver_webhooks,
    label_fr="Envoi des webhooks",
    label_en="Webhook delivery",
    description_fr="Envoie les événements en attente (document reçu, classé, message envoyé) "
    "aux adresses abonnées, signés ; réessaie pendant 24 heures.",
    description_en="Sends pending events (document received, filed, message sent) to the "
    "subscribed URLs, signed; retries for 24 hours.",
    cron={"minute": "*", "hour": "*", "day": "*", "month": "*", "day_of_week": "*"},
)


@hookimpl
def medshake_scheduled_jobs() -> list[JobSpec]:
    return [WEBHOOK_JOB]


@hookimpl
def medshake_blueprints(app: Any) -> list[Any]:
    from medshake_bridge.apiv1 import describe, views  # noqa: F401 - registers the routes
    from medshake_bridge.apiv1.routes import api_blueprint
    from medshake_bridge.views.api_tokens import token_pages
    from medshake_bridge.views.webhooks import webhook_pages

    return [api_blueprint, token_pages, webhook_pages]


@hookimpl
def medshake_menu_items(user: Any) -> list[MenuItem]:
    if user is None:
        return []
    return [MenuItem("Jetons d'API", "API tokens", "bridge_tokens.index", order=90),
            MenuItem("Webhooks", "Webhooks", "bridge_webhooks.index", admin_only=True,
                     order=91)]


@hookimpl
def medshake_system_checks(app: Any) -> list[CheckResult]:
    from medshake_bridge.webhooks.delivery import failed_deliveries

    failed = failed_deliveries(limit=1000)
    if not failed:
        return [CheckResult("Webhooks", True, "no event given up", category="webhooks")]
    urls = sorted({row.subscription.url for row in failed})
    return [CheckResult(
        "Webhooks", False,
        f"{len(failed)} event(s) could not be delivered for 24 hours: {', '.join(urls)}; "
        f"last error: {failed[0].last_error}",
        fix="make the receiver answer 2xx, then press 'Try again' on the Webhooks page "
            "(or medshake-bridge webhooks retry)", category="webhooks")]
