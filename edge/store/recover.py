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
already there is the same event). Replacing a WAL database's file under an open connection leaves that
connection's ``-wal`` beside the new file; it is set aside, since the old data is copied first.
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
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".restoring")
    _backup(old, tmp)
    try:
        _remove_log_files(path)
        os.replace(tmp, path)
    except BaseException:
        _remove_copy(tmp)
        raise
    _fsync_dir(path.parent)
    return open_database(path, check=False)


def merge_into(old: sqlite3.Connection, path: Path) -> tuple[sqlite_utils.Database, int]:
    """Open (migrating) the database now at ``path`` and copy in the events and outbox rows of ``old``.

    ``old`` is copied aside first: the ``-wal``/``-shm`` files at the path's name are still the old
    database's, and the new file must not be read through them. Returns the database and the number of
    events copied that it did not have.
    """
    copy = path.with_name(path.name + ".before-replace")
    _backup(old, copy)
    try:
        _remove_log_files(path)
        db = open_database(path, check=False)
        conn = db.conn
        conn.execute("ATTACH DATABASE ? AS old", (str(copy),))
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                before = conn.total_changes
                conn.execute(
                    f"INSERT OR IGNORE INTO main.events ({_EVENT_COLUMNS}) "
                    f"SELECT {_EVENT_COLUMNS} FROM old.events ORDER BY rowid"
                )
                copied = conn.total_changes - before
                conn.execute(
                    f"INSERT OR IGNORE INTO main.outbox ({_OUTBOX_COLUMNS}) "
                    f"SELECT {_OUTBOX_COLUMNS} FROM old.outbox ORDER BY id"
                )
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.execute("DETACH DATABASE old")
    finally:
        _remove_copy(copy)
    return db, copied


def _backup(old: sqlite3.Connection, target_path: Path) -> None:
    """A complete copy of ``old`` (what it sees, write-ahead log included) at ``target_path``."""
    _remove_copy(target_path)
    try:
        target = sqlite3.connect(str(target_path), isolation_level=None)
        try:
            old.backup(target)
        finally:
            target.close()
    except BaseException:
        _remove_copy(target_path)
        raise


def _remove_log_files(path: Path) -> None:
    """The old database's ``-wal`` and ``-shm`` at the path's name: a new file must never pick them up."""
    for suffix in ("-wal", "-shm"):
        _remove(path.with_name(path.name + suffix))


def _remove_copy(path: Path) -> None:
    for suffix in ("", "-journal", "-wal", "-shm"):
        _remove(path.with_name(path.name + suffix))


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
