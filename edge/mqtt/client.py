"""The paho-mqtt 2 client wrapper: VERSION2 callbacks, MQTT 5, Last Will availability, reconnect.

Paho runs its own network thread. This wrapper:
- subscribes in ``on_connect`` so subscriptions come back after every reconnect;
- publishes ``online`` (retained) on the availability topic at connect, and sets ``offline``
  (retained) as Last Will, and publishes it on a clean stop;
- translates paho messages into our frozen :class:`MqttMessage` before any handler sees them;
- catches every exception of a handler (an exception in a paho callback kills its thread, paho #636);
- bridges to asyncio with :meth:`MqttClient.attach_loop`: handlers then run on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge import telemetry
from edge.config import MqttSection

log = logging.getLogger("edge.mqtt")


@dataclass(frozen=True, slots=True)
class MqttMessage:
    """An MQTT message as our code sees it."""

    topic: str
    payload: bytes
    retain: bool
    received_at: float


Handler = Callable[[MqttMessage], None]


def _handler_name(handler: Handler) -> str:
    """A bounded label for /metrics: the handler's qualified name (e.g. ``Gateway.on_samples``)."""
    return str(getattr(handler, "__qualname__", type(handler).__qualname__))


def _no_delay(client: mqtt.Client, userdata: object, sock: object) -> None:
    if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


@dataclass(slots=True)
class _Subscription:
    topic_filter: str
    qos: int
    handler: Handler


