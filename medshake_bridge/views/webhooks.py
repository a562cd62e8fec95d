"""Webhooks page (admins): subscriptions, recent deliveries, events given up and a button to
try them again. Adding shows the signing secret once."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from medshake_bridge.access import ADMIN, protect
from medshake_bridge.audit import audit
from medshake_bridge.db import db
from medshake_bridge.flashes import flash
from medshake_bridge.i18n import _
from medshake_bridge.models import WebhookDelivery
from medshake_bridge.models.api import EVENTS
from medshake_bridge.webhooks.delivery import failed_deliveries, retry_failed
from medshake_bridge.webhooks.subscriptions import (
    WebhookError,
    add_subscription,
    get_subscription,
    list_subscriptions,
    remove_subscription,
)

webhook_pages = protect(Blueprint("bridge_webhooks", __name__, url_prefix="/admin/webhooks"),
                        ADMIN)


def _page(*, secret: str = "", errors: dict[str, str] | None = None,
          form: dict[str, Any] | None = None, status: int = 200) -> tuple[str, int]:
    recent = list(db.session.scalars(select(WebhookDelivery)
                                     .order_by(WebhookDelivery.id.desc()).limit(50)))
    return render_template(
        "bridge/webhooks.html", subscriptions=list_subscriptions(), failed=failed_deliveries(),
        recent=recent, events=EVENTS, secret=secret, errors=errors or {},
        form=form or {"url": "", "events": list(EVENTS), "clinical": False}), status


@webhook_pages.route("/", methods=["GET", "POST"])
def index() -> Any:
    if request.method == "GET":
        return _page()
    form = {"url": request.form.get("url", "").strip(), "events": request.form.getlist("event"),
            "clinical": request.form.get("clinical") == "1"}
    try:
        row, secret = add_subscription(form["url"], form["events"],
                                       include_clinical=form["clinical"])
    except WebhookError as exc:
        return _page(errors={"form": str(exc)}, form=form, status=400)
    audit("webhook.add", target=row.url, detail=row.events)
    return _page(secret=secret)


@webhook_pages.post("/<int:subscription_id>/remove")
def remove(subscription_id: int) -> Response:
    try:
        url = get_subscription(subscription_id).url
    except WebhookError:
        from medshake_bridge.access import deny

        deny(f"webhook {subscription_id}", detail="no such webhook")
    remove_subscription(subscription_id)
    audit("webhook.remove", target=url)
    flash(_("Webhook removed."), "success")
    return redirect(url_for(".index"))


@webhook_pages.post("/retry")
def retry() -> Response:
    count = retry_failed()
    audit("webhook.retry", detail=f"{count} event(s)")
    flash(_("%(count)s event(s) will be sent again.", count=count), "success")
    return redirect(url_for(".index"))
