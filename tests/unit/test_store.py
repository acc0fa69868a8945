import pytest

from edge.errors import MigrationError
from edge.store.db import current_version, open_database
from edge.store.events_repo import EventStore
from edge.store.migrations import MIGRATIONS, Migration


def test_migrations_apply_once_and_use_wal(tmp_path):
    db = open_database(tmp_path / "edge.db")
    assert current_version(db) == max(m.version for m in MIGRATIONS)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    db.conn.close()
    again = open_database(tmp_path / "edge.db")
    assert {"events", "outbox"} <= set(again.table_names())


def test_newer_schema_is_refused(tmp_path):
    extra = (*MIGRATIONS, Migration(999, "future", ("CREATE TABLE future (x)",)))
    open_database(tmp_path / "edge.db", extra).conn.close()
    with pytest.raises(MigrationError, match="newer than this software"):
        open_database(tmp_path / "edge.db")


def test_failed_migration_rolls_back(tmp_path):
    bad = (*MIGRATIONS, Migration(998, "broken", ("CREATE TABLE ok (x)", "CREATE TABLE events (x)")))
    with pytest.raises(MigrationError, match="broken"):
        open_database(tmp_path / "edge.db", bad)
    db = open_database(tmp_path / "edge.db")
    assert "ok" not in db.table_names()


def test_event_and_outbox_row_written_together(tmp_path):
    store = EventStore(open_database(tmp_path / "edge.db"))
    assert store.append("basket", "pick", "e1", 10.0, {"product_id": "p"})
    assert not store.append("basket", "pick", "e1", 10.0, {"product_id": "p"})
    assert store.count() == 1
    assert store.pending_outbox() == 1


def test_appends_from_several_threads_are_all_kept(tmp_path):
    import threading

    store = EventStore(open_database(tmp_path / "edge.db"))

    def write(prefix: str) -> None:
        for i in range(200):
            assert store.append("acks", "shown", f"{prefix}-{i}", float(i), {"i": i})

    threads = [threading.Thread(target=write, args=(f"t{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.count() == 800
    assert store.pending_outbox() == 800
