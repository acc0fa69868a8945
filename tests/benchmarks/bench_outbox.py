"""outbox.events_per_s: outbox drain rate from the gateway's SQLite to the central service.

The central service runs as its own process (``shelf-sim backend``: backend/ on SQLite with
synchronous=FULL, simulated faults off). 10,000 events are appended through EventStore (event +
outbox row per transaction), then OutboxRelay sends them in batches of 200 and marks them sent.
Baseline: the same batches POSTed with bare requests (no outbox reads or marks) to the same
backend, fresh keys.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from edge.store.db import open_database
from edge.store.events_repo import EventStore
from edge.sync.client import BackendClient
from edge.sync.outbox import OutboxRelay
from simulators.broker import free_port

N = 10_000
BATCH = 200


def _backend(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from simulators.cli import main; raise SystemExit(main())",
            "backend",
            "--db",
            str(work / "backend.db"),
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/v1/health", timeout=1).ok:
                return proc, url
        except requests.RequestException:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("backend did not start")


def main() -> list[dict[str, object]]:
    work = Path(tempfile.mkdtemp(prefix="bench-outbox-"))
    proc, url = _backend(work)
    try:
        db = open_database(work / "edge.db")
        store = EventStore(db)
        for i in range(N):
            store.append(
                ("basket", "offers", "display-acks")[i % 3],
                "pick",
                f"e{i:06d}",
                1e9 + i,
                {"i": i, "product_id": f"p{i % 50}", "shopper": f"s{i % 97}", "quantity": 1},
            )
        relay = OutboxRelay(db, BackendClient(url, "bench-store"), batch_size=BATCH)
        t0 = time.perf_counter()
        sent = relay.drain()
        relay_s = time.perf_counter() - t0
        if sent != N or relay.pending():
            raise RuntimeError(f"relay settled {sent} of {N}")

        session = requests.Session()
        batches = [
            {
                "events": [
                    {
                        "idempotency_key": f"raw{i:06d}",
                        "stream": "basket",
                        "kind": "pick",
                        "t": 1e9 + i,
                        "payload": {
                            "i": i,
                            "product_id": f"p{i % 50}",
                            "shopper": f"s{i % 97}",
                            "quantity": 1,
                        },
                    }
                    for i in range(b, b + BATCH)
                ]
            }
            for b in range(0, N, BATCH)
        ]
        t0 = time.perf_counter()
        for body in batches:
            session.post(f"{url}/v1/stores/bench-store/events", json=body, timeout=30).raise_for_status()
        raw_s = time.perf_counter() - t0
    finally:
        proc.terminate()
        proc.wait(10)
    return [
        {
            "bench": "outbox.events_per_s",
            "value": round(N / relay_s),
            "unit": "events/s",
            "baseline": round(N / raw_s),
        }
    ]


if __name__ == "__main__":
    for row in main():
        print(row)
