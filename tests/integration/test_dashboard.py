"""The technician dashboard in a real headless Chromium: login, live plate weights from the real
bridge reading simulated firmware on a pty, recent events, offers and their acks; /metrics and
/healthz over real HTTP. Gateway events are published on the daemon's observer topics with the
daemon's own payload models."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
import requests

from edge.config import EdgeConfig, parse_config
from edge.mqtt.client import MqttClient
from edge.mqtt.payloads import AckMessage, BasketEventMessage, OfferMessage, PresenceEventMessage, encode
from edge.mqtt.topics import Topics
from edge.web.server import DashboardHandle, start_dashboard
from shelf_firmware_bridge.service import Bridge
from simulators.broker import MosquittoBroker
from simulators.shelves.firmware import SimulatedShelfFirmware
from tests.support import webdriver
from tests.support.waiting import wait_until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.browser,
    pytest.mark.skipif(
        not webdriver.available(), reason="needs chromium + chromedriver (deploy/system-packages.sh)"
    ),
]
PASSWORD = "shelf-tech-2026"
SHOPPER = "shopper-7f3a9c"


@pytest.fixture
def store(broker: MosquittoBroker, tmp_path: Path) -> Iterator[tuple[EdgeConfig, DashboardHandle]]:
    sim = SimulatedShelfFirmware(gondola=1, shelf=2, plates=4, rate_hz=30, seed=3)
    config = parse_config(
        {
            "gateway": {"store_id": "store-009", "gateway_id": "gw-1", "data_dir": str(tmp_path)},
            "mqtt": {"host": broker.host, "port": broker.port},
            "bridge": {"shelves": [{"port": sim.start(), "gondola": 1, "shelf": 2}]},
            "web": {"host": "127.0.0.1", "port": 0, "password": PASSWORD},
        }
    )
    bridge = Bridge(config)
    bridge.start()
    dashboard = start_dashboard(config)
    try:
        yield config, dashboard
    finally:
        dashboard.stop()
        bridge.stop()
        sim.stop()


def publish_gateway_traffic(config: EdgeConfig) -> None:
    """A pick attributed to a shopper, that shopper's presence, an offer and the display's acks."""
    topics = Topics(config.gateway.store_id)
    gw = config.gateway.gateway_id
    client = MqttClient(config.mqtt, client_id="test-gateway-events")
    client.start()
    assert client.wait_connected(10)
    now = time.time()
    messages = [
        (
            topics.gateway_events(gw, "presence"),
            PresenceEventMessage(t=now, shopper=SHOPPER, gondola=1, shelf=2, kind="arrival"),
        ),
        (
            topics.gateway_events(gw, "basket"),
            BasketEventMessage(
                event_id="be-1",
                t=now,
                gondola=1,
                shelf=2,
                kind="pick",
                product_id="p-oat-milk",
                quantity=1,
                confidence=0.93,
                shopper=SHOPPER,
                sources=["weight", "presence"],
            ),
        ),
        (
            topics.gateway_events(gw, "offer"),
            OfferMessage(
                offer_id="of-1",
                shopper=SHOPPER,
                gondola=1,
                shelf=2,
                display="d-g1s2",
                product_id="p-granola",
                name="Crunchy granola",
                price=3.49,
                reason="goes with your oat milk",
                issued_at=now,
                expires_at=now + 30,
            ),
        ),
        (
            topics.display(1, 2, "d-g1s2", "ack"),
            AckMessage(offer_id="of-1", display="d-g1s2", status="shown", at=now + 0.2),
        ),
    ]
    for topic, message in messages:
        client.publish(topic, encode(message), qos=1).wait_for_publish(5)
    client.stop()


def test_dashboard_in_chromium(store: tuple[EdgeConfig, DashboardHandle], tmp_path: Path) -> None:
    config, dashboard = store
    wait_until(lambda: len(dashboard.live.snapshot()["plates"]) == 4, 15, what="live plate weights")
    publish_gateway_traffic(config)
    wait_until(lambda: dashboard.live.snapshot()["offers"], 10, what="offer seen by the dashboard")

    # Without a login: the API refuses, the page sends the browser to /login.
    assert requests.get(f"{dashboard.url}/api/state", timeout=5).status_code == 401
    with webdriver.Chromium() as browser:
        browser.get(dashboard.url)
        assert "/login" in browser.js("return location.pathname")
        browser.js(
            "document.getElementById('password').value = arguments[0]; document.getElementById('login-form').submit()",
            "wrong",
        )
        wait_until(lambda: browser.js("return location.search") == "?failed=1", 10, what="refused login")
        browser.js(
            "document.getElementById('password').value = arguments[0]; document.getElementById('login-form').submit()",
            PASSWORD,
        )
        wait_until(lambda: browser.js("return location.pathname") == "/", 10, what="dashboard after login")

        def page() -> str:
            return str(browser.js("return document.body.innerText"))

        wait_until(
            lambda: "Crunchy granola" in page() and "p-oat-milk" in page(),
            15,
            what="events and offers on the page",
        )
        text = page()
        for plate in range(1, 5):
            assert f"plate {plate}: " in text
        weights = browser.js(
            "return Array.from(document.querySelectorAll('[data-plate]')).map(e => e.textContent)"
        )
        assert len(weights) == 4 and all(w.endswith(" g") for w in weights), weights
        lines = browser.js("return document.querySelectorAll('#plots polyline').length")
        assert lines == 4
        points = browser.js(
            "return document.querySelector('#plots polyline').getAttribute('points').split(' ').length"
        )
        assert points > 5  # a plotted history, not a single value
        assert "pick" in text and "1/2" in text
        offer_row = browser.js("return document.querySelector('#offer-table tbody tr').innerText")
        assert "d-g1s2" in offer_row and "3.49" in offer_row and "shown" in offer_row and "yes" in offer_row
        assert "shelfsim-1.4.2" in text  # shelf firmware from the bridge's status
        assert SHOPPER not in text  # no shopper identities on the dashboard
        browser._call("POST", "/window/rect", {"width": 1200, "height": 1700})  # the whole page
        png = browser.screenshot()
    (tmp_path / "dashboard.png").write_bytes(png)
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert (
        image is not None and image.shape[0] > 400 and float(image.std()) > 10
    )  # a rendered page, not blank


def test_metrics_healthz_and_privacy(store: tuple[EdgeConfig, DashboardHandle]) -> None:
    config, dashboard = store
    wait_until(lambda: dashboard.live.snapshot()["plates"], 15, what="samples")
    publish_gateway_traffic(config)
    wait_until(lambda: dashboard.live.snapshot()["counters"]["acks_shown"] == 1, 10, what="ack counted")
    from edge.store.db import open_database
    from edge.store.events_repo import EventStore

    db = open_database(config.gateway.data_dir / "edge.db")
    for i in range(3):  # three events waiting in the outbox for the backend
        EventStore(db).append("basket", "pick", f"e{i}", float(i), {"n": i})
    db.conn.close()
    health = requests.get(f"{dashboard.url}/healthz", timeout=5)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    metrics = requests.get(f"{dashboard.url}/metrics", timeout=5).text
    assert 'smartshelf_plate_grams{gondola="1",plate="1",shelf="2"}' in metrics
    assert 'smartshelf_shelf_shoppers{shelf="1/2"} 1.0' in metrics
    assert 'smartshelf_display_acks_total{status="shown"} 1.0' in metrics
    assert 'smartshelf_basket_events_total{kind="pick"} 1.0' in metrics
    assert "smartshelf_sync_backlog_events 3.0" in metrics
    assert SHOPPER not in metrics
    session = requests.Session()
    login = session.post(
        f"{dashboard.url}/login", data={"password": PASSWORD}, allow_redirects=False, timeout=5
    )
    assert login.status_code == 303 and "HttpOnly" in login.headers["Set-Cookie"]
    state = session.get(f"{dashboard.url}/api/state", timeout=5)
    assert state.status_code == 200 and SHOPPER not in state.text
    assert state.json()["shelves"][0]["shoppers"] == 1


def test_health_report_reaches_the_backend(broker: MosquittoBroker, tmp_path: Path) -> None:
    from simulators.backend.server import BackendServer

    with BackendServer(tmp_path / "backend.db") as backend:
        config = parse_config(
            {
                "gateway": {"store_id": "store-009", "gateway_id": "gw-3", "data_dir": str(tmp_path)},
                "mqtt": {"host": broker.host, "port": broker.port},
                "backend": {"url": backend.url},
                "web": {"host": "127.0.0.1", "port": 0, "health_report_interval_s": 0.3},
            }
        )
        dashboard = start_dashboard(config)
        try:

            def reports() -> list[dict[str, object]]:
                answer = requests.get(f"{backend.url}/v1/health-reports", timeout=5).json()
                return list(answer["gateways"])

            def connected_report() -> list[dict[str, object]]:
                found = reports()
                ok = (
                    found
                    and isinstance(found[0]["report"], dict)
                    and found[0]["report"]["gateway"]["mqtt_connected"]
                )
                return found if ok else []

            found = wait_until(connected_report, 10, what="a health report of a connected gateway")
            assert found[0]["store_id"] == "store-009" and found[0]["gateway_id"] == "gw-3"
            report = found[0]["report"]
            assert isinstance(report, dict)
            assert report["gateway"]["mqtt_connected"] is True
            assert report["problems"] == []
            reporter = dashboard.reporter
            assert reporter is not None
            # the backend stores the report before it answers; the reporter counts it after the answer
            wait_until(lambda: reporter.sent >= 1, 10, what="the reporter counting its report")
        finally:
            dashboard.stop()


def test_standalone_dashboard_command(broker: MosquittoBroker, tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    from simulators.broker import free_port

    config = tmp_path / "edge.toml"
    config.write_text(
        f'[gateway]\nstore_id = "store-001"\ngateway_id = "gw-1"\ndata_dir = "{tmp_path}"\n[mqtt]\nhost = "{broker.host}"\nport = {broker.port}\n'
        '[web]\nhost = "127.0.0.1"\npassword = "long-enough-password"\n'
    )
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "edge.cli", "dashboard", "--config", str(config), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:

        def healthy() -> bool:
            try:
                return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
            except requests.RequestException:
                return False

        wait_until(healthy, 20, what="standalone dashboard healthy")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        assert proc.stdout is not None and f"dashboard on http://127.0.0.1:{port}" in proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
