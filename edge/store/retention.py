"""Retention: what the gateway database keeps, and for how long (``[database]`` in the config).

- an outbox row the backend accepted is deleted ``sent_retention_days`` after it was sent;
- a dead letter (an outbox row the backend rejected for good) is deleted ``dead_letter_retention_days``
  after it was set aside;
- an event is deleted once it is older than ``event_retention_days`` (its own time ``t``) AND no outbox
  row still waits to send it. An event the backend has not taken yet is never deleted, however old:
  retention never loses data that has not left the gateway.

Deletions run in small transactions (``batch`` rows each), so a pass over a large backlog never
holds the write lock for long.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

DAY_S = 86400.0


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    sent_retention_days: float = 7.0
    event_retention_days: float = 30.0
    dead_letter_retention_days: float = 90.0


@dataclass(frozen=True, slots=True)
class Pruned:
    """Rows deleted by one retention pass."""

    sent: int = 0
    dead: int = 0
    events: int = 0

    @property
    def total(self) -> int:
        return self.sent + self.dead + self.events


_SENT = "SELECT id FROM outbox WHERE sent_at IS NOT NULL AND sent_at < ? LIMIT ?"
_DEAD = "SELECT id FROM outbox WHERE sent_at IS NULL AND dead_at IS NOT NULL AND dead_at < ? LIMIT ?"
_EVENTS = (
    "SELECT e.rowid FROM events e WHERE e.t < ? AND NOT EXISTS ("
    "SELECT 1 FROM outbox o WHERE o.idempotency_key = e.event_id AND o.sent_at IS NULL AND o.dead_at IS NULL"
    ") LIMIT ?"
)


def prune(conn: sqlite3.Connection, now: float, policy: RetentionPolicy, batch: int = 2000) -> Pruned:
    """Delete what ``policy`` no longer keeps at time ``now`` (unix seconds). Raises sqlite3.Error."""
    sent = _delete(conn, "outbox", "id", _SENT, now - policy.sent_retention_days * DAY_S, batch)
    dead = _delete(conn, "outbox", "id", _DEAD, now - policy.dead_letter_retention_days * DAY_S, batch)
    events = _delete(conn, "events", "rowid", _EVENTS, now - policy.event_retention_days * DAY_S, batch)
    return Pruned(sent, dead, events)


def _delete(conn: sqlite3.Connection, table: str, key: str, select: str, cutoff: float, batch: int) -> int:
    total = 0
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            cursor = conn.execute(f"DELETE FROM {table} WHERE {key} IN ({select})", (cutoff, batch))
            deleted = cursor.rowcount
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        total += deleted
        if deleted < batch:
            return total
