"""Outbox relay and incremental pull against the real central service (HTTP; SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from edge import telemetry
from edge.store.db import open_database
from edge.store.events_repo import EventStore
from edge.sync.client import BackendClient, BackendProtocolError, BackendRejected, BackendUnavailable
from edge.sync.outbox import Backoff, OutboxRelay
from edge.sync.pull import SyncPuller
from simulators.backend.server import BackendServer

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path):
    """The real central service on SQLite, and on the tests' own PostgreSQL."""
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    with BackendServer(tmp_path / "backend.db", database_url=url) as server:
        server.add_token("admin-secret", "admin")
        server.add_token("gw-secret", "gateway", "store-1")
        yield server


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def _fill(store: EventStore, n: int, streams: tuple[str, ...] = ("basket", "offers")) -> list[str]:
    keys = []
    for i in range(n):
        key = f"ev-{i:05d}"
        store.append(streams[i % len(streams)], "pick", key, 1000.0 + i, {"i": i})
        keys.append(key)
    return keys


def test_relay_delivers_every_event_once_in_order_through_outage(
    tmp_path: Path, backend: BackendServer
) -> None:
    db = open_database(tmp_path / "edge.db")
    events = EventStore(db)
    keys = _fill(events, 250)
    clock = FakeClock()
    client = BackendClient(backend.url, "store-1", "gw-secret", timeout_s=2)
    relay = OutboxRelay(db, client, batch_size=40, backoff=Backoff(1, 8), clock=clock, rng=random.Random(1))

    assert relay.drain(max_batches=2) == 80
    backend.stop()
    assert relay.drain_once() == 0
    assert relay.stats.failures == 1 and "unavailable" in (relay.stats.last_error or "")
    assert relay.ready_in() > 0
    assert relay.drain_once() == 0  # still backing off: nothing is even tried
    assert relay.stats.failures == 1
    backend.start()
    # the backend commits a batch but the answer is lost: the resend must not duplicate
    backend.fault_after_commit = 1
    clock.now += 100
    assert relay.drain_once() == 0
    clock.now += 100
    assert relay.drain() == 250 - 80
    assert relay.pending() == 0
    assert relay.stats.duplicates == 40

    admin = requests.Session()
    admin.headers["Authorization"] = "Bearer admin-secret"
    got = admin.get(f"{backend.url}/v1/stores/store-1/events?limit=5000", timeout=5).json()["events"]
    assert [e["idempotency_key"] for e in got] == keys  # every event once, in order
    for stream in ("basket", "offers"):
        ts = [e["t"] for e in got if e["stream"] == stream]
        assert ts == sorted(ts)
    assert backend.store.event_count("store-1") == 250


def test_invalid_event_becomes_dead_letter_and_others_pass(tmp_path: Path, backend: BackendServer) -> None:
    db = open_database(tmp_path / "edge.db")
    events = EventStore(db)
    events.append("basket", "pick", "good-1", 1.0, {"a": 1})
    events.append("basket", "x" * 100, "bad-kind", 2.0, {"a": 2})  # kind too long for the API
    events.append("basket", "pick", "good-2", 3.0, {"a": 3})
    relay = OutboxRelay(db, BackendClient(backend.url, "store-1", "gw-secret"))
    dead_before = telemetry.value(telemetry.DEAD_LETTERS)
    assert relay.drain() == 3
    assert telemetry.value(telemetry.DEAD_LETTERS) == dead_before + 1  # on /metrics too
    dead = db.execute("SELECT idempotency_key, last_error FROM outbox WHERE dead_at IS NOT NULL").fetchall()
    assert len(dead) == 1 and dead[0][0] == "bad-kind" and "kind" in dead[0][1]
    assert backend.store.event_count() == 2


def test_wrong_token_is_rejected_not_retried_blindly(tmp_path: Path, backend: BackendServer) -> None:
    db = open_database(tmp_path / "edge.db")
    _fill(EventStore(db), 3)
    relay = OutboxRelay(db, BackendClient(backend.url, "store-1", "nope"), clock=FakeClock())
    assert relay.drain_once() == 0
    assert "401" in (relay.stats.last_error or "") and relay.pending() == 3
    other_store = BackendClient(backend.url, "store-2", "gw-secret")
    with pytest.raises(BackendRejected) as info:
        other_store.push_events("k", [])
    assert info.value.status == 403


class _Garbage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html>proxy error page</html>" if "catalogue" in self.path else b'{"x": 1}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args: object) -> None:
        """Silence the default request log on stderr."""


def test_client_errors_are_typed() -> None:
    down = BackendClient("http://127.0.0.1:9", "store-1", timeout_s=1)
    with pytest.raises(BackendUnavailable, match="cannot connect"):
        down.pull("catalogue")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Garbage)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        client = BackendClient(f"http://127.0.0.1:{httpd.server_address[1]}", "store-1", timeout_s=2)
        with pytest.raises(BackendProtocolError, match="no ETag"):
            client.pull("planogram")
        with pytest.raises(BackendProtocolError, match=r"not JSON|no ETag"):
            client.pull("catalogue")
        with pytest.raises(BackendProtocolError, match="lacks"):
            client.push_events("b", [{"idempotency_key": "k"}])
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_incremental_pull_uses_etags(tmp_path: Path, backend: BackendServer) -> None:
    admin = requests.Session()
    admin.headers["Authorization"] = "Bearer admin-secret"
    base = f"{backend.url}/v1/stores/store-1"
    assert admin.put(f"{base}/catalogue", data=json.dumps([{"product_id": "p1"}]), timeout=5).ok
    assert admin.put(f"{base}/planogram", data=json.dumps({"plates": []}), timeout=5).ok
    assert admin.put(f"{base}/campaigns", data=json.dumps({}), timeout=5).ok  # validated: a rules document
    import datetime as dt

    now = 1_790_000_000.0
    day = dt.datetime.fromtimestamp(now, tz=dt.UTC).date().isoformat()
    yesterday = (dt.date.fromisoformat(day) - dt.timedelta(days=1)).isoformat()
    assert admin.put(f"{base}/customer-keys/{day}", data=json.dumps({"keys": ["k1"]}), timeout=5).ok
    assert admin.put(f"{base}/customer-keys/{yesterday}", data=json.dumps({"keys": ["k0"]}), timeout=5).ok

    db = open_database(tmp_path / "edge.db")
    updates: list[tuple[str, Path]] = []
    clock = FakeClock()
    clock.now = now - 86_400
    puller = SyncPuller(
        db,
        BackendClient(backend.url, "store-1", "gw-secret"),
        tmp_path / "data",
        lambda k, p: updates.append((k, p)),
        clock,
    )
    assert puller.pull_all() == ["catalogue", "planogram", "campaigns", f"customer-keys/{yesterday}"]
    clock.now = now
    before = backend.requests
    assert puller.pull_all() == [f"customer-keys/{day}"]  # the rest answered 304
    assert backend.requests - before == 5  # profiles: not published (404), not an error
    assert not (tmp_path / "data" / "sync" / f"customer-keys-{yesterday}.json").exists()
    assert json.loads((tmp_path / "data" / "sync" / f"customer-keys-{day}.json").read_text()) == {
        "keys": ["k1"]
    }
    assert admin.put(f"{base}/catalogue", data=json.dumps([{"product_id": "p2"}]), timeout=5).ok
    assert puller.pull_all() == ["catalogue"]
    assert [k for k, _ in updates].count("catalogue") == 2
    backend.stop()
    assert puller.pull_all() == []
    assert "unavailable" in puller.errors["catalogue"]
