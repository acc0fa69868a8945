"""The one writer of ``events`` and ``outbox``: every event is stored with its outbox row in one transaction."""

from __future__ import annotations

import json
import sqlite3
import threading
from typing import Any

import sqlite_utils


class EventStore:
    """Appends gateway events; each one also lands in the outbox for the backend, atomically.

    Safe to call from several threads (the event loop, paho's network thread, sync workers): the
    transactions on the shared connection are serialised, so one never opens inside another.
    """

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        self._lock = threading.Lock()

    def append(self, stream: str, kind: str, event_id: str, t: float, payload: dict[str, Any]) -> bool:
        """Store an event and its outbox row. Returns False when ``event_id`` was stored before."""
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True)
        with self._lock:
            return self._append(stream, kind, event_id, t, body)

    def _append(self, stream: str, kind: str, event_id: str, t: float, body: str) -> bool:
        conn = self.db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                "INSERT INTO events (event_id, stream, kind, t, payload) VALUES (?, ?, ?, ?, ?)",
                (event_id, stream, kind, t, body),
            )
            conn.execute(
                "INSERT INTO outbox (stream, idempotency_key, kind, payload, created_at) VALUES (?, ?, ?, ?, ?)",
                (stream, event_id, kind, body, t),
            )
        except sqlite3.IntegrityError:
            conn.execute("ROLLBACK")
            return False
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return True

    def count(self, stream: str | None = None) -> int:
        if stream is None:
            return int(self.db.execute("SELECT COUNT(*) FROM events").fetchone()[0])
        return int(self.db.execute("SELECT COUNT(*) FROM events WHERE stream = ?", (stream,)).fetchone()[0])

    def pending_outbox(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL").fetchone()[0])
