"""One short MQTT session that looks at the store: connect (diagnosing TCP, TLS, auth separately),
then listen for a few seconds to retained shelf statuses, live samples and BLE receivers.

Used by ``shelf-edge doctor`` and ``shelf-edge calibrate``; it never publishes anything retained.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from edge.config import EdgeConfig
from edge.mqtt.topics import ROOT, Topics, parse_shelf_topic
from edge.mqtt.versioning import DEVICE_MESSAGE_VERSION


class ProbeError(Exception):
    """The broker could not be used; ``stage`` is tcp, tls or mqtt."""

    def __init__(self, stage: str, detail: str, fix: str) -> None:
        self.stage = stage
        self.detail = detail
        self.fix = fix
        super().__init__(f"{stage}: {detail}")


@dataclass
class StoreView:
    """What the probe heard."""

    statuses: dict[tuple[int, int], dict[str, object]] = field(default_factory=dict)
    samples: dict[tuple[int, int], int] = field(default_factory=dict)
    availability: dict[str, str] = field(default_factory=dict)
    receivers: dict[str, int] = field(default_factory=dict)
    #: (gondola, shelf) -> the bridge's reply to an ``info`` command (status, firmware, serial, ...)
    info: dict[tuple[int, int], dict[str, object]] = field(default_factory=dict)


def tls_context(config: EdgeConfig) -> ssl.SSLContext | None:
    tls = config.mqtt.tls
    if tls is None:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(tls.ca_file))
    if tls.cert_file:
        ctx.load_cert_chain(str(tls.cert_file), str(tls.key_file) if tls.key_file else None)
    return ctx


def _diagnose_transport(config: EdgeConfig, timeout: float) -> None:
    host, port = config.mqtt.host, config.mqtt.port
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise ProbeError(
            "tcp",
            f"broker not reachable at {host}:{port} ({exc.strerror or exc})",
            "`sudo systemctl restart mosquitto`; `journalctl -u mosquitto -n 50` shows why it stopped",
        ) from None
    try:
        ctx = tls_context(config)
    except (OSError, ssl.SSLError) as exc:
        sock.close()
        raise ProbeError(
            "tls",
            f"cannot load the gateway's TLS files: {exc}",
            "re-run `sudo shelf-edge install` (it re-creates missing certificates)",
        ) from None
    if ctx is None:
        sock.close()
        return
    try:
        with ctx.wrap_socket(sock, server_hostname=host) as tls_sock:
            tls_sock.settimeout(timeout)
            tls_sock.do_handshake()
    except ssl.SSLCertVerificationError as exc:
        raise ProbeError(
            "tls",
            f"broker certificate not valid for {host}: {exc.verify_message}",
            "use a host name in the broker certificate, or re-issue it: "
            "`sudo shelf-edge install --renew-certs --broker-name NAME`",
        ) from None
    except (ssl.SSLError, OSError) as exc:
        raise ProbeError(
            "tls",
            f"TLS handshake with {host}:{port} failed: {exc}",
            "check that mqtt.port is the broker's TLS port and the CA file is the store CA",
        ) from None


def probe(
    config: EdgeConfig, listen_s: float = 2.0, timeout: float = 5.0, ask_info: bool = True
) -> StoreView:
    """Connect, ask every configured shelf for its firmware (``info`` through the bridge) and listen
    for ``listen_s`` seconds; raise ProbeError naming what failed."""
    _diagnose_transport(config, timeout)
    topics = Topics(config.gateway.store_id)
    view = StoreView()
    connected = threading.Event()
    refused: list[str] = []
    lock = threading.Lock()
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"doctor-{os.getpid()}-{time.monotonic_ns()}",
        protocol=mqtt.MQTTv5,
    )
    ctx = tls_context(config)
    if ctx is not None:
        client.tls_set_context(ctx)
    if config.mqtt.username:
        client.username_pw_set(config.mqtt.username, config.mqtt.password)

    def on_connect(c: mqtt.Client, u: object, flags: object, rc: ReasonCode, props: object) -> None:
        if rc.is_failure:
            refused.append(str(rc))
            return
        c.subscribe([(topics.all_samples(), 0), (f"{ROOT}/{config.gateway.store_id}/+/+/status", 0)])
        c.subscribe(
            [(f"{ROOT}/{config.gateway.store_id}/+/+/availability", 0), (topics.all_ble_sightings(), 0)]
        )
        connected.set()

    def on_message(c: mqtt.Client, u: object, msg: mqtt.MQTTMessage) -> None:
        parts = msg.topic.split("/")
        with lock:
            if parts[-1] == "availability" and len(parts) == 5:
                view.availability[f"{parts[2]}/{parts[3]}"] = msg.payload.decode(errors="replace")
            elif parts[-1] == "sightings" and len(parts) == 5:
                view.receivers[parts[3]] = view.receivers.get(parts[3], 0) + 1
            else:
                try:
                    _, gondola, shelf, leaf = parse_shelf_topic(msg.topic)
                except ValueError:
                    return
                if leaf == "samples":
                    view.samples[(gondola, shelf)] = view.samples.get((gondola, shelf), 0) + 1
                elif leaf == "reply":
                    try:
                        reply = json.loads(msg.payload)
                    except ValueError:
                        return
                    if isinstance(reply, dict) and reply.get("request_id") == request_id:
                        view.info[(gondola, shelf)] = reply
                elif leaf == "status":
                    try:
                        view.statuses[(gondola, shelf)] = json.loads(msg.payload)
                    except ValueError:
                        return

    request_id = f"doctor-{os.getpid()}-{time.monotonic_ns() % 10**9}"
    client.on_connect = on_connect
    client.on_message = on_message
    try:
        client.connect(config.mqtt.host, config.mqtt.port, keepalive=15)
    except (OSError, ssl.SSLError) as exc:
        raise ProbeError(
            "mqtt", f"MQTT connect failed: {exc}", "see `journalctl -u mosquitto -n 50`"
        ) from None
    client.loop_start()
    try:
        deadline = time.monotonic() + timeout
        while not connected.is_set() and not refused and time.monotonic() < deadline:
            connected.wait(0.05)
        if refused or not connected.is_set():
            why = refused[0] if refused else f"no CONNACK within {timeout:g} s"
            raise ProbeError(
                "mqtt",
                f"broker refused the gateway: {why}",
                "the gateway certificate must come from the store CA: `sudo shelf-edge install`",
            )
        time.sleep(0.2)  # retained statuses and the reply subscription are in place
        if ask_info:
            command = json.dumps({"v": DEVICE_MESSAGE_VERSION, "type": "info", "request_id": request_id})
            for shelf in config.bridge.shelves:
                client.publish(topics.shelf_set(shelf.gondola, shelf.shelf), command, qos=1)
        deadline = time.monotonic() + listen_s
        half = deadline - listen_s / 2
        while time.monotonic() < deadline:
            with lock:
                answered = not ask_info or len(view.info) >= len(config.bridge.shelves)
            if answered and time.monotonic() > half:
                break
            time.sleep(0.05)
        with lock:
            return StoreView(
                dict(view.statuses),
                dict(view.samples),
                dict(view.availability),
                dict(view.receivers),
                dict(view.info),
            )
    finally:
        client.disconnect()
        client.loop_stop()
