"""The release API: central IT uploads and publishes; gateways read metadata, download and report."""

from __future__ import annotations

import re
from typing import Annotated

import orjson
from fastapi import APIRouter, Header, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from backend.apidoc import json_body
from backend.deps import AdminUser, GatewayAuth, SessionDep, SettingsDep
from backend.errors import Invalid, NotFound, RangeNotSatisfiable
from backend.gateway.routes import JSON, RawBody
from backend.releases import services, storage
from backend.releases.schemas import FileStored, Published, ReleaseReportIn, ReportStored
from edge.sync.release_meta import ReleaseMetadata

router = APIRouter(prefix="/v1", tags=["releases"])

_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")
FILE_PATH = re.compile(r"^/v1/releases/[^/]+/[^/]+/files/[^/]+$")


@router.post(
    "/stores/{store}/releases/report",
    summary="A gateway reports what it did with a model release.",
    response_model=ReportStored,
)
def post_release_report(
    store: str, report: ReleaseReportIn, session: SessionDep, _: GatewayAuth
) -> ReportStored:
    services.add_report(session=session, store_id=store, report=report)
    return ReportStored(stored=True)


@router.get(
    "/releases/{model}/latest",
    summary="Signed metadata of the newest release of a model.",
    response_model=ReleaseMetadata,
)
def latest_release(model: str, session: SessionDep, _: GatewayAuth) -> Response:
    found = services.latest(session=session, model=model)
    if found is None:
        raise NotFound(f"no release of model {model!r}")
    return Response(found, media_type=JSON)


@router.put(
    "/releases/{model}/{version}/files/{name}",
    summary="Upload one file of a release (streamed to disk; X-Sha256 header checked).",
    response_model=FileStored,
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/octet-stream": {"schema": {}}}}
    },
)
async def put_release_file(
    model: str,
    version: str,
    name: str,
    request: Request,
    settings: SettingsDep,
    caller: AdminUser,
    x_sha256: Annotated[str | None, Header(description="SHA-256 of the file, hex.")] = None,
) -> FileStored:
    number = services.check_names(model, version, name)
    stored = await storage.receive_file(
        request.stream(),
        data_dir=settings.data_dir,
        model=model,
        version=number,
        name=name,
        max_bytes=settings.max_release_file_bytes,
        claimed_sha256=x_sha256,
    )

    def record() -> None:
        with request.app.state.sessions() as session:
            services.record_file(
                session=session, model=model, version=number, name=name, stored=stored, actor=caller.actor
            )

    await run_in_threadpool(record)
    return FileStored(sha256=stored.sha256, size=stored.size)


@router.get(
    "/releases/{model}/{version}/files/{name}",
    summary="Download one file of a release; supports 'Range: bytes=N-' to resume.",
    responses={
        200: {"description": "The file", "content": {"application/octet-stream": {"schema": {}}}},
        206: {"description": "Partial content (resumed download)"},
    },
)
def get_release_file(
    model: str,
    version: str,
    name: str,
    session: SessionDep,
    settings: SettingsDep,
    _: GatewayAuth,
    range: Annotated[str | None, Header()] = None,
) -> Response:
    number = services.check_names(model, version, name)
    path, size = services.file_on_disk(
        session=session, data_dir=settings.data_dir, model=model, version=number, name=name
    )
    headers = {"Accept-Ranges": "bytes"}
    if not range:
        headers["Content-Length"] = str(size)
        return StreamingResponse(
            storage.read_chunks(path, 0), media_type="application/octet-stream", headers=headers
        )
    m = _RANGE.match(range.strip())
    if not m or int(m.group(1)) > size:
        raise RangeNotSatisfiable(f"range {range!r} not satisfiable for {size} bytes", size)
    start = int(m.group(1))
    end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
    if m.group(2) and end < start:
        raise RangeNotSatisfiable(f"range {range!r} ends before it starts", size)
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(max(0, end - start + 1))
    return StreamingResponse(
        storage.read_chunks(path, start, end + 1),
        status_code=206,
        media_type="application/octet-stream",
        headers=headers,
    )


@router.post(
    "/releases/{model}/{version}",
    summary="Publish signed metadata for uploaded files; the version must be newer than the last.",
    response_model=Published,
    openapi_extra=json_body(ReleaseMetadata),
)
def post_release(model: str, version: str, body: RawBody, session: SessionDep, caller: AdminUser) -> Response:
    number = services.check_names(model, version)
    if not body:
        raise Invalid("body: the signed release metadata (JSON)")
    services.publish(session=session, model=model, version=number, metadata=body, actor=caller.actor)
    return Response(orjson.dumps({"model": model, "version": number}), media_type=JSON)
