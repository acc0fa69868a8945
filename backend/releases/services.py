"""Model releases: files (on disk), signed metadata, and what each gateway did with them."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.admin.services import SYSTEM_ACTOR, audit
from backend.db.models import Release, ReleaseFile, ReleaseReport
from backend.errors import Conflict, Invalid, NotFound
from backend.releases.schemas import ReleaseReportIn
from backend.releases.storage import StoredFile
from edge.sync.release_meta import ReleaseMetadata

_NAME = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_MODEL = re.compile(r"^[a-z0-9-]{1,64}$")


def check_names(model: str, version: str, name: str | None = None) -> int:
    """The version as an integer; refuses a model or file name that could leave the release folder."""
    if not _MODEL.match(model):
        raise Invalid(f"bad model name {model!r}")
    try:
        number = int(version)
    except ValueError:
        raise Invalid("version must be an integer") from None
    if number < 1:
        raise Invalid("version must be 1 or more")
    if name is not None and (not _NAME.match(name) or name.startswith(".")):
        raise Invalid(f"bad file name {name!r}")
    return number


def record_file(
    *, session: Session, model: str, version: int, name: str, stored: StoredFile, actor: str = SYSTEM_ACTOR
) -> None:
    """Remember an uploaded file (the bytes are already in place on disk). Audited."""
    row = session.get(ReleaseFile, (model, version, name))
    if row is None:
        row = ReleaseFile(model=model, version=version, name=name)
        session.add(row)
    row.sha256, row.size, row.path, row.uploaded_at = stored.sha256, stored.size, stored.relative, time.time()
    audit(
        session=session,
        actor=actor,
        action="release.file",
        target=f"{model}/{version}/{name}",
        detail={"sha256": stored.sha256, "size": stored.size},
    )
    session.commit()


def file_hashes(*, session: Session, model: str, version: int) -> dict[str, str]:
    rows = session.execute(
        select(ReleaseFile.name, ReleaseFile.sha256).where(
            ReleaseFile.model == model, ReleaseFile.version == version
        )
    ).all()
    return {name: sha for name, sha in rows}


def file_on_disk(
    *, session: Session, data_dir: Path, model: str, version: int, name: str
) -> tuple[Path, int]:
    row = session.get(ReleaseFile, (model, version, name))
    if row is None:
        raise NotFound(f"release {model} v{version} has no file {name!r}")
    path = data_dir / row.path
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise NotFound(f"release {model} v{version}: file {name!r} is missing on the server") from None
    return path, size


def latest(*, session: Session, model: str) -> bytes | None:
    """The signed metadata of the newest release of ``model``, exactly as published."""
    row = session.scalars(
        select(Release).where(Release.model == model).order_by(Release.version.desc()).limit(1)
    ).first()
    return None if row is None else bytes(row.metadata_json)


def publish(
    *, session: Session, model: str, version: int, metadata: bytes, actor: str = SYSTEM_ACTOR
) -> None:
    """Publish signed metadata: it must name this release, match the uploaded files, and be newer."""
    try:
        meta = ReleaseMetadata.model_validate_json(metadata or b"null")
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "<body>"
        raise Invalid(f"{where}: {first['msg']}") from None
    if meta.signed.model != model or meta.signed.version != version:
        raise Invalid(f"metadata is for {meta.signed.model} v{meta.signed.version}, not {model} v{version}")
    uploaded = file_hashes(session=session, model=model, version=version)
    for f in meta.signed.files:
        if uploaded.get(f.name) != f.sha256:
            raise Invalid(f"file {f.name!r} not uploaded or its sha256 differs from the metadata")
    current = latest(session=session, model=model)
    if current is not None:
        published = int(orjson.loads(current)["signed"]["version"])
        if version <= published:
            raise Conflict(f"version {version} is not newer than the published {published}")
    store_metadata(session=session, model=model, version=version, metadata=metadata, actor=actor)


def store_metadata(
    *, session: Session, model: str, version: int, metadata: bytes, actor: str = SYSTEM_ACTOR
) -> None:
    """Keep ``metadata`` as the release's (no checks: :func:`publish` checks). Audited."""
    row = session.get(Release, (model, version))
    if row is None:
        session.add(Release(model=model, version=version, metadata_json=metadata, created_at=time.time()))
    else:
        row.metadata_json = metadata
    audit(session=session, actor=actor, action="release.publish", target=f"{model}/{version}", detail={})
    session.commit()


def add_report(*, session: Session, store_id: str, report: ReleaseReportIn) -> None:
    session.add(
        ReleaseReport(
            store_id=store_id,
            model=report.model,
            version=report.version,
            outcome=report.outcome,
            detail=report.detail,
            at=report.at,
            received_at=time.time(),
        )
    )
    session.commit()


def reports(*, session: Session, store_id: str | None = None) -> list[dict[str, Any]]:
    query = select(ReleaseReport)
    if store_id:
        query = query.where(ReleaseReport.store_id == store_id)
    return [
        {
            "store": r.store_id,
            "model": r.model,
            "version": r.version,
            "outcome": r.outcome,
            "detail": r.detail,
            "at": r.at,
        }
        for r in session.scalars(query.order_by(ReleaseReport.id))
    ]
