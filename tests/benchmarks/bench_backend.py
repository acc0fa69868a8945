"""backend.events_per_s and backend.ingest_p99_ms: idempotent event ingest of the central service.

The real service (``shelf-backend serve``, 2 uvicorn workers) on a private PostgreSQL (fsync on, as
in production), both started here; 4 client threads POST 500-event batches with fresh keys through
the HTTP API (each key stored once: ``INSERT ... SELECT FROM unnest ... ON CONFLICT``), plus one
resend of every tenth batch (all duplicates). The figure is events stored per second of wall time
and the 99th percentile of one batch's answer time. Baseline, same run, same table, same rows: the
bare insert (psycopg ``executemany`` of a plain INSERT, one transaction per 500-row batch, 4
threads) with no HTTP, no JSON, no validation and no idempotency.

The goal (issue 13: a 1,000-store chain at peak) is 20,000 events/s on 2 cores: this module lets
itself and its servers use every core of the machine (the bench runner pins to one by default).

On a shared, loaded machine the wall-clock rate says little about the service, so the CPU time the
service's processes (uvicorn workers and PostgreSQL, read from /proc) spend per stored event is
reported too (``backend.server_cpu_us_per_event``, baseline: PostgreSQL's CPU per event of the bare
insert): 2 idle cores store about ``2e6 / value`` events/s.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
import psycopg
import requests

from backend.admin import services as admin
from backend.db.engine import make_engine, make_sessionmaker
from backend.db.migrate import upgrade
from backend.pgserver import PostgresServer, free_port
from backend.settings import BackendSettings
from tests.support.waiting import wait_until

BATCH = 500
BATCHES = 120
THREADS = 4
STORE = "bench-store"


def _events(prefix: str, n: int) -> list[list[dict[str, object]]]:
    return [
        [
            {
                "idempotency_key": f"{prefix}-{b:04d}-{i:03d}",
                "stream": ("basket", "offers", "display-acks")[i % 3],
                "kind": "pick",
                "t": 1.8e9 + b + i / 1000,
                "payload": {"product_id": f"p{i % 50}", "shopper": f"s{i % 97}", "quantity": 1, "w_g": 412.5},
            }
            for i in range(BATCH)
        ]
        for b in range(n)
    ]


def _serve(settings: BackendSettings, work: Path) -> tuple[subprocess.Popen[bytes], str]:
    env = dict(
        os.environ,
        SHELF_BACKEND_DATABASE_URL=settings.database_url,
        SHELF_BACKEND_DATA_DIR=str(work / "files"),
        SHELF_BACKEND_PORT=str(settings.port),
        SHELF_BACKEND_WORKERS="2",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "backend.cli", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{settings.port}"

    def up() -> bool:
        try:
            return requests.get(f"{url}/v1/health", timeout=1).ok
        except requests.RequestException:
            return False

    try:
        wait_until(up, 30, what="shelf-backend serve answering /v1/health")
    except AssertionError:
        proc.kill()
        raise RuntimeError(
            f"shelf-backend serve did not start: {proc.stderr.read() if proc.stderr else b''!r}"
        ) from None
    return proc, url


def _descendants(roots: set[int]) -> set[int]:
    """``roots`` and every process below them (Linux /proc)."""
    parent: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(stat.parent.name)] = int(fields[1])
    found = set(roots)
    grew = True
    while grew:
        more = {pid for pid, ppid in parent.items() if ppid in found} - found
        found |= more
        grew = bool(more)
    return found


def _cpu_s(pids: set[int]) -> float:
    """User + system CPU seconds used so far by ``pids`` (those still alive)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def _postmaster(pg: PostgresServer) -> int:
    return int((pg.data / "postmaster.pid").read_text().split()[0])


