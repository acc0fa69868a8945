"""What every long-running command (``shelf-edge run``, ``shelf-bridge run``, ``shelf-edge dashboard``)
does before and after its work: load the config or explain why not, set up logging, wait for a stop."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

from edge.config import EdgeConfig, load_config
from edge.errors import ConfigError
from edge.logging_setup import configure


def load_service_config(path: str | Path) -> EdgeConfig | None:
    """The validated config with logging set up; None (every problem printed to stderr) when invalid."""
    try:
        config = load_config(path)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return None
    configure(config.logging.level, config.logging.format)
    return config


def wait_for_stop_signal() -> None:
    """Block the calling (main) thread until SIGINT or SIGTERM."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
