"""/metrics of the running daemon (issue 12): the process and Python defaults, the live state, and the
daemon's internals from edge/telemetry.py; a malformed BLE receiver message through a real Mosquitto
moves the malformed-sightings counter (it used to be counted only inside the source object)."""

from __future__ import annotations

import asyncio
import re
import threading
from pathlib import Path

import requests

from edge.app import Gateway
from edge.config import parse_config
from edge.mqtt.client import MqttClient
from edge.mqtt.topics import Topics
from simulators.broker import MosquittoBroker, free_port
from tests.support.waiting import wait_until

FAMILIES = {
    # prometheus_client's defaults
    "process_cpu_seconds": "counter",
    "process_resident_memory_bytes": "gauge",
    "process_open_fds": "gauge",
    "python_info": "gauge",
    "python_gc_collections": "counter",
    # the live state (edge/web/metrics.py)
    "smartshelf_gateway_info": "gauge",
    "smartshelf_mqtt_connected": "gauge",
    # the daemon's internals (edge/telemetry.py)
    "smartshelf_samples_refused": "counter",
    "smartshelf_mqtt_payloads_refused": "counter",
    "smartshelf_handler_errors": "counter",
    "smartshelf_malformed_sightings": "counter",
    "smartshelf_dead_letters": "counter",
    "smartshelf_display_acks_refused": "counter",
    "smartshelf_store_write_failures": "counter",
    "smartshelf_store_held_events": "gauge",
    "smartshelf_sample_to_event_seconds": "histogram",
    "smartshelf_decision_seconds": "histogram",
    "smartshelf_offer_to_ack_seconds": "histogram",
}


def malformed(text: str) -> float:
    found = re.search(r"^smartshelf_malformed_sightings_total (\S+)$", text, re.M)
    assert found, "no malformed sightings sample"
    return float(found.group(1))


def test_daemon_metrics_families_and_malformed_sightings(broker: MosquittoBroker, tmp_path: Path) -> None:
    port = free_port()
    planogram = tmp_path / "planogram.csv"
    planogram.write_text(
        "product_id,name,gondola,shelf,plate,unit_weight_g,price\np-tea,Green tea,1,1,1,120,2.5\n"
    )
    config = parse_config(
        {
            "gateway": {"store_id": "s1", "gateway_id": "gw-m", "data_dir": str(tmp_path)},
            "mqtt": {"host": broker.host, "port": broker.port},
            "presence": {"source": "mqtt-receivers"},
            "sensing": {"planogram": str(planogram)},
            "web": {"host": "127.0.0.1", "port": port, "password": "long-enough-password"},
        }
    )
    gateway = Gateway(config)
    # the names the daemon's dashboard shows for events come from its planogram (and catalogue)
    assert gateway.product_name("p-tea") == "Green tea" and gateway.product_name("p-none") is None
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(target=loop.run_until_complete, args=(gateway.run(stop),), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}/metrics"
    receiver = MqttClient(config.mqtt, "rx-test")
    try:

        def metrics() -> str:
            try:
                answer = requests.get(url, timeout=5)
            except requests.ConnectionError:
                return ""
            return answer.text if answer.status_code == 200 else ""

        text = wait_until(metrics, 15, what="/metrics of the daemon")
        for family, kind in FAMILIES.items():
            assert re.search(rf"^# TYPE {family}(_total)? {kind}$", text, re.M), family
        assert "smartshelf_decision_seconds_bucket{le=" in text
        before = malformed(text)
        wait_until(gateway.mqtt.connected.is_set, 10, what="gateway connected")
        receiver.start()
        assert receiver.wait_connected(10)
        topic = f"{Topics('s1').all_ble_sightings().replace('+', 'rx-1')}"
        # the presence source subscribes when its task starts: resend until the daemon counts one
        wait_until(
            lambda: (
                receiver.publish(topic, b'{"receiver": "rx-1", "sightings": "nope"}', qos=1)
                and malformed(metrics()) > before
            ),
            15,
            interval=0.3,
            what="malformed sightings counted on /metrics",
        )
    finally:
        receiver.stop()
        loop.call_soon_threadsafe(stop.set)
        thread.join(15)
    assert not thread.is_alive()
