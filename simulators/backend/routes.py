"""Every operation of the reference backend, in ONE explicit list (:data:`ROUTES`).

To add an operation (e.g. gateway provisioning): write ``handler(request) -> Response`` in its own
module under simulators/backend/, append a :class:`Route` to :data:`ROUTES` below, and regenerate
openapi.json with ``shelf-sim backend --write-openapi simulators/backend/openapi.json``.
"""

from __future__ import annotations

import hashlib
import json
import re

from pydantic import ValidationError

from edge.sync.release_meta import ReleaseMetadata
from simulators.backend import gateway_ops
from simulators.backend.http import HttpProblem, Request, Response, Route, parse_body
from simulators.backend.models import (
    EventIn,
    EventsBatch,
    EventsPage,
    EventsResult,
    ReleaseReport,
)

RESOURCES = ("catalogue", "planogram", "campaigns")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NAME = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


def health(request: Request) -> Response:
    return Response.json(200, {"status": "ok"})


def post_events(request: Request) -> Response:
    batch = parse_body(request, EventsBatch)
    valid = []
    rejected = []
    seen: set[str] = set()
    for raw in batch.events:
        try:
            event = EventIn.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            key = raw.get("idempotency_key") if isinstance(raw, dict) else None
            where = ".".join(str(p) for p in first["loc"]) or "<event>"
            rejected.append({"idempotency_key": str(key or ""), "reason": f"{where}: {first['msg']}"})
            continue
        if event.idempotency_key in seen:
            continue
        seen.add(event.idempotency_key)
        valid.append(event.model_dump())
    fault = getattr(request.server, "fault_after_commit", 0)
    accepted, duplicates = request.store.add_events(request.params["store"], valid)
    if fault:
        request.server.fault_after_commit = fault - 1
        raise HttpProblem(503, "injected fault: stored, answer lost")
    return Response.json(200, EventsResult(accepted=accepted, duplicates=duplicates, rejected=rejected))


def get_events(request: Request) -> Response:
    try:
        after = int(request.query.get("after", "0"))
        limit = min(10_000, int(request.query.get("limit", "1000")))
    except ValueError:
        raise HttpProblem(400, "after and limit must be integers") from None
    rows = request.store.events(request.params["store"], after, limit, request.query.get("stream"))
    next_after = rows[-1]["seq"] if rows else after
    for r in rows:
        r.pop("seq")
    return Response.json(200, {"events": rows, "next_after": next_after})


def _conditional(request: Request, found: tuple[bytes, str] | None, what: str) -> Response:
    if found is None:
        raise HttpProblem(404, f"no {what} for store {request.params['store']!r}")
    body, etag = found
    if request.headers.get("if-none-match") == etag:
        return Response(304, b"", {"ETag": etag})
    return Response(200, body, {"Content-Type": "application/json", "ETag": etag})


def get_resource(request: Request) -> Response:
    name = request.params["resource"]
    if name not in RESOURCES:
        raise HttpProblem(404, f"unknown resource {name!r}; known: {', '.join(RESOURCES)}")
    return _conditional(request, request.store.resource(request.params["store"], name), name)


def put_resource(request: Request) -> Response:
    name = request.params["resource"]
    if name not in RESOURCES:
        raise HttpProblem(404, f"unknown resource {name!r}; known: {', '.join(RESOURCES)}")
    _require_json(request.body)
    etag = request.store.put_resource(request.params["store"], name, request.body)
    return Response.json(200, {"etag": etag}, {"ETag": etag})


def get_keys(request: Request) -> Response:
    day = _day(request)
    return _conditional(
        request, request.store.resource(request.params["store"], f"customer-keys/{day}"), "keys"
    )


def put_keys(request: Request) -> Response:
    day = _day(request)
    _require_json(request.body)
    etag = request.store.put_resource(request.params["store"], f"customer-keys/{day}", request.body)
    return Response.json(200, {"etag": etag}, {"ETag": etag})


def latest_release(request: Request) -> Response:
    found = request.store.latest_release(request.params["model"])
    if found is None:
        raise HttpProblem(404, f"no release of model {request.params['model']!r}")
    return Response(200, found, {"Content-Type": "application/json"})


def put_release_file(request: Request) -> Response:
    model, version, name = _release_params(request)
    claimed = request.headers.get("x-sha256")
    digest = hashlib.sha256(request.body).hexdigest()
    if claimed and claimed != digest:
        raise HttpProblem(400, f"upload damaged: sha256 {digest} but X-Sha256 says {claimed}")
    request.store.put_release_file(model, version, name, request.body)
    return Response.json(200, {"sha256": digest, "size": len(request.body)})


def get_release_file(request: Request) -> Response:
    model, version, name = _release_params(request)
    data = request.store.release_file(model, version, name)
    if data is None:
        raise HttpProblem(404, f"release {model} v{version} has no file {name!r}")
    cut = getattr(request.server, "download_limit", None)
    limit = cut[1] if cut is not None and cut[0] == name else None
    rng = request.headers.get("range")
    start = 0
    status = 200
    if rng:
        m = re.fullmatch(r"bytes=(\d+)-", rng.strip())
        if not m or int(m.group(1)) > len(data):
            return Response(416, b"", {"Content-Range": f"bytes */{len(data)}"})
        start = int(m.group(1))
        status = 206
    chunk = data[start:]
    headers = {"Content-Type": "application/octet-stream", "Accept-Ranges": "bytes"}
    if status == 206:
        headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
    if limit is not None:
        # fault injection: announce the full length but cut the connection after `limit` bytes
        request.server.download_limit = None
        headers["X-Truncate-After"] = str(limit)
    return Response(status, chunk, headers)


