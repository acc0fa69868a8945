"""Revocation deletes a shopper's stored events and outbox rows, and nothing else."""

from __future__ import annotations

from pathlib import Path

from edge.presence.privacy import forget_shoppers
from edge.store.db import open_database
from edge.store.events_repo import EventStore
from edge.store.migrations import MIGRATIONS


def test_forget_shoppers_deletes_their_rows_only(tmp_path: Path) -> None:
    db = open_database(tmp_path / "edge.db", MIGRATIONS)
    store = EventStore(db)
    store.append("presence", "arrival", "e1", 1.0, {"shopper": "sh-1", "gondola": 1, "shelf": 1})
    store.append("basket", "pick", "e2", 2.0, {"shopper": "sh-2", "product_id": "p"})
    store.append("basket", "pick", "e3", 3.0, {"shopper": None, "product_id": "p"})
    store.append("presence", "departure", "e4", 4.0, {"shopper": "sh-1", "gondola": 1, "shelf": 1})
    db.execute("CREATE TABLE extra (shopper TEXT, note TEXT)")
    db.execute("INSERT INTO extra VALUES ('sh-1', 'x'), ('sh-3', 'y')")
    deleted = forget_shoppers(db, ["sh-1", "sh-9"])
    assert deleted == {"events": 2, "outbox": 2, "extra": 1}
    remaining = [r[0] for r in db.execute("SELECT event_id FROM events ORDER BY event_id").fetchall()]
    assert remaining == ["e2", "e3"]
    assert store.pending_outbox() == 2
    assert db.execute("SELECT shopper FROM extra").fetchall() == [("sh-3",)]
    assert forget_shoppers(db, []) == {}
