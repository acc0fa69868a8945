"""The service's tables (SQLAlchemy 2, typed). API bodies live apart, in backend/<area>/schemas.py.

Same tables on PostgreSQL and SQLite; the migrations in backend/migrations/ create them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeEngine

# PostgreSQL keeps JSON as jsonb; SQLite as text.
JsonDoc = JSON().with_variant(JSONB(), "postgresql")


# Opaque identifiers compare byte-wise on PostgreSQL (COLLATE "C"): index inserts do not pay for the
# database's locale (en_US.UTF-8 comparisons are several times slower).
def Key(length: int) -> TypeEngine[str]:
    return String(length).with_variant(String(length, collation="C"), "postgresql")


# BIGINT identity on PostgreSQL, INTEGER PRIMARY KEY (the rowid) on SQLite.
SeqId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """The service's tables (one metadata, which Alembic's autogenerate and the tests compare)."""


class Store(Base):
    """A store of the chain (gateway tokens, documents and events belong to one)."""

    __tablename__ = "stores"

    store_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[float] = mapped_column(Float)


class ApiToken(Base):
    """A bearer token, kept as the sha256 of its text; role admin (any store) or gateway (one store)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(SeqId, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    store_id: Mapped[str | None] = mapped_column(ForeignKey("stores.store_id"), default=None)
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[float] = mapped_column(Float)
    revoked_at: Mapped[float | None] = mapped_column(Float, default=None)


class AuditEntry(Base):
    """One admin change: who (token id and label), what, on what, when."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(SeqId, primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(Float, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(400))
    detail: Mapped[dict[str, Any]] = mapped_column(JsonDoc)


class Event(Base):
    """A gateway event, stored once per (store, idempotency key); ``seq`` is the arrival order."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("store_id", "idempotency_key", name="uq_events_store_key"),
        Index("ix_events_store_seq", "store_id", "seq"),
    )

    seq: Mapped[int] = mapped_column(SeqId, primary_key=True, autoincrement=True)
    store_id: Mapped[str] = mapped_column(Key(64))
    idempotency_key: Mapped[str] = mapped_column(Key(200))
    stream: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(64))
    t: Mapped[float] = mapped_column(Float)
    payload: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    received_at: Mapped[float] = mapped_column(Float)
    deliveries: Mapped[int] = mapped_column(Integer, default=1)


class Resource(Base):
    """A per-store JSON document served with an ETag (catalogue, planogram, campaigns, keys of a day)."""

    __tablename__ = "resources"

    store_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    etag: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[float] = mapped_column(Float)


class Release(Base):
    """Published signed metadata of one model release (the bytes exactly as signed)."""

    __tablename__ = "releases"

    model: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    metadata_json: Mapped[bytes] = mapped_column("metadata", LargeBinary)
    created_at: Mapped[float] = mapped_column(Float)


class ReleaseFile(Base):
    """One uploaded file of a release; the bytes are a file under settings.data_dir, not a BLOB."""

    __tablename__ = "release_files"

    model: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    path: Mapped[str] = mapped_column(Text)
    uploaded_at: Mapped[float] = mapped_column(Float)


class ReleaseReport(Base):
    """What a gateway did with a release (activated, kept, reverted, refused, failed)."""

    __tablename__ = "release_reports"

    id: Mapped[int] = mapped_column(SeqId, primary_key=True, autoincrement=True)
    store_id: Mapped[str] = mapped_column(String(64), index=True)
    model: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text)
    at: Mapped[float] = mapped_column(Float)
    received_at: Mapped[float] = mapped_column(Float)


class Enrollment(Base):
    """A one-time code that provisions one gateway of a store."""

    __tablename__ = "enrollments"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    store_id: Mapped[str] = mapped_column(ForeignKey("stores.store_id"))
    gateway_id: Mapped[str] = mapped_column(String(64))
    config: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    release_public_key: Mapped[str | None] = mapped_column(Text, default=None)
    fingerprint: Mapped[str | None] = mapped_column(String(128), default=None)
    token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id"), default=None)
    created_at: Mapped[float] = mapped_column(Float)
    used_at: Mapped[float | None] = mapped_column(Float, default=None)


class HealthReport(Base):
    """The newest health report of each gateway."""

    __tablename__ = "health_reports"

    store_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    gateway_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[float] = mapped_column(Float)
    report: Mapped[dict[str, Any]] = mapped_column(JsonDoc)


class RateCount(Base):
    """Attempts of one client at one limited operation within one fixed window (backend/ratelimit.py
    weighs the previous window's into a sliding count); shared by every worker process. Rows older
    than the previous window are deleted as new ones are counted."""

    __tablename__ = "rate_counts"

    key: Mapped[str] = mapped_column(Key(120), primary_key=True)
    window_no: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)
