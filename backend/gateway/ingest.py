"""Idempotent event ingest: ONE statement per batch on PostgreSQL, one transaction on SQLite.

PostgreSQL: ``INSERT ... SELECT FROM unnest(arrays) ON CONFLICT DO UPDATE SET deliveries + 1
RETURNING`` - the rows travel as 5 arrays in binary (psycopg), no per-event ORM object, no per-event
round trip.
SQLite (development): the same upsert per row inside one ``BEGIN IMMEDIATE`` transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import orjson
from sqlalchemy import text
from sqlalchemy.orm import Session

from backend.gateway.schemas import EventIn

_PG_UPSERT = (
    "INSERT INTO events (store_id, idempotency_key, stream, kind, t, payload, received_at, deliveries) "
    "SELECT %b, k, st, ki, t, p::jsonb, %b, 1 FROM unnest(%b::text[], %b::text[], %b::text[], "
    "%b::float8[], %b::text[]) AS u(k, st, ki, t, p) "
    "ON CONFLICT (store_id, idempotency_key) DO UPDATE SET deliveries = events.deliveries + 1 "
    "RETURNING idempotency_key, deliveries"
)

_SQLITE_UPSERT = text(
    "INSERT INTO events (store_id, idempotency_key, stream, kind, t, payload, received_at, deliveries) "
    "VALUES (:store, :key, :stream, :kind, :t, :payload, :received, 1) "
    "ON CONFLICT (store_id, idempotency_key) DO UPDATE SET deliveries = deliveries + 1 "
    "RETURNING deliveries"
)


@dataclass(frozen=True, slots=True)
class Ingested:
    accepted: list[str]
    duplicates: list[str]


def ingest(*, session: Session, store_id: str, events: Sequence[EventIn], now: float) -> Ingested:
    """Store each event once per (store, key) and count resends; keys must be unique in ``events``.

    The caller commits. Answers keep the order of ``events``.
    """
    if not events:
        return Ingested([], [])
    if session.get_bind().dialect.name == "postgresql":
        # psycopg directly, binary parameters: arrays of text travel without quoting or escaping
        driver = session.connection().connection.driver_connection
        assert driver is not None  # a checked-out connection always has one
        with driver.cursor() as cur:
            cur.execute(
                _PG_UPSERT,
                (
                    store_id,
                    now,
                    [e.idempotency_key for e in events],
                    [e.stream for e in events],
                    [e.kind for e in events],
                    [e.t for e in events],
                    [orjson.dumps(e.payload).decode() for e in events],
                ),
            )
            fresh = {key for key, deliveries in cur.fetchall() if deliveries == 1}
    else:
        fresh = set()
        for e in events:
            deliveries = session.execute(
                _SQLITE_UPSERT,
                {
                    "store": store_id,
                    "key": e.idempotency_key,
                    "stream": e.stream,
                    "kind": e.kind,
                    "t": e.t,
                    "payload": orjson.dumps(e.payload).decode(),
                    "received": now,
                },
            ).scalar_one()
            if deliveries == 1:
                fresh.add(e.idempotency_key)
    accepted = [e.idempotency_key for e in events if e.idempotency_key in fresh]
    duplicates = [e.idempotency_key for e in events if e.idempotency_key not in fresh]
    return Ingested(accepted, duplicates)
