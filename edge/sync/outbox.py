"""The outbox relay: sends pending outbox rows to the backend, at least once, in order per stream.

Rows are written by :class:`edge.store.events_repo.EventStore` in the same transaction as their
event. The relay reads them oldest first (the global row id keeps order within every stream), sends
a batch with each row's idempotency key (and a key for the batch), and marks the rows sent only after
a 2xx answer. The backend deduplicates by idempotency key, so a resend after a crash between the
backend's commit and ours has no effect: exactly once in effect.

When the backend is unavailable the relay backs off exponentially with full jitter and sends nothing
until the delay has passed, so later rows never overtake earlier ones. A row the backend rejects as
invalid (4xx per event) is set aside as a dead letter with the reason (``outbox.dead_at``,
``outbox.last_error``), never silently dropped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from edge import telemetry
from edge.sync.client import BackendClient, BackendError, BackendRejected
from edge.sync.pull import SYNC_STATUS_UPSERT

log = logging.getLogger("edge.sync.outbox")


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with full jitter: delay n is uniform in [0, min(max_s, min_s * 2**n)]."""

    min_s: float = 0.5
    max_s: float = 60.0

    def delay(self, failures: int, rng: random.Random) -> float:
        cap = min(self.max_s, self.min_s * (2 ** min(failures, 30)))
        return max(self.min_s / 2, rng.uniform(0, cap))


@dataclass(slots=True)
class RelayStats:
    sent: int = 0
    duplicates: int = 0
    dead: int = 0
    batches: int = 0
    failures: int = 0
    last_error: str | None = None
    last_success_at: float | None = None


@dataclass
class OutboxRelay:
    """Drains the ``outbox`` table of ``db`` to ``client``; call :meth:`drain_once` repeatedly."""

    db: sqlite_utils.Database
    client: BackendClient
    batch_size: int = 200
    backoff: Backoff = field(default_factory=Backoff)
    clock: Callable[[], float] = time.time
    rng: random.Random = field(default_factory=random.Random)
    stats: RelayStats = field(default_factory=RelayStats)
    _consecutive_failures: int = 0
    _not_before: float = 0.0

    def pending(self) -> int:
        return int(
            self.db.execute(
                "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND dead_at IS NULL"
            ).fetchone()[0]
        )

    def ready_in(self) -> float:
        """Seconds until the relay may try again (0 when it may now)."""
        return max(0.0, self._not_before - self.clock())

    def drain_once(self) -> int:
        """Send one batch if allowed; returns rows settled (sent, duplicate or dead), 0 when idle or backing off."""
        now = self.clock()
        if now < self._not_before:
            return 0
        rows = self.db.execute(
            "SELECT id, stream, idempotency_key, kind, payload, created_at FROM outbox "
            "WHERE sent_at IS NULL AND dead_at IS NULL ORDER BY id LIMIT ?",
            (self.batch_size,),
        ).fetchall()
        if not rows:
            return 0
        events: list[dict[str, Any]] = [
            {
                "idempotency_key": key,
                "stream": stream,
                "kind": kind,
                "t": created,
                "payload": json.loads(body),
            }
            for (_id, stream, key, kind, body, created) in rows
        ]
        ids = [r[0] for r in rows]
        batch_key = hashlib.sha256("\n".join(e["idempotency_key"] for e in events).encode()).hexdigest()[:32]
        try:
            result = self.client.push_events(batch_key, events)
        except BackendRejected as exc:
            # the whole batch was refused (auth, malformed request): keep the rows, back off, shout
            self._fail(ids, f"batch rejected with HTTP {exc.status}: {exc.detail}", level=logging.ERROR)
            return 0
        except BackendError as exc:
            self._fail(ids, str(exc), level=logging.WARNING)
            return 0
        sent_at = self.clock()
        by_key = {r[2]: r[0] for r in rows}
        rejected = dict(result.rejected)
        conn = self.db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            ok = [by_key[k] for k in (*result.accepted, *result.duplicates) if k in by_key]
            conn.executemany("UPDATE outbox SET sent_at = ? WHERE id = ?", [(sent_at, i) for i in ok])
            conn.executemany(
                "UPDATE outbox SET dead_at = ?, last_error = ? WHERE id = ?",
                [(sent_at, reason, by_key[k]) for k, reason in rejected.items() if k in by_key],
            )
            conn.execute(SYNC_STATUS_UPSERT, ("push", sent_at))
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        for key, reason in rejected.items():
            log.error("backend rejected event %s for good: %s (kept as a dead letter)", key, reason)
        self.stats.sent += len(result.accepted)
        self.stats.duplicates += len(result.duplicates)
        self.stats.dead += len(rejected)
        telemetry.DEAD_LETTERS.inc(len(rejected))
        self.stats.batches += 1
        self.stats.last_success_at = sent_at
        if self._consecutive_failures:
            log.info("backend reachable again after %d failed attempts", self._consecutive_failures)
        self._consecutive_failures = 0
        self._not_before = 0.0
        return len(rows)

    def drain(self, max_batches: int | None = None) -> int:
        """Send batches until nothing is pending, the relay backs off, or ``max_batches`` is reached."""
        total = 0
        n = 0
        while max_batches is None or n < max_batches:
            settled = self.drain_once()
            if not settled:
                break
            total += settled
            n += 1
        return total

    def _fail(self, ids: list[int], error: str, level: int) -> None:
        self._consecutive_failures += 1
        delay = self.backoff.delay(self._consecutive_failures - 1, self.rng)
        self._not_before = self.clock() + delay
        self.stats.failures += 1
        self.stats.last_error = error
        marks = ",".join("?" * len(ids))
        self.db.execute(
            f"UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE id IN ({marks})",
            (self._not_before, error[:500], *ids),
        )
        log.log(level, "outbox send failed (%s); retry in %.1f s", error, delay)
