"""Errors of the JSON API as ``application/problem+json`` (RFC 9457).

Every refusal says what happened (``title``, ``detail``) and, where the caller can do
something about it, the ``fix``; a 422 lists each wrong ``field`` with its own fix. The page
error handler never answers for the API: a machine gets JSON, never an HTML page or a redirect.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response
from werkzeug.exceptions import HTTPException

from medshake_bridge.i18n import _

PROBLEM_TYPE = "application/problem+json"


def _titles() -> dict[int, tuple[str, str]]:
    return {
        400: (_("Bad request"), _("Send a valid request (for a session, with its CSRF token).")),
        401: (_("Authentication required"),
              _("Send a valid, unexpired token: Authorization: Bearer msb_...")),
        403: (_("Missing scope"), _("Create a token with the scope this endpoint needs.")),
        404: (_("Not found"), _("Check the id; objects of users whose mail you may not read "
                                "are not shown.")),
        405: (_("Method not allowed"), _("See the OpenAPI description for the methods.")),
        409: (_("Conflict"), _("Look at the current state of the object and try again.")),
        413: (_("Request too large"), _("Send smaller attachments (see the limit).")),
        422: (_("Invalid request"), _("Correct the fields listed in errors.")),
        429: (_("Too many requests"), _("Wait for the number of seconds in Retry-After.")),
        502: (_("Upstream failure"), _("Nothing was sent; try again later.")),
        503: (_("Unavailable"), _("Try again later.")),
    }


class ApiProblem(HTTPException):
    """Raise from an API view to answer a problem with a fix and field errors."""

    def __init__(self, status: int, detail: str, *, fix: str = "",
                 errors: list[dict[str, str]] | None = None,
                 headers: dict[str, str] | None = None, title: str = "") -> None:
        super().__init__(description=detail)
        self.code = status
        self.fix = fix
        self.errors = errors
        self.extra_headers = headers or {}
        self.title = title


def problem_response(status: int, detail: str = "", *, title: str = "", fix: str = "",
                     errors: list[dict[str, str]] | None = None,
                     headers: dict[str, str] | None = None) -> Response:
    default_title, default_fix = _titles().get(status, (_("Error"), ""))
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title or default_title,
        "status": status,
        "detail": detail or title or default_title,
        "fix": fix or default_fix,
    }
    if errors:
        body["errors"] = errors
    response = Response(json.dumps(body, ensure_ascii=False), status=status,
                        mimetype=PROBLEM_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    if status == 401:
        response.headers.setdefault("WWW-Authenticate", 'Bearer realm="medshake-bridge"')
    response.headers["Cache-Control"] = "no-store"
    return response


def handle_http_error(error: HTTPException) -> Response:
    """The API blueprint's handler for every HTTP error (aborts, CSRF, 404 of access rules)."""
    from flask_wtf.csrf import CSRFError

    status = error.code or 500
    if isinstance(error, CSRFError):  # Flask-WTF's text is English and says nothing to do
        return problem_response(400, _("This session request has no valid CSRF token: nothing "
                                       "was changed."),
                                fix=_("Send the page's token in the X-CSRFToken header, or "
                                      "authenticate with an API token (Authorization: Bearer "
                                      "msb_...), which needs none."))
    if isinstance(error, ApiProblem):
        return problem_response(status, str(error.description or ""), title=error.title,
                                fix=error.fix, errors=error.errors, headers=error.extra_headers)
    if status == 413:  # a body over the route's cap (Werkzeug's text is English)
        from medshake_bridge.web.limits import current_limit

        limit = current_limit() or 0
        return problem_response(413, _("The request body is larger than this endpoint accepts "
                                       "(%(kb)s KB): nothing was read or changed.",
                                       kb=limit // 1024),
                                fix=_("Send a smaller body; attachments go to POST /messages, "
                                      "which accepts up to the upload limit."))
    detail = str(error.description or "") if status in (400, 403, 409, 413, 422, 429) else ""
    headers = {}
    if status == 405 and error.get_headers():
        headers = {k: v for k, v in error.get_headers() if k.lower() == "allow"}
    return problem_response(status, detail, headers=headers)
