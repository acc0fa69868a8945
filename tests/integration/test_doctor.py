"""``shelf-edge doctor`` against a simulated store: the installed TLS broker (real Mosquitto), the
reference backend (real HTTP), a real offer model, a real SQLite database. All green first, then
each fault is named: broker stopped, clock skewed by 10 minutes."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from edge.cli import main as shelf_edge
from edge.config import load_config
from edge.ops.tomlwrite import dumps
from edge.store.db import open_database
from edge.store.migrations import MIGRATIONS
from edge.vision.model import load_lane_model
from edge.vision.stage import DEFAULT_MODEL
from shelf_firmware_bridge.service import Bridge
from simulators.backend.server import BackendServer
from simulators.broker import free_port, mosquitto_binary
from simulators.camera.mjpeg import MjpegCamera
from simulators.camera.scenario import build_scenario
from simulators.camera.score import camera_section
from simulators.shelves.firmware import FIRMWARE_VERSION, SimulatedShelfFirmware
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration
SHELVES = ((1, 1), (1, 2))


@dataclass
class Store:
    base: Path
    config: Path
    port: int
    mosquitto_conf: Path
    shelves: dict[tuple[int, int], SimulatedShelfFirmware]
    broker: subprocess.Popen[bytes] | None = None

    def start_broker(self) -> None:
        self.broker = subprocess.Popen(
            [mosquitto_binary(), "-c", str(self.mosquitto_conf)], stderr=subprocess.DEVNULL
        )
        wait_until(lambda: _listening(self.port), 10, what="TLS broker")

    def stop_broker(self) -> None:
        if self.broker is not None:
            self.broker.terminate()
            self.broker.wait(10)
            self.broker = None


def _listening(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _tiny_model(out: Path) -> None:
    from models.offers.build import build_from_baskets
    from models.offers.transactions import Basket

    baskets = [
        Basket(f"b{i}", f"c{i % 5}", 1_700_000_000.0 + i, items, 10.0)
        for i, items in enumerate(
            [("milk", "bread"), ("milk", "eggs"), ("bread", "butter"), ("milk", "bread", "eggs")] * 10
        )
    ]
    build_from_baskets(baskets, out, tune=False)


@pytest.fixture(scope="module")
def store() -> Iterator[Store]:
    base = Path(tempfile.mkdtemp(prefix="smartshelf-doctor-"))
    base.chmod(0o755)  # mosquitto started as root reads its files as user mosquitto
    shelves = {
        key: SimulatedShelfFirmware(gondola=key[0], shelf=key[1], plates=4, rate_hz=30, seed=key[1])
        for key in SHELVES
    }
    ports = {key: sim.start() for key, sim in shelves.items()}
    catalogue = list(load_lane_model(DEFAULT_MODEL).products)
    camera = MjpegCamera(build_scenario("basic", catalogue, seed=4, reaches=1)).start()
    cameras = dumps({"cameras": [camera_section(camera.scenario, camera.url).model_dump(mode="json")]})
    root = base / "root"
    port = free_port()
    data = base / "data"
    _tiny_model(data / "models/offers/current")
    open_database(data / "edge.db", MIGRATIONS).conn.close()  # a migrated, intact database
    backend = BackendServer(base / "backend.db")
    backend.start()
    pki = root / "etc/smartshelf/pki"
    seed = base / "seed.toml"
    seed.write_text(
        f"""
