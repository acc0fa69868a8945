"""The one writer of ``events`` and ``outbox``: every event is stored with its outbox row in one transaction.

When the database cannot take a write (disk full, I/O error, the file deleted or replaced under the
daemon, see :mod:`edge.store.faults`), :meth:`EventStore.append` does not raise: it holds the event in
a bounded in-memory queue and returns as if it were stored, so detection, fusion and offers go on.
:meth:`EventStore.maintain` (called every tick) notices a deleted or replaced file, brings the
database back (:mod:`edge.store.recover`), writes the held events in their order when it can (event
ids are deterministic, so writing one twice is harmless) and runs retention. One log line when a fault
starts, one when it ends; the counts are on /metrics (:mod:`edge.telemetry`) and in :meth:`health`.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import sqlite_utils

from edge import telemetry
from edge.store.faults import FileIdentity, StoreFault, classify, file_identity, moved
from edge.store.recover import merge_into, restore_deleted
from edge.store.retention import RetentionPolicy, prune

log = logging.getLogger("edge.store")

_INSERT_EVENT = "INSERT INTO events (event_id, stream, kind, t, payload) VALUES (?, ?, ?, ?, ?)"
_INSERT_OUTBOX = (
    "INSERT INTO outbox (stream, idempotency_key, kind, payload, created_at) VALUES (?, ?, ?, ?, ?)"
)
# Held events are written with OR IGNORE: an id already stored is the same event (ids are deterministic).
_REWRITE_EVENT = _INSERT_EVENT.replace("INSERT", "INSERT OR IGNORE", 1)
_REWRITE_OUTBOX = _INSERT_OUTBOX.replace("INSERT", "INSERT OR IGNORE", 1)
#: Default bound of the in-memory hold (``database.hold_max_events``).
HOLD_MAX_EVENTS = 20000
_FLUSH_CHUNK = 500


@dataclass(frozen=True, slots=True)
class _Held:
    stream: str
    kind: str
    event_id: str
    t: float
    body: str


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back if a transaction is still open (SQLite rolls back by itself after some errors)."""
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error as exc:
            log.debug("rollback failed: %s", exc)


def _path_of(db: sqlite_utils.Database) -> Path | None:
    """The file behind the connection's main database (None for an in-memory one)."""
    for _seq, name, file in db.execute("PRAGMA database_list").fetchall():
        if name == "main" and file:
            return Path(file)
    return None