class MqttClient:
    """One connection to the local broker, shared by the stages of a process."""

    def __init__(
        self,
        settings: MqttSection,
        client_id: str,
        availability_topic: str | None = None,
    ) -> None:
        self.settings = settings
        self.client_id = client_id
        self.availability_topic = availability_topic
        self.connected = threading.Event()
        #: Set once connected AND every subscription of this connection is acknowledged (SUBACK).
        self.ready = threading.Event()
        self._pending_subs: set[int] = set()
        self.connect_count = 0
        self.disconnect_count = 0
        self.handler_errors = 0
        self._stopping = False
        self._subs: list[_Subscription] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
        )
        # paho's own logger is left off: while the broker is away it logs every failed loop
        # iteration as an error; this wrapper logs the connection state changes instead.
        if settings.username:
            self._client.username_pw_set(settings.username, settings.password)
        if settings.tls is not None:
            self._client.tls_set(
                ca_certs=str(settings.tls.ca_file),
                certfile=str(settings.tls.cert_file) if settings.tls.cert_file else None,
                keyfile=str(settings.tls.key_file) if settings.tls.key_file else None,
            )
        if availability_topic:
            self._client.will_set(availability_topic, b"offline", qos=1, retain=True)
        self._client.reconnect_delay_set(
            min_delay=max(1, round(settings.reconnect_min_s)),
            max_delay=max(1, round(settings.reconnect_max_s)),
        )
        self._client.max_queued_messages_set(0)  # queue while offline; outbox covers durability
        # Offers and acks are small, latency-bound QoS 1 exchanges: without TCP_NODELAY each hop waits
        # for Nagle's algorithm (about 40 ms here); with it, decision -> display ack takes ~5 ms.
        self._client.on_socket_open = _no_delay
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Connect in the background; paho keeps reconnecting with backoff until :meth:`stop`."""
        log.info("connecting to mqtt://%s:%d as %s", self.settings.host, self.settings.port, self.client_id)
        self._client.connect_async(
            self.settings.host, self.settings.port, keepalive=self.settings.keepalive_s, clean_start=True
        )
        self._client.loop_start()

    def wait_connected(self, timeout: float = 10.0) -> bool:
        """Wait until connected with every subscription acknowledged by the broker."""
        return self.ready.wait(timeout)

    def stop(self) -> None:
        self._stopping = True
        if self.availability_topic and self.connected.is_set():
            info = self._client.publish(self.availability_topic, b"offline", qos=1, retain=True)
            deadline = time.monotonic() + 2.0
            while not info.is_published() and time.monotonic() < deadline and self.connected.is_set():
                time.sleep(0.01)
        self._client.disconnect()
        self._client.loop_stop()
        self.connected.clear()

    def attach_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run every handler on ``loop`` instead of paho's network thread."""
        self._loop = loop

    # ------------------------------------------------------------------ pub/sub
    def subscribe(self, topic_filter: str, handler: Handler, qos: int = 0) -> None:
        """Register a handler; the subscription is (re)made at every connect.

        Made while connected, ``ready`` is cleared until the broker acknowledges it."""
        with self._lock:
            connected = self.connected.is_set()
            if connected:
                self.ready.clear()  # before it is listed: listed and ready means acknowledged
            self._subs.append(_Subscription(topic_filter, qos, handler))
            if connected:
                mid = self._client.subscribe(topic_filter, qos=qos)[1]
                if mid is not None:
                    self._pending_subs.add(mid)  # under the lock, so its SUBACK (_on_subscribe) waits for it
                elif not self._pending_subs:
                    self.ready.set()  # not sent, the connection is going: the reconnect makes it

    def publish(
        self,
        topic: str,
        payload: bytes | str,
        qos: int = 0,
        retain: bool = False,
        expiry_s: float | None = None,
    ) -> mqtt.MQTTMessageInfo:
        properties = None
        if expiry_s is not None:
            properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            properties.MessageExpiryInterval = max(1, int(expiry_s))
        return self._client.publish(topic, payload, qos=qos, retain=retain, properties=properties)

    # ------------------------------------------------------------------ paho callbacks (network thread)
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:  # type: ignore[no-untyped-def]
        if reason_code.is_failure:
            log.warning("broker refused connection: %s", reason_code)
            return
        self.connect_count += 1
        with self._lock:
            subs = list(self._subs)
            self._pending_subs.clear()
        for sub in subs:
            self._track(client.subscribe(sub.topic_filter, qos=sub.qos)[1])
        if self.availability_topic:
            client.publish(self.availability_topic, b"online", qos=1, retain=True)
        if self.connect_count > 1:
            log.info("reconnected to broker (connection %d)", self.connect_count)
        else:
            log.info("connected to broker")
        self.connected.set()
        with self._lock:
            if not self._pending_subs:
                self.ready.set()

    def _track(self, mid: int | None) -> None:
        if mid is None:
            return
        with self._lock:
            self._pending_subs.add(mid)
            self.ready.clear()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:  # type: ignore[no-untyped-def]
        for code in reason_codes:
            if code.is_failure:
                log.error("broker refused a subscription (mid %d): %s", mid, code)
        with self._lock:
            self._pending_subs.discard(mid)
            if not self._pending_subs and self.connected.is_set():
                self.ready.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:  # type: ignore[no-untyped-def]
        was_connected = self.connected.is_set()
        self.connected.clear()
        self.ready.clear()
        if was_connected and not self._stopping:
            self.disconnect_count += 1
            log.warning("lost broker connection (%s); reconnecting with backoff", reason_code)

    def _on_message(self, client, userdata, message) -> None:  # type: ignore[no-untyped-def]
        msg = MqttMessage(
            topic=message.topic,
            payload=bytes(message.payload),
            retain=bool(message.retain),
            received_at=time.time(),
        )
        with self._lock:
            handlers = [s.handler for s in self._subs if mqtt.topic_matches_sub(s.topic_filter, msg.topic)]
        for handler in handlers:
            if self._loop is not None:
                self._loop.call_soon_threadsafe(self._dispatch, handler, msg)
            else:
                self._dispatch(handler, msg)

    def _dispatch(self, handler: Handler, msg: MqttMessage) -> None:
        try:
            handler(msg)
        except Exception:
            self.handler_errors += 1
            telemetry.HANDLER_ERRORS.labels(handler=_handler_name(handler)).inc()
            log.exception("handler for %s failed; message dropped", msg.topic)
