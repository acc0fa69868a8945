"""The OpenAPI document as this service answers: errors are ``Problem`` ({"detail": "..."}) with 4XX
(do not retry unchanged) or 5XX (retry later), never FastAPI's 422 list; bearer auth is named."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from backend.gateway.schemas import Problem

_PROBLEM = {"$ref": "#/components/schemas/Problem"}
_REF = "#/components/schemas/{model}"
#: models of request bodies that a handler reads itself (raw bytes), documented by reference
_RAW_BODIES: dict[str, type[BaseModel]] = {}


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` of a handler that parses its JSON body itself (fast path, exact bytes)."""
    _RAW_BODIES[model.__name__] = model
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": _REF.format(model=model.__name__)}}},
        }
    }


def openapi_document(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is not None:
        return app.openapi_schema
    doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    models: list[type[BaseModel]] = [Problem, *_RAW_BODIES.values()]
    for model in models:
        schema = model.model_json_schema(ref_template=_REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    for operations in doc.get("paths", {}).values():
        for op in operations.values():
            responses = op.setdefault("responses", {})
            responses.pop("422", None)
            responses["4XX"] = {
                "description": "Refused; do not retry unchanged.",
                "content": {"application/json": {"schema": _PROBLEM}},
            }
            responses["5XX"] = {
                "description": "Unavailable; retry with backoff.",
                "content": {"application/json": {"schema": _PROBLEM}},
            }
    doc["components"]["schemas"] = dict(sorted(schemas.items()))
    app.openapi_schema = doc
    return doc
