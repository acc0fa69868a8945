"""Opening the gateway database and applying versioned migrations.

Each component registers its migrations in :data:`edge.store.migrations.MIGRATIONS` (an explicit
list, numbered in blocks per component). Applied versions are recorded in ``schema_migrations``;
opening a database whose recorded version is newer than this software knows is an error (a
downgrade would silently lose data).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

import sqlite_utils

from edge.errors import MigrationError
from edge.store.migrations import MIGRATIONS, Migration

log = logging.getLogger("edge.store")


def connect(path: str | Path) -> sqlite3.Connection:
    """A connection tuned for the gateway: WAL, synchronous=FULL (power-cut safe), busy timeout."""
    conn = sqlite3.connect(str(path), timeout=30.0, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def open_database(
    path: str | Path, migrations: tuple[Migration, ...] = MIGRATIONS, check: bool = True
) -> sqlite_utils.Database:
    """Open (creating if needed) the database at ``path`` and bring its schema up to date."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite_utils.Database(connect(path))
    if check:
        result = db.execute("PRAGMA quick_check").fetchone()[0]
        if result != "ok":
            raise MigrationError(str(path), current_version(db), f"integrity check failed: {result}")
    migrate(db, migrations, str(path))
    return db


def current_version(db: sqlite_utils.Database) -> int:
    if "schema_migrations" not in db.table_names():
        return 0
    row = db.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
    return int(row[0] or 0)


def applied_versions(db: sqlite_utils.Database) -> set[int]:
    if "schema_migrations" not in db.table_names():
        return set()
    return {int(r[0]) for r in db.execute("SELECT version FROM schema_migrations")}


def migrate(db: sqlite_utils.Database, migrations: tuple[Migration, ...], name: str = "<db>") -> list[int]:
    """Apply every migration not yet applied, each in its own transaction. Returns the versions applied."""
    versions = [m.version for m in migrations]
    if len(versions) != len(set(versions)):
        raise MigrationError(name, 0, f"duplicate migration versions in {sorted(versions)}")
    db.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
    )
    done = applied_versions(db)
    known = max(versions, default=0)
    newest = max(done, default=0)
    if newest > known:
        raise MigrationError(
            name, newest, f"schema is newer than this software knows ({known}); upgrade shelf-edge"
        )
    applied = []
    for migration in sorted(migrations, key=lambda m: m.version):
        if migration.version in done:
            continue
        conn = db.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            for statement in migration.statements:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name, time.time()),
            )
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK")
            raise MigrationError(
                name, migration.version, f"migration {migration.name!r} failed: {exc}"
            ) from exc
        log.info("database %s: applied migration %d (%s)", name, migration.version, migration.name)
        applied.append(migration.version)
    return applied
