"""The technician dashboard, ``/metrics`` (Prometheus) and ``/healthz``, served by the daemon.

    handle = start_dashboard(config, mqtt=None, extra_state=None)   # returns at once
    handle.url ; handle.live ; handle.stop()

The dashboard needs a login (``web.password``; a random session cookie, HttpOnly, SameSite=Strict,
valid ``web.session_ttl_s``). ``/healthz`` and ``/metrics`` are open on the same port: they carry
no shopper data. Static files (HTML/JS/CSS) are bundled; no CDN.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from edge.config import EdgeConfig
from edge.mqtt.client import MqttClient
from edge.ops.health_report import HealthReporter
from edge.ops.healthz import healthz
from edge.web.gateway_info import gateway_facts
from edge.web.live import LiveState
from edge.web.metrics import LiveCollector
from edge.web.observer import StoreObserver

log = logging.getLogger("edge.web")
ExtraState = Callable[[], dict[str, Any]]
STATIC = {
    "app.js": "text/javascript",
    "style.css": "text/css",
    "index.html": "text/html",
    "login.html": "text/html",
}
COOKIE = "smartshelf_session"


@dataclass
class DashboardHandle:
    """A running dashboard; ``stop()`` closes the HTTP server (and its own MQTT client, if any)."""

    url: str
    live: LiveState
    server: ThreadingHTTPServer
    thread: threading.Thread
    own_mqtt: MqttClient | None
    reporter: HealthReporter | None = None

    def stop(self) -> None:
        if self.reporter is not None:
            self.reporter.stop()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
        if self.own_mqtt is not None:
            self.own_mqtt.stop()


class _App:
    def __init__(
        self,
        config: EdgeConfig,
        live: LiveState,
        mqtt: MqttClient,
        extra: ExtraState | None,
        health: ExtraState | None = None,
    ) -> None:
        self.config = config
        self.health = health
        self.live = live
        self.mqtt = mqtt
        self.extra = extra
        self.sessions: dict[str, float] = {}
        self.lock = threading.Lock()
        self.started = time.time()
        self.registry = CollectorRegistry()
        self.registry.register(LiveCollector(self.state))

    def state(self) -> dict[str, Any]:
        state = self.live.snapshot()
        state["gateway"] = gateway_facts(self.config)
        state["gateway"]["mqtt_connected"] = self.mqtt.connected.is_set()
        state["gateway"]["uptime_s"] = round(time.time() - self.started, 1)
        if self.extra is not None:
            try:
                state["gateway"].update(self.extra())
            except Exception:  # a failing provider must not take the dashboard down
                log.exception("dashboard: extra state provider failed")
        return state

    def new_session(self) -> str:
        token = secrets.token_urlsafe(32)
        with self.lock:
            now = time.monotonic()
            self.sessions = {t: exp for t, exp in self.sessions.items() if exp > now}
            self.sessions[token] = now + self.config.web.session_ttl_s
        return token

    def valid(self, token: str | None) -> bool:
        if not token:
            return False
        with self.lock:
            expiry = self.sessions.get(token)
        return expiry is not None and expiry > time.monotonic()

    def check_password(self, given: str) -> bool:
        expected = self.config.web.password
        return expected is not None and hmac.compare_digest(given.encode(), expected.encode())


def _static(name: str) -> bytes:
    return resources.files("edge.web").joinpath("static", name).read_bytes()


class _Handler(BaseHTTPRequestHandler):
    app: _App
    protocol_version = "HTTP/1.1"
    server_version = "smartshelf-dashboard"

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header(
            "Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"
        )
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, data: Any) -> None:
        self._send(status, json.dumps(data).encode(), "application/json")

    def _session(self) -> str | None:
        for part in (self.headers.get("Cookie") or "").split(";"):
            key, _, value = part.strip().partition("=")
            if key == COOKIE:
                return value
        return None

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            status, body = healthz(self.app.mqtt.connected.is_set(), self.app.health)
            self._json(status, body)
        elif path == "/metrics":
            self._send(200, generate_latest(self.app.registry), CONTENT_TYPE_LATEST)
        elif path == "/login":
            self._send(200, _static("login.html"), "text/html; charset=utf-8")
        elif path.startswith("/static/") and path[8:] in STATIC:
            self._send(200, _static(path[8:]), STATIC[path[8:]] + "; charset=utf-8")
        elif not self.app.valid(self._session()):
            if path == "/api/state":
                self._json(401, {"error": "login required"})
            else:
                self._send(303, b"", "text/plain", {"Location": "/login"})
        elif path in ("/", "/index.html"):
            self._send(200, _static("index.html"), "text/html; charset=utf-8")
        elif path == "/api/state":
            self._json(200, self.app.state())
        else:
            self._json(404, {"error": f"no such page: {path}"})

    do_HEAD = do_GET

    def do_POST(self) -> None:
        length = min(int(self.headers.get("Content-Length") or 0), 4096)
        form = parse_qs(self.rfile.read(length).decode(errors="replace"))
        path = self.path.split("?", 1)[0]
        if path == "/login":
            if self.app.check_password(form.get("password", [""])[0]):
                token = self.app.new_session()
                cookie = f"{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={int(self.app.config.web.session_ttl_s)}"
                self._send(303, b"", "text/plain", {"Location": "/", "Set-Cookie": cookie})
            else:
                log.warning("dashboard: failed login from %s", self.address_string())
                time.sleep(0.5)  # slows guessing; the server is threaded
                self._send(303, b"", "text/plain", {"Location": "/login?failed=1"})
        elif path == "/logout":
            with self.app.lock:
                self.app.sessions.pop(self._session() or "", None)
            self._send(
                303, b"", "text/plain", {"Location": "/login", "Set-Cookie": f"{COOKIE}=; Max-Age=0; Path=/"}
            )
        else:
            self._json(404, {"error": f"no such page: {path}"})


def start_dashboard(
    config: EdgeConfig,
    mqtt: MqttClient | None = None,
    extra_state: ExtraState | None = None,
    health: ExtraState | None = None,
) -> DashboardHandle:
    """Serve the dashboard on ``web.host:web.port`` in a background thread and return at once.

    ``mqtt``: the daemon's client (the dashboard adds read-only subscriptions to it); when None the
    dashboard opens its own connection. ``extra_state``: called at each refresh, its dict is merged
    into the gateway facts (e.g. the daemon's counters). ``health``: the daemon's component health for
    ``/healthz`` (:func:`edge.ops.healthz.healthz`). With ``backend.url`` set and
    ``web.health_report_interval_s`` > 0, a health report goes to the backend at that interval.
    """
    live = LiveState()
    own = None
    if mqtt is None:
        own = mqtt = MqttClient(config.mqtt, client_id=f"dashboard-{config.gateway.gateway_id}")
    StoreObserver(live, config.gateway.store_id).subscribe(mqtt)
    if own is not None:
        own.start()
    app = _App(config, live, mqtt, extra_state, health)
    handler = type("DashboardHandler", (_Handler,), {"app": app})
    server = ThreadingHTTPServer((config.web.host, config.web.port), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="dashboard", daemon=True)
    thread.start()
    host, port = str(server.server_address[0]), int(server.server_address[1])
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    log.info("dashboard on http://%s:%d", shown, port)
    reporter = None
    if config.backend.url and config.web.health_report_interval_s > 0:
        reporter = HealthReporter(config, app.state, time.time)
        reporter.start()
    return DashboardHandle(f"http://{shown}:{port}", live, server, thread, own, reporter)
