"""Periodic health report to the backend, for central IT (no shopper data).

``build_report(state, now)`` turns the dashboard state into the report body (pure);
:class:`HealthReporter` posts it every ``web.health_report_interval_s`` to
``POST {backend}/v1/stores/{store}/gateways/{gateway}/health`` with the gateway's token. A failed
post is logged and retried at the next interval: the newest state is what matters.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import requests

from edge.config import EdgeConfig
from edge.ops.doctor_core import Status, judge_disk

log = logging.getLogger("edge.ops.health")
BACKLOG_WARN = 1000


def build_report(state: dict[str, Any], now: float) -> dict[str, Any]:
    gw = dict(state["gateway"])
    problems: list[str] = []
    if not gw.get("mqtt_connected"):
        problems.append("gateway not connected to the store broker")
    for shelf in state["shelves"]:
        if not shelf["connected"]:
            problems.append(f"shelf {shelf['shelf']}: serial link down")
    for who, availability in sorted(state.get("availability", {}).items()):
        if availability != "online":
            problems.append(f"{who} is {availability}")
    backlog = gw.get("sync_backlog")
    if isinstance(backlog, int) and backlog > BACKLOG_WARN:
        problems.append(f"{backlog} events waiting to be sent to the backend")
    store = gw.get("store")
    if isinstance(store, dict) and not store.get("ok", True):
        problems.append(
            f"database cannot take writes ({store.get('reason')}): {store.get('held', 0)} events held "
            f"in memory, {store.get('dropped', 0)} dropped"
        )
    disk = judge_disk("data", int(gw["disk_free_bytes"]), int(gw["disk_total_bytes"]))
    if disk.status is not Status.OK:
        problems.append(f"disk: {disk.detail}")
    shelves = [
        {k: s[k] for k in ("shelf", "connected", "firmware", "crc_errors", "shoppers")}
        for s in state["shelves"]
    ]
    return {
        "sent_at": now,
        "gateway": gw,
        "shelves": shelves,
        "counters": dict(state["counters"]),
        "problems": problems,
    }


class HealthReporter:
    def __init__(
        self, config: EdgeConfig, state: Callable[[], dict[str, Any]], clock: Callable[[], float]
    ) -> None:
        if not config.backend.url:
            raise ValueError("health reports need backend.url")
        self.url = (
            f"{config.backend.url.rstrip('/')}/v1/stores/{config.gateway.store_id}"
            f"/gateways/{config.gateway.gateway_id}/health"
        )
        self.interval = config.web.health_report_interval_s
        self.timeout = config.backend.timeout_s
        self.headers = {"Authorization": f"Bearer {config.backend.token}"} if config.backend.token else {}
        self.state = state
        self.clock = clock
        self.sent = 0
        self.failed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="health-report", daemon=True)

    def send_once(self) -> bool:
        try:
            report = build_report(self.state(), self.clock())
            response = requests.post(self.url, json=report, headers=self.headers, timeout=self.timeout)
        except requests.RequestException as exc:
            self.failed += 1
            log.warning("health report not sent (%s); next try in %.0f s", type(exc).__name__, self.interval)
            return False
        if response.status_code != 200:
            self.failed += 1
            log.warning("health report refused: HTTP %d %s", response.status_code, response.text[:200])
            return False
        self.sent += 1
        return True

    def _loop(self) -> None:
        # The first report waits a little, so it describes a gateway that has had time to connect.
        delay = min(self.interval, 15.0)
        while not self._stop.wait(delay):
            self.send_once()
            delay = self.interval

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(self.timeout + 1)