def _p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def _through_api(
    url: str, token: str, batches: list[list[dict[str, object]]], servers: set[int]
) -> tuple[float, float, int, float]:
    bodies = [orjson.dumps({"events": b}) for b in batches]
    resends = bodies[::10]
    local = threading.local()
    latencies: list[float] = []
    stored = [0]
    lock = threading.Lock()

    def post(body: bytes) -> None:
        if not hasattr(local, "s"):
            local.s = requests.Session()
            local.s.headers.update({"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        t0 = time.perf_counter()
        answer = local.s.post(f"{url}/v1/stores/{STORE}/events", data=body, timeout=30)
        took = time.perf_counter() - t0
        answer.raise_for_status()
        with lock:
            latencies.append(took)
            stored[0] += len(orjson.loads(answer.content)["accepted"])

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(post, bodies[:4]))  # warm-up: connections, workers' pools
        stored[0], latencies[:] = 0, []
        pids = _descendants(servers)
        cpu0, t0 = _cpu_s(pids), time.perf_counter()
        list(pool.map(post, bodies[4:] + resends))
        wall = time.perf_counter() - t0
        cpu = _cpu_s(pids) - cpu0
    return stored[0] / wall, _p99(latencies) * 1000, stored[0], cpu


def _bare_insert(
    dsn: str, batches: list[list[dict[str, object]]], postmaster: int
) -> tuple[float, float, float]:
    sql = (
        "INSERT INTO events (store_id, idempotency_key, stream, kind, t, payload, received_at, deliveries) "
        "VALUES (%s, %s, %s, %s, %s, %s::jsonb, %s, 1)"
    )
    rows = [
        [
            (
                STORE,
                e["idempotency_key"],
                e["stream"],
                e["kind"],
                e["t"],
                orjson.dumps(e["payload"]).decode(),
                0.0,
            )
            for e in b
        ]
        for b in batches
    ]
    latencies: list[float] = []
    local = threading.local()
    lock = threading.Lock()

    def insert(batch: list[tuple[object, ...]]) -> None:
        if not hasattr(local, "c"):
            local.c = psycopg.connect(dsn)
        t0 = time.perf_counter()
        with local.c.transaction(), local.c.cursor() as cur:
            cur.executemany(sql, batch)
        with lock:
            latencies.append(time.perf_counter() - t0)

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(insert, rows[:THREADS]))  # warm-up: one connection per thread
        latencies[:] = []
        pids = _descendants({postmaster})
        cpu0, t0 = _cpu_s(pids), time.perf_counter()
        list(pool.map(insert, rows[THREADS:]))
        wall = time.perf_counter() - t0
        cpu = _cpu_s(pids) - cpu0
    n = (len(rows) - THREADS) * BATCH
    return n / wall, _p99(latencies) * 1000, cpu * 1e6 / n


def main() -> list[dict[str, object]]:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, range(os.cpu_count() or 1))  # the figure is for the whole machine
    work = Path(tempfile.mkdtemp(prefix="bench-backend-"))
    with PostgresServer(durable=True) as pg:
        settings = BackendSettings(database_url=pg.url, data_dir=work / "files", port=free_port())
        upgrade(settings)
        engine = make_engine(settings)
        with make_sessionmaker(engine)() as session:
            admin.ensure_store(session=session, store_id=STORE)
            _, token = admin.issue_token(session=session, role="gateway", store_id=STORE, label="bench")
            session.commit()
        engine.dispose()
        proc, url = _serve(settings, work)
        try:
            rate, p99, stored, cpu = _through_api(
                url, token, _events("api", BATCHES + 4), {proc.pid, _postmaster(pg)}
            )
        finally:
            proc.terminate()
            proc.wait(10)
        if stored != BATCHES * BATCH:
            raise RuntimeError(f"stored {stored} of {BATCHES * BATCH} events")
        base_rate, base_p99, base_cpu = _bare_insert(
            pg.url, _events("bare", BATCHES + THREADS), _postmaster(pg)
        )
    return [
        {
            "bench": "backend.events_per_s",
            "value": round(rate),
            "unit": "events/s",
            "baseline": round(base_rate),
        },
        {
            "bench": "backend.ingest_p99_ms",
            "value": round(p99, 1),
            "unit": "ms",
            "baseline": round(base_p99, 1),
        },
        {
            "bench": "backend.server_cpu_us_per_event",
            "value": round(cpu * 1e6 / stored, 1),
            "unit": "us CPU (uvicorn workers + PostgreSQL) per stored event",
            "baseline": round(base_cpu, 1),
        },
    ]
