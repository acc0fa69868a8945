"""The sync task the daemon runs: outbox relay, incremental pull and (optionally) model releases.

    await run_sync(config, stop, on_update=..., releases=...)

It opens its OWN connection to the gateway database (``{gateway.data_dir}/edge.db`` unless
``db_path`` is given) so blocking HTTP and SQLite work run in worker threads without sharing a
connection with the event loop. It returns when ``stop`` is set.

When the database file is deleted or replaced under the daemon, the relay stops using its connection
(it would send from, and mark sent in, a file nobody reads any more) and follows the file the event
store brings back. When the database cannot take the relay's writes (a full disk) the round is given up
and retried: a batch the backend took but we could not mark sent is sent again, and the backend
deduplicates it by idempotency key.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import sqlite3
import time
from pathlib import Path
from typing import Protocol

from edge.config import EdgeConfig
from edge.store.db import open_database
from edge.store.faults import FileIdentity, file_identity
from edge.sync.client import BackendClient
from edge.sync.outbox import Backoff, OutboxRelay
from edge.sync.pull import SyncPuller, UpdateCallback

log = logging.getLogger("edge.sync")


class ReleaseChecker(Protocol):
    """edge.sync.releases.ReleaseManager: check() each pull round, tick() every loop (health window)."""

    def check(self, client: BackendClient) -> str | None: ...

    def tick(self, client: BackendClient | None = None) -> str | None: ...


def build_client(config: EdgeConfig) -> BackendClient:
    if not config.backend.url:
        raise ValueError("backend.url is not set: sync is off")
    return BackendClient(
        config.backend.url, config.gateway.store_id, config.backend.token, config.backend.timeout_s
    )


async def run_sync(
    config: EdgeConfig,
    stop: asyncio.Event,
    *,
    db_path: Path | None = None,
    on_update: UpdateCallback | None = None,
    releases: ReleaseChecker | None = None,
) -> None:
    """Relay the outbox and pull backend data until ``stop`` is set. No-op when backend.url is unset."""
    if not config.backend.url:
        log.info("backend.url not set: events stay in the local outbox, nothing is pulled")
        await stop.wait()
        return
    b = config.backend
    path = db_path or config.gateway.data_dir / "edge.db"
    db = await asyncio.to_thread(open_database, path)
    client = build_client(config)
    relay = OutboxRelay(db, client, batch_size=b.batch_size, backoff=Backoff(b.retry_min_s, b.retry_max_s))
    puller = SyncPuller(db, client, config.gateway.data_dir, on_update=on_update)
    rng = random.Random()
    next_pull = 0.0
    pull_failures = 0
    identity = _identity(path)
    store_error: str | None = None
    try:
        while not stop.is_set():
            if _moved(path, identity):
                # The event store recreates the file; until it is back there is nothing to follow.
                if _identity(path) is not None:
                    db.conn.close()
                    db = await asyncio.to_thread(open_database, path, check=False)
                    relay.db = puller.db = db
                    identity = _identity(path)
                    log.warning("sync: %s was deleted or replaced; now relaying from the new file", path)
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=b.push_interval_s)
                continue
            try:
                settled = await asyncio.to_thread(relay.drain, 20)
                now = time.monotonic()
                if now >= next_pull:
                    await asyncio.to_thread(puller.pull_all)
                    if releases is not None:
                        try:
                            await asyncio.to_thread(releases.check, client)
                        except Exception:
                            log.exception("model release check failed")
                    pull_failures = pull_failures + 1 if puller.errors else 0
                    wait = b.pull_interval_s
                    if pull_failures:
                        wait = min(wait, Backoff(b.retry_min_s, b.retry_max_s).delay(pull_failures - 1, rng))
                    next_pull = now + wait
            except sqlite3.Error as exc:
                if store_error is None:
                    log.error("sync: the database cannot take the relay's writes (%s); retrying", exc)
                store_error = str(exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=max(b.retry_min_s, b.push_interval_s))
                continue
            if store_error is not None:
                log.info("sync: the database takes the relay's writes again")
                store_error = None
            if releases is not None:
                try:
                    await asyncio.to_thread(releases.tick, client)
                except Exception:
                    log.exception("model health check failed")
            if settled and relay.ready_in() == 0:
                continue  # more may be pending: keep draining
            pause = max(relay.ready_in(), 0.0) or b.push_interval_s
            pause = min(pause, max(0.05, next_pull - time.monotonic()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=pause)
    finally:
        db.conn.close()


def _identity(path: Path) -> FileIdentity | None:
    try:
        return file_identity(path)
    except OSError:  # unreadable directory, I/O error: nothing to follow now
        return None


def _moved(path: Path, identity: FileIdentity | None) -> bool:
    """Whether ``path`` no longer leads to the file this task has open (deleted, replaced, unreadable)."""
    return identity is not None and _identity(path) != identity
