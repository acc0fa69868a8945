"""A flood of bad or novel MQTT messages against the running daemon (real Mosquitto, dashboard on).

Every door counts what it refuses (a sightings message of more than 4096 sightings or 1 MiB too); none writes a log line per message (a flood of 8 000 messages
used to write 8 000 lines: sightings, display state, the dashboard's observer), and the dashboard
keeps at most ``MAX_SHELVES`` shelves however many shelf topics appear (each used to add series to
/metrics and rows to the page, without bound).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from edge.app import Gateway
from edge.config import parse_config
from edge.mqtt.client import MqttClient
from edge.mqtt.topics import Topics
from edge.telemetry import MALFORMED_SIGHTINGS, PAYLOADS_REFUSED, value
from edge.web.live import MAX_SHELVES
from simulators.broker import MosquittoBroker
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

TOPICS = Topics("s1")
FLOOD = 60


@pytest.fixture
def gateway(
    broker: MosquittoBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> Iterator[tuple[Gateway, str]]:
    caplog.set_level(logging.INFO)
    config = parse_config(
        {
            "gateway": {"store_id": "s1", "gateway_id": "gw-flood", "data_dir": str(tmp_path / "data")},
            "mqtt": {"host": broker.host, "port": broker.port},
            "presence": {"source": "mqtt-receivers", "receivers": {"rx1": "1/1"}},
            "web": {"host": "127.0.0.1", "port": 0, "password": "flood-test-password"},
            "displays": [{"display_id": "d1", "gondola": 1, "shelf": 1}],
        }
    )
    gw = Gateway(config)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(target=loop.run_until_complete, args=(gw.run(stop),), daemon=True)
    thread.start()
    lines = lambda: [r.getMessage() for r in caplog.records if "dashboard on http" in r.getMessage()]  # noqa: E731
    sightings = gw.topics.all_ble_sightings()  # subscribed by the receiver source once it runs
    wait_until(
        lambda: (
            # listed first, then ready: a subscription made while connected clears ready before it is listed
            any(s.topic_filter == sightings for s in gw.mqtt._subs) and gw.mqtt.ready.is_set() and lines()
        ),
        15,
        what="gateway subscribed (SUBACKs) and dashboard up",
    )
    url = re.search(r"http://\S+", lines()[0]).group(0)  # type: ignore[union-attr]
    yield gw, url
    loop.call_soon_threadsafe(stop.set)
    thread.join(10)


def metric(url: str, name: str) -> list[str]:
    text = requests.get(f"{url}/metrics", timeout=10).text
    return [line for line in text.splitlines() if line.startswith(name)]


def test_a_flood_is_counted_not_logged_per_message_and_the_dashboard_stays_bounded(
    gateway: tuple[Gateway, str], caplog: pytest.LogCaptureFixture
) -> None:
    gw, url = gateway
    sightings0 = value(MALFORMED_SIGHTINGS)
    states0 = value(PAYLOADS_REFUSED, kind="display-state", reason="malformed")
    caplog.clear()
    attacker = MqttClient(gw.config.mqtt, "test-flood")
    attacker.start()
    assert attacker.wait_connected(5)
    status = json.dumps({"bridge": "b", "port": "/dev/x", "connected": True, "updated_at": 1.0}).encode()
    try:
        item = {"t": 1.0, "rssi": -60}
        too_many = json.dumps({"receiver": "rx1", "sightings": [item] * 5000}).encode()  # 110 kB
        attacker.publish(TOPICS.ble_sightings("rx1"), too_many, qos=1)
        attacker.publish(TOPICS.ble_sightings("rx1"), b'{"pad": "' + b"A" * (1 << 20) + b'"}', qos=1)
        for _ in range(FLOOD):
            attacker.publish(TOPICS.ble_sightings("rx1"), b'{"receiver": 1}', qos=1)
            attacker.publish(TOPICS.display(1, 1, "d1", "state"), b"[]", qos=1)
            attacker.publish(TOPICS.gateway_events("gw-x", "basket"), b'{"t": "now"}', qos=1)
        for i in range(MAX_SHELVES + 100):  # a shelf status on ever new shelf topics
            attacker.publish(TOPICS.shelf_status(100 + i // 100, i % 100), status, qos=1)
        wait_until(lambda: value(MALFORMED_SIGHTINGS) - sightings0 == FLOOD + 2, 20, what="sightings refused")
        wait_until(
            lambda: value(PAYLOADS_REFUSED, kind="display-state", reason="malformed") - states0 == FLOOD,
            20,
            what="display states refused",
        )
        wait_until(
            lambda: (
                metric(url, "smartshelf_malformed_messages_total")
                == [f"smartshelf_malformed_messages_total {float(FLOOD)}"]
            ),
            20,
            what="dashboard's malformed count",
        )
        wait_until(
            lambda: len(metric(url, "smartshelf_shelf_connected{")) == MAX_SHELVES, 20, what="shelves shown"
        )
    finally:
        attacker.stop()
    refusals = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    by_logger = {r.name for r in caplog.records if r.levelno >= logging.WARNING}
    assert by_logger == {"edge.presence.sources", "edge.displays", "edge.web.observer"}, refusals
    assert len(refusals) == 3, refusals  # one line per door for 3 x 60 refusals
    assert len(metric(url, "smartshelf_shelf_connected{")) == MAX_SHELVES  # 100 more were not kept
