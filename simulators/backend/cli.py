"""``shelf-sim backend``: the real central service on SQLite (or PostgreSQL), with simulated faults."""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from backend.gateway.services import RESOURCES
from simulators.backend.server import BackendServer


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", type=Path, default=Path("var/backend.db"), help="SQLite file (default: %(default)s)"
    )
    parser.add_argument("--database-url", help="postgresql://... instead of the SQLite file")
    parser.add_argument("--host", default="127.0.0.1", help="listen address (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8780, help="listen port (default: %(default)s)")
    parser.add_argument(
        "--admin-token", help="token for central IT operations (uploads, releases, event reads)"
    )
    parser.add_argument(
        "--gateway-token",
        action="append",
        default=[],
        metavar="STORE=TOKEN",
        help="a gateway's token (repeatable); without any token, requests without one act as admin",
    )
    parser.add_argument(
        "--seed",
        type=Path,
        metavar="DIR",
        help="load DIR/<store>/{catalogue,planogram,campaigns}.json and DIR/<store>/customer-keys-<day>.json",
    )
    parser.add_argument(
        "--slow", type=float, default=0.0, metavar="S", help="delay every request by S seconds"
    )
    parser.add_argument(
        "--lose-answers", type=int, default=0, metavar="N", help="store the next N event batches, answer 503"
    )
    parser.add_argument(
        "--garbage", type=int, default=0, metavar="N", help="answer the next N requests with HTML"
    )


def seed(server: BackendServer, directory: Path) -> int:
    n = 0
    for store_dir in sorted(p for p in directory.iterdir() if p.is_dir()):
        for name in RESOURCES:
            path = store_dir / f"{name}.json"
            if path.exists():
                server.store.put_resource(store_dir.name, name, path.read_bytes())
                n += 1
        for path in sorted(store_dir.glob("customer-keys-*.json")):
            day = path.stem.removeprefix("customer-keys-")
            server.store.put_resource(store_dir.name, f"customer-keys/{day}", path.read_bytes())
            n += 1
    return n


def run(args: argparse.Namespace) -> int:
    server = BackendServer(args.db, port=args.port, host=args.host, database_url=args.database_url)
    if args.admin_token:
        server.add_token(args.admin_token, "admin")
    for item in args.gateway_token:
        store, _, token = item.partition("=")
        if not store or not token:
            print(f"--gateway-token wants STORE=TOKEN, got {item!r}")
            return 2
        server.add_token(token, "gateway", store)
    if args.seed:
        print(f"seeded {seed(server, args.seed)} documents from {args.seed}")
    server.faults.slow_s = args.slow
    server.faults.lose_answers = args.lose_answers
    server.faults.garbage = args.garbage
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server.start()
    print(f"central service (simulated faults in front) on {server.url}; Ctrl-C stops", flush=True)
    try:
        stop.wait()
    except KeyboardInterrupt:
        return 0  # Ctrl-C: a normal way to stop it
    finally:
        server.close()
    return 0
