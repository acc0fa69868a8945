"""Incremental pull of the data the backend owns: catalogue, planogram, campaigns, profiles, keys.

Each resource is fetched with ``If-None-Match`` carrying the ETag of the copy we hold (kept in the
``sync_cursors`` table), so an unchanged resource costs one 304. A changed one is written atomically
(temporary file + rename) to ``{data_dir}/sync/{name}.json`` and announced to ``on_update``.
Customer keys are per store and day: the resource for today is pulled, yesterday's file is removed
so nothing about enrolled customers lingers past its day. A resource the backend answers 404 for
is not published yet: nothing to do, and not a sync failure (no retry storm, no error shown).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

from edge.atomic_file import write_atomic
from edge.sync.client import BackendClient, BackendError, BackendRejected

log = logging.getLogger("edge.sync.pull")

STATIC_RESOURCES = ("catalogue", "planogram", "campaigns", "profiles")

#: on_update(kind, path): kind is 'catalogue', 'planogram', 'campaigns', 'profiles' or 'customer-keys'.
UpdateCallback = Callable[[str, Path], None]


def keys_resource(day: dt.date) -> str:
    return f"customer-keys/{day.isoformat()}"


def synced_path(data_dir: Path, resource: str) -> Path:
    """Where the pulled copy of ``resource`` lives: ``{data_dir}/sync/{resource}.json``."""
    return data_dir / "sync" / (resource.replace("/", "-") + ".json")


#: Records when a pull round ("pull") or a push ("push", edge/sync/outbox.py) last succeeded.
SYNC_STATUS_UPSERT = (
    "INSERT INTO sync_status (what, at) VALUES (?, ?) ON CONFLICT(what) DO UPDATE SET at = excluded.at"
)


@dataclass
class SyncPuller:
    db: sqlite_utils.Database
    client: BackendClient
    data_dir: Path
    on_update: UpdateCallback | None = None
    clock: Callable[[], float] = time.time
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def sync_dir(self) -> Path:
        return self.data_dir / "sync"

    def cursor(self, resource: str) -> tuple[str, Path] | None:
        row = self.db.execute(
            "SELECT etag, path FROM sync_cursors WHERE resource = ?", (resource,)
        ).fetchone()
        if row is None or not Path(row[1]).exists():
            return None
        return str(row[0]), Path(row[1])

    def pull_all(self) -> list[str]:
        """Pull every resource once; returns those that changed. Failures are kept in ``errors``."""
        day = dt.datetime.fromtimestamp(self.clock(), tz=dt.UTC).date()
        changed = []
        for resource in (*STATIC_RESOURCES, keys_resource(day)):
            try:
                if self.pull(resource):
                    changed.append(resource)
                self.errors.pop(resource, None)
            except BackendRejected as exc:
                if exc.status != 404:
                    self.errors[resource] = str(exc)
                    log.warning("pull of %s refused: %s", resource, exc)
                else:
                    self.errors.pop(resource, None)
                    log.debug("%s not published yet", resource)
            except BackendError as exc:
                self.errors[resource] = str(exc)
                log.warning("pull of %s failed: %s", resource, exc)
        self._forget_old_keys(day)
        if not self.errors:  # every resource answered (changed, 304 or not published yet)
            self.db.execute(SYNC_STATUS_UPSERT, ("pull", self.clock()))
        return changed

    def pull(self, resource: str) -> bool:
        cursor = self.cursor(resource)
        pulled = self.client.pull(resource, cursor[0] if cursor else None)
        if not pulled.changed or pulled.data is None:
            return False
        path = synced_path(self.data_dir, resource)
        write_atomic(path, pulled.data, 0o600)
        self.db.execute(
            "INSERT INTO sync_cursors (resource, etag, path, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(resource) DO UPDATE SET etag = excluded.etag, path = excluded.path, "
            "updated_at = excluded.updated_at",
            (resource, pulled.etag, str(path), self.clock()),
        )
        log.info("pulled %s (etag %s)", resource, pulled.etag)
        if self.on_update:
            kind = "customer-keys" if resource.startswith("customer-keys/") else resource
            self.on_update(kind, path)
        return True

    def _forget_old_keys(self, today: dt.date) -> None:
        current = keys_resource(today)
        rows = self.db.execute(
            "SELECT resource, path FROM sync_cursors WHERE resource LIKE 'customer-keys/%' AND resource != ?",
            (current,),
        ).fetchall()
        for resource, path in rows:
            Path(path).unlink(missing_ok=True)
            self.db.execute("DELETE FROM sync_cursors WHERE resource = ?", (resource,))
            log.info("removed %s (past its day)", resource)
