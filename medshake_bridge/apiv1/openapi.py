"""The OpenAPI 3.1 description, built from the routes' own records (:mod:`.routes`).

apispec (marshmallow-code, maintained, OpenAPI 3.1 output, no app object of its own) assembles
the document; the schemas are the pydantic models' JSON Schemas (draft 2020-12, the dialect
OpenAPI 3.1 uses). Serving and describing share one record per route, so they cannot drift.
"""

from __future__ import annotations

import re
from typing import Any

from apispec import APISpec
from pydantic import BaseModel

from medshake_bridge import __version__
from medshake_bridge.apiv1.routes import MAX_ID, OPERATIONS, Operation
from medshake_bridge.apiv1.schemas import Problem

REF = "#/components/schemas/{model}"
_RULE_PART = re.compile(r"<(?:(\w+):)?(\w+)>")
_ERROR_TEXT = {401: "No token, or a bad one", 403: "A scope is missing", 404: "Not found, or "
               "not the caller's to see", 409: "Conflict with the current state",
               413: "Too large", 422: "Invalid input (see errors)", 429: "Too many requests",
               502: "The mail server or the encryption failed; nothing was sent"}


def _add_model(spec: APISpec, model: type[BaseModel], seen: set[str]) -> dict[str, str]:
    schema = model.model_json_schema(ref_template=REF, mode="serialization")
    for name, definition in schema.pop("$defs", {}).items():
        if name not in seen:
            seen.add(name)
            spec.components.schema(name, definition)
    if model.__name__ not in seen:
        seen.add(model.__name__)
        spec.components.schema(model.__name__, schema)
    return {"$ref": REF.format(model=model.__name__)}


def _path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    parameters = []
    for converter, name in _RULE_PART.findall(rule):
        kind = {"int": "integer", "float": "number"}.get(converter, "string")
        parameters.append({"name": name, "in": "path", "required": True,
                           "schema": {"type": kind, **({"minimum": 0, "maximum": MAX_ID}
                                                        if kind == "integer" else {})}})
    return _RULE_PART.sub(r"{\2}", rule), parameters


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF)
    required = set(schema.get("required", []))
    found = []
    for name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        description = prop.pop("description", "")
        prop.pop("title", None)
        item = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if description:
            item["description"] = description
        found.append(item)
    return found


def _operation(spec: APISpec, op: Operation, seen: set[str]) -> dict[str, Any]:
    _, path_parameters = _path(op.rule)
    parameters = path_parameters + (_query_parameters(op.query) if op.query else [])
    if op.endpoint == "send":
        parameters.append({"name": "Idempotency-Key", "in": "header", "required": False,
                           "description": "The same key sends once.",
                           "schema": {"type": "string", "minLength": 1, "maxLength": 200}})
    responses: dict[str, Any] = {}
    for status, answer in op.responses.items():
        if isinstance(answer, str):
            content = {answer: {"schema": {"type": "string", "format": "binary"}}}
        else:
            content = {"application/json": {"schema": _add_model(spec, answer, seen)}}
        responses[str(status)] = {"description": "OK" if status < 300 else "Failure",
                                  "content": content}
    problem = {"application/problem+json": {"schema": _add_model(spec, Problem, seen)}}
    errors = set(op.errors)
    if not op.public:
        errors |= {401, 429}
    if op.scope:
        errors.add(403)
    if op.query or op.body:
        errors.add(422)
    if op.method == "post" and not op.public:
        errors.add(413)  # every write's body is capped (web.limits)
    for status in sorted(errors):
        responses.setdefault(str(status), {"description": _ERROR_TEXT.get(status, "Error"),
                                           "content": problem})
    result: dict[str, Any] = {"operationId": op.endpoint, "summary": op.summary,
                              "responses": responses, "tags": [op.tag] if op.tag else []}
    if op.description:
        result["description"] = op.description
    if parameters:
        result["parameters"] = parameters
    if op.body:
        result["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": _add_model(spec, op.body, seen)}}}
    if op.public:
        result["security"] = []
    elif op.scope:
        result["x-scope"] = op.scope
    return result


def build_spec(server_url: str) -> dict[str, Any]:
    """The description of every recorded route, with ``server_url`` as the base."""
    spec = APISpec(
        title="medshake-bridge API", version=__version__, openapi_version="3.1.0",
        info={"description": "Secure medical mail (Apicrypt sandbox, HPRIM) for portals, EHRs "
                             "and scripts. Errors are application/problem+json with a fix."},
        servers=[{"url": server_url}],
        security=[{"bearer": []}, {"session": []}],
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer",
                                               "description": "A token msb_... (scopes)."})
    spec.components.security_scheme("session", {"type": "apiKey", "in": "cookie",
                                                "name": "medshake_bridge_session",
                                                "description": "The bridge's login session; "
                                                               "writes need X-CSRFToken."})
    seen: set[str] = set()
    by_path: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        path, _ = _path(op.rule)
        by_path.setdefault(path, {})[op.method] = _operation(spec, op, seen)
    for path, operations in by_path.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()
