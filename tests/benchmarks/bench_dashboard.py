"""dashboard.*: the dashboard's HTTP server while 400 idle and half-open connections are held open.

The daemon's dashboard (uvicorn, the daemon's limits) on loopback; 400 TCP connections are opened,
half of them with half a request sent, and kept open (issue 12: they used to pin 400 threads).
Figures: the median time to answer ``GET /healthz`` (over one keep-alive connection, 50 requests)
and the process's thread count, each with the same figure measured without the flood as baseline.
"""

from __future__ import annotations

import logging
import os
import socket
import statistics
import tempfile
import time
from typing import Any

import requests

from edge.config import parse_config
from edge.web.server import start_dashboard
from simulators.broker import free_port

FLOOD = 400
REQUESTS = 50


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


def _answer_ms(url: str) -> float:
    session = requests.Session()
    times = []
    for _ in range(REQUESTS):
        t = time.perf_counter()
        session.get(f"{url}/healthz", timeout=10)
        times.append((time.perf_counter() - t) * 1000)
    session.close()
    return statistics.median(times)


def main() -> list[dict[str, Any]]:
    logging.disable(logging.WARNING)  # the dashboard's own MQTT client has no broker here
    config = parse_config(
        {
            "gateway": {
                "store_id": "bench",
                "gateway_id": "gw-bench",
                "data_dir": tempfile.mkdtemp(prefix="bench-dashboard-"),
            },
            "mqtt": {"host": "127.0.0.1", "port": free_port()},
            "web": {"host": "127.0.0.1", "port": 0},
        }
    )
    handle = start_dashboard(config)
    port = int(handle.url.rsplit(":", 1)[1])
    try:
        quiet_ms = _answer_ms(handle.url)
        quiet_threads = _threads()
        flood = []
        for i in range(FLOOD):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            if i % 2:
                sock.sendall(b"GET /api/state HTTP/1.1\r\nHost: gateway\r\n")
            flood.append(sock)
        flooded_ms = _answer_ms(handle.url)
        flooded_threads = _threads()
        for sock in flood:
            sock.close()
    finally:
        handle.stop()
    return [
        {
            "bench": "dashboard.healthz_ms_with_400_idle_connections",
            "value": round(flooded_ms, 3),
            "unit": "ms (median of 50)",
            "baseline": round(quiet_ms, 3),
        },
        {
            "bench": "dashboard.threads_with_400_idle_connections",
            "value": flooded_threads,
            "unit": "threads in the process",
            "baseline": quiet_threads,
        },
    ]
