"""``/api/v1/openapi.json`` and a readable page of it (public: it holds no data)."""

from __future__ import annotations

import json

from flask import Response, render_template, url_for

from medshake_bridge.access import public
from medshake_bridge.apiv1.openapi import build_spec
from medshake_bridge.apiv1.routes import api_blueprint


def current_spec() -> dict:
    return build_spec(url_for("bridge_api.health", _external=True).rsplit("/health", 1)[0])


@api_blueprint.route("/openapi.json")
@public
def openapi_json() -> Response:
    return Response(json.dumps(current_spec(), ensure_ascii=False), mimetype="application/json")


@api_blueprint.route("/docs")
@public
def openapi_page() -> str:
    spec = current_spec()
    return render_template("bridge/api_docs.html", spec=spec,
                           schemas=spec.get("components", {}).get("schemas", {}),
                           pretty=lambda value: json.dumps(value, indent=2, ensure_ascii=False))
