"""The bridge's JSON API (``/api/v1``): tokens, routes, problem+json errors, OpenAPI and
signed webhooks. Access decisions stay in :mod:`medshake_bridge.access`."""
