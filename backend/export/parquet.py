"""``shelf-backend export --since DAY --out DIR``: raw events as Parquet for the central analytics.

Layout (hive partitioning, the only input of the analytics and model jobs)::

    DIR/day=2026-11-30/store=store-001/part-<batch>-<n>.parquet

``day`` is the UTC day of the event's own time ``t`` (not of its arrival). Re-exporting replaces the
partitions of ``--since`` and later, so a nightly ``--since yesterday`` picks up late arrivals.
Events are read in ``seq`` order in batches (keyset pagination), never all in memory. The schema
(:data:`SCHEMA`) is documented in backend/README.md.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.dataset as ds
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.models import Event

SCHEMA = pa.schema(
    [
        pa.field("seq", pa.int64(), nullable=False),
        pa.field("idempotency_key", pa.string(), nullable=False),
        pa.field("stream", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("t", pa.float64(), nullable=False),
        pa.field("event_time", pa.timestamp("ms", tz="UTC"), nullable=False),
        pa.field("shopper", pa.string()),
        pa.field("payload", pa.string(), nullable=False),
        pa.field("received_at", pa.timestamp("ms", tz="UTC"), nullable=False),
        pa.field("day", pa.string(), nullable=False),
        pa.field("store", pa.string(), nullable=False),
    ]
)
PARTITIONING = ds.partitioning(pa.schema([("day", pa.string()), ("store", pa.string())]), flavor="hive")
BATCH = 50_000


@dataclass(frozen=True, slots=True)
class Exported:
    events: int
    partitions: int
    files: int


def _day(t: float) -> str:
    return dt.datetime.fromtimestamp(t, tz=dt.UTC).date().isoformat()


def _table(rows: list[Event]) -> pa.Table:
    columns: dict[str, list[Any]] = {f.name: [] for f in SCHEMA}
    for r in rows:
        payload = r.payload if isinstance(r.payload, dict) else {}
        shopper = payload.get("shopper")
        columns["seq"].append(r.seq)
        columns["idempotency_key"].append(r.idempotency_key)
        columns["stream"].append(r.stream)
        columns["kind"].append(r.kind)
        columns["t"].append(r.t)
        columns["event_time"].append(round(r.t * 1000))
        columns["shopper"].append(shopper if isinstance(shopper, str) else None)
        columns["payload"].append(orjson.dumps(r.payload).decode())
        columns["received_at"].append(round(r.received_at * 1000))
        columns["day"].append(_day(r.t))
        columns["store"].append(r.store_id)
    return pa.table(columns, schema=SCHEMA)


def export_events(*, session: Session, since: dt.date, out: Path, batch: int = BATCH) -> Exported:
    """Write events with ``t`` on or after ``since`` (UTC) under ``out``; replaces those partitions."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("day=*"):
        if old.is_dir() and old.name.removeprefix("day=") >= since.isoformat():
            shutil.rmtree(old)
    since_t = dt.datetime.combine(since, dt.time(), tzinfo=dt.UTC).timestamp()
    after = 0
    events = 0
    n = 0
    while True:
        rows = session.scalars(
            select(Event).where(Event.seq > after, Event.t >= since_t).order_by(Event.seq).limit(batch)
        ).all()
        if not rows:
            break
        ds.write_dataset(
            _table(list(rows)),
            out,
            format="parquet",
            partitioning=PARTITIONING,
            basename_template=f"part-{n}-{{i}}.parquet",
            existing_data_behavior="overwrite_or_ignore",
        )
        events += len(rows)
        after = rows[-1].seq
        n += 1
        session.expunge_all()
    files = sorted(out.glob("day=*/store=*/*.parquet"))
    partitions = {f.parent for f in files}
    return Exported(events, len(partitions), len(files))
