"""``shelf-edge dashboard``: serve the technician dashboard on its own (normally the daemon serves it).

Useful when the daemon is stopped or during a demo: it reads the same MQTT topics and files.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from edge.service_cli import load_service_config, wait_for_stop_signal
from edge.web.server import start_dashboard


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", type=Path, default=Path("/etc/smartshelf/edge.toml"), help="Gateway configuration file."
    )
    parser.add_argument("--port", type=int, help="Override web.port.")


def run(args: argparse.Namespace) -> int:
    config = load_service_config(args.config)
    if config is None:
        return 2
    if args.port is not None:
        config = config.model_copy(update={"web": config.web.model_copy(update={"port": args.port})})
    handle = start_dashboard(config)
    print(f"dashboard on {handle.url} (Ctrl-C stops it)", flush=True)
    wait_for_stop_signal()
    handle.stop()
    return 0
