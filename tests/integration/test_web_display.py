"""The reference web display in real headless Chromium, over Mosquitto WebSockets."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.config import DisplaySection, MqttSection
from edge.displays.publisher import DisplayPublisher
from edge.events import Offer, ShelfId
from edge.mqtt.client import MqttClient
from edge.mqtt.payloads import AckMessage, OfferMessage, encode
from edge.mqtt.topics import Topics
from simulators.broker import MosquittoBroker, free_port
from simulators.web_display.server import WebDisplayServer
from tests.support import webdriver
from tests.support.waiting import wait_until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.browser,
    pytest.mark.skipif(not webdriver.available(), reason="needs chromium + chromedriver (make env)"),
]

TOPICS = Topics("store-1")
SHOTS = Path(tempfile.gettempdir()) / "smartshelf-screenshots"
#: Whether a tile's idle text and offer view are visible (rendered with a size), by display id.
VISIBLE = (
    "const t = document.querySelector(`[data-display='${arguments[0]}']`);"
    "const seen = (s) => t.querySelector(s).getClientRects().length > 0;"
    "return {idle: seen('.idle-view'), offer: seen('.offer-view')};"
)
D1 = DisplaySection(display_id="d1", gondola=1, shelf=2)
D2 = DisplaySection(display_id="d2", gondola=1, shelf=3)


@pytest.fixture
def ws_broker() -> Iterator[MosquittoBroker]:
    with MosquittoBroker(websockets_port=free_port()) as b:
        yield b


def _tile(browser: webdriver.Chromium, png: bytes, display: str) -> np.ndarray:
    rect = browser.js(
        "const r = document.querySelector(`.display[data-display='${arguments[0]}']`).getBoundingClientRect();"
        "return [r.x, r.y, r.width, r.height, window.devicePixelRatio];",
        display,
    )
    x, y, w, h, ratio = (float(v) for v in rect)
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    return image[int(y * ratio) : int((y + h) * ratio), int(x * ratio) : int((x + w) * ratio)].astype(
        np.int16
    )


def test_web_display_renders_acks_and_reports_state(ws_broker: MosquittoBroker) -> None:
    settings = MqttSection(host=ws_broker.host, port=ws_broker.port)
    gw = MqttClient(settings, "gw-web")
    pub = DisplayPublisher(gw, TOPICS, [D1, D2])
    acks: list[AckMessage] = []
    pub.add_ack_listener(lambda ack, _lat: acks.append(ack))
    pub.start()
    gw.start()
    assert gw.wait_connected(5)
    assert ws_broker.websockets_port is not None
    with WebDisplayServer() as web, webdriver.Chromium() as browser:
        browser.get(web.page_url(ws_broker.websockets_port, "store-1", [D1, D2]))
        wait_until(
            lambda: pub.status["d1"].available and pub.status["d2"].available, 20, what="birth messages"
        )
        wait_until(lambda: pub.status["d1"].state is not None, 5, what="retained idle state")
        assert pub.status["d1"].state.state == "idle"  # type: ignore[union-attr]
        # idle: the idle text shows and the (empty) offer view does not
        assert browser.js(VISIBLE, "d1") == {"idle": True, "offer": False}
        idle = browser.screenshot()

        now = time.time()
        offer = Offer(
            "o-web-1",
            now,
            now + 30,
            "shopper-a",
            ShelfId(1, 2),
            "d1",
            "p1",
            "Oat biscuits",
            1.99,
            "goes with your tea",
            "bought together by 23 % of shoppers",
            "c1",
            "A",
            1.0,
            "Personal offers can be switched off in the app",
        )
        pub.publish(offer)
        wait_until(lambda: any(a.status == "shown" for a in acks), 10, what="'shown' ack from the page")
        dom = browser.js(
            "const t = document.querySelector(\"[data-display='d1']\");"
            "return ['.product', '.price', '.reason', '.proof', '.optout']"
            ".map(s => t.querySelector(s).textContent)"
            ".concat([t.className, getComputedStyle(t.querySelector('.offer-view')).display]);"
        )
        assert dom[:5] == [
            "Oat biscuits",
            "1.99",
            "goes with your tea",
            "bought together by 23 % of shoppers",
            "Personal offers can be switched off in the app",
        ]
        assert "showing" in dom[5] and dom[6] != "none"
        # an offer hides the idle text, and the internal offer id is printed nowhere on the tile
        assert browser.js(VISIBLE, "d1") == {"idle": False, "offer": True}
        text = browser.js("return document.querySelector(\"[data-display='d1']\").innerText")
        assert "o-web-1" not in text and "Fresh today" not in text, text
        showing = browser.screenshot()
        SHOTS.mkdir(exist_ok=True)
        (SHOTS / "web-display-offer.png").write_bytes(showing)
        changed = np.abs(_tile(browser, showing, "d1") - _tile(browser, idle, "d1")).mean()
        untouched = np.abs(_tile(browser, showing, "d2") - _tile(browser, idle, "d2")).mean()
        assert changed > 40 and untouched < 1, (changed, untouched)
        wait_until(
            lambda: pub.status["d1"].state and pub.status["d1"].state.state == "showing", 5, what="state"
        )
        assert pub.ack_latencies and pub.ack_latencies[-1] < 5

        browser.click("[data-display='d1'] .offer-view")
        wait_until(lambda: any(a.status == "impression" for a in acks), 5, what="impression ack")

        # a stale offer that reaches the page anyway (sent around the publisher) is refused
        stale = OfferMessage.from_offer(
            Offer("o-stale", now - 60, now - 1, "s", ShelfId(1, 3), "d2", "p2", "Old bread", 0.5, "x")
        )
        refused_acks = pub.counts["bad_acks"]
        gw.publish(TOPICS.display_offer(1, 3, "d2"), encode(stale), qos=1)
        wait_until(lambda: browser.js("return window.displays.d2.refused") == ["o-stale"], 5, what="refusal")
        assert browser.js("return window.displays.d2.shown.length") == 0
        # the page acks 'expired' for an offer the gateway never sent: the gateway refuses that ack
        wait_until(lambda: pub.counts["bad_acks"] == refused_acks + 1, 5, what="ack refused")
        assert not any(a.offer_id == "o-stale" for a in acks)

        # a newer gateway's offer: unknown fields are ignored; an unknown major version is refused
        newer = OfferMessage.from_offer(
            Offer("o-new", now, now + 30, "s", ShelfId(1, 3), "d2", "p2", "Rye bread", 2.0, "fresh")
        )
        future = {**json.loads(encode(newer)), "offer_id": "o-v2", "v": 2}
        gw.publish(TOPICS.display_offer(1, 3, "d2"), json.dumps(future).encode(), qos=1)
        added = {**json.loads(encode(newer)), "layout": {"theme": "dark"}, "badge": "new"}
        gw.publish(TOPICS.display_offer(1, 3, "d2"), json.dumps(added).encode(), qos=1)
        wait_until(lambda: browser.js("return window.displays.d2.shown.length") == 1, 5, what="newer offer")
        d2 = json.loads(browser.js("return JSON.stringify(window.displays.d2)"))
        assert [s["offer_id"] for s in d2["shown"]] == ["o-new"]
        assert d2["errors"] == [
            "offer o-v2: message version 2 is not understood by this display (it understands 1)"
        ]

        assert pub.withdraw_for("shopper-a", time.time()) == ["o-web-1"]
        wait_until(lambda: any(a.status == "withdrawn" for a in acks), 5, what="'withdrawn' ack")
        assert browser.js("return document.querySelector(\"[data-display='d1']\").className").endswith("idle")
        record = browser.js("return JSON.stringify(window.displays.d1)")
        assert json.loads(record)["errors"] == []
    # the browser is gone: the broker publishes the display's Last Will
    wait_until(lambda: pub.status["d1"].available is False, 10, what="Last Will 'offline'")
    gw.stop()


def test_mirror_page_shows_offers_without_acting_as_the_display(ws_broker: MosquittoBroker) -> None:
    """``mirror=1`` (what `make demo` opens): it renders offers but never acks, births or wills."""
    settings = MqttSection(host=ws_broker.host, port=ws_broker.port)
    gw = MqttClient(settings, "gw-mirror")
    heard: list[str] = []
    gw.subscribe(TOPICS.display(1, 2, "d1", "#"), lambda m: heard.append(m.topic.rsplit("/", 1)[-1]), qos=1)
    gw.start()
    assert gw.wait_connected(5)
    assert ws_broker.websockets_port is not None
    with WebDisplayServer() as web, webdriver.Chromium() as browser:
        browser.get(web.page_url(ws_broker.websockets_port, "store-1", [D1], mirror=True))
        wait_until(
            lambda: browser.js("return window.displays.d1.connected") is True, 20, what="page connected"
        )
        now = time.time()
        offer = Offer("o-mirror", now, now + 30, "s", ShelfId(1, 2), "d1", "p1", "Tea", 2.5, "goes with milk")
        gw.publish(TOPICS.display_offer(1, 2, "d1"), encode(OfferMessage.from_offer(offer)), qos=1)
        wait_until(lambda: browser.js("return window.displays.d1.shown.length") == 1, 10, what="offer shown")
        assert "Tea" in browser.js("return document.querySelector(\"[data-display='d1']\").innerText")
        # the page's "shown" state update is published before its ack would be: give both a round trip
        gw.publish(TOPICS.display(1, 2, "d1", "probe"), b"", qos=1)
        wait_until(lambda: "probe" in heard, 5, what="probe round trip")
    gw.stop()
    heard.remove("probe")
    # Only the gateway's own offer went by: no availability, state or ack from the mirror.
    assert heard == ["offer"]
