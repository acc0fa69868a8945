"""``shelf-edge calibrate`` against the real bridge and simulated shelf firmware on a pty: tare and
span per plate through MQTT commands, stored in the bridge's SQLite, verified by live readings."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from edge.config import EdgeConfig, parse_config
from edge.ops.calibrate import CalibrationFailed, run_calibration
from shelf_firmware_bridge.calibration import CalibrationStore
from shelf_firmware_bridge.service import Bridge
from simulators.broker import MosquittoBroker
from simulators.shelves.firmware import SimulatedShelfFirmware

pytestmark = pytest.mark.integration
KNOWN_G = 500.0


@pytest.fixture
def shelf(
    broker: MosquittoBroker, tmp_path: Path
) -> Iterator[tuple[EdgeConfig, SimulatedShelfFirmware, Bridge]]:
    sim = SimulatedShelfFirmware(gondola=1, shelf=1, plates=3, rate_hz=30, seed=7)
    port = sim.start()
    config = parse_config(
        {
            "gateway": {"store_id": "s1", "gateway_id": "gw-1", "data_dir": str(tmp_path)},
            "mqtt": {"host": broker.host, "port": broker.port},
            "bridge": {"shelves": [{"port": port, "gondola": 1, "shelf": 1}], "command_timeout_s": 3.0},
        }
    )
    bridge = Bridge(config)
    bridge.start()
    assert bridge.mqtt.wait_connected(20)  # subscribed to shelf commands before any is sent
    try:
        yield config, sim, bridge
    finally:
        bridge.stop()
        sim.stop()


def test_tare_and_span_each_plate(
    shelf: tuple[EdgeConfig, SimulatedShelfFirmware, Bridge], tmp_path: Path
) -> None:
    config, sim, bridge = shelf
    placed: dict[int, float] = {}

    def technician(step: str, plate: int, text: str) -> None:
        # What a technician does when asked: put the calibration weight on, take it off.
        if step == "weight":
            placed[plate] = sim.schedule_return(time.time() + 0.05, (plate,), KNOWN_G, hold_s=0.4).delta_g
        elif step == "remove":
            sim.schedule_pick(time.time() + 0.05, (plate,), placed[plate], hold_s=0.4)

    out = io.StringIO()
    results = run_calibration(
        config, 1, 1, [1, 3], KNOWN_G, technician, Console(file=out, width=120), timeout=30
    )
    assert [r.plate for r in results] == [1, 3]
    for r in results:
        assert abs(r.error) < 0.02
        # The span the tool found is the firmware's real gain, scaled by the weight really placed.
        true_gain = sim.g_per_count[r.plate - 1] * KNOWN_G / placed[r.plate]
        assert r.g_per_count == pytest.approx(true_gain, rel=0.01)
    text = out.getvalue()
    assert "firmware shelfsim" in text and "plate 3: span" in text
    bridge.stop()
    stored = CalibrationStore(tmp_path / "bridge.db")  # persisted per plate, survives a restart
    try:
        for r in results:
            cal = stored.get(1, 1, r.plate)
            assert cal.g_per_count == pytest.approx(r.g_per_count)
            assert cal.zero_raw == pytest.approx(r.zero_raw)
    finally:
        stored.close()


def test_unplugged_shelf_is_reported(shelf: tuple[EdgeConfig, SimulatedShelfFirmware, Bridge]) -> None:
    config, sim, bridge = shelf
    sim.unplug()
    from tests.support.waiting import wait_until

    wait_until(lambda: not next(iter(bridge.links.values())).connected, 10, what="bridge sees the unplug")
    with pytest.raises(CalibrationFailed, match="does not answer: not-connected"):
        run_calibration(config, 1, 1, [1], KNOWN_G, lambda *a: None, Console(file=io.StringIO()), timeout=5)


def test_calibrate_command_guides_a_technician(
    shelf: tuple[EdgeConfig, SimulatedShelfFirmware, Bridge], tmp_path: Path
) -> None:
    """The real command in a terminal session: prompts on stdout, Enter on stdin."""
    import os
    import subprocess
    import sys
    import threading

    from edge.ops.tomlwrite import dumps
    from tests.support.waiting import wait_until

    config, sim, _bridge = shelf
    config_file = tmp_path / "edge.toml"
    config_file.write_text(dumps(config.model_dump(mode="json", exclude_none=True)))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edge.cli",
            "calibrate",
            "--config",
            str(config_file),
            "--shelf",
            "1/1",
            "--known-g",
            str(KNOWN_G),
            "--plates",
            "2",
            "--timeout",
            "30",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "COLUMNS": "120"},
    )
    assert proc.stdin is not None and proc.stdout is not None
    output = bytearray()

    def read() -> None:
        assert proc.stdout is not None
        while chunk := proc.stdout.read1(4096):
            output.extend(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        for prompt in (
            "Clear plate 2",
            "Place the known weight of 500 g on plate 2",
            "Take the weight off plate 2",
        ):
            wait_until(lambda p=prompt: p in output.decode(errors="replace"), 40, what=prompt)
            if prompt.startswith("Place"):
                sim.schedule_return(time.time() + 0.05, (2,), KNOWN_G, hold_s=0.4)
            proc.stdin.write(b"\n")
            proc.stdin.flush()
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(5)
    text = output.decode(errors="replace")
    assert "calibrated (stored by the bridge)" in text and "g/count" in text
