"""``shelf-sim soak``: a store under faults, then proof that nothing was lost, doubled or shown stale.

A *writer* process plays the gateway: it appends ground-truth basket events (event + outbox row in
one transaction, deterministic ids), publishes an offer for every 5th event through the real
:class:`DisplayPublisher`, and runs the real :func:`edge.sync.service.run_sync` to the reference
backend. Meanwhile the soak:

- takes the backend down for a long stretch (the outbox fills),
- restarts Mosquitto (offers in flight are lost or dropped, never late),
- kills the writer with SIGKILL while it writes, twice, and restarts it (it re-derives the same
  ground truth; stored ids are skipped),

then waits for the outbox to drain and checks: the backend holds every ground-truth event exactly
once (by idempotency key, no resend stored twice), and the display never showed an offer past its
``expires_at``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from edge.config import DisplaySection, MqttSection, parse_config
from edge.events import Offer, ShelfId
from edge.mqtt.topics import Topics

STORE = "soak-store"
DISPLAY = DisplaySection(display_id="soak-d1", gondola=1, shelf=1)


# ---------------------------------------------------------------------------------------- writer
def _writer(args: argparse.Namespace) -> int:
    from edge.displays.publisher import DisplayPublisher
    from edge.mqtt.client import MqttClient
    from edge.store.db import open_database
    from edge.store.events_repo import EventStore
    from edge.sync.service import run_sync

    db_path = Path(args.db)
    config = parse_config(
        {
            "gateway": {"store_id": STORE, "gateway_id": "gw-soak", "data_dir": str(db_path.parent)},
            "mqtt": {
                "host": "127.0.0.1",
                "port": args.mqtt_port,
                "reconnect_min_s": 0.5,
                "reconnect_max_s": 1,
            },
            "backend": {
                "url": args.backend,
                "timeout_s": 2,
                "batch_size": 100,
                "push_interval_s": 0.05,
                "retry_min_s": 0.1,
                "retry_max_s": 1.0,
                "pull_interval_s": 3600,
            },
        }
    )
    db = open_database(db_path)
    events = EventStore(db)
    topics = Topics(STORE)
    mqtt = MqttClient(config.mqtt, f"soak-writer-{os.getpid()}", topics.availability("gateway", "soak"))
    publisher = DisplayPublisher(mqtt, topics, [DISPLAY], record=events.append)
    mqtt.start()
    mqtt.wait_connected(5)

    async def main() -> None:
        stop = asyncio.Event()
        sync = asyncio.create_task(run_sync(config, stop, db_path=db_path))
        period = 1.0 / args.rate
        next_t = time.monotonic()
        for i in range(args.count):
            key = f"{args.seed}-{i:06d}"
            t = time.time()
            new = events.append(
                "basket", "pick", key, t, {"i": i, "product_id": f"p{i % 7}", "shopper": f"s{i % 13}"}
            )
            if new and i % 5 == 0:
                publisher.publish(
                    Offer(
                        f"{key}-offer",
                        t,
                        t + args.offer_ttl,
                        f"s{i % 13}",
                        ShelfId(1, 1),
                        DISPLAY.display_id,
                        f"p{i % 7}",
                        "Soak biscuits",
                        1.0,
                        "soak test",
                    )
                )
            if new:
                next_t += period
                delay = next_t - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
        print("written", flush=True)
        while events.pending_outbox() and not stop.is_set():
            await asyncio.sleep(0.05)
        stop.set()
        await sync

    asyncio.run(main())
    mqtt.stop()
    print("drained", flush=True)
    return 0


# ---------------------------------------------------------------------------------------- soak
@dataclass
class SoakResult:
    expected: int
    backend_events: int
    basket_on_backend: int
    missing: list[str]
    unexpected: list[str]
    resends: int
    offers_published: int
    offers_shown: int
    shown_expired: int
    delivered_late: int
    writer_kills: int
    broker_restarts: int
    backend_down_s: float
    seconds: float
    log: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            not self.missing
            and not self.unexpected
            and self.basket_on_backend == self.expected
            and self.shown_expired == 0
        )


class _Display:
    """The simulated shelf display of the demo, watched: when did it show what, until when was it valid."""

    def __init__(self, port: int, topics: Topics) -> None:
        from simulators.displays import SimulatedDisplay

        self.shown = 0
        self.shown_expired = 0
        self.display = SimulatedDisplay(
            MqttSection(host="127.0.0.1", port=port, reconnect_min_s=0.5, reconnect_max_s=1),
            topics,
            DISPLAY,
            on_show=self._on_show,
        )
        self.display.start()
        self.display.client.wait_connected(5)

    def _on_show(self, display: str, offer: object) -> None:
        now = time.time()
        self.shown += 1
        if offer.expires_at <= now:  # type: ignore[attr-defined]
            self.shown_expired += 1

    @property
    def delivered_late(self) -> int:
        return len(self.display.record.refused_expired)

    def stop(self) -> None:
        self.display.stop()


def run_soak(
    seconds: float = 30.0,
    workdir: Path | None = None,
    count: int | None = None,
    database_url: str | None = None,
) -> SoakResult:
    from simulators.backend.server import BackendServer
    from simulators.broker import MosquittoBroker, free_port

    work = workdir or Path(tempfile.mkdtemp(prefix="soak-"))
    work.mkdir(parents=True, exist_ok=True)
    rate = 150.0
    count = count or int(rate * seconds * 0.55)
    seed = "gt"
    log: list[str] = []
    t0 = time.monotonic()

    def note(text: str) -> None:
        log.append(f"{time.monotonic() - t0:6.1f}s {text}")

    # the real central service, on SQLite or (database_url) PostgreSQL
    backend = BackendServer(work / "backend.db", port=free_port(), database_url=database_url)
    broker = MosquittoBroker()
    broker.start()
    backend.start()
    display = _Display(broker.port, Topics(STORE))
    writer_cmd = [
        sys.executable,
        "-m",
        "simulators.soak",
        "--writer",
        "--db",
        str(work / "gw" / "edge.db"),
        "--backend",
        backend.url,
        "--mqtt-port",
        str(broker.port),
        "--seed",
        seed,
        "--count",
        str(count),
        "--rate",
        str(rate),
        "--offer-ttl",
        "2",
    ]

    def spawn() -> subprocess.Popen[bytes]:
        return subprocess.Popen(writer_cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

    writer = spawn()
    kills = 0
    restarts = 0
    down_for = 0.0
    try:
        plan = [
            (0.10, "backend down"),
            (0.20, "kill writer"),
            (0.30, "broker stop"),
            (0.37, "broker start"),
            (0.45, "kill writer"),
            (0.50, "backend up"),
        ]
        down_at = 0.0
        for frac, action in plan:
            while time.monotonic() - t0 < frac * seconds:
                time.sleep(0.02)
            if action == "backend down":
                backend.stop()
                down_at = time.monotonic()
            elif action == "backend up":
                backend.fault_after_commit = 2  # and the first two answers after the outage are lost
                backend.start()
                down_for = time.monotonic() - down_at
            elif action == "kill writer":
                if writer.poll() is None:
                    os.kill(writer.pid, signal.SIGKILL)
                    writer.wait()
                    kills += 1
                writer = spawn()
            elif action == "broker stop":
                broker.stop()
            elif action == "broker start":
                broker.start()
                restarts += 1
            note(action)
        deadline = t0 + seconds * 1.6 + 20
        while writer.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if writer.poll() is None:
            writer.kill()
            writer.wait()
            note("writer did not finish in time")
        else:
            note(f"writer exited {writer.returncode}")
        note(f"event answers lost after storing: {2 - backend.fault_after_commit}")
        expected = {f"{seed}-{i:06d}" for i in range(count)}
        stored = backend.store.events(STORE, 0, 10_000_000)
        basket = [e["idempotency_key"] for e in stored if e["stream"] == "basket"]
        offers_published = sum(1 for e in stored if e["stream"] == "offers" and e["kind"] == "offer")
        expiry = {
            e["payload"]["offer_id"]: e["payload"]["expires_at"] for e in stored if e["kind"] == "offer"
        }
        acked_late = [
            e["payload"]["offer_id"]
            for e in stored
            if e["stream"] == "display-acks"
            and e["kind"] == "shown"
            and e["payload"]["at"] >= expiry.get(e["payload"]["offer_id"], float("inf"))
        ]
        return SoakResult(
            expected=len(expected),
            backend_events=len(stored),
            basket_on_backend=len(basket),
            missing=sorted(expected - set(basket))[:20],
            unexpected=sorted(set(basket) - expected)[:20],
            resends=sum(e["deliveries"] - 1 for e in stored),
            offers_published=offers_published,
            offers_shown=display.shown,
            shown_expired=display.shown_expired + len(acked_late),
            delivered_late=display.delivered_late,
            writer_kills=kills,
            broker_restarts=restarts,
            backend_down_s=round(down_for, 1),
            seconds=round(time.monotonic() - t0, 1),
            log=log,
        )
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
        if writer.stdout:
            writer.stdout.close()
        display.stop()
        backend.close()
        broker.close()


# ---------------------------------------------------------------------------------------- CLI
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the fault schedule")
    parser.add_argument(
        "--workdir", type=Path, default=None, help="keep databases here (default: a temp dir)"
    )
    parser.add_argument(
        "--database",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="the central service's database; postgres: a private cluster started for the run",
    )


def run(args: argparse.Namespace) -> int:
    if args.database == "postgres":
        from backend.pgserver import PostgresServer

        with PostgresServer() as pg:
            result = run_soak(args.seconds, args.workdir, database_url=pg.url)
    else:
        result = run_soak(args.seconds, args.workdir)
    for line in result.log:
        print(line)
    summary = {k: v for k, v in result.__dict__.items() if k != "log"}
    print(json.dumps(summary, indent=1))
    print("OK: every event exactly once, no stale offer shown" if result.ok else "FAILED")
    return 0 if result.ok else 1


def _writer_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m simulators.soak --writer")
    parser.add_argument("--writer", action="store_true")
    parser.add_argument("--db", required=True)
    parser.add_argument("--backend", required=True)
    parser.add_argument("--mqtt-port", type=int, required=True)
    parser.add_argument("--seed", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--offer-ttl", type=float, default=2.0)
    return parser.parse_args(argv)


if __name__ == "__main__":
    if "--writer" in sys.argv[1:]:
        raise SystemExit(_writer(_writer_args(sys.argv[1:])))
    threading.current_thread().name = "soak"
    parser = argparse.ArgumentParser(prog="python -m simulators.soak")
    add_arguments(parser)
    raise SystemExit(run(parser.parse_args()))
