"""The dashboard page in a real headless Chromium at the widths technicians use (issue 12): every
"Gateway health" label shares a row with its value at 768, 1280 and 1920 px (element geometry);
events show product names from the planogram; an untared plate says so. Samples and events arrive
on the real MQTT topics, encoded with the daemon's payload models."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.config import EdgeConfig, parse_config
from edge.mqtt.client import MqttClient
from edge.mqtt.payloads import BasketEventMessage, SampleBatchMessage, encode
from edge.mqtt.topics import Topics
from edge.store.db import open_database
from edge.store.events_repo import EventStore
from edge.sync.client import BackendClient
from edge.sync.outbox import OutboxRelay
from edge.sync.pull import SyncPuller
from edge.web.live import UNTARED_BELOW_G
from edge.web.server import DashboardHandle, start_dashboard
from simulators.backend.server import BackendServer
from simulators.broker import MosquittoBroker
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
WIDTHS = (768, 1280, 1920)
#: plate -> grams: a loaded plate, an untared one, one a little below zero (noise, not flagged)
PLATES = {1: 412.5, 2: -3120.0, 3: -12.0}


@pytest.fixture
def dashboard(shared_broker: MosquittoBroker, tmp_path: Path) -> Iterator[tuple[EdgeConfig, DashboardHandle]]:
    planogram = tmp_path / "planogram.csv"
    planogram.write_text(
        "product_id,name,gondola,shelf,plate,unit_weight_g,price\n"
        "p-oat-milk,Oat milk 1 l,1,2,1,1040,1.89\n"
        "p-granola,Crunchy granola,1,2,2,510,3.49\n"
    )
    config = parse_config(
        {
            "gateway": {"store_id": "store-page", "gateway_id": "gw-page", "data_dir": str(tmp_path)},
            "mqtt": {"host": shared_broker.host, "port": shared_broker.port},
            "sensing": {"planogram": str(planogram)},
            "web": {"host": "127.0.0.1", "port": 0, "password": PASSWORD},
        }
    )
    handle = start_dashboard(config)
    try:
        yield config, handle
    finally:
        handle.stop()


def publish_traffic(config: EdgeConfig) -> None:
    topics = Topics(config.gateway.store_id)
    client = MqttClient(config.mqtt, client_id="test-page-traffic")
    client.start()
    assert client.wait_connected(10)
    now = time.time()
    plates = sorted(PLATES)
    batch = SampleBatchMessage(
        bridge="bridge-1",
        gondola=1,
        shelf=2,
        seq=0,
        plates=plates,
        t=[now - 1.0 + k * 0.1 for k in range(10)],
        readings=[[PLATES[p] for p in plates] for _ in range(10)],
    )
    messages = [(topics.samples(1, 2), batch)]
    for i, product in enumerate(("p-oat-milk", "p-unlisted")):
        event = BasketEventMessage(
            event_id=f"be-{i}",
            t=now + i,
            gondola=1,
            shelf=2,
            kind="pick",
            product_id=product,
            quantity=1,
            confidence=0.9,
            shopper=None,
            sources=["weight"],
        )
        messages.append((topics.gateway_events(config.gateway.gateway_id, "basket"), event))
    for topic, message in messages:
        client.publish(topic, encode(message), qos=1).wait_for_publish(5)
    client.stop()


def login(browser: webdriver.Chromium, url: str) -> None:
    browser.get(f"{url}/login")
    browser.js(
        "document.getElementById('password').value = arguments[0]; document.getElementById('login-form').submit()",
        PASSWORD,
    )
    wait_until(lambda: browser.js("return location.pathname") == "/", 10, what="dashboard after login")


def set_viewport(browser: webdriver.Chromium, width: int) -> None:
    browser._call("POST", "/window/rect", {"width": width, "height": 1000})
    inner = browser.js("return window.innerWidth")
    if inner != width:  # window decorations: widen the window by the difference
        browser._call("POST", "/window/rect", {"width": 2 * width - inner, "height": 1000})
    assert browser.js("return window.innerWidth") == width


def test_health_grid_names_and_untared_marker(
    dashboard: tuple[EdgeConfig, DashboardHandle], tmp_path: Path
) -> None:
    config, handle = dashboard
    publish_traffic(config)
    wait_until(
        lambda: len(handle.live.snapshot()["events"]) == 2 and handle.live.snapshot()["plates"],
        10,
        what="samples and events seen by the dashboard",
    )
    assert [p["untared"] for p in handle.live.snapshot()["plates"]] == [
        g < UNTARED_BELOW_G for g in PLATES.values()
    ]
    with webdriver.Chromium() as browser:
        login(browser, handle.url)
        wait_until(
            lambda: browser.js("return document.querySelectorAll('#event-table tbody tr').length") == 2,
            10,
            what="events on the page",
        )
        # Names, with the id beside them; an id the planogram does not know stays an id.
        rows = browser.js(
            "return Array.from(document.querySelectorAll('#event-table tbody tr'))"
            ".map(r => r.cells[3].innerText)"
        )
        assert any(r.startswith("Oat milk 1 l") and "p-oat-milk" in r for r in rows), rows
        assert any(r == "p-unlisted" for r in rows), rows
        # The untared plate, and only it, carries the marker.
        labels = browser.js(
            "return Object.fromEntries(Array.from(document.querySelectorAll('[data-plate]'))"
            ".map(e => [e.dataset.plate, e.innerText]))"
        )
        assert "not tared — run calibrate" in labels["1/2/2"], labels
        assert "tared" not in labels["1/2/1"] and "tared" not in labels["1/2/3"], labels
        # No backend.url: the store-status row says sync is off (and the gateway has no database yet).
        status = browser.js(
            "return Array.from(document.querySelectorAll('#store-status td')).map(c => c.innerText)"
        )
        assert status[0].startswith("not configured (backend.url)") and status[3] == "no database yet", status
        for width in WIDTHS:
            set_viewport(browser, width)
            pairs = browser.js(
                """return Array.from(document.querySelectorAll('#facts dt')).map(dt => {
                     const dd = dt.nextElementSibling, a = dt.getBoundingClientRect(), b = dd.getBoundingClientRect();
                     return {label: dt.innerText, tag: dd.tagName, dtTop: a.top, dtBottom: a.bottom,
                             ddTop: b.top, ddBottom: b.bottom, dtRight: a.right, ddLeft: b.left};
                   })"""
            )
            assert len(pairs) == 5
            for p in pairs:
                # the value is on the label's row (their boxes overlap vertically) and right of it
                same_row = p["ddTop"] < p["dtBottom"] and p["dtTop"] < p["ddBottom"]
                assert p["tag"] == "DD" and same_row and p["ddLeft"] >= p["dtRight"], (width, p)
            # kept for a look by eye when the CSS changes
            (tmp_path / f"dashboard-{width}.png").write_bytes(browser.screenshot())


def test_store_status_row_shows_the_sync_with_the_central_service(
    shared_broker: MosquittoBroker, tmp_path: Path
) -> None:
    """A real pull round and a real push (2 of 3 events) against the central service, then the row:
    reachable, when the pull and the push last succeeded, 1 event still unsent."""
    data = tmp_path / "gw"
    with BackendServer(tmp_path / "backend.db") as backend:
        backend.add_token("gw-page-token", "gateway", "store-page")
        config = parse_config(
            {
                "gateway": {"store_id": "store-page", "gateway_id": "gw-page", "data_dir": str(data)},
                "mqtt": {"host": shared_broker.host, "port": shared_broker.port},
                "web": {"host": "127.0.0.1", "port": 0, "password": PASSWORD, "health_report_interval_s": 0},
                "backend": {"url": backend.url, "token": "gw-page-token"},
            }
        )
        db = open_database(data / "edge.db")
        events = EventStore(db)
        for i in range(3):
            events.append("basket", "pick", f"ev-{i}", time.time(), {"i": i})
        client = BackendClient(backend.url, "store-page", "gw-page-token")
        assert OutboxRelay(db, client, batch_size=2).drain_once() == 2
        puller = SyncPuller(db, client, data)
        puller.pull_all()
        assert puller.errors == {}
        handle = start_dashboard(config)
        try:
            with webdriver.Chromium() as browser:
                login(browser, handle.url)
                cells = wait_until(
                    lambda: browser.js(
                        "return Array.from(document.querySelectorAll('#store-status td'))"
                        ".map(c => [c.innerText, c.className])"
                    ),
                    10,
                    what="the store-status row",
                )
        finally:
            handle.stop()
            db.conn.close()
    (central, ok), (pull, pull_ok), (push, push_ok), (unsent, _) = cells
    assert (central, ok) == ("reachable", "ok"), cells
    assert pull.endswith(" s ago)") and pull_ok == "ok", cells
    assert push.endswith(" s ago)") and push_ok == "ok", cells
    assert unsent == "1", cells
