"""What every long-running command (``shelf-edge run``, ``shelf-bridge run``, ``shelf-edge dashboard``)
does before and after its work: load the config or explain why not, set up logging, wait for a stop."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from edge.config import EdgeConfig, load_config
from edge.config_paths import Daemon, check_paths
from edge.errors import ConfigError
from edge.logging_setup import configure


def load_service_config(path: str | Path, daemon: Daemon | None = None) -> EdgeConfig | None:
    """The validated config with logging set up; None (every problem printed to stderr) when invalid.

    With ``daemon``, the paths that daemon uses are checked too (edge.config_paths): a missing CA
    file or planogram is named here, not met as a traceback later.
    """
    try:
        config = load_config(path)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return None
    problems = check_paths(config, daemon) if daemon is not None else []
    if problems:
        print(ConfigError(str(path), [p.issue() for p in problems]), file=sys.stderr)
        return None
    configure(config.logging.level, config.logging.format)
    return config


def wait_for_stop_signal(tick: Callable[[], None] | None = None, every_s: float = 1.0) -> None:
    """Block the calling (main) thread until SIGINT or SIGTERM, calling ``tick`` every ``every_s`` meanwhile
    (the systemd watchdog ping of a threaded daemon)."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(every_s if tick is not None else None):
        if tick is not None:
            tick()
