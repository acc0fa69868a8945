"""``shelf-backend export --since DAY --out DIR``: raw events as Parquet for the central analytics.

Layout (hive partitioning, the only input of the analytics and model jobs)::

    DIR/events/day=2026-11-30/store_id=store-001/part-<batch>-<n>.parquet

``day`` is the UTC day the service received the event (``received_at``), so a day's partitions
never change once the day is over: late events of a gateway that was offline land in the day they
arrived, and a nightly ``--since yesterday`` is complete. Re-exporting replaces the partitions of
``--since`` and later. Events are read in ``seq`` order in batches (keyset pagination), never all in
memory. The schema (:data:`SCHEMA`) is documented in backend/README.md.
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

TS = pa.timestamp("us", tz="UTC")
SCHEMA = pa.schema(
    [
        pa.field("seq", pa.int64(), nullable=False),
        pa.field("idempotency_key", pa.string(), nullable=False),
        pa.field("stream", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("t", TS, nullable=False),
        pa.field("received_at", TS, nullable=False),
        pa.field("deliveries", pa.int32(), nullable=False),
        pa.field("shopper", pa.string()),
        pa.field("payload", pa.string(), nullable=False),
        pa.field("day", pa.string(), nullable=False),
        pa.field("store_id", pa.string(), nullable=False),
    ]
)
PARTITIONING = ds.partitioning(pa.schema([("day", pa.string()), ("store_id", pa.string())]), flavor="hive")
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
        columns["t"].append(round(r.t * 1e6))
        columns["received_at"].append(round(r.received_at * 1e6))
        columns["deliveries"].append(r.deliveries)
        columns["shopper"].append(shopper if isinstance(shopper, str) else None)
        columns["payload"].append(orjson.dumps(r.payload).decode())
        columns["day"].append(_day(r.received_at))
        columns["store_id"].append(r.store_id)
    return pa.table(columns, schema=SCHEMA)


def export_events(*, session: Session, since: dt.date, out: Path, batch: int = BATCH) -> Exported:
    """Write events received on or after ``since`` (UTC) under ``out/events``; replaces those partitions."""
    out = out / "events"
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
            select(Event)
            .where(Event.seq > after, Event.received_at >= since_t)
            .order_by(Event.seq)
            .limit(batch)
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
    files = sorted(out.glob("day=*/store_id=*/*.parquet"))
    partitions = {f.parent for f in files}
    return Exported(events, len(partitions), len(files))
