"""The bridge at ``/bridge`` beside another WSGI application, on one origin.

Serve it with gunicorn (the bridge's instance folder in ``MEDSHAKE_BRIDGE_INSTANCE``)::

    MEDSHAKE_BRIDGE_INSTANCE=/srv/medshake-bridge \\
        gunicorn --pythonpath examples --workers 2 --threads 4 wsgi_mount:application

The dispatcher sets ``SCRIPT_NAME=/bridge`` for the bridge: every link, redirect, ``next`` and
cookie of the bridge then stays under ``/bridge`` (its session cookie is sent with
``Path=/bridge``), so the application beside it never receives the bridge's cookies and a login
never lands on the other application's page. The bridge's scheduler is not started here: run
``medshake-bridge scheduler`` beside it (docs/scheduler.md).
"""

from __future__ import annotations

import os

from flask import Flask, jsonify, request
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from medshake_bridge import create_app


def make_clinic_site() -> Flask:
    """Stands for whatever already runs at the root of the site."""
    site = Flask("clinic_site")

    @site.get("/")
    def home() -> str:
        return "Clinique du Parc"

    @site.get("/cookies")
    def cookies():  # shows which cookies reach this application
        return jsonify(sorted(request.cookies))

    return site


def make_application(instance: str | None = None) -> DispatcherMiddleware:
    bridge = create_app({"INSTANCE_PATH": instance} if instance else None)
    return DispatcherMiddleware(make_clinic_site(), {"/bridge": bridge})


application = make_application(os.environ.get("MEDSHAKE_BRIDGE_INSTANCE"))