[gateway]
store_id = "store-007"
gateway_id = "gw-1"
data_dir = "{data}"
[mqtt]
host = "localhost"
port = {port}
[mqtt.tls]
ca_file = "{pki}/ca.crt"
cert_file = "{pki}/clients/gw-1.crt"
key_file = "{pki}/clients/gw-1.key"
[presence]
source = "none"
[bridge]
bridge_id = "bridge-1"
reopen_s = 0.2
status_interval_s = 1.0
command_timeout_s = 2.0
[[bridge.shelves]]
port = "{ports[(1, 1)]}"
gondola = 1
shelf = 1
[[bridge.shelves]]
port = "{ports[(1, 2)]}"
gondola = 1
shelf = 2
[offers]
model_dir = "{data}/models/offers/current"
[backend]
url = "{backend.url}"
timeout_s = 3
"""
        + cameras
    )
    assert (
        shelf_edge(
            [
                "install",
                "--root",
                str(root),
                "--config-from",
                str(seed),
                "--mqtt-port",
                str(port),
                "--bind",
                "127.0.0.1",
            ]
        )
        == 0
    )
    conf = (root / "etc/mosquitto/conf.d/smartshelf.conf").read_text()
    mosquitto_conf = base / "mosquitto.conf"
    mosquitto_conf.write_text(
        conf.replace("/etc/mosquitto/", f"{root}/etc/mosquitto/").replace(
            "log_dest syslog", "log_dest stderr"
        )
    )
    s = Store(base, root / "etc/smartshelf/edge.toml", port, mosquitto_conf, shelves)
    s.start_broker()
    config = load_config(s.config)
    assert config.mqtt.tls is not None
    # The bridge runs with its own certificate, as its systemd unit sets it.
    tls = config.mqtt.tls.model_copy(
        update={"cert_file": pki / "clients/bridge-1.crt", "key_file": pki / "clients/bridge-1.key"}
    )
    bridge = Bridge(config.model_copy(update={"mqtt": config.mqtt.model_copy(update={"tls": tls})}))
    bridge.start()
    assert bridge.mqtt.wait_connected(20)  # subscribed to shelf commands before any is sent
    try:
        yield s
    finally:
        bridge.stop()
        camera.close()
        for sim in shelves.values():
            sim.stop()
        s.stop_broker()
        backend.close()
        shutil.rmtree(base, ignore_errors=True)


def doctor(
    store: Store, *extra: str, capsys: pytest.CaptureFixture[str]
) -> tuple[int, dict[str, dict[str, str]]]:
    rc = shelf_edge(["doctor", "--config", str(store.config), "--json", "--listen", "0.5", *extra])
    out = capsys.readouterr().out
    results = json.loads(out)["results"]
    return rc, {r["name"]: r for r in results}


def test_all_green_then_each_fault_named(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    rc, results = doctor(store, capsys=capsys)
    assert rc == 0, results
    for name in ("config", "certificates", "broker", "backend", "clock", "disk", "database", "offer model"):
        assert results[name]["status"] == "ok", results[name]
    assert "TLS verified" in results["broker"]["detail"]
    assert results["camera cam-1"]["status"] == "ok", results["camera cam-1"]
    assert "delivering frames" in results["camera cam-1"]["detail"]
    for name in ("shelf 1/1", "shelf 1/2"):
        assert results[name]["status"] == "ok", results[name]
        assert f"firmware {FIRMWARE_VERSION}" in results[name]["detail"]

    store.shelves[(1, 2)].unplug()  # the pty of shelf 1/2 is closed
    try:
        wait_until(
            lambda: doctor(store, capsys=capsys)[1]["shelf 1/2"]["status"] == "fail", 20, what="shelf fault"
        )
        rc, results = doctor(store, capsys=capsys)
        assert rc == 1
        assert results["shelf 1/1"]["status"] == "ok"
        assert "not answering: serial port" in results["shelf 1/2"]["detail"]
        assert "closed" in results["shelf 1/2"]["detail"]
        assert "cable and power" in results["shelf 1/2"]["fix"]
    finally:
        store.shelves[(1, 2)].replug()
    wait_until(lambda: doctor(store, capsys=capsys)[0] == 0, 30, what="all green after replug")
    assert results["offer model"]["detail"].startswith("version ")

    rc, results = doctor(store, "--clock-offset", "600", capsys=capsys)
    assert rc == 1
    assert results["clock"]["status"] == "fail"
    assert "600 s ahead of the backend's Date header" in results["clock"]["detail"]
    assert "timedatectl" in results["clock"]["fix"]
    assert results["broker"]["status"] == "ok"

    store.stop_broker()
    try:
        rc, results = doctor(store, capsys=capsys)
        assert rc == 1
        assert results["broker"]["status"] == "fail"
        assert f"broker not reachable at localhost:{store.port}" in results["broker"]["detail"]
        assert "systemctl restart mosquitto" in results["broker"]["fix"]
        assert results["backend"]["status"] == "ok"
    finally:
        store.start_broker()
    # The bridge reconnects by itself (paho backoff) and re-publishes its status.
    wait_until(lambda: doctor(store, capsys=capsys)[0] == 0, 30, what="all green after the broker restart")


def test_human_output_one_line_per_check(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    rc = shelf_edge(["doctor", "--config", str(store.config), "--listen", "0.2", "--clock-offset", "-600"])
    out = capsys.readouterr().out
    assert rc == 1
    assert "✘ clock" in out and "600 s behind the backend's Date header" in out
    assert "fix:" in out and "1 check(s) failed" in out


def test_bad_config_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[mqtt]\nport = 99999\n")
    assert shelf_edge(["doctor", "--config", str(bad)]) == 2
    assert "mqtt.port" in capsys.readouterr().out


def test_corrupt_database_fails(store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from edge.ops.doctor import check_database

    data = tmp_path / "d"
    data.mkdir()
    (data / "edge.db").write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    config = load_config(store.config).model_copy(
        update={"gateway": load_config(store.config).gateway.model_copy(update={"data_dir": data})}
    )
    result = check_database(config)
    assert result.status.value == "fail", result


def test_model_check_follows_the_active_release_slot(tmp_path: Path) -> None:
    import json as _json

    from edge.config import parse_config
    from edge.ops.doctor import check_model
    from edge.web.gateway_info import model_version

    releases = tmp_path / "models/offers"
    _tiny_model(releases / "slot-b")
    (releases / "active.json").write_text(_json.dumps({"version": 7, "slot": "b"}))
    config = parse_config(
        {
            "gateway": {"store_id": "s1", "gateway_id": "gw-1", "data_dir": str(tmp_path)},
            "offers": {"model_dir": str(tmp_path / "nowhere")},
        }
    )
    result = check_model(config)
    assert result.status.value == "ok", result
    version = model_version(config)
    assert version is not None and f"version {version} loaded" in result.detail
    (releases / "active.json").unlink()  # no release yet: offers.model_dir, which is missing here
    assert check_model(config).status.value == "fail"
