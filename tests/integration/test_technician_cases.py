"""A new technician's first commands: each bad case is one clear line and a non-zero exit.

Issue 12's "rough edges": a missing CA file, an empty config, a bad environment override, a missing
planogram or rules file, markup in doctor's fixes, a serial device that does not exist, and
calibrate's --timeout.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edge.cli import main as shelf_edge
from shelf_firmware_bridge.calibration import CalibrationStore
from shelf_firmware_bridge.cli import main as shelf_bridge
from shelf_firmware_bridge.link import ShelfLink
from simulators.broker import MosquittoBroker
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


def gateway(data_dir: Path, extra: str = "") -> str:
    return f'[gateway]\nstore_id = "s1"\ngateway_id = "gw-1"\ndata_dir = "{data_dir}"\n{extra}'


def test_a_missing_ca_file_is_named_by_validate_config_and_both_daemons(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "edge.toml"
    ca = tmp_path / "pki" / "ca.crt"
    config.write_text(gateway(tmp_path / "data", f'[mqtt]\nport = 8883\n[mqtt.tls]\nca_file = "{ca}"\n'))
    expected = (
        "mqtt.tls.ca_file: does not exist (a file the gateway reads; fix: run `sudo shelf-edge install`"
    )
    assert shelf_edge(["validate-config", str(config)]) == 1
    assert expected in capsys.readouterr().err
    assert shelf_bridge(["run", "--config", str(config)]) == 2
    assert expected in capsys.readouterr().err
    # the daemon as systemd starts it: the same line, no traceback, nothing created
    done = subprocess.run(
        [sys.executable, "-m", "edge.cli", "run", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and expected in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "data").exists()


def test_an_empty_config_is_refused_and_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "edge.toml").write_text("")
    assert shelf_edge(["validate-config", "edge.toml"]) == 1
    err = capsys.readouterr().err
    assert err == (
        "edge.toml: 1 problem(s)\n"
        "  gateway: required key is missing (the gateway's identity and data directory have no defaults)\n"
    )
    assert shelf_edge(["run", "--config", "edge.toml"]) == 2
    assert "gateway: required key is missing" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [tmp_path / "edge.toml"]  # no var/edge.db in the working directory


def test_an_environment_override_error_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "edge.toml"
    config.write_text(gateway(tmp_path))
    monkeypatch.setenv("SHELF_EDGE_MQTT__PORT", "eighty")
    assert shelf_edge(["validate-config", str(config)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"the environment (SHELF_EDGE_* overrides of {config}): 1 problem(s)\n")
    assert (
        "  mqtt.port (set by environment variable SHELF_EDGE_MQTT__PORT): Input should be a valid integer"
        in err
    )
    monkeypatch.delenv("SHELF_EDGE_MQTT__PORT")
    monkeypatch.setenv("SHELF_EDGE_MQTT", "{port: 1}")  # a whole section as JSON, mistyped
    assert shelf_edge(["validate-config", str(config)]) == 1
    assert "mqtt (set by environment variable SHELF_EDGE_MQTT): not valid JSON for this section" in (
        capsys.readouterr().err
    )


def test_doctor_fails_a_missing_planogram_and_rules_file_and_prints_brackets(
    broker: MosquittoBroker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "edge.toml"
    config.write_text(
        gateway(
            tmp_path / "data",
            f'[mqtt]\nhost = "{broker.host}"\nport = {broker.port}\n'
            f'[sensing]\nplanogram = "{tmp_path / "planogram.csv"}"\n'
            f'[offers]\nrules = "{tmp_path / "rules.json"}"\n[web]\nenabled = false\n',
        )
    )
    assert shelf_edge(["doctor", "--config", str(config), "--json", "--listen", "0.3"]) == 1
    results = json.loads(capsys.readouterr().out)["results"]
    files = [r for r in results if r["name"] == "files"]
    assert [(r["status"], r["detail"].split(" = ")[0]) for r in files] == [
        ("fail", "sensing.planogram"),
        ("fail", "offers.rules"),
    ]
    assert "does not exist" in files[0]["detail"] and "remove the key" in files[0]["fix"]
    assert shelf_edge(["doctor", "--config", str(config), "--listen", "0.3"]) == 1
    shown = capsys.readouterr().out
    assert "fix: add [[bridge.shelves]] to the config" in shown  # not "add [] to the config"
    assert f"sensing.planogram = {tmp_path / 'planogram.csv'}: does not exist" in shown


def test_a_serial_device_that_does_not_exist_is_told_at_once_and_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    missing = str(tmp_path / "ttyUSB-missing")
    store = CalibrationStore(tmp_path / "bridge.db")
    link = ShelfLink(missing, 1, 2, store, on_rows=lambda link, rows: None, reopen_s=0.01)
    with caplog.at_level(logging.WARNING, logger="shelf_bridge.link"):
        link.start()
        try:
            wait_until(lambda: link.stats.open_failures >= 5, 10, what="several attempts to open the port")
        finally:
            link.stop()
            store.close()
    told = [r.getMessage() for r in caplog.records]
    assert told == [
        f"shelf g1/s2: serial port {missing} does not exist (is the shelf controller plugged in? "
        "`ls /dev/serial/by-id/`); retrying every 0.01 s until it appears"
    ]


def test_shelf_bridge_run_names_a_missing_device_in_its_first_lines(tmp_path: Path) -> None:
    missing = tmp_path / "ttyACM-missing"
    config = tmp_path / "edge.toml"
    config.write_text(
        gateway(
            tmp_path / "data",
            f'[mqtt]\nport = 1\n[[bridge.shelves]]\nport = "{missing}"\ngondola = 1\nshelf = 1\n',
        )
    )
    log = tmp_path / "bridge.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "shelf_firmware_bridge.cli", "run", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "SHELF_EDGE_LOGGING__FORMAT": "console"},
        )
        try:
            wait_until(
                lambda: f"serial port {missing} does not exist" in log.read_text(), 20, what="the line"
            )
        finally:
            proc.terminate()
            proc.wait(timeout=20)


def test_calibrate_honours_its_timeout(
    broker: MosquittoBroker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No bridge answers: calibrate gives up after --timeout, not after a fixed 15 s."""
    config = tmp_path / "edge.toml"
    config.write_text(gateway(tmp_path / "data", f'[mqtt]\nhost = "{broker.host}"\nport = {broker.port}\n'))
    argv = ["calibrate", "--config", str(config), "--shelf", "1/1", "--known-g", "500", "--timeout", "1.5"]
    assert shelf_edge(argv) == 1
    out = capsys.readouterr().out
    assert "calibration stopped: plate 0, info: the bridge did not answer within 1.5 s" in out


