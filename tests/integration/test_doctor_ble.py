"""The doctor's BLE check: the unmodified bleak scanning through the BlueZ stand-in on a private
D-Bus; a missing adapter and a dead bluetoothd are named."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from edge.config import parse_config
from edge.events import ShelfId
from edge.ops.doctor import check_ble_adapter, check_broker_and_store
from edge.ops.doctor_core import Status
from simulators.bluez import simulated_bluez, write_spec
from simulators.broker import MosquittoBroker
from simulators.phones import Customer, PhoneWorld, ShopperScript, aisle_store
from simulators.phones_mqtt import ReceiverPublisher
from tests.support.configs import IDENTITY

pytestmark = pytest.mark.integration


def test_adapter_present_scanning_then_missing_then_dead(tmp_path: Path) -> None:
    now = time.time()
    phone = Customer("sh-1", bytes(range(16)), "android")
    spec = write_spec(
        tmp_path / "spec.json", [ShopperScript(phone, [(ShelfId(1, 1), now, now + 120)])], {"hci0": "rx-g1s1"}
    )

    def config(adapter: str):  # type: ignore[no-untyped-def]
        return parse_config({"gateway": IDENTITY, "presence": {"source": "bleak", "adapter": adapter}})

    with simulated_bluez(spec) as (_bus, bluez):
        ok = check_ble_adapter(config("hci0"), listen_s=1.5)
        assert ok.status is Status.OK, ok
        assert "hci0 present and scanning" in ok.detail
        assert int(ok.detail.split("(")[1].split()[0]) > 0  # adverts were heard (counted only)
        missing = check_ble_adapter(config("hci7"), listen_s=0.5)
        assert missing.status is Status.FAIL and "hci7 cannot scan" in missing.detail
        assert "bluetoothctl" in missing.fix
        bluez.kill()
        dead = check_ble_adapter(config("hci0"), listen_s=0.5)
        assert dead.status is Status.FAIL and "hci0 cannot scan" in dead.detail


def test_remote_receivers_heard_or_named(broker: MosquittoBroker) -> None:
    now = time.time()
    phone = Customer("sh-1", bytes(range(16)), "android")
    world = PhoneWorld(
        aisle_store(1, 2),
        [ShopperScript(phone, [(ShelfId(1, 1), now, now + 120)])],
        store="s1",
        receivers=["rx-g1s1"],
    )
    config = parse_config(
        {
            "gateway": {**IDENTITY, "store_id": "s1"},
            "mqtt": {"host": broker.host, "port": broker.port},
            "presence": {"source": "mqtt-receivers", "receivers": {"rx-g1s1": "1/1", "rx-g1s2": "1/2"}},
        }
    )
    with ReceiverPublisher(world, config.mqtt, "s1", period_s=0.25):
        results = {r.name: r for r in check_broker_and_store(config, listen_s=1.5)}
    assert results["broker"].status is Status.OK
    assert (
        results["ble rx-g1s1"].status is Status.OK
        and "scanning at shelf 1/1" in results["ble rx-g1s1"].detail
    )
    assert results["ble rx-g1s2"].status is Status.FAIL
    assert results["ble rx-g1s2"].detail == "no reports from receiver at shelf 1/2"
