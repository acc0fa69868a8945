"""delivery.offer_to_ack_p50_ms / _p99_ms: decision -> display acknowledgement over Mosquitto.

The gateway's DisplayPublisher publishes an offer (QoS 1, message expiry); the simulated display
(its own MQTT client) decodes it, checks expiry, acks 'shown' (QoS 1) and publishes its retained
state; the publisher's ack handler measures from just before publish to the ack. One offer at a
time (closed loop). Baseline: the bare paho round trip (publish QoS 1 -> echo client -> back) on
the same broker in the same run.

Both are measured twice: as configured today, and with TCP_NODELAY on the broker
(``set_tcp_nodelay true``) and on the client sockets (``*_nodelay_*`` figures). Without it, QoS 1
round trips stall on Nagle + delayed ACK (~40-90 ms on Linux loopback).
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

N = 300
WARMUP = 20


def _nodelay(client: Any, userdata: Any, sock: Any) -> None:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _offers(broker: MosquittoBroker, nodelay: bool) -> list[float]:
    topics = Topics("bench")
    section = DisplaySection(display_id="d1", gondola=1, shelf=1)
    settings = MqttSection(host=broker.host, port=broker.port)
    gw = MqttClient(settings, "bench-gw")
    pub = DisplayPublisher(gw, topics, [section])
    got = threading.Event()
    pub.add_ack_listener(lambda ack, latency: got.set() if ack.status == "shown" else None)
    pub.start()
    display = SimulatedDisplay(settings, topics, section)
    if nodelay:  # what MqttClient would do with TCP_NODELAY (reported to the lead)
        gw._client.on_socket_open = _nodelay
        display.client._client.on_socket_open = _nodelay
    gw.start()
    display.start()
    gw.wait_connected(5)
    display.client.wait_connected(5)
    deadline = time.monotonic() + 5
    while not pub.status["d1"].available and time.monotonic() < deadline:
        time.sleep(0.01)
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


def _paho(broker: MosquittoBroker, nodelay: bool) -> list[float]:
    def client(name: str) -> mqtt.Client:
        c = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=name, protocol=mqtt.MQTTv5
        )
        if nodelay:
            c.on_socket_open = _nodelay
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
    time.sleep(0.3)  # let both SUBACKs arrive
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
    rows: list[dict[str, object]] = []
    for nodelay in (False, True):
        with MosquittoBroker(extra_conf="set_tcp_nodelay true\n" if nodelay else "") as broker:
            base = _paho(broker, nodelay)
            offers = _offers(broker, nodelay)
        tag = "_nodelay" if nodelay else ""
        for q in (50, 99):
            rows.append(
                {
                    "bench": f"delivery.offer_to_ack{tag}_p{q}_ms",
                    "value": _pct(offers, q),
                    "unit": "ms",
                    "baseline": _pct(base, q),
                }
            )
    return rows


if __name__ == "__main__":
    for row in main():
        print(row)
