"""A small clinic portal that embeds medshake-bridge under ``/mail``.

It stands for an existing Flask application with its own users (Flask-Login), its own database
(Flask-SQLAlchemy), its own patients and its own page layout. The bridge is added with three
lines (see :func:`create_portal`) and then:

* shares the portal's database (its tables are ``bridge_*``) but never its session;
* knows the signed-in portal user through ``medshake_current_user`` (no second login), and
  creates the matching bridge user on the first visit (``MEDSHAKE_BRIDGE_AUTO_PROVISION``);
* sends visitors who are not signed in to the portal's login page;
* draws its pages inside the portal's layout (``MEDSHAKE_BRIDGE_BASE_TEMPLATE``);
* files received documents into the portal's own patient records (a patient provider).

Run it: ``flask --app clinic_portal run`` from ``examples/portal`` after
``flask --app clinic_portal init-portal``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

from clinic_portal.models import db
from medshake_bridge import MedshakeBridge


def create_portal(config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_path=os.environ.get("PORTAL_INSTANCE") or None)
    app.config.update(
        SECRET_KEY=os.environ.get("PORTAL_SECRET_KEY", "change-me"),
        SQLALCHEMY_DATABASE_URI="sqlite:///portal.db",
    )
    app.config.update(config or {})
    db.init_app(app)

    from clinic_portal import bridge_link, views

    views.init_portal(app)
    # -- the bridge, inside the portal -------------------------------------------------------
    app.config.update(
        MEDSHAKE_BRIDGE_URL_PREFIX="/mail",
        MEDSHAKE_BRIDGE_LOGIN_URL="portal.login",
        MEDSHAKE_BRIDGE_BASE_TEMPLATE="portal/layout.html",
        MEDSHAKE_BRIDGE_AUTO_PROVISION=True,
        MEDSHAKE_BRIDGE_STANDALONE_PATIENTS=False,  # every patient is the portal's
        MEDSHAKE_BRIDGE_PLUGINS=[bridge_link],
    )
    app.config.update(config or {})
    MedshakeBridge(app, db=db)
    return app
