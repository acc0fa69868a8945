"""The reference backend's own SQLite database (one connection, serialised by a lock)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        store TEXT NOT NULL,
        idempotency_key TEXT NOT NULL,
        stream TEXT NOT NULL,
        kind TEXT NOT NULL,
        t REAL NOT NULL,
        payload TEXT NOT NULL,
        received_at REAL NOT NULL,
        deliveries INTEGER NOT NULL DEFAULT 1,
        UNIQUE (store, idempotency_key)
    )""",
    """CREATE TABLE IF NOT EXISTS resources (
        store TEXT NOT NULL,
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        body BLOB NOT NULL,
        etag TEXT NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (store, name)
    )""",
    """CREATE TABLE IF NOT EXISTS releases (
        model TEXT NOT NULL,
        version INTEGER NOT NULL,
        metadata BLOB NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (model, version)
    )""",
    """CREATE TABLE IF NOT EXISTS release_files (
        model TEXT NOT NULL,
        version INTEGER NOT NULL,
        name TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (model, version, name)
    )""",
    """CREATE TABLE IF NOT EXISTS release_reports (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        store TEXT NOT NULL,
        model TEXT NOT NULL,
        version INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        detail TEXT NOT NULL,
        at REAL NOT NULL,
        received_at REAL NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS tokens (
        token TEXT PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('admin', 'gateway')),
        store TEXT
    )""",
)


class BackendStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=30)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.lock = threading.RLock()
        with self.lock:
            for statement in SCHEMA:
                self.conn.execute(statement)

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    # ------------------------------------------------------------------ tokens
    def add_token(self, token: str, role: str, store: str | None = None) -> None:
        with self.lock:
            self.conn.execute(
                "INSERT OR REPLACE INTO tokens (token, role, store) VALUES (?, ?, ?)", (token, role, store)
            )

    def token(self, token: str) -> tuple[str, str | None] | None:
        with self.lock:
            row = self.conn.execute("SELECT role, store FROM tokens WHERE token = ?", (token,)).fetchone()
        return None if row is None else (row[0], row[1])

    def has_tokens(self) -> bool:
        with self.lock:
            return self.conn.execute("SELECT 1 FROM tokens LIMIT 1").fetchone() is not None

    # ------------------------------------------------------------------ events
    def add_events(self, store: str, events: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
        """Store valid events once per key; returns (accepted, duplicates) keys. One transaction."""
        accepted: list[str] = []
        duplicates: list[str] = []
        now = time.time()
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                for e in events:
                    cur = self.conn.execute(
                        "INSERT INTO events (store, idempotency_key, stream, kind, t, payload, received_at) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (store, idempotency_key) "
                        "DO UPDATE SET deliveries = deliveries + 1 RETURNING deliveries",
                        (
                            store,
                            e["idempotency_key"],
                            e["stream"],
                            e["kind"],
                            e["t"],
                            json.dumps(e["payload"], sort_keys=True),
                            now,
                        ),
                    )
                    (accepted if cur.fetchone()[0] == 1 else duplicates).append(e["idempotency_key"])
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
        return accepted, duplicates

    def events(
        self, store: str, after: int = 0, limit: int = 1000, stream: str | None = None
    ) -> list[dict[str, Any]]:
        sql = (
            "SELECT seq, idempotency_key, stream, kind, t, payload, received_at, deliveries FROM events "
            "WHERE store = ? AND seq > ?"
        )
        args: list[Any] = [store, after]
        if stream:
            sql += " AND stream = ?"
            args.append(stream)
        sql += " ORDER BY seq LIMIT ?"
        args.append(limit)
        with self.lock:
            rows = self.conn.execute(sql, args).fetchall()
        return [
            {
                "seq": r[0],
                "idempotency_key": r[1],
                "stream": r[2],
                "kind": r[3],
                "t": r[4],
                "payload": json.loads(r[5]),
                "received_at": r[6],
                "deliveries": r[7],
            }
            for r in rows
        ]

    def event_count(self, store: str | None = None) -> int:
        with self.lock:
            if store is None:
                return int(self.conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])
            return int(
                self.conn.execute("SELECT COUNT(*) FROM events WHERE store = ?", (store,)).fetchone()[0]
            )

    # ------------------------------------------------------------------ resources
    def put_resource(self, store: str, name: str, body: bytes) -> str:
        with self.lock:
            row = self.conn.execute(
                "SELECT version FROM resources WHERE store = ? AND name = ?", (store, name)
            ).fetchone()
            version = (row[0] if row else 0) + 1
            etag = f'"{version}-{hashlib.sha256(body).hexdigest()[:16]}"'
            self.conn.execute(
                "INSERT OR REPLACE INTO resources (store, name, version, body, etag, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (store, name, version, body, etag, time.time()),
            )
        return etag

    def resource(self, store: str, name: str) -> tuple[bytes, str] | None:
        with self.lock:
            row = self.conn.execute(
                "SELECT body, etag FROM resources WHERE store = ? AND name = ?", (store, name)
            ).fetchone()
        return None if row is None else (bytes(row[0]), str(row[1]))

    # ------------------------------------------------------------------ releases
    def put_release_file(self, model: str, version: int, name: str, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        with self.lock:
            self.conn.execute(
                "INSERT OR REPLACE INTO release_files (model, version, name, sha256, data) VALUES (?, ?, ?, ?, ?)",
                (model, version, name, digest, data),
            )
        return digest

    def release_files(self, model: str, version: int) -> dict[str, str]:
        with self.lock:
            rows = self.conn.execute(
                "SELECT name, sha256 FROM release_files WHERE model = ? AND version = ?", (model, version)
            ).fetchall()
        return {r[0]: r[1] for r in rows}

    def release_file(self, model: str, version: int, name: str) -> bytes | None:
        with self.lock:
            row = self.conn.execute(
                "SELECT data FROM release_files WHERE model = ? AND version = ? AND name = ?",
                (model, version, name),
            ).fetchone()
        return None if row is None else bytes(row[0])

    def put_release(self, model: str, version: int, metadata: bytes) -> None:
        with self.lock:
            self.conn.execute(
                "INSERT OR REPLACE INTO releases (model, version, metadata, created_at) VALUES (?, ?, ?, ?)",
                (model, version, metadata, time.time()),
            )

    def latest_release(self, model: str) -> bytes | None:
        with self.lock:
            row = self.conn.execute(
                "SELECT metadata FROM releases WHERE model = ? ORDER BY version DESC LIMIT 1", (model,)
            ).fetchone()
        return None if row is None else bytes(row[0])

    def add_report(self, store: str, report: dict[str, Any]) -> None:
        with self.lock:
            self.conn.execute(
                "INSERT INTO release_reports (store, model, version, outcome, detail, at, received_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    store,
                    report["model"],
                    report["version"],
                    report["outcome"],
                    report["detail"],
                    report["at"],
                    time.time(),
                ),
            )

    def reports(self, store: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            rows = self.conn.execute(
                "SELECT store, model, version, outcome, detail, at FROM release_reports "
                + ("WHERE store = ? " if store else "")
                + "ORDER BY id",
                (store,) if store else (),
            ).fetchall()
        return [
            {"store": r[0], "model": r[1], "version": r[2], "outcome": r[3], "detail": r[4], "at": r[5]}
            for r in rows
        ]
