"""Publishing offer rules and campaigns (validated). Included before the gateway router, so the
generic document PUT never takes a campaigns document unvalidated."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Response

from backend.campaigns import services
from backend.deps import AdminUser, SessionDep
from backend.gateway.routes import RawBody

router = APIRouter(prefix="/v1")
JSON = "application/json"
_BODY = {
    "requestBody": {
        "required": True,
        "description": "The offer rules document (edge/offers/README.md): rules, campaigns, experiment.",
        "content": {JSON: {"schema": {}}},
    }
}


@router.put(
    "/stores/{store}/campaigns",
    summary="Publish the store's offer rules and campaigns, validated with the gateway's models.",
    tags=["admin"],
    openapi_extra=_BODY,
)
def put_store_campaigns(store: str, body: RawBody, session: SessionDep, caller: AdminUser) -> Response:
    etags = services.publish(session=session, store_ids=[store], body=body, actor=caller.actor)
    return Response(orjson.dumps({"etag": etags[store]}), media_type=JSON, headers={"ETag": etags[store]})


@router.put(
    "/campaigns",
    summary="Publish the same offer rules and campaigns to every store, validated once.",
    tags=["admin"],
    openapi_extra=_BODY,
)
def put_chain_campaigns(body: RawBody, session: SessionDep, caller: AdminUser) -> Response:
    etags = services.publish(session=session, store_ids=None, body=body, actor=caller.actor)
    return Response(orjson.dumps({"stores": etags}), media_type=JSON)
