"""``shelf-edge dashboard``: serve the technician dashboard on its own (normally the daemon serves it).

Useful when the daemon is stopped or during a demo: it reads the same MQTT topics and files.
"""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from edge.config import load_config
from edge.errors import ConfigError
from edge.logging_setup import configure
from edge.web.server import start_dashboard


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", type=Path, default=Path("/etc/smartshelf/edge.toml"), help="Gateway configuration file."
    )
    parser.add_argument("--port", type=int, help="Override web.port.")


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(exc)
        return 2
    if args.port is not None:
        config = config.model_copy(update={"web": config.web.model_copy(update={"port": args.port})})
    configure(config.logging.level, config.logging.format)
    handle = start_dashboard(config)
    print(f"dashboard on {handle.url} (Ctrl-C stops it)", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    handle.stop()
    return 0
