"""The real shelf-bridge (a `shelf-bridge run` process) over a pty with a damaged serial line.

Simulated firmware speaks the protocol on a pseudo-terminal with about 1 % of its bytes damaged
(bit flips and dropped bytes) and is unplugged and plugged back in the middle of the run. A
subscriber doing what the daemon does (SampleBatchMessage -> ShelfDetector) must still see every
ground-truth event, and the retained status must count the damage and the reconnect.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import pytest

from edge.config import parse_config
from edge.events import ShelfId, WeightEvent
from edge.mqtt.client import MqttClient, MqttMessage
from edge.mqtt.payloads import SampleBatchMessage, ShelfStatusMessage, decode
from edge.mqtt.topics import Topics
from edge.sensing.detector import ShelfDetector
from edge.sensing.planogram import Planogram
from simulators.broker import MosquittoBroker
from simulators.processes import ManagedProcess
from simulators.shelves import SimulatedShelfFirmware
from simulators.shelves.score import match
from tests.support.configs import IDENTITY
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration
PLANOGRAM = """product_id,name,gondola,shelf,plate,unit_weight_g,price
tea,Tea,1,1,2,105.5,2.5
jam,Jam,1,1,5,340,2.2
box,Box,1,1,8,420,4.0
box,Box,1,1,9,420,4.0
"""


def write_config(path: Path, broker: MosquittoBroker, port: str, data_dir: Path) -> Path:
    path.write_text(
        f"""