def test_a_ca_file_that_is_not_a_certificate_is_named_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_text("not a certificate\n")
    config = tmp_path / "edge.toml"
    config.write_text(gateway(tmp_path / "data", f'[mqtt]\nport = 8883\n[mqtt.tls]\nca_file = "{ca}"\n'))
    assert shelf_edge(["run", "--config", str(config)]) == 2
    assert (
        "mqtt.tls.ca_file: is not a PEM CA certificate (NO_CERTIFICATE_OR_CRL_FOUND)"
        in capsys.readouterr().err
    )


def test_install_of_a_new_gateway_needs_its_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert shelf_edge(["install", "--root", str(tmp_path / "root")]) == 2
    err = capsys.readouterr().err
    assert "gateway.store_id: a new gateway needs its store: pass --store-id STORE" in err
    assert not (tmp_path / "root/etc/smartshelf/edge.toml").exists()


def test_a_data_directory_that_cannot_be_made_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    """As root the path check passes for /proc/... (access(2) says writable); mkdir then failed with a
    traceback. As another user the check itself refuses it. Either way: one line, non-zero exit."""
    config = tmp_path / "edge.toml"
    extra = '[presence]\nsource = "none"\n[web]\nenabled = false\n[bridge]\nbridge_id = "b1"\n'
    extra += '[[bridge.shelves]]\nport = "/dev/null"\ngondola = 1\nshelf = 1\n'
    config.write_text(gateway(Path("/proc/smartshelf-cannot-exist"), extra))
    for command in ("shelf-edge", "shelf-bridge"):
        script = Path(sys.executable).with_name(command)
        done = subprocess.run(
            [str(script), "run", "--config", str(config)], capture_output=True, text=True, timeout=60
        )
        assert done.returncode != 0, (command, done.stderr)
        assert "Traceback" not in done.stderr, (command, done.stderr)
        assert "/proc/smartshelf-cannot-exist" in done.stderr, (command, done.stderr)
