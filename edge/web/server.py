"""The technician dashboard, ``/metrics`` (Prometheus) and ``/healthz``, served by the daemon.

    handle = start_dashboard(config, mqtt=None, extra_state=None)   # returns at once
    handle.url ; handle.live ; handle.stop()

The dashboard needs a login (``web.password``, plain or hashed; a random session cookie, HttpOnly,
SameSite=Strict, valid ``web.session_ttl_s``). ``/healthz`` and ``/metrics`` are open on the same
port: they carry no shopper data. Static files (HTML/JS/CSS) are bundled; no CDN. Served by uvicorn
in one thread with bounded connections, time and workers (:mod:`edge.web.http`); routes in
:mod:`edge.web.routes`.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import anyio
from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.registry import Collector

from edge import telemetry
from edge.config import EdgeConfig
from edge.mqtt.client import MqttClient
from edge.ops.health_report import HealthReporter
from edge.ops.healthz import healthz
from edge.web.gateway_info import gateway_facts, product_names
from edge.web.http import HttpLimits, HttpServer
from edge.web.live import LiveState
from edge.web.metrics import LiveCollector
from edge.web.observer import StoreObserver
from edge.web.passwords import verify
from edge.web.routes import build_app

log = logging.getLogger("edge.web")
ExtraState = Callable[[], dict[str, Any]]
#: product id -> display name (None when unknown); the daemon passes its planogram + catalogue
ProductName = Callable[[str], str | None]


class _Telemetry(Collector):
    """The daemon's own counters and histograms (:mod:`edge.telemetry`), next to the live state."""

    def collect(self) -> Iterator[Any]:
        yield from telemetry.REGISTRY.collect()


@dataclass
class DashboardHandle:
    """A running dashboard; ``stop()`` closes the HTTP server (and its own MQTT client, if any)."""

    url: str
    live: LiveState
    server: HttpServer
    own_mqtt: MqttClient | None
    reporter: HealthReporter | None = None

    def stop(self) -> None:
        if self.reporter is not None:
            self.reporter.stop()
        self.server.stop()
        if self.own_mqtt is not None:
            self.own_mqtt.stop()


class DashboardApp:
    """What the routes serve: state, health, metrics registry, sessions and the password check."""

    def __init__(
        self,
        config: EdgeConfig,
        live: LiveState,
        mqtt: MqttClient,
        extra: ExtraState | None,
        product_name: ProductName | None = None,
        health: ExtraState | None = None,
    ) -> None:
        self.config = config
        self.health_provider = health
        self.live = live
        self.mqtt = mqtt
        self.extra = extra
        if product_name is None:
            names = product_names(config)
            product_name = names.get
        self.product_name = product_name
        self.sessions: dict[str, float] = {}
        self.lock = threading.Lock()
        self.started = time.time()
        self.registry = CollectorRegistry()
        self.registry.register(LiveCollector(self.state))
        self.registry.register(_Telemetry())
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)

    def state(self) -> dict[str, Any]:
        state = self.live.snapshot()
        try:
            for event in state["events"]:
                event["name"] = self.product_name(event["product"]) if event["product"] != "unknown" else None
        except Exception:  # names are a courtesy: the ids stay on the page
            log.exception("dashboard: product name lookup failed")
        state["gateway"] = gateway_facts(self.config)
        state["gateway"]["mqtt_connected"] = self.mqtt.connected.is_set()
        now = time.time()
        state["gateway"]["uptime_s"] = round(now - self.started, 1)
        state["gateway"]["now"] = now  # the gateway's clock: the page's ages are measured against it
        if self.extra is not None:
            try:
                state["gateway"].update(self.extra())
            except Exception:  # a failing provider must not take the dashboard down
                log.exception("dashboard: extra state provider failed")
        return state

    def health(self) -> tuple[int, dict[str, Any]]:
        """``/healthz``: (HTTP status, body) from the broker link and the daemon's components."""
        return healthz(self.mqtt.connected.is_set(), self.health_provider)

    def new_session(self) -> str:
        token = secrets.token_urlsafe(32)
        with self.lock:
            now = time.monotonic()
            self.sessions = {t: exp for t, exp in self.sessions.items() if exp > now}
            self.sessions[token] = now + self.config.web.session_ttl_s
        return token

    def end_session(self, token: str | None) -> None:
        with self.lock:
            self.sessions.pop(token or "", None)

    def valid(self, token: str | None) -> bool:
        if not token:
            return False
        with self.lock:
            expiry = self.sessions.get(token)
        return expiry is not None and expiry > time.monotonic()

    def check_password(self, given: str) -> bool:
        expected = self.config.web.password
        return expected is not None and verify(expected, given)


def start_dashboard(
    config: EdgeConfig,
    mqtt: MqttClient | None = None,
    extra_state: ExtraState | None = None,
    product_name: ProductName | None = None,
    limits: HttpLimits | None = None,
    health: ExtraState | None = None,
) -> DashboardHandle:
    """Serve the dashboard on ``web.host:web.port`` in a background thread and return at once.

    ``mqtt``: the daemon's client (the dashboard adds read-only subscriptions to it); when None the
    dashboard opens its own connection. ``extra_state``: called at each refresh, its dict is merged
    into the gateway facts (e.g. the daemon's counters). ``product_name``: product id -> name (the
    daemon's planogram and catalogue); when None, names come from the configured files. ``limits``:
    connections, time and workers (:class:`~edge.web.http.HttpLimits`; tests shorten them).
    ``health``: the daemon's component health for ``/healthz`` (:func:`edge.ops.healthz.healthz`). With
    ``backend.url`` set and ``web.health_report_interval_s`` > 0, a health report goes to the
    backend at that interval.
    """
    live = LiveState()
    own = None
    if mqtt is None:
        own = mqtt = MqttClient(config.mqtt, client_id=f"dashboard-{config.gateway.gateway_id}")
    StoreObserver(live, config.gateway.store_id).subscribe(mqtt)
    app = DashboardApp(config, live, mqtt, extra_state, product_name, health)
    limits = limits or HttpLimits()
    workers = anyio.CapacityLimiter(limits.workers)  # every blocking call of the routes goes through it
    server = HttpServer(build_app(app, workers), config.web.host, config.web.port, limits)
    if own is not None:
        own.start()
    server.start()
    shown = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(server.host, server.host)
    shown = f"[{shown}]" if ":" in shown else shown
    log.info("dashboard on http://%s:%d", shown, server.port)
    reporter = None
    if config.backend.url and config.web.health_report_interval_s > 0:
        reporter = HealthReporter(config, app.state, time.time)
        reporter.start()
    return DashboardHandle(f"http://{shown}:{server.port}", live, server, own, reporter)
