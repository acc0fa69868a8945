"""The gateway API: events in, per-store documents out (thin handlers over gateway/services.py)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request, Response

from backend.apidoc import json_body
from backend.deps import AdminUser, GatewayAuth, SessionDep, SettingsDep
from backend.gateway import services
from backend.gateway.schemas import DocumentStored, EventsBatch, EventsPage, EventsResult

router = APIRouter(prefix="/v1")

JSON = "application/json"


async def raw_body(request: Request) -> bytes:
    """The request body as bytes (size already limited by backend.limits)."""
    return await request.body()


RawBody = Annotated[bytes, Depends(raw_body)]


def _json_doc(description: str) -> dict[str, Any]:
    return {"requestBody": {"required": True, "description": description, "content": {JSON: {"schema": {}}}}}


def _conditional(document: services.Document, if_none_match: str | None) -> Response:
    if if_none_match == document.etag:
        return Response(status_code=304, headers={"ETag": document.etag})
    return Response(document.body, media_type=JSON, headers={"ETag": document.etag})


_CONDITIONAL: dict[int | str, dict[str, Any]] = {
    200: {"description": "The document", "content": {JSON: {"schema": {}}}},
    304: {"description": "Not modified (ETag matched)"},
}


@router.get("/health", summary="Liveness of the backend.", tags=["gateway"])
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.post(
    "/stores/{store}/events",
    summary="Receive a batch of gateway events; each idempotency key is stored once.",
    response_model=EventsResult,
    tags=["gateway"],
    openapi_extra=json_body(EventsBatch),
)
def post_events(
    store: str, body: RawBody, session: SessionDep, settings: SettingsDep, _: GatewayAuth
) -> Response:
    result = services.receive_events(
        session=session, store_id=store, body=body, max_events=settings.max_events_per_batch
    )
    return Response(orjson.dumps(result.model_dump()), media_type=JSON)


@router.get(
    "/stores/{store}/events",
    summary="Read stored events in arrival order (?after=cursor&limit=&stream=).",
    response_model=EventsPage,
    tags=["admin"],
)
def get_events(
    store: str,
    session: SessionDep,
    _: AdminUser,
    after: Annotated[int, Query(ge=0, description="Cursor: events after this one.")] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000, description="Most events in the page.")] = 1000,
    stream: Annotated[str | None, Query(description="Only this stream.")] = None,
) -> Response:
    events, next_after = services.read_events(
        session=session, store_id=store, after=after, limit=limit, stream=stream
    )
    return Response(orjson.dumps({"events": events, "next_after": next_after}), media_type=JSON)


@router.get(
    "/stores/{store}/customer-keys/{day}",
    summary="Consented customer keys of the store for one day (conditional GET with If-None-Match).",
    responses=_CONDITIONAL,
    tags=["gateway"],
)
def get_keys(
    store: str,
    day: str,
    session: SessionDep,
    _: GatewayAuth,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    name = services.keys_name(day)
    return _conditional(services.get_document(session=session, store_id=store, name=name), if_none_match)


@router.put(
    "/stores/{store}/customer-keys/{day}",
    summary="Set the consented customer keys of a store for one day.",
    response_model=DocumentStored,
    tags=["admin"],
    openapi_extra=_json_doc("The keys document (JSON)."),
)
def put_keys(store: str, day: str, body: RawBody, session: SessionDep, caller: AdminUser) -> Response:
    name = services.keys_name(day)
    etag = services.put_document(session=session, store_id=store, name=name, body=body, actor=caller.actor)
    return Response(orjson.dumps({"etag": etag}), media_type=JSON, headers={"ETag": etag})


@router.get(
    "/stores/{store}/{resource}",
    summary="Catalogue, planogram or campaigns of a store (conditional GET with If-None-Match).",
    responses=_CONDITIONAL,
    tags=["gateway"],
)
def get_resource(
    store: str,
    resource: str,
    session: SessionDep,
    _: GatewayAuth,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    name = services.document_name(resource)
    return _conditional(services.get_document(session=session, store_id=store, name=name), if_none_match)


@router.put(
    "/stores/{store}/{resource}",
    summary="Replace the catalogue, planogram or campaigns of a store (new ETag).",
    response_model=DocumentStored,
    tags=["admin"],
    openapi_extra=_json_doc("The document (JSON)."),
)
def put_resource(
    store: str, resource: str, body: RawBody, session: SessionDep, caller: AdminUser
) -> Response:
    name = services.document_name(resource)
    etag = services.put_document(session=session, store_id=store, name=name, body=body, actor=caller.actor)
    return Response(orjson.dumps({"etag": etag}), media_type=JSON, headers={"ETag": etag})