class EventStore:
    """Appends gateway events; each one also lands in the outbox for the backend, atomically.

    Safe to call from several threads (the event loop, paho's network thread, sync workers): the
    transactions on the shared connection are serialised, so one never opens inside another.
    """

    def __init__(
        self,
        db: sqlite_utils.Database,
        *,
        hold_max: int = HOLD_MAX_EVENTS,
        retention: RetentionPolicy | None = None,
        retention_interval_s: float = 3600.0,
        clock: Callable[[], float] = time.time,
        spill: Path | None = None,
    ) -> None:
        self.db = db
        self.path = _path_of(db)
        self.hold_max = hold_max
        self.retention = retention
        self.retention_interval_s = retention_interval_s
        self.clock = clock
        #: Why writes fail now; None while the database takes them.
        self.fault: StoreFault | None = None
        self._lock = threading.Lock()
        self._identity: FileIdentity | None = file_identity(self.path) if self.path else None
        self._wal_identity: FileIdentity | None = None  # recorded at the first check
        self._held: deque[_Held] = deque()
        self._held_ids: set[str] = set()
        self._dropped = 0  # in the current fault
        self._held_total = 0  # in the current fault
        self._next_retention = 0.0
        #: Where events still held at stop are kept for the next start (a RAM file system: /run).
        self.spill = spill
        self._spill_loaded = False
        if spill is not None:
            self._load_spill(spill)

    # ------------------------------------------------------------------ writing
    def append(self, stream: str, kind: str, event_id: str, t: float, payload: dict[str, Any]) -> bool:
        """Store an event and its outbox row. Returns False when ``event_id`` was stored (or held) before.

        Never raises for a database that cannot take the write: the event is held (see the module doc).
        """
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True)
        with self._lock:
            if self.fault is None:
                self._check_file()
            if self.fault is None and not self._held:
                try:
                    return self._append(stream, kind, event_id, t, body)
                except sqlite3.Error as exc:
                    self._set_fault(classify(exc), str(exc))
            return self._hold(_Held(stream, kind, event_id, t, body))

    def _append(self, stream: str, kind: str, event_id: str, t: float, body: str) -> bool:
        conn = self.db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(_INSERT_EVENT, (event_id, stream, kind, t, body))
            conn.execute(_INSERT_OUTBOX, (stream, event_id, kind, body, t))
        except sqlite3.IntegrityError:
            _rollback(conn)
            return False
        except BaseException:
            _rollback(conn)
            raise
        try:
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            raise
        return True

    def _hold(self, held: _Held) -> bool:
        if held.event_id in self._held_ids or self._stored(held.event_id):
            return False
        reason = self.fault.reason if self.fault else "error"
        telemetry.STORE_WRITE_FAILURES.labels(reason=reason).inc()
        if len(self._held) >= self.hold_max:
            self._dropped += 1
            telemetry.STORE_HELD_DROPPED.inc()
            if self._dropped == 1:
                log.error(
                    "database %s: the in-memory hold is full (%d events): newer events are dropped "
                    "until the database takes writes again",
                    self.path,
                    self.hold_max,
                )
            return True
        self._held.append(held)
        self._held_ids.add(held.event_id)
        self._held_total += 1
        telemetry.STORE_HELD_EVENTS.set(len(self._held))
        return True

    def _stored(self, event_id: str) -> bool:
        """Whether the open database has this event (reads usually work when writes do not)."""
        try:
            row = self.db.execute("SELECT 1 FROM events WHERE event_id = ?", (event_id,)).fetchone()
        except sqlite3.Error:
            return False
        return row is not None

    # ------------------------------------------------------------------ faults and recovery
    def _check_file(self) -> None:
        if self.path is None:
            return
        wal = self.path.with_name(self.path.name + "-wal")
        try:
            what = moved(self.path, self._identity)
            if what is None:
                # The write-ahead log lives as long as a connection is open: gone means deleted too
                # (`rm edge.db*` can take it and leave the main file for a moment).
                now = file_identity(wal)
                if self._wal_identity is None:
                    self._wal_identity = now
                elif now != self._wal_identity:
                    self._set_fault("deleted", f"{wal} was deleted while the daemon had it open")
                    return
        except OSError as exc:
            self._set_fault("io_error", f"cannot check {self.path}: {exc}")
            return
        if what is not None:
            self._set_fault(what, f"{self.path} was {what} while the daemon had it open")

    def _set_fault(self, reason: str, detail: str) -> None:
        previous = self.fault
        if previous is not None and previous.reason == reason:
            return
        self.fault = StoreFault(reason, detail, previous.since if previous else self.clock())
        if previous is None:
            self._dropped = 0
            self._held_total = 0
            log.error(
                "database %s cannot take writes (%s: %s): events are held in memory (up to %d) and "
                "written when it can; fix: %s",
                self.path,
                reason,
                detail,
                self.hold_max,
                self.fault.fix,
            )
        else:
            log.error("database %s: now %s (%s); fix: %s", self.path, reason, detail, self.fault.fix)

    def maintain(self, now: float | None = None) -> None:
        """Called every tick: notice a moved file, bring the database back, write held events, retention."""
        now = self.clock() if now is None else now
        with self._lock:
            if self.fault is None:
                self._check_file()
            moved_away = self.fault is not None and self.fault.reason in ("deleted", "replaced")
            if moved_away and not self._recover():
                return
            if self.fault is not None or self._held:
                self._flush()
            if self.fault is None and self.retention is not None and now >= self._next_retention:
                self._next_retention = now + self.retention_interval_s
                self._retain(now)

    def _recover(self) -> bool:
        assert self.path is not None and self.fault is not None
        old = self.db
        try:
            if file_identity(self.path) in (None, self._identity):  # deleted, or only its -wal
                new, how = restore_deleted(old.conn, self.path), "recreated from the copy the daemon had open"
            else:
                new, copied = merge_into(old.conn, self.path)
                how = f"the new file kept, {copied} events from the old one copied into it"
        except (sqlite3.Error, OSError) as exc:
            detail = f"{self.path} was {self.fault.reason}; bringing it back failed: {exc}"
            if detail != self.fault.detail:
                log.warning("database %s", detail)
                self.fault = StoreFault(self.fault.reason, detail, self.fault.since)
            return False
        self.db = new
        self._identity = file_identity(self.path)
        self._wal_identity = None
        try:
            old.conn.close()
        except sqlite3.Error as exc:
            log.debug("closing the old connection: %s", exc)
        pending = int(new.execute("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL").fetchone()[0])
        log.warning("database %s is back: %s (%d outbox rows unsent)", self.path, how, pending)
        return True

    def _flush(self) -> None:
        conn = self.db.conn
        while self._held:
            chunk = list(islice(self._held, _FLUSH_CHUNK))
            try:
                conn.execute("BEGIN IMMEDIATE")
                for h in chunk:
                    conn.execute(_REWRITE_EVENT, (h.event_id, h.stream, h.kind, h.t, h.body))
                    conn.execute(_REWRITE_OUTBOX, (h.stream, h.event_id, h.kind, h.body, h.t))
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                _rollback(conn)
                self._set_fault(classify(exc), str(exc))
                return
            for _ in chunk:
                self._held_ids.discard(self._held.popleft().event_id)
            telemetry.STORE_HELD_EVENTS.set(len(self._held))
        if self._spill_loaded and self.spill is not None:
            self.spill.unlink(missing_ok=True)
            self._spill_loaded = False
        if self.fault is not None:
            log.warning(
                "database %s takes writes again after %.0f s (%s): %d held events written, %d dropped",
                self.path,
                self.clock() - self.fault.since,
                self.fault.reason,
                self._held_total,
                self._dropped,
            )
            self.fault = None

    def _retain(self, now: float) -> None:
        assert self.retention is not None
        try:
            pruned = prune(self.db.conn, now, self.retention)
        except sqlite3.Error as exc:
            log.warning("retention pass failed (%s); tried again in %.0f s", exc, self.retention_interval_s)
            return
        if pruned.total:
            log.info(
                "retention: deleted %d sent outbox rows, %d dead letters, %d events",
                pruned.sent,
                pruned.dead,
                pruned.events,
            )

    # ------------------------------------------------------------------ state
    def health(self) -> dict[str, Any]:
        """What /healthz and doctor show: ok, and when not, the reason, the fix and the counts."""
        fault = self.fault
        return {
            "ok": fault is None and not self._held,
            "path": str(self.path) if self.path else None,
            "reason": fault.reason if fault else None,
            "detail": fault.detail if fault else None,
            "fix": fault.fix if fault else None,
            "since": fault.since if fault else None,
            "held": len(self._held),
            "dropped": self._dropped,
        }

    def close(self) -> None:
        """Write what is held if the database takes it, then close; held events that cannot be are named."""
        with self._lock:
            if self._held:
                if self.fault is not None and self.fault.reason in ("deleted", "replaced"):
                    self._recover()
                self._flush()
            if self._held and not self._save_spill():
                log.error(
                    "database %s: %d held events could not be written before stopping and are lost (%s)",
                    self.path,
                    len(self._held),
                    self.fault.reason if self.fault else "unknown",
                )
            self.db.conn.close()

    # ------------------------------------------------------------------ held events across a restart
    def _save_spill(self) -> bool:
        """Keep what is still held in the spill file for the next start; False when there is none or it fails."""
        if self.spill is None:
            return False
        lines = [
            json.dumps({"stream": h.stream, "kind": h.kind, "event_id": h.event_id, "t": h.t, "body": h.body})
            for h in self._held
        ]
        tmp = self.spill.with_name(self.spill.name + ".tmp")
        try:
            self.spill.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text("\n".join(lines) + "\n")
            os.replace(tmp, self.spill)
        except OSError as exc:
            log.error("cannot keep held events in %s: %s", self.spill, exc)
            return False
        log.error(
            "database %s: %d held events could not be written before stopping (%s); kept in %s for the next start",
            self.path,
            len(lines),
            self.fault.reason if self.fault else "unknown",
            self.spill,
        )
        return True

    def _load_spill(self, spill: Path) -> None:
        """Hold the events the last run could not write (before any new one), and try to write them now."""
        try:
            text = spill.read_text()
        except FileNotFoundError:
            return
        except OSError as exc:
            log.error("cannot read held events from %s: %s", spill, exc)
            return
        bad = 0
        for line in filter(None, text.splitlines()):
            try:
                d = json.loads(line)
                held = _Held(
                    str(d["stream"]), str(d["kind"]), str(d["event_id"]), float(d["t"]), str(d["body"])
                )
            except (ValueError, KeyError, TypeError):
                bad += 1
                continue
            if held.event_id not in self._held_ids:
                self._held.append(held)
                self._held_ids.add(held.event_id)
        self._spill_loaded = True
        log.warning(
            "%d events held at the last stop loaded from %s%s; writing them to the database",
            len(self._held),
            spill,
            f" ({bad} unreadable lines skipped)" if bad else "",
        )
        with self._lock:
            self._flush()

    def count(self, stream: str | None = None) -> int:
        if stream is None:
            return int(self.db.execute("SELECT COUNT(*) FROM events").fetchone()[0])
        return int(self.db.execute("SELECT COUNT(*) FROM events WHERE stream = ?", (stream,)).fetchone()[0])

    def pending_outbox(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL").fetchone()[0])
