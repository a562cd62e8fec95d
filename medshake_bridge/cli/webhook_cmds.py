"""``medshake-bridge webhooks add|list|remove|test|deliver|retry``."""

from __future__ import annotations

import sys

import click

from medshake_bridge.audit import audit
from medshake_bridge.cli.config_cmds import clean_errors
from medshake_bridge.cli.group import bridge_group
from medshake_bridge.db import db
from medshake_bridge.models.api import EVENTS


@bridge_group.group("webhooks")
def webhooks_group() -> None:
    """Signed webhooks: who is told about which events."""


@webhooks_group.command("add")
@click.argument("url")
@click.option("--event", "events", multiple=True, required=True, type=click.Choice(EVENTS),
              help="An event to send (repeat for several).")
@click.option("--secret-stdin", is_flag=True,
              help="Read the signing secret from standard input (default: generate one).")
@click.option("--include-clinical", is_flag=True,
              help="Also send the patient's identity and the subject (default: ids and links).")
@clean_errors
def webhooks_add(url: str, events: tuple[str, ...], secret_stdin: bool,
                 include_clinical: bool) -> None:
    """Subscribe URL; prints the secret once when the bridge generated it."""
    from medshake_bridge.webhooks.subscriptions import add_subscription

    secret = sys.stdin.readline().rstrip("\r\n") if secret_stdin else None
    row, made = add_subscription(url, list(events), secret=secret,
                                 include_clinical=include_clinical)
    audit("webhook.add", target=row.url, actor=None, actor_login="cli", detail=row.events)
    click.echo(f"Webhook {row.id} added for {row.events}.")
    if secret is None:
        click.echo(f"Signing secret (shown once): {made}")


@webhooks_group.command("list")
def webhooks_list() -> None:
    """Every subscription with its events and its pending / failed deliveries."""
    from sqlalchemy import func, select

    from medshake_bridge.models import WebhookDelivery
    from medshake_bridge.webhooks.subscriptions import list_subscriptions

    counts = dict(((sub, state), n) for sub, state, n in db.session.execute(
        select(WebhookDelivery.subscription_id, WebhookDelivery.state, func.count())
        .group_by(WebhookDelivery.subscription_id, WebhookDelivery.state)))
    for row in list_subscriptions():
        clinical = " clinical" if row.include_clinical else ""
        click.echo(f"{row.id}  {row.url}  events={','.join(row.event_list)}{clinical}  "
                   f"pending={counts.get((row.id, 'pending'), 0)}  "
                   f"delivered={counts.get((row.id, 'delivered'), 0)}  "
                   f"failed={counts.get((row.id, 'failed'), 0)}")


@webhooks_group.command("remove")
@click.argument("subscription_id", type=int)
@clean_errors
def webhooks_remove(subscription_id: int) -> None:
    """Remove a subscription and its undelivered events."""
    from medshake_bridge.webhooks.subscriptions import get_subscription, remove_subscription

    url = get_subscription(subscription_id).url
    remove_subscription(subscription_id)
    audit("webhook.remove", target=url, actor=None, actor_login="cli")
    click.echo(f"Webhook {subscription_id} removed.")


@webhooks_group.command("test")
@click.argument("subscription_id", type=int)
@clean_errors
def webhooks_test(subscription_id: int) -> None:
    """Send a signed ``ping`` event now and say what the receiver answered."""
    import json
    import uuid

    from medshake_bridge.models import WebhookDelivery
    from medshake_bridge.webhooks.delivery import post_event
    from medshake_bridge.webhooks.subscriptions import get_subscription

    row = get_subscription(subscription_id)
    event_id = str(uuid.uuid4())
    ping = WebhookDelivery(subscription=row, event="ping", event_id=event_id,
                           payload=json.dumps({"id": event_id, "type": "ping", "data": {}}))
    status, error = post_event(ping, timeout=10)
    if status is not None and 200 <= status < 300:
        click.echo(f"The receiver answered {status}: it works.")
        return
    raise click.ClickException(error or f"the receiver answered {status}")


@webhooks_group.command("deliver")
def webhooks_deliver() -> None:
    """Send the due events now (the scheduler does it every minute)."""
    from medshake_bridge.webhooks.delivery import deliver_due

    report = deliver_due()
    click.echo(f"delivered={report.delivered} retrying={report.retrying} "
               f"failed={report.failed}")


@webhooks_group.command("retry")
@click.option("--id", "delivery_id", type=int, default=None, help="Only this event row.")
def webhooks_retry(delivery_id: int | None) -> None:
    """Queue the given-up events again (a new 24-hour window)."""
    from medshake_bridge.webhooks.delivery import retry_failed

    click.echo(f"{retry_failed(delivery_id)} event(s) queued again.")
