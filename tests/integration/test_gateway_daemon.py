"""The daemon (``shelf-edge run``) as a process and in-process, against a real Mosquitto."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from edge.app import Gateway
from edge.config import parse_config
from edge.mqtt.client import MqttClient
from edge.mqtt.payloads import SampleBatchMessage, encode
from edge.mqtt.topics import Topics
from tests.support.waiting import wait_until

SHELF_EDGE = str(Path(sys.executable).parent / "shelf-edge")


def config_for(broker, tmp_path):
    return parse_config(
        {
            "gateway": {"store_id": "s1", "gateway_id": "gw-t", "data_dir": str(tmp_path / "data")},
            "mqtt": {
                "host": broker.host,
                "port": broker.port,
                "reconnect_min_s": 0.2,
                "reconnect_max_s": 1.0,
            },
            "presence": {"source": "none"},
            "web": {"enabled": False},
        }
    )


def test_malformed_payloads_are_counted_and_good_ones_still_flow(broker, tmp_path):
    config = config_for(broker, tmp_path)
    gateway = Gateway(config)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(target=loop.run_until_complete, args=(gateway.run(stop),), daemon=True)
    thread.start()
    wait_until(gateway.mqtt.connected.is_set, 10, what="gateway connected")

    topics = Topics("s1")
    pub = MqttClient(config.mqtt, "test-pub")
    pub.start()
    assert pub.wait_connected(5)
    good = SampleBatchMessage(
        bridge="b", gondola=1, shelf=1, seq=0, plates=[1, 2], t=[time.time()], readings=[[10.0, 20.0]]
    )
    pub.publish(topics.samples(1, 1), b"\x00\xffnot json", qos=1)
    pub.publish(
        topics.samples(1, 1),
        b'{"bridge":"b","gondola":1,"shelf":1,"seq":0,"plates":[1],"t":[1.0],"readings":[[1,2]]}',
        qos=1,
    )
    pub.publish(topics.samples(1, 1), encode(good), qos=1)
    wait_until(
        lambda: gateway.stats["malformed"] == 2 and gateway.stats["batches"] == 1,
        10,
        what="3 messages handled",
    )
    pub.stop()
    loop.call_soon_threadsafe(stop.set)
    thread.join(10)
    assert not thread.is_alive()


def test_daemon_process_goes_online_and_stops_cleanly_on_sigterm(broker, tmp_path):
    config_path = tmp_path / "edge.toml"
    config_path.write_text(
        f'[gateway]\nstore_id = "s1"\ngateway_id = "gw-p"\ndata_dir = "{tmp_path / "data"}"\n'
        f'[mqtt]\nport = {broker.port}\n[presence]\nsource = "none"\n[web]\nport = 0\npassword = "pw"\n'
    )
    seen: list[bytes] = []
    watcher = MqttClient(config_for(broker, tmp_path).mqtt, "watcher")
    watcher.subscribe(Topics("s1").availability("gateway", "gw-p"), lambda m: seen.append(m.payload), qos=1)
    watcher.start()
    proc = subprocess.Popen(
        [SHELF_EDGE, "run", "--config", str(config_path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        wait_until(lambda: seen[-1:] == [b"online"], 20, what="daemon online")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        wait_until(lambda: seen[-1:] == [b"offline"], 10, what="offline published on a clean stop")
    finally:
        if proc.poll() is None:
            proc.kill()
        watcher.stop()
    assert (tmp_path / "data" / "edge.db").exists()


def test_daemon_refuses_a_broken_config_with_the_key_named(tmp_path):
    config_path = tmp_path / "edge.toml"
    config_path.write_text("[mqtt]\nport = 'eighteen'\n")
    proc = subprocess.run(
        [SHELF_EDGE, "run", "--config", str(config_path)], capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 2
    assert "mqtt.port" in proc.stdout + proc.stderr
