"""The daemon's MQTT doors against hostile payloads, in-process with a real Mosquitto.

Sample batches: one batch stamped a day ahead must not blind a shelf; a payload naming another shelf
than its topic must not reach that shelf; NaN is refused; each refusal is counted (the counters
behind /metrics) and logged once per shelf and reason, not once per message.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import generate_latest

from edge.app import Gateway
from edge.config import parse_config
from edge.events import Offer, ShelfId
from edge.mqtt.client import MqttClient
from edge.mqtt.payloads import SampleBatchMessage, encode
from edge.mqtt.topics import Topics
from edge.telemetry import ACKS_REFUSED, REGISTRY, SAMPLES_REFUSED, value
from simulators.broker import MosquittoBroker
from simulators.shelves.physics import ShelfPhysics
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

TOPICS = Topics("s1")


@pytest.fixture
def gateway(broker: MosquittoBroker, tmp_path: Path) -> Iterator[Gateway]:
    config = parse_config(
        {
            "gateway": {"store_id": "s1", "gateway_id": "gw-door", "data_dir": str(tmp_path / "data")},
            "mqtt": {"host": broker.host, "port": broker.port},
            "presence": {"source": "none"},
            "web": {"enabled": False},
            "displays": [
                {"display_id": "d1", "gondola": 1, "shelf": 2},
                {"display_id": "d2", "gondola": 1, "shelf": 3},
            ],
        }
    )
    gw = Gateway(config)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(target=loop.run_until_complete, args=(gw.run(stop),), daemon=True)
    thread.start()
    wait_until(gw.mqtt.connected.is_set, 10, what="gateway connected")
    gw.loop = loop  # type: ignore[attr-defined]
    yield gw
    loop.call_soon_threadsafe(stop.set)
    thread.join(10)


def _pick_stream(t0: float, seconds: float) -> list[SampleBatchMessage]:
    """Shelf 1/1 at 60 Hz from ``t0``, 4 plates, a 400 g pick from plate 3 at t0 + 3 s."""
    physics = ShelfPhysics(plates=4, seed=4)
    physics.schedule("pick", t0 + 3.0, (3,), 400.0, 1.5)
    t = t0 + np.arange(int(seconds * 60)) / 60.0
    x = np.round(np.vstack([physics.render(t[k : k + 60]) for k in range(0, len(t), 60)]) / 0.241) * 0.241
    return [
        SampleBatchMessage(
            bridge="bridge-1",
            gondola=1,
            shelf=1,
            seq=k,
            plates=[1, 2, 3, 4],
            t=t[k : k + 6].tolist(),
            readings=x[k : k + 6].tolist(),
        )
        for k in range(0, len(t), 6)
    ]


def test_a_batch_from_the_future_is_refused_and_the_shelf_still_detects(
    gateway: Gateway, broker: MosquittoBroker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="edge.mqtt.samples")
    before = {
        reason: value(SAMPLES_REFUSED, shelf="1/1", reason=reason)
        for reason in ("ahead_of_clock", "wrong_shelf", "malformed")
    }
    baskets: list[dict[str, object]] = []
    pub = MqttClient(gateway.config.mqtt, "test-door")
    pub.subscribe(TOPICS.gateway_events("gw-door", "basket"), lambda m: baskets.append(json.loads(m.payload)))
    pub.start()
    assert pub.wait_connected(5)
    now = time.time()
    stream = _pick_stream(now - 10.5, 10.0)
    topic = TOPICS.samples(1, 1)
    for batch in stream[:20]:  # the shelf is running
        pub.publish(topic, encode(batch), qos=1)
    tomorrow = stream[20].model_copy(update={"t": [x + 86_400 for x in stream[20].t]})
    for _ in range(3):
        pub.publish(topic, encode(tomorrow), qos=1)
    # the payload names shelf 9/9 on shelf 1/1's topic: refused, no detector for 9/9
    other = stream[20].model_copy(update={"gondola": 9, "shelf": 9})
    pub.publish(topic, encode(other), qos=1)
    nan = json.loads(encode(stream[20]))
    nan["readings"][0][0] = float("nan")
    pub.publish(topic, json.dumps(nan).encode(), qos=1)  # json.dumps writes NaN
    for batch in stream[20:]:
        pub.publish(topic, encode(batch), qos=1)
    try:
        wait_until(lambda: baskets, 20, what="the pick after the future batch")
    finally:
        pub.stop()
    assert [(b["kind"], b["gondola"], b["shelf"]) for b in baskets] == [("pick", 1, 1)]
    assert list(gateway.sensing.detectors) == [ShelfId(1, 1)]  # nothing reached a detector of 9/9
    assert value(SAMPLES_REFUSED, shelf="1/1", reason="ahead_of_clock") - before["ahead_of_clock"] == 3
    assert value(SAMPLES_REFUSED, shelf="1/1", reason="wrong_shelf") - before["wrong_shelf"] == 1
    assert value(SAMPLES_REFUSED, shelf="1/1", reason="malformed") - before["malformed"] == 1
    # what /metrics exposes (edge.telemetry.REGISTRY in the Prometheus text format)
    exposition = generate_latest(REGISTRY).decode()
    assert 'smartshelf_samples_refused_total{reason="ahead_of_clock",shelf="1/1"}' in exposition
    lines = [r.getMessage() for r in caplog.records if "ahead_of_clock" in r.getMessage()]
    assert len(lines) == 1, lines  # rate-limited: one line for three refusals
    assert "86" in lines[0] and "ahead of the gateway clock" in lines[0] and "max_samples_ahead_s" in lines[0]


ACK_REASONS = ("too_large", "wrong_display", "unknown_offer", "unknown_display", "malformed")


def test_forged_display_acks_are_refused_and_never_stored(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="edge.displays")
    before = {r: value(ACKS_REFUSED, reason=r) for r in ACK_REASONS}
    assert gateway.displays is not None
    now = time.time()
    offer = Offer("of-door-1", now, now + 60, "shopper-a", ShelfId(1, 2), "d1", "p1", "Tea", 2.5, "r")
    gateway.loop.call_soon_threadsafe(gateway.displays.publish, offer)  # type: ignore[attr-defined]
    wait_until(lambda: gateway.displays.live_offers(), 5, what="offer live")  # type: ignore[union-attr]

    def ack(display: str, offer_id: str = "of-door-1", **extra: object) -> bytes:
        return json.dumps(
            {"offer_id": offer_id, "display": display, "status": "shown", "at": now, **extra}
        ).encode()

    forger = MqttClient(gateway.config.mqtt, "test-forger")
    forger.start()
    assert forger.wait_connected(5)
    forged = [
        (TOPICS.display(1, 2, "d1", "ack"), ack("d1", pad="A" * 1_000_000)),  # 1 MB
        (TOPICS.display(1, 3, "d2", "ack"), ack("d1")),  # names d1 on d2's topic
        (TOPICS.display(1, 3, "d2", "ack"), ack("d2")),  # d2 acks an offer sent to d1
        (TOPICS.display(1, 2, "d1", "ack"), ack("d1", offer_id="of-never-sent")),
        (TOPICS.display(1, 3, "d1", "ack"), ack("d1")),  # d1 under another shelf's topic
        (TOPICS.display(1, 2, "d1", "ack"), b'{"offer_id": "of-door-1", "display": "d1", "status": "shown"}'),
    ]
    for topic, payload in forged:
        forger.publish(topic, payload, qos=1)
    forger.publish(TOPICS.display(1, 2, "d1", "ack"), ack("d1"), qos=1)  # the real one, last
    counts = gateway.displays.counts
    try:
        wait_until(
            lambda: counts["acks"] + counts["bad_acks"] == len(forged) + 1, 10, what="every ack handled"
        )
    finally:
        forger.stop()
    assert (counts["acks"], counts["bad_acks"]) == (1, len(forged))
    delta = {r: value(ACKS_REFUSED, reason=r) - before[r] for r in ACK_REASONS}
    assert delta == {
        "too_large": 1,
        "wrong_display": 1,
        "unknown_offer": 2,
        "unknown_display": 1,
        "malformed": 1,
    }

    def stored_acks() -> list[tuple[str, int]]:
        db = sqlite3.connect(gateway.db_path)
        try:
            query = "SELECT event_id, LENGTH(payload) FROM events WHERE stream = 'display-acks'"
            return db.execute(query).fetchall()
        finally:
            db.close()

    # the genuine ack is counted before it is written: wait for the row
    stored = wait_until(stored_acks, 5, what="the genuine ack stored")
    assert [event_id for event_id, _ in stored] == ["of-door-1:shown"]
    assert stored[0][1] < 200
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == len(forged) and all(len(line) < 400 for line in refusals), refusals


def test_an_oversized_sample_batch_is_refused_and_the_shelf_still_detects(gateway: Gateway) -> None:
    """One batch of 200 000 plates used to become a shelf of 200 000 plates (+225 MB, a 13 MB /metrics).

    Now a payload over 1 MiB is not parsed, and more plates or samples than a controller sends, or a
    plate named twice, is malformed.
    """
    before = {r: value(SAMPLES_REFUSED, shelf="1/1", reason=r) for r in ("too_large", "malformed")}
    baskets: list[dict[str, object]] = []
    pub = MqttClient(gateway.config.mqtt, "test-door-size")
    pub.subscribe(TOPICS.gateway_events("gw-door", "basket"), lambda m: baskets.append(json.loads(m.payload)))
    pub.start()
    assert pub.wait_connected(5)
    now = time.time()
    stream = _pick_stream(now - 10.5, 10.0)
    topic = TOPICS.samples(1, 1)
    wide = stream[0].model_dump()
    wide.update(plates=list(range(50_000)), t=[now], readings=[[1.0] * 50_000])
    twice = stream[0].model_dump() | {"plates": [1, 1, 2, 3]}
    long = stream[0].model_dump() | {"t": [now] * 2000, "readings": [[1.0] * 4] * 2000}
    for hostile in (wide, twice, long):
        pub.publish(topic, json.dumps(hostile).encode(), qos=1)
    pub.publish(topic, b'{"pad": "' + b"A" * (1 << 20) + b'"}', qos=1)
    for batch in stream:
        pub.publish(topic, encode(batch), qos=1)
    try:
        wait_until(lambda: baskets, 20, what="the pick after the oversized batches")
    finally:
        pub.stop()
    assert [(b["kind"], b["gondola"], b["shelf"]) for b in baskets] == [("pick", 1, 1)]
    assert gateway.sensing.detectors[ShelfId(1, 1)].plates == (1, 2, 3, 4)
    assert value(SAMPLES_REFUSED, shelf="1/1", reason="too_large") - before["too_large"] == 1
    assert value(SAMPLES_REFUSED, shelf="1/1", reason="malformed") - before["malformed"] == 3
