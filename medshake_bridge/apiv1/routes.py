"""One decorator both serves an API route and describes it.

``@operation("GET", "/inbox", scope="inbox:read", query=InboxQuery, responses={200: InboxPage})``
registers the Flask rule, checks the scope, validates the query string and the JSON body with
the pydantic models (422 problem with each field and its fix otherwise) and turns the returned
model into JSON. The same record feeds :mod:`medshake_bridge.apiv1.openapi`, so the served
description cannot drift from what the routes do.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response, request
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import HTTPException

from medshake_bridge.access import API, protect, public, require_scope
from medshake_bridge.apiv1.problems import ApiProblem, handle_http_error
from medshake_bridge.apiv1.schemas import MAX_ID
from medshake_bridge.i18n import _
from medshake_bridge.web.limits import upload_route

api_blueprint = protect(Blueprint("bridge_api", __name__, url_prefix="/api/v1"), API)
# Every HTTP error of the API (500 included: Flask wraps it) answers problem+json.
api_blueprint.register_error_handler(HTTPException, handle_http_error)


@dataclass(frozen=True)
class Operation:
    method: str
    rule: str
    endpoint: str
    summary: str
    description: str
    tag: str
    scope: str | None
    query: type[BaseModel] | None
    body: type[BaseModel] | None
    responses: dict[int, Any]
    public: bool = False
    errors: tuple[int, ...] = field(default_factory=tuple)


OPERATIONS: list[Operation] = []


def _field_errors(error: ValidationError, where: str) -> list[dict[str, str]]:
    found = []
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"]) or where
        found.append({"field": location, "in": where, "message": item["msg"],
                      "fix": _("Correct %(field)s: %(reason)s", field=location,
                               reason=item["msg"])})
    return found


def parse_query(model: type[BaseModel]) -> BaseModel:
    values: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        key = info.alias or name
        if key not in request.args:
            continue
        origin = getattr(info.annotation, "__origin__", None)
        values[key] = request.args.getlist(key) if origin is list else request.args[key]
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise ApiProblem(422, _("The query string is not valid."),
                         errors=_field_errors(exc, "query")) from None


def parse_body(model: type[BaseModel]) -> BaseModel:
    data = request.get_json(silent=True)
    if data is None:
        raise ApiProblem(422, _("The body must be a JSON object."),
                         errors=[{"field": "body", "in": "body",
                                  "message": _("not JSON"),
                                  "fix": _("Send Content-Type: application/json and a JSON "
                                           "object.")}])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiProblem(422, _("The body is not valid."),
                         errors=_field_errors(exc, "body")) from None


def to_response(result: Any) -> Any:
    """A model (or ``(model, status[, headers])``) as JSON; a Response as it is."""
    status, headers = 200, None
    if isinstance(result, tuple):
        result, status, *rest = result
        headers = rest[0] if rest else None
    if isinstance(result, BaseModel):
        response = Response(result.model_dump_json(by_alias=True), status=status,
                            mimetype="application/json")
        response.headers["Cache-Control"] = "no-store"
        for name, value in (headers or {}).items():
            response.headers[name] = value
        return response
    return result


def operation(method: str, rule: str, *, summary: str, responses: dict[int, Any],
              scope: str | None = None, query: type[BaseModel] | None = None,
              body: type[BaseModel] | None = None, tag: str = "",
              is_public: bool = False, errors: tuple[int, ...] = (),
              upload: bool = False) -> Callable:
    """Serve ``method rule`` on the API blueprint and record its description; ``upload``
    lets its body reach the upload maximum (files in base64) instead of the form limit."""

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def view(**kwargs: Any) -> Any:
            if any(isinstance(value, int) and value > MAX_ID for value in kwargs.values()):
                raise ApiProblem(404, _("There is no such object."))  # beyond any id column
            if scope:
                require_scope(scope)
            if query is not None:
                kwargs["query"] = parse_query(query)
            if body is not None:
                kwargs["body"] = parse_body(body)
            return to_response(func(**kwargs))

        if is_public:
            view = public(view)
        if upload:
            view = upload_route()(view)
        api_blueprint.add_url_rule(rule, endpoint=func.__name__, view_func=view,
                                   methods=[method])
        doc = (func.__doc__ or "").strip()
        OPERATIONS.append(Operation(
            method=method.lower(), rule=rule, endpoint=func.__name__,
            summary=summary, description=doc, tag=tag, scope=scope, query=query, body=body,
            responses=responses, public=is_public, errors=errors))
        return view

    return decorator
