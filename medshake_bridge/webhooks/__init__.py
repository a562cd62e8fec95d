"""Signed webhooks: subscriptions, a durable outbox written with the event, delivery with
retries. See ``docs/api.md`` for the receiver's side."""
