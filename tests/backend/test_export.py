"""``shelf-backend export``: events as Parquet partitioned by day and store, on both databases."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from sqlalchemy import update

from backend.cli import main
from backend.db.models import Event
from backend.export.parquet import SCHEMA
from tests.backend.conftest import ADMIN, STORE, Service

pytestmark = pytest.mark.integration

DAY1 = dt.datetime(2026, 11, 28, 23, 59, 59, tzinfo=dt.UTC).timestamp()
DAY2 = DAY1 + 2.0  # 2026-11-29 00:00:01


def post(service: Service, store: str, token: str, events: list[dict[str, object]]) -> None:
    answer = service.gateway.post(
        f"{service.url}/v1/stores/{store}/events",
        json={"events": events},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    assert answer.ok, answer.text


def test_export_partitions_by_day_and_store(
    service: Service, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    post(service, STORE, ADMIN, [
        {"idempotency_key": "old", "stream": "basket", "kind": "pick", "t": DAY1 - 86400, "payload": {}},
        {"idempotency_key": "a", "stream": "basket", "kind": "pick", "t": DAY1, "payload": {"shopper": "sh-1", "product_id": "p1"}},
        {"idempotency_key": "b", "stream": "offers", "kind": "offer", "t": DAY1 - 30, "payload": {"shopper": None}},
    ])  # fmt: skip
    post(
        service,
        "store-2",
        ADMIN,
        [{"idempotency_key": "c", "stream": "basket", "kind": "put", "t": DAY2, "payload": {}}],
    )
    post(
        service,
        STORE,
        ADMIN,
        [{"idempotency_key": "a", "stream": "basket", "kind": "pick", "t": DAY1, "payload": {}}],
    )
    # arrival days: "b" came late, with the next day's events (its gateway was offline)
    arrived = {"old": DAY1 - 86400, "a": DAY1, "b": DAY2, "c": DAY2}
    with service.view.sessions() as session:
        for key, at in arrived.items():
            session.execute(update(Event).where(Event.idempotency_key == key).values(received_at=at))
        session.commit()
    monkeypatch.setenv("SHELF_BACKEND_DATABASE_URL", service.settings.database_url)
    monkeypatch.setenv("SHELF_BACKEND_DATA_DIR", str(service.settings.data_dir))
    out = tmp_path / "export"
    assert main(["export", "--since", "2026-11-28", "--out", str(out)]) == 0
    assert "3 events since 2026-11-28" in capsys.readouterr().out
    events = out / "events"
    assert sorted(str(p.relative_to(events).parent) for p in events.rglob("*.parquet")) == [
        "day=2026-11-28/store_id=store-1",
        "day=2026-11-29/store_id=store-1",
        "day=2026-11-29/store_id=store-2",
    ]
    table = ds.dataset(events, format="parquet", partitioning="hive").to_table().sort_by("idempotency_key")
    rows = table.to_pylist()
    assert [(r["idempotency_key"], r["day"], r["store_id"], r["deliveries"]) for r in rows] == [
        ("a", "2026-11-28", STORE, 2),
        ("b", "2026-11-29", STORE, 1),
        ("c", "2026-11-29", "store-2", 1),
    ]
    assert rows[0]["shopper"] == "sh-1" and rows[1]["shopper"] is None
    assert orjson.loads(rows[0]["payload"]) == {"shopper": "sh-1", "product_id": "p1"}
    assert rows[0]["t"] == dt.datetime(2026, 11, 28, 23, 59, 59, tzinfo=dt.UTC)
    file_schema = pq.read_schema(next(events.glob("day=2026-11-28/store_id=store-1/*.parquet")))
    assert file_schema.names == [f.name for f in SCHEMA if f.name not in ("day", "store_id")]

    # re-export replaces the partitions it covers (no duplicate from the first run)
    assert main(["export", "--since", "2026-11-29", "--out", str(out)]) == 0
    again = ds.dataset(events, format="parquet", partitioning="hive").to_table()
    assert sorted(again.column("idempotency_key").to_pylist()) == ["a", "b", "c"]
    with pytest.raises(SystemExit) as bad:
        main(["export", "--since", "2026-13-01", "--out", str(out)])
    assert bad.value.code == 2 and "not a day (YYYY-MM-DD): '2026-13-01'" in capsys.readouterr().err
