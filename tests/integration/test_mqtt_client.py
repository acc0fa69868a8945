"""The paho wrapper against a real Mosquitto: LWT availability, resubscribe after a broker restart."""

import threading

from edge import telemetry
from edge.config import DisplaySection, MqttSection
from edge.mqtt.client import MqttClient
from edge.mqtt.payloads import OfferMessage, encode
from edge.mqtt.topics import Topics
from simulators.displays import SimulatedDisplay
from tests.support.waiting import wait_until


def settings(broker) -> MqttSection:
    return MqttSection(
        host=broker.host, port=broker.port, reconnect_min_s=0.2, reconnect_max_s=1.0, keepalive_s=5
    )


def test_availability_online_then_offline_by_last_will(broker):
    seen: list[bytes] = []
    watcher = MqttClient(settings(broker), "watcher")
    watcher.subscribe("test/avail", lambda m: seen.append(m.payload), qos=1)
    watcher.start()
    assert watcher.wait_connected(5)
    client = MqttClient(settings(broker), "subject", availability_topic="test/avail")
    client.start()
    wait_until(lambda: b"online" in seen, 5, what="online")
    client._client._sock.close()  # an unclean drop: the broker publishes the Last Will
    wait_until(lambda: seen[-1:] == [b"offline"], 10, what="last will")
    client.stop()
    watcher.stop()


def test_reconnects_and_resubscribes_after_broker_restart(broker):
    got: list[bytes] = []
    arrived = threading.Event()

    def on_msg(m):
        got.append(m.payload)
        arrived.set()

    sub = MqttClient(settings(broker), "sub")
    sub.subscribe("test/x", on_msg, qos=1)
    sub.start()
    pub = MqttClient(settings(broker), "pub")
    pub.start()
    assert sub.wait_connected(5) and pub.wait_connected(5)
    pub.publish("test/x", b"before", qos=1)
    wait_until(lambda: b"before" in got, 5)

    broker.stop()
    wait_until(lambda: not sub.connected.is_set() and not pub.connected.is_set(), 10, what="disconnect seen")
    broker.start()
    wait_until(lambda: sub.connected.is_set() and pub.connected.is_set(), 20, what="reconnect")
    assert sub.connect_count >= 2
    # The subscription was made again in on_connect (the broker kept no session).
    wait_until(lambda: (pub.publish("test/x", b"after", qos=1), b"after" in got)[1], 10, interval=0.2)
    sub.stop()
    pub.stop()


def test_handler_exception_does_not_kill_the_network_thread(broker):
    got: list[bytes] = []

    def bad(m):
        if m.payload == b"boom":
            raise RuntimeError("handler bug")
        got.append(m.payload)

    client = MqttClient(settings(broker), "c")
    client.subscribe("test/h", bad)
    client.start()
    assert client.wait_connected(5)
    label = "test_handler_exception_does_not_kill_the_network_thread.<locals>.bad"
    before = telemetry.value(telemetry.HANDLER_ERRORS, handler=label)
    client.publish("test/h", b"boom")
    wait_until(lambda: client.handler_errors == 1, 5)
    assert telemetry.value(telemetry.HANDLER_ERRORS, handler=label) == before + 1  # on /metrics
    client.publish("test/h", b"fine")
    wait_until(lambda: got == [b"fine"], 5)
    client.stop()


def test_display_shows_live_offer_and_refuses_expired_one(broker):
    topics = Topics("s1")
    section = DisplaySection(display_id="d1", gondola=1, shelf=2)
    display = SimulatedDisplay(settings(broker), topics, section, clock=lambda: 100.0)
    acks: list[bytes] = []
    states: list[bytes] = []
    gw = MqttClient(settings(broker), "gw")
    gw.subscribe(topics.display(1, 2, "d1", "ack"), lambda m: acks.append(m.payload), qos=1)
    gw.subscribe(topics.display(1, 2, "d1", "state"), lambda m: states.append(m.payload), qos=1)
    gw.start()
    display.start()
    assert gw.wait_connected(5) and display.client.wait_connected(5)

    def offer(offer_id, expires_at):
        return OfferMessage(
            offer_id=offer_id,
            shopper="s",
            gondola=1,
            shelf=2,
            display="d1",
            product_id="p",
            name="Tea",
            price=1.0,
            reason="r",
            issued_at=90.0,
            expires_at=expires_at,
        )

    gw.publish(topics.display_offer(1, 2, "d1"), encode(offer("old", 99.0)), qos=1)
    gw.publish(topics.display_offer(1, 2, "d1"), encode(offer("new", 130.0)), qos=1)
    gw.publish(topics.display_offer(1, 2, "d1"), b"{garbage", qos=1)
    wait_until(lambda: len(acks) >= 2 and display.record.malformed == 1, 5)
    assert display.record.refused_expired == ["old"]
    assert [o.offer_id for o in display.record.shown] == ["new"]
    assert b'"status":"expired"' in acks[0] and b'"status":"shown"' in acks[1]
    wait_until(lambda: any(b'"showing"' in s for s in states), 5)
    display.stop()
    gw.stop()