def post_release(request: Request) -> Response:
    model, version, _ = _release_params(request, with_name=False)
    meta = parse_body(request, ReleaseMetadata)
    if meta.signed.model != model or meta.signed.version != version:
        raise HttpProblem(
            400, f"metadata is for {meta.signed.model} v{meta.signed.version}, not {model} v{version}"
        )
    uploaded = request.store.release_files(model, version)
    for f in meta.signed.files:
        if uploaded.get(f.name) != f.sha256:
            raise HttpProblem(400, f"file {f.name!r} not uploaded or its sha256 differs from the metadata")
    latest = request.store.latest_release(model)
    if latest is not None:
        current = json.loads(latest)["signed"]["version"]
        if version <= current:
            raise HttpProblem(409, f"version {version} is not newer than the published {current}")
    request.store.put_release(model, version, request.body)
    return Response.json(200, {"model": model, "version": version})


def post_release_report(request: Request) -> Response:
    report = parse_body(request, ReleaseReport)
    request.store.add_report(request.params["store"], report.model_dump())
    return Response.json(200, {"stored": True})


def _require_json(body: bytes) -> None:
    try:
        json.loads(body)
    except ValueError:
        raise HttpProblem(400, "body is not JSON") from None


def _day(request: Request) -> str:
    day = request.params["day"]
    if not _DAY.match(day):
        raise HttpProblem(400, f"day must look like 2026-11-23, got {day!r}")
    return day


def _release_params(request: Request, with_name: bool = True) -> tuple[str, int, str]:
    try:
        version = int(request.params["version"])
    except ValueError:
        raise HttpProblem(400, "version must be an integer") from None
    name = request.params.get("name", "")
    if with_name and not _NAME.match(name):
        raise HttpProblem(400, f"bad file name {name!r}")
    return request.params["model"], version, name


ROUTES: list[Route] = [
    Route("GET", "/v1/health", health, "Liveness of the backend.", auth="none"),
    Route(
        "POST",
        "/v1/stores/{store}/events",
        post_events,
        "Receive a batch of gateway events; each idempotency key is stored once.",
        body=EventsBatch,
        answer=EventsResult,
    ),
    Route(
        "GET",
        "/v1/stores/{store}/events",
        get_events,
        "Read stored events in arrival order (?after=cursor&limit=&stream=).",
        auth="admin",
        answer=EventsPage,
    ),
    Route(
        "GET",
        "/v1/stores/{store}/customer-keys/{day}",
        get_keys,
        "Consented customer keys of the store for one day (conditional GET with If-None-Match).",
        raw_content="application/json",
        statuses=(200, 304),
    ),
    Route(
        "PUT",
        "/v1/stores/{store}/customer-keys/{day}",
        put_keys,
        "Set the consented customer keys of a store for one day.",
        auth="admin",
        raw_content="application/json",
    ),
    Route(
        "GET",
        "/v1/stores/{store}/{resource}",
        get_resource,
        "Catalogue, planogram or campaigns of a store (conditional GET with If-None-Match).",
        raw_content="application/json",
        statuses=(200, 304),
    ),
    Route(
        "PUT",
        "/v1/stores/{store}/{resource}",
        put_resource,
        "Replace the catalogue, planogram or campaigns of a store (new ETag).",
        auth="admin",
        raw_content="application/json",
    ),
    Route(
        "POST",
        "/v1/stores/{store}/releases/report",
        post_release_report,
        "A gateway reports what it did with a model release.",
        body=ReleaseReport,
    ),
    Route(
        "GET",
        "/v1/releases/{model}/latest",
        latest_release,
        "Signed metadata of the newest release of a model.",
        answer=ReleaseMetadata,
    ),
    Route(
        "PUT",
        "/v1/releases/{model}/{version}/files/{name}",
        put_release_file,
        "Upload one file of a release (X-Sha256 header checked).",
        auth="admin",
        raw_content="application/octet-stream",
    ),
    Route(
        "GET",
        "/v1/releases/{model}/{version}/files/{name}",
        get_release_file,
        "Download one file of a release; supports 'Range: bytes=N-' to resume.",
        raw_content="application/octet-stream",
        statuses=(200, 206),
    ),
    Route(
        "POST",
        "/v1/releases/{model}/{version}",
        post_release,
        "Publish signed metadata for uploaded files; the version must be newer than the last.",
        auth="admin",
        body=ReleaseMetadata,
    ),
    # gateway provisioning and health reports (simulators/backend/gateway_ops.py)
    Route(
        "POST",
        "/v1/enrollments",
        gateway_ops.post_enrollment,
        "Create a one-time enrollment code for a gateway, with its initial config.",
        auth="admin",
        body=gateway_ops.EnrollmentIn,
    ),
    Route(
        "POST",
        "/v1/provision",
        gateway_ops.post_provision,
        "A gateway exchanges its enrollment code for its store id, token, release key and config (idempotent).",
        auth="none",
        body=gateway_ops.ProvisionIn,
        answer=gateway_ops.ProvisionOut,
    ),
    Route(
        "POST",
        "/v1/stores/{store}/gateways/{gateway}/health",
        gateway_ops.post_health,
        "A gateway's periodic health report (the newest one per gateway is kept).",
        body=gateway_ops.HealthReportIn,
    ),
    Route(
        "GET",
        "/v1/health-reports",
        gateway_ops.get_health_reports,
        "Newest health report of every gateway, for central IT.",
        auth="admin",
    ),
]
