"""EventStore when the database cannot take writes: bounded hold, replays, order, counters, recovery.

A full database is made with ``PRAGMA max_page_count`` (SQLite answers SQLITE_FULL exactly as for a
full disk); the real full disk and the deleted file are in tests/integration/test_store_faults.py.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from edge import telemetry
from edge.store.db import open_database
from edge.store.events_repo import EventStore
from edge.store.faults import classify


def full(store: EventStore) -> None:
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count = {pages}")


def room(store: EventStore) -> None:
    store.db.execute("PRAGMA max_page_count = 1073741823")


def append(store: EventStore, i: int) -> bool:
    return store.append("basket", "pick", f"e{i:03d}", float(i), {"i": i, "pad": "x" * 2000})


def test_full_database_holds_events_in_order_and_writes_them_later(tmp_path: Path, caplog) -> None:
    store = EventStore(open_database(tmp_path / "edge.db"), hold_max=100)
    failures = telemetry.value(telemetry.STORE_WRITE_FAILURES, reason="disk_full")
    assert append(store, 0)
    full(store)
    with caplog.at_level(logging.INFO, logger="edge.store"):
        assert all(append(store, i) for i in range(1, 11))  # no exception: the caller goes on
        assert not append(store, 5)  # a replay of a held event is still recognised
        assert not append(store, 0)  # and of a stored one
        health = store.health()
        assert not health["ok"] and health["reason"] == "disk_full" and health["held"] == 10
        assert "free space" in health["fix"]
        assert telemetry.value(telemetry.STORE_HELD_EVENTS) == 10
        assert telemetry.value(telemetry.STORE_WRITE_FAILURES, reason="disk_full") - failures == 10
        store.maintain()  # still full: nothing written, nothing lost
        assert store.health()["held"] == 10 and store.count() == 1
        room(store)
        store.maintain()
    assert store.health()["ok"] and store.count() == 11 and store.pending_outbox() == 11
    order = [r[0] for r in store.db.execute("SELECT idempotency_key FROM outbox ORDER BY id")]
    assert order == [f"e{i:03d}" for i in range(11)]
    assert telemetry.value(telemetry.STORE_HELD_EVENTS) == 0
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines  # one when it starts, one when it ends
    assert "cannot take writes (disk_full" in lines[0]
    assert "10 held events written, 0 dropped" in lines[1]


def test_the_hold_is_bounded_and_counts_what_it_drops(tmp_path: Path) -> None:
    store = EventStore(open_database(tmp_path / "edge.db"), hold_max=5)
    dropped = telemetry.value(telemetry.STORE_HELD_DROPPED)
    assert append(store, 0)
    full(store)
    for i in range(1, 9):
        append(store, i)
    health = store.health()
    assert health["held"] == 5 and health["dropped"] == 3
    assert telemetry.value(telemetry.STORE_HELD_DROPPED) - dropped == 3
    room(store)
    store.maintain()
    # The oldest ones are kept: what is stored has no gap, the newest three are the loss (counted).
    assert [r[0] for r in store.db.execute("SELECT event_id FROM events ORDER BY event_id")] == [
        f"e{i:03d}" for i in range(6)
    ]


def test_deleted_file_is_recreated_from_the_open_copy(tmp_path: Path) -> None:
    path = tmp_path / "edge.db"
    store = EventStore(open_database(path))
    for i in range(3):
        append(store, i)
    other = open_database(path)  # the sync task's own connection
    for name in ("edge.db", "edge.db-wal", "edge.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    assert append(store, 3)  # noticed at once: held, not written into the deleted file
    assert store.health()["reason"] == "deleted" and store.health()["held"] == 1
    store.maintain()
    assert store.health()["ok"] and path.exists()
    other.conn.close()  # an old connection closing never removes the new file's write-ahead log
    store.close()
    reopened = open_database(path)
    assert reopened.execute("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL").fetchone()[0] == 4


def test_deleted_write_ahead_log_is_noticed_and_nothing_in_it_lost(tmp_path: Path) -> None:
    path = tmp_path / "edge.db"
    store = EventStore(open_database(path))
    for i in range(3):
        append(store, i)  # committed into the write-ahead log, not yet into edge.db
    (tmp_path / "edge.db-wal").unlink()
    assert append(store, 3)
    assert store.health()["reason"] == "deleted"
    store.maintain()
    assert store.health()["ok"]
    # What a restart after a crash (no clean close, no checkpoint) would find in the file:
    after_crash = open_database(path)
    assert after_crash.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 4
    after_crash.conn.close()
    store.close()


def test_replaced_file_is_kept_and_gets_the_events(tmp_path: Path) -> None:
    path = tmp_path / "edge.db"
    store = EventStore(open_database(path))
    for i in range(3):
        append(store, i)
    os.replace(_other_database(tmp_path), path)  # someone swaps the file under the daemon
    assert append(store, 3)
    assert store.health()["reason"] == "replaced"
    store.maintain()
    assert store.health()["ok"]
    ids = {r[0] for r in store.db.execute("SELECT event_id FROM events")}
    assert ids == {"x-1", "e000", "e001", "e002", "e003"}


def _other_database(tmp_path: Path) -> Path:
    other = tmp_path / "other.db"
    db = open_database(other)
    EventStore(db).append("basket", "pick", "x-1", 1.0, {})
    db.conn.close()
    return other


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("database or disk is full", "disk_full"),
        ("disk I/O error", "io_error"),
        ("attempt to write a readonly database", "read_only"),
        ("database disk image is malformed", "corrupt"),
        ("something else", "error"),
    ],
)
def test_errors_are_classified_by_their_text_when_they_carry_no_code(message: str, reason: str) -> None:
    import sqlite3

    assert classify(sqlite3.OperationalError(message)) == reason


def test_events_held_at_stop_are_kept_for_the_next_start(tmp_path: Path) -> None:
    spill = tmp_path / "run" / "held-events.jsonl"
    store = EventStore(open_database(tmp_path / "edge.db"), spill=spill)
    assert append(store, 0)
    full(store)
    for i in range(1, 4):
        append(store, i)
    store.close()  # stopped while the disk is still full (systemctl restart, an upgrade)
    assert len(spill.read_text().splitlines()) == 3

    # The next start: the file still full at first, then room.
    db = open_database(tmp_path / "edge.db")
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages}")
    store = EventStore(db, spill=spill)
    assert store.health()["held"] == 3 and store.health()["reason"] == "disk_full"
    assert append(store, 4) and not append(store, 2)  # new events queue behind; replays still known
    room(store)
    store.maintain()
    assert store.health()["ok"] and not spill.exists()
    order = [r[0] for r in store.db.execute("SELECT idempotency_key FROM outbox ORDER BY id")]
    assert order == [f"e{i:03d}" for i in range(5)]
