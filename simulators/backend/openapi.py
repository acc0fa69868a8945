"""Generates openapi.json (OpenAPI 3.1) from the route list and the pydantic models."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from simulators.backend.http import Route
from simulators.backend.models import Problem
from simulators.backend.routes import ROUTES

OPENAPI_PATH = Path(__file__).with_name("openapi.json")

_PARAM_DOCS = {
    "store": "Store identifier (a gateway token is valid for one store).",
    "resource": "One of catalogue, planogram, campaigns.",
    "day": "Calendar day, YYYY-MM-DD.",
    "model": "Model family, e.g. offers.",
    "version": "Release version (integer).",
    "name": "File name within the release.",
}


def _ref(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, str]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in schema.pop("$defs", {}).items():
        schemas[name] = sub
    schemas[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def build(routes: list[Route] = ROUTES) -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    problem = _ref(Problem, schemas)
    for route in routes:
        op: dict[str, Any] = {
            "summary": route.summary,
            "operationId": route.handler.__name__,
            "parameters": [
                {
                    "name": p,
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                    "description": _PARAM_DOCS.get(p, p),
                }
                for p in re.findall(r"\{([a-z_]+)\}", route.path)
            ],
            "responses": {},
        }
        if route.auth != "none":
            op["security"] = [{"bearer": []}]
            op["description"] = f"Needs a {'gateway or admin' if route.auth == 'gateway' else 'admin'} token."
        if route.method in ("POST", "PUT"):
            if route.body is not None:
                content = {"application/json": {"schema": _ref(route.body, schemas)}}
            else:
                content = {route.raw_content or "application/json": {"schema": {}}}
            op["requestBody"] = {"required": True, "content": content}
        for status in route.statuses:
            answer: dict[str, Any] = {
                "description": {
                    200: "OK",
                    206: "Partial content (resumed download)",
                    304: "Not modified (ETag matched)",
                }[status]
            }
            if status != 304:
                if route.answer is not None:
                    answer["content"] = {"application/json": {"schema": _ref(route.answer, schemas)}}
                elif route.raw_content:
                    answer["content"] = {route.raw_content: {"schema": {}}}
            op["responses"][str(status)] = answer
        op["responses"]["4XX"] = {
            "description": "Refused; do not retry unchanged.",
            "content": {"application/json": {"schema": problem}},
        }
        op["responses"]["5XX"] = {
            "description": "Unavailable; retry with backoff.",
            "content": {"application/json": {"schema": problem}},
        }
        paths.setdefault(route.path, {})[route.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Smart-shelf central backend (gateway API)",
            "version": "1",
            "description": "What a store gateway uses: event upload with idempotency keys, conditional GET of "
            "store data (ETag), signed model releases. Generated from simulators/backend/routes.py.",
        },
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def render() -> str:
    return json.dumps(build(), indent=2, sort_keys=False) + "\n"


def write(path: Path = OPENAPI_PATH) -> Path:
    path.write_text(render())
    return path
