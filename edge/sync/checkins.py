"""Check-ins of backgrounded iOS apps, relayed by the backend to the store's gateway (long poll).

Path (TOKENS.md section 4): the app posts its check-in to the backend (``POST /v1/loyalty/check-ins``,
its own app token); the backend keeps it for the store a few minutes; the gateway long-polls
``GET /v1/stores/{store}/check-ins?after=SEQ&wait_s=W``. The backend answers at once when it holds
check-ins after ``SEQ``, else after ``W`` seconds with none::

    {"check_ins": [{"seq": 41, "check_in": {"store", "token", "t_ms", "nonce", "tag"}}], "next": 41}

Each check-in is parsed at this boundary (:class:`edge.presence.checkin.CheckInMessage`) and handed
to ``on_check_in`` (the daemon verifies token, tag, time and nonce and makes it presence). ``next``
is kept in ``sync_cursors`` (resource ``check-ins``), so a restart does not replay old ones, and the
gateway's replay cache refuses a check-in relayed twice. A malformed check-in is counted and
skipped; a malformed answer is a :class:`BackendProtocolError` and the poll backs off.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils
from pydantic import Field, ValidationError

from edge.config import EdgeConfig
from edge.presence.checkin import CheckInMessage
from edge.presence.tokens import CheckIn
from edge.settings_base import Section
from edge.store.db import open_database
from edge.sync.client import BackendClient, BackendError, BackendProtocolError
from edge.sync.outbox import Backoff

log = logging.getLogger("edge.sync.checkins")

RESOURCE = "check-ins"


class RelayedCheckIn(Section):
    seq: int = Field(ge=0, description="Backend's sequence number of this check-in for the store.")
    check_in: dict[str, Any] = Field(description="The app's check-in body (validated one by one).")


class CheckInFeed(Section):
    check_ins: list[RelayedCheckIn] = Field(description="Check-ins after the cursor, oldest first.")
    next: int = Field(ge=0, description="Cursor to send as 'after' next time.")


@dataclass
class CheckInRelay:
    """Fetches relayed check-ins and hands each valid one to ``on_check_in`` (in this thread)."""

    db: sqlite_utils.Database
    client: BackendClient
    on_check_in: Callable[[CheckIn], object]
    wait_s: float = 25.0
    clock: Callable[[], float] = time.time
    stats: dict[str, int] = field(default_factory=lambda: {"relayed": 0, "malformed": 0, "failures": 0})

    def cursor(self) -> int:
        row = self.db.execute("SELECT etag FROM sync_cursors WHERE resource = ?", (RESOURCE,)).fetchone()
        return int(row[0]) if row is not None and str(row[0]).isdigit() else 0

    def poll_once(self) -> int:
        """One long poll; returns the check-ins handed on. Raises BackendError on failure."""
        after = self.cursor()
        raw = self.client.check_ins(after, self.wait_s)
        try:
            feed = CheckInFeed.model_validate_json(raw)
        except ValidationError as exc:
            raise BackendProtocolError(self.client.url(f"/v1/stores/{self.client.store}/check-ins"),
                                       f"check-in feed: {exc.errors()[0]['msg']}", raw) from None  # fmt: skip
        handed = 0
        for item in feed.check_ins:
            if item.seq <= after:
                continue
            try:
                check_in = CheckInMessage.model_validate(item.check_in).to_check_in()
            except ValidationError as exc:
                self.stats["malformed"] += 1
                log.warning("relayed check-in %d refused: %s", item.seq, exc.errors()[0]["msg"])
                continue
            self.on_check_in(check_in)
            handed += 1
        self.stats["relayed"] += handed
        if feed.next != after:
            self.db.execute(
                "INSERT INTO sync_cursors (resource, etag, path, updated_at) VALUES (?, ?, '', ?) "
                "ON CONFLICT(resource) DO UPDATE SET etag = excluded.etag, updated_at = excluded.updated_at",
                (RESOURCE, str(feed.next), self.clock()),
            )
        return handed


async def run_check_ins(
    config: EdgeConfig,
    stop: asyncio.Event,
    on_check_in: Callable[[CheckIn], object],
    *,
    db_path: Path | None = None,
) -> None:
    """Long-poll relayed check-ins until ``stop`` is set; off without backend.url or check_in_wait_s.

    The polls run in a daemon thread with its own database connection, so a poll held open by the
    backend never delays the daemon's shutdown: at ``stop`` the thread is told to end after its
    current poll and nobody waits for it. ``on_check_in`` is called in that thread (the daemon
    passes ``loop.call_soon_threadsafe``).
    """
    b = config.backend
    if not b.url or b.check_in_wait_s <= 0:
        await stop.wait()
        return
    halt = threading.Event()
    path = db_path or config.gateway.data_dir / "edge.db"
    thread = threading.Thread(
        target=_relay_loop, args=(config, path, on_check_in, halt), name="check-in-relay", daemon=True
    )
    thread.start()
    try:
        await stop.wait()
    finally:
        halt.set()


def _relay_loop(
    config: EdgeConfig, db_path: Path, on_check_in: Callable[[CheckIn], object], halt: threading.Event
) -> None:
    from edge.sync.service import build_client

    b = config.backend
    db = open_database(db_path)
    relay = CheckInRelay(db, build_client(config), on_check_in, wait_s=b.check_in_wait_s)
    backoff = Backoff(b.retry_min_s, b.retry_max_s)
    rng = random.Random()
    failures = 0
    try:
        while not halt.is_set():
            try:
                relay.poll_once()
                failures = 0
                continue
            except BackendError as exc:
                relay.stats["failures"] += 1
                log.warning("check-in relay: %s", exc)
                failures += 1
            except RuntimeError:  # the daemon's event loop is gone: it is shutting down
                return
            halt.wait(backoff.delay(failures - 1, rng))
    finally:
        db.conn.close()