[gateway]
store_id = "store-001"
gateway_id = "gw-1"
data_dir = "{data_dir}"
[mqtt]
port = {broker.port}
[logging]
level = "DEBUG"
[bridge]
bridge_id = "it-bridge"
batch_samples = 6
status_interval_s = 1.0
reopen_s = 0.2
[[bridge.shelves]]
port = "{port}"
gondola = 1
shelf = 1
"""
    )
    return path


def test_every_event_survives_a_damaged_line_and_an_unplug(broker: MosquittoBroker, tmp_path: Path) -> None:
    sim = SimulatedShelfFirmware(
        gondola=1,
        shelf=1,
        plates=12,
        rate_hz=60,
        seed=5,
        samples_per_frame=1,
        bit_flip_rate=0.005,
        drop_rate=0.005,
    )
    port = sim.start()
    config_path = write_config(tmp_path / "edge.toml", broker, port, tmp_path / "var")
    config = parse_config({"gateway": IDENTITY, "mqtt": {"port": broker.port}})
    topics = Topics(config.gateway.store_id)
    bridge = ManagedProcess(
        "bridge",
        [sys.executable, "-m", "shelf_firmware_bridge.cli", "run", "--config", str(config_path)],
        tmp_path / "bridge.log",
    ).start()
    detector = ShelfDetector(ShelfId(1, 1), Planogram.parse_csv(PLANOGRAM))
    events: list[WeightEvent] = []
    statuses: list[ShelfStatusMessage] = []
    lock = threading.Lock()

    def on_samples(msg: MqttMessage) -> None:
        batch = decode(SampleBatchMessage, msg.topic, msg.payload).to_event()
        with lock:
            events.extend(detector.feed(batch))

    def on_status(msg: MqttMessage) -> None:
        statuses.append(decode(ShelfStatusMessage, msg.topic, msg.payload))

    daemon = MqttClient(config.mqtt, "it-daemon")
    daemon.subscribe(topics.samples(1, 1), on_samples)
    daemon.subscribe(topics.shelf_status(1, 1), on_status, qos=1)
    daemon.start()
    try:
        assert daemon.wait_connected(10)
        wait_until(lambda: detector.stats["samples"] > 120, 20, what="samples from the bridge")
        now = time.time()
        sim.schedule_pick(now + 1.0, (2,), 105.5, 1.2, product_id="tea")
        sim.schedule_pick(now + 4.0, (8, 9), 840.0, 1.5, product_id="box", quantity=2)
        sim.schedule_return(
            now + 5.0, (5,), 340.0, 1.0, product_id="jam"
        )  # second hand before the first settled
        wait_until(lambda: time.time() > now + 8.5, 15, what="the first events to settle")
        sim.unplug()
        time.sleep(1.0)  # the cable stays out for a second; the port path is gone meanwhile
        sim.schedule_pick(time.time() + 0.3, (5,), 340.0, 1.0, product_id="jam")  # while unplugged
        sim.replug()
        later = time.time()
        sim.schedule_return(later + 2.0, (2,), 105.5, 1.2, product_id="tea")
        truth = [g for g in sim.ground_truth if g.kind != "lean"]
        wait_until(
            lambda: len(match(truth, list(events))) == len(truth),
            30,
            what=f"all {len(truth)} events (have {events})",
        )
        with lock:
            pairs = match(truth, events)
        assert [(g.product_id, e.product_id, e.quantity) for g, e in pairs] == [
            (g.product_id, g.product_id, g.quantity) for g, _ in pairs
        ]
        assert len(events) == len(truth), events
        status = wait_until(
            lambda: [s for s in statuses if s.reconnects >= 1 and s.connected], 10, what="status"
        )[-1]
        assert status.crc_errors > 0 and status.gaps > 0 and status.frames > 200
        assert status.firmware == "shelfsim-1.4.2" and status.protocol_version == 1
    finally:
        daemon.stop()
        bridge.stop()
        sim.stop()
        print(bridge.tail(40))
    log = (tmp_path / "bridge.log").read_text()
    assert "port is back (reconnect 1)" in log


def test_commands_over_mqtt(broker: MosquittoBroker, tmp_path: Path) -> None:
    sim = SimulatedShelfFirmware(gondola=1, shelf=1, plates=4, rate_hz=30, seed=2)
    port = sim.start()
    config = parse_config(
        {
            "gateway": {"store_id": "store-001", "gateway_id": "gw-1", "data_dir": str(tmp_path / "var")},
            "mqtt": {"port": broker.port},
            "bridge": {"shelves": [{"port": port, "gondola": 1, "shelf": 1}]},
        }
    )
    from shelf_firmware_bridge.service import Bridge

    bridge = Bridge(config)
    bridge.start()
    assert bridge.mqtt.wait_connected(20)  # subscribed to shelf commands before any is sent
    topics = Topics(config.gateway.store_id)
    replies: list[dict[str, object]] = []
    acks: list[dict[str, object]] = []
    client = MqttClient(config.mqtt, "it-technician")
    client.subscribe(topics.shelf_reply(1, 1), lambda m: replies.append(json.loads(m.payload)), qos=1)
    client.subscribe(topics.display(1, 1, "d1", "ack"), lambda m: acks.append(json.loads(m.payload)), qos=1)
    client.start()
    try:
        assert client.wait_connected(10)
        wait_until(lambda: bridge.links[(1, 1)].hello is not None, 10, what="hello")

        def ask(payload: dict[str, object]) -> dict[str, object]:
            n = len(replies)
            client.publish(topics.shelf_set(1, 1), json.dumps(payload), qos=1)
            return wait_until(lambda: replies[n:], 10, what=f"reply to {payload}")[0]

        assert ask({"type": "info", "request_id": "i1"})["serial"] == "SIM-01-01-0002"
        assert ask({"type": "rate", "rate_hz": 20, "request_id": "r1"})["status"] == "ok"
        assert sim.rate_hz == 20
        assert ask({"type": "rate", "rate_hz": 200})["status"] == "invalid"
        # from a newer gateway: unknown fields are ignored, an unknown major version is refused by name
        assert ask({"v": 1, "type": "info", "request_id": "i2", "added_later": {"x": 1}})["status"] == "ok"
        newer = ask({"v": 2, "type": "info", "request_id": "i3"})
        assert newer["status"] == "invalid" and "message version 2 is not understood" in str(newer["detail"])
        assert (
            ask({"type": "identify", "duration_s": 2})["status"] == "ok" and sim.identify_until > time.time()
        )
        assert ask({"type": "span", "plate": 2, "known_g": 500})["status"] == "failed"  # tare first
        tare = ask({"type": "tare", "plate": 2, "request_id": "t1"})
        assert tare["status"] == "ok" and tare["request_id"] == "t1" and tare["zero_raw"] is not None
        text = {
            "type": "display-text",
            "display": "d1",
            "offer_id": "o-1",
            "lines": ["Jam", "2.20"],
            "expires_at": time.time() + 30,
        }
        assert ask(text)["status"] == "ok"
        assert sim.display_text[0] == ("Jam", "2.20")
        wait_until(lambda: acks, 5, what="display ack")
        assert acks[0]["offer_id"] == "o-1" and acks[0]["status"] == "shown"
    finally:
        client.stop()
        bridge.stop()
        sim.stop()


def test_probe_reports_the_controller_and_the_line() -> None:
    import subprocess

    sim = SimulatedShelfFirmware(gondola=2, shelf=3, plates=4, rate_hz=30, seed=3)
    port = sim.start()
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "shelf_firmware_bridge.cli",
                "probe",
                port,
                "--seconds",
                "1.5",
                "--identify",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        sim.stop()
    assert result.returncode == 0, result.stderr
    assert "controller SIM-02-03-0003, firmware shelfsim-1.4.2, protocol 1" in result.stdout
    assert "identify   blinking" in result.stdout and "plate  4: mean" in result.stdout
