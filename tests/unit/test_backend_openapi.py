"""The committed OpenAPI document is the one FastAPI generates from the central service's routes, and
it carries the gateway's contract (every call edge/sync/client.py and provisioning make)."""

from __future__ import annotations

import json

from fastapi.routing import APIRoute

from backend.app import ROUTERS
from backend.openapi import OPENAPI_PATH, build, render

# (method, path) the gateway and central IT's publishing tools call (edge/sync/client.py, edge/ops/provision.py)
GATEWAY_CONTRACT = {
    ("post", "/v1/stores/{store}/events"),
    ("get", "/v1/stores/{store}/{resource}"),
    ("get", "/v1/stores/{store}/customer-keys/{day}"),
    ("get", "/v1/releases/{model}/latest"),
    ("get", "/v1/releases/{model}/{version}/files/{name}"),
    ("put", "/v1/releases/{model}/{version}/files/{name}"),
    ("post", "/v1/releases/{model}/{version}"),
    ("post", "/v1/stores/{store}/releases/report"),
    ("post", "/v1/provision"),
    ("post", "/v1/stores/{store}/gateways/{gateway}/health"),
}


def test_openapi_is_current() -> None:
    assert OPENAPI_PATH.read_text() == render(), "run: shelf-backend openapi --write backend/openapi.json"


def test_every_route_is_documented_with_its_schemas() -> None:
    doc = build()
    routes = [r for router in ROUTERS for r in router.routes if isinstance(r, APIRoute)]
    assert routes
    for route in routes:
        for method in route.methods:
            op = doc["paths"][route.path][method.lower()]
            assert op["summary"] == route.summary and route.summary
            assert "422" not in op["responses"]
            assert op["responses"]["4XX"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Problem"
            }
    operations = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert operations >= GATEWAY_CONTRACT
    text = json.dumps(doc)
    for ref in set(part.split('"')[0] for part in text.split('"$ref": "#/components/schemas/')[1:]):
        assert ref in doc["components"]["schemas"], ref
    assert "#/$defs" not in text


def test_secured_operations_name_bearer_auth() -> None:
    doc = build()
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert "security" not in doc["paths"]["/v1/health"]["get"]
    assert "security" not in doc["paths"]["/v1/provision"]["post"]
    assert doc["paths"]["/v1/stores/{store}/events"]["post"]["security"] == [{"bearer": []}]
