"""delivery.offer_to_ack_p50_ms / _p99_ms: decision -> display acknowledgement over Mosquitto.

The gateway's DisplayPublisher publishes an offer (QoS 1, message expiry); the simulated display
(its own MQTT client) decodes it, checks expiry, acks 'shown' (QoS 1) and publishes its retained
state; the publisher's ack handler measures from just before publish to the ack. One offer at a
time (closed loop). Baseline: the bare paho round trip (publish QoS 1 -> echo client -> back) on
the same broker in the same run.

Both sides use TCP_NODELAY, as the gateway does (``MqttClient`` sets it on its sockets, the broker
configs set ``set_tcp_nodelay true``): without it QoS 1 round trips stall on Nagle + delayed ACK
(~40-50 ms a round trip on Linux loopback), so the baseline does too, to stay comparable.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge.config import DisplaySection, MqttSection
from edge.displays.publisher import DisplayPublisher
from edge.events import Offer, ShelfId
from edge.mqtt.client import MqttClient
from edge.mqtt.topics import Topics
from simulators.broker import MosquittoBroker
from simulators.displays import SimulatedDisplay
from tests.support.waiting import wait_until

N = 300
WARMUP = 20


def _nodelay(client: Any, userdata: Any, sock: Any) -> None:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _offers(broker: MosquittoBroker) -> list[float]:
    topics = Topics("bench")
    section = DisplaySection(display_id="d1", gondola=1, shelf=1)
    settings = MqttSection(host=broker.host, port=broker.port)
    gw = MqttClient(settings, "bench-gw")
    pub = DisplayPublisher(gw, topics, [section])
    got = threading.Event()
    pub.add_ack_listener(lambda ack, latency: got.set() if ack.status == "shown" else None)
    pub.start()
    display = SimulatedDisplay(settings, topics, section)
    gw.start()
    display.start()
    gw.wait_connected(5)
    display.client.wait_connected(5)
    wait_until(lambda: pub.status["d1"].available, 5, what="display birth message")
    try:
        for i in range(N + WARMUP):
            got.clear()
            now = time.time()
            pub.publish(
                Offer(f"o{i}", now, now + 30, "s", ShelfId(1, 1), "d1", "p1", "Oat biscuits", 1.99, "why")
            )
            if not got.wait(5):
                raise RuntimeError(f"no ack for offer {i}")
    finally:
        display.stop()
        gw.stop()
    return list(pub.ack_latencies)[WARMUP:]


def _paho(broker: MosquittoBroker) -> list[float]:
    subscribed = threading.Semaphore(0)

    def client(name: str) -> mqtt.Client:
        c = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=name, protocol=mqtt.MQTTv5
        )
        c.on_socket_open = _nodelay
        c.on_subscribe = lambda *a: subscribed.release()
        c.connect(broker.host, broker.port)
        c.loop_start()
        return c

    echo = client("bench-echo")
    echo.on_message = lambda c, u, m: c.publish("bench/pong", m.payload, qos=1)
    echo.subscribe("bench/ping", qos=1)
    main = client("bench-main")
    got = threading.Event()
    main.on_message = lambda c, u, m: got.set()
    main.subscribe("bench/pong", qos=1)
    for _ in range(2):  # both SUBACKs
        if not subscribed.acquire(timeout=5):
            raise RuntimeError("paho baseline: subscription not acknowledged")
    out = []
    try:
        for _ in range(N + WARMUP):
            got.clear()
            t0 = time.perf_counter()
            main.publish("bench/ping", b"x" * 300, qos=1)
            if not got.wait(5):
                raise RuntimeError("paho round trip lost")
            out.append(time.perf_counter() - t0)
    finally:
        for c in (echo, main):
            c.loop_stop()
            c.disconnect()
    return out[WARMUP:]


def _pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(np.array(values) * 1000, q)), 3)


def main() -> list[dict[str, object]]:
    with MosquittoBroker() as broker:  # set_tcp_nodelay true, as in the store's generated config
        base = _paho(broker)
        offers = _offers(broker)
    return [
        {
            "bench": f"delivery.offer_to_ack_p{q}_ms",
            "value": _pct(offers, q),
            "unit": "ms",
            "baseline": _pct(base, q),
        }
        for q in (50, 99)
    ]


if __name__ == "__main__":
    for row in main():
        print(row)
