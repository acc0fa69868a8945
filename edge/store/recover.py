"""Bringing the database back after its file was deleted or replaced under the running daemon.

The daemon's connection still reaches the deleted file (the open file descriptor keeps it alive until
it is closed), so nothing in it is lost yet: :func:`restore_deleted` copies it whole with SQLite's
online backup into a new file beside the path and renames that into place (atomic: another
connection never sees a half-written file). The old file's ``-wal``/``-shm`` names are removed first,
so the new database never picks up the old one's write-ahead log. SQLite itself never checkpoints or
deletes a WAL through a connection whose file has moved, so closing the old connection afterwards
leaves the new file alone.

When another file now sits at the path (:func:`merge_into`), it is kept and the old connection's
events and outbox rows are copied into it (``INSERT OR IGNORE``: event ids are deterministic, so a row
already there is the same event).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from pathlib import Path

import sqlite_utils

from edge.store.db import open_database

log = logging.getLogger("edge.store")

_EVENT_COLUMNS = "event_id, stream, kind, t, payload"
_OUTBOX_COLUMNS = (
    "stream, idempotency_key, kind, payload, created_at, attempts, next_attempt_at, sent_at, "
    "last_error, dead_at"
)


def restore_deleted(old: sqlite3.Connection, path: Path) -> sqlite_utils.Database:
    """Recreate the deleted database at ``path`` from the still-open ``old`` connection; open and migrate it.

    Raises sqlite3.Error or OSError when it cannot (a full disk): nothing has changed then, try again later.
    """
    tmp = path.with_name(path.name + ".restoring")
    _remove(tmp)
    try:
        target = sqlite3.connect(str(tmp), isolation_level=None)
        try:
            old.backup(target)
        finally:
            target.close()
        for suffix in ("-wal", "-shm"):
            _remove(path.with_name(path.name + suffix))
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        _remove(tmp.with_name(tmp.name + "-journal"))
        raise
    _fsync_dir(path.parent)
    return open_database(path, check=False)


def merge_into(old: sqlite3.Connection, path: Path) -> tuple[sqlite_utils.Database, int]:
    """Open (migrating) the database now at ``path`` and copy in the events and outbox rows of ``old``.

    Returns the database and the number of events copied that it did not have.
    """
    db = open_database(path, check=False)
    conn = db.conn
    events = old.execute(f"SELECT {_EVENT_COLUMNS} FROM events ORDER BY rowid").fetchall()
    rows = old.execute(f"SELECT {_OUTBOX_COLUMNS} FROM outbox ORDER BY id").fetchall()
    conn.execute("BEGIN IMMEDIATE")
    try:
        before = conn.total_changes
        conn.executemany(f"INSERT OR IGNORE INTO events ({_EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?)", events)
        copied = conn.total_changes - before
        conn.executemany(
            f"INSERT OR IGNORE INTO outbox ({_OUTBOX_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
        )
    except BaseException:
        conn.execute("ROLLBACK")
        db.conn.close()
        raise
    conn.execute("COMMIT")
    return db, copied


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable (the new directory entry survives a power cut)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        log.warning("fsync of %s failed: %s", directory, exc)
    finally:
        os.close(fd)
