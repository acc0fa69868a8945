"""A BlueZ stand-in on a private D-Bus system bus, so the unmodified bleak scanner runs in tests and demos.

Pieces:

- :class:`PrivateSystemBus` starts the real ``dbus-daemon`` with a generated configuration
  (``<type>system</type>``, a unix socket in a temp dir, EXTERNAL auth, a permissive policy).
  Point bleak at it with ``DBUS_SYSTEM_BUS_ADDRESS`` (dbus-fast honours it); :func:`simulated_bluez`
  does that for you.
- ``python -m simulators.bluez serve --address ADDR --spec SPEC.json`` is the stand-in process: it
  owns ``org.bluez``, exports one Adapter1 per simulated adapter and turns the phones of the spec
  (see :func:`write_spec`) into Device1 objects: InterfacesAdded when a phone is first heard,
  PropertiesChanged (RSSI, advertisement data) for every further advertisement, while discovery is on.
- :class:`BlueZStandIn` runs that process; ``kill()`` and ``start()`` simulate BlueZ dying and
  coming back under a running scanner.

Each adapter stands at a receiver position of the store layout (``adapters``: adapter -> receiver
id), so several adapters give several zones; the gateway sees adapter ``hciN`` as receiver
``local-hciN``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from edge.events import ShelfId
from simulators.phones import Customer, PhoneWorld, ShopperScript, aisle_store

DEVICE_FORGET_S = 30.0
_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow send_destination="*"/>
    <allow receive_type="method_call"/>
    <allow receive_type="signal"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"""


class PrivateSystemBus:
    """The real dbus-daemon as a private 'system' bus on a unix socket in a temp dir."""

    def __init__(self) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="dbus-sim-"))
        self.socket = self._dir / "system_bus_socket"
        self.config = self._dir / "system.conf"
        self.address = f"unix:path={self.socket}"
        self._proc: subprocess.Popen[bytes] | None = None
        self._saved_env: str | None = None

    def start(self) -> PrivateSystemBus:
        binary = shutil.which("dbus-daemon") or "/usr/bin/dbus-daemon"
        if not Path(binary).exists():
            raise FileNotFoundError("dbus-daemon not found: install the Debian package 'dbus-daemon'")
        self.config.write_text(_CONFIG.format(socket=self.socket))
        self._proc = subprocess.Popen(
            [binary, f"--config-file={self.config}", "--nofork", "--nopidfile"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        while not self.socket.exists():
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode() if self._proc.stderr else ""
                raise RuntimeError(f"dbus-daemon exited ({self._proc.returncode}): {err.strip()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"dbus-daemon did not create {self.socket} within 10 s")
            time.sleep(0.02)
        return self

    def export_env(self) -> None:
        """Make bleak/dbus-fast in this process use this bus as the system bus."""
        self._saved_env = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS")
        os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = self.address

    def stop(self) -> None:
        if self._saved_env is None:
            os.environ.pop("DBUS_SYSTEM_BUS_ADDRESS", None)
        else:
            os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = self._saved_env
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc is not None and self._proc.stderr:
            self._proc.stderr.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> PrivateSystemBus:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------- scenario spec
def write_spec(
    path: str | Path,
    scripts: Sequence[ShopperScript],
    adapters: Mapping[str, str],
    store: str = "store-001",
    gondolas: int = 2,
    shelves_per_gondola: int = 4,
    seed: int = 1,
) -> Path:
    """Write the JSON the stand-in reads: layout, adapter positions, phones and their visits (unix times)."""
    doc = {
        "store": store,
        "seed": seed,
        "layout": {"gondolas": gondolas, "shelves_per_gondola": shelves_per_gondola},
        "adapters": dict(adapters),
        "shoppers": [
            {
                "shopper": s.customer.shopper,
                "secret": s.customer.secret.hex(),
                "platform": s.customer.platform,
                "enrolled": s.customer.enrolled,
                "advert_interval_s": s.advert_interval_s,
                "visits": [[v[0].gondola, v[0].shelf, v[1], v[2]] for v in s.visits],
            }
            for s in scripts
        ],
    }
    path = Path(path)
    path.write_text(json.dumps(doc, indent=1))
    return path


def world_from_spec(doc: Mapping[str, Any]) -> tuple[PhoneWorld, dict[str, str]]:
    """(world whose receivers are the adapters' positions, receiver id -> adapter)."""
    layout = aisle_store(doc["layout"]["gondolas"], doc["layout"]["shelves_per_gondola"])
    scripts = [
        ShopperScript(
            Customer(p["shopper"], bytes.fromhex(p["secret"]), p["platform"], p["enrolled"]),
            [(ShelfId(int(g), int(s)), float(a), float(b)) for g, s, a, b in p["visits"]],
            advert_interval_s=float(p.get("advert_interval_s", 0.25)),
        )
        for p in doc["shoppers"]
    ]
    adapters: dict[str, str] = dict(doc["adapters"])
    for adapter, receiver in adapters.items():
        if receiver not in layout.receivers:
            raise ValueError(
                f"adapter {adapter}: unknown receiver {receiver!r} (have {sorted(layout.receivers)})"
            )
    world = PhoneWorld(
        layout, scripts, store=doc["store"], seed=int(doc["seed"]), receivers=sorted(adapters.values())
    )
    return world, {r: a for a, r in adapters.items()}


# --------------------------------------------------------------------------- the stand-in process
async def serve(address: str, doc: Mapping[str, Any], period_s: float = 0.05) -> None:
    """Own org.bluez on ``address`` and play the spec's phones until the bus goes away."""
    from dbus_fast import BusType
    from dbus_fast.aio import MessageBus

    from simulators.bluez_objects import Adapter, Device, MonitorManager

    world, adapter_of = world_from_spec(doc)
    bus = await MessageBus(bus_address=address, bus_type=BusType.SYSTEM).connect()
    adapters: dict[str, Adapter] = {}
    monitors: dict[str, MonitorManager] = {}
    for i, name in enumerate(sorted(adapter_of.values())):
        adapters[name] = Adapter(name, f"00:1A:7D:DA:71:{i:02X}")
        monitors[name] = MonitorManager()
        bus.export(f"/org/bluez/{name}", adapters[name])
        bus.export(f"/org/bluez/{name}", monitors[name])
    await bus.request_name("org.bluez")
    devices: dict[str, Device] = {}
    plugged = [True]

    def toggle_adapters() -> None:
        """SIGUSR1: every adapter is unplugged (InterfacesRemoved, devices gone) or plugged back."""
        if plugged[0]:
            for path in list(devices):
                bus.unexport(path)
            devices.clear()
            for name in adapters:
                bus.unexport(f"/org/bluez/{name}")
                adapters[name] = Adapter(name, adapters[name].address)  # a fresh adapter, not discovering
                monitors[name] = MonitorManager()
        else:
            for name in adapters:
                bus.export(f"/org/bluez/{name}", adapters[name])
                bus.export(f"/org/bluez/{name}", monitors[name])
        plugged[0] = not plugged[0]
        print("PLUGGED" if plugged[0] else "UNPLUGGED", flush=True)

    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, toggle_adapters)
    print("READY", flush=True)
    world.heard_until(time.time())  # phones advertised before BlueZ started: nobody heard that
    sent = 0
    while bus.connected:
        now = time.time()
        for sighting, addr in world.heard_until(now):
            name = adapter_of[sighting.receiver]
            if not plugged[0] or not adapters[name].discovering:
                continue
            path = f"/org/bluez/{name}/dev_{addr.replace(':', '_')}"
            device = devices.get(path)
            fields = (
                dict(sighting.manufacturer_data),
                dict(sighting.service_data),
                list(sighting.service_uuids),
            )
            if device is None:
                device = Device(f"/org/bluez/{name}", addr)
                device.advertise(int(sighting.rssi), *fields)
                devices[path] = device
                bus.export(path, device)
            else:
                device.emit_properties_changed(device.advertise(int(sighting.rssi), *fields))
            device.last_heard = now
            sent += 1
            if sent % 100 == 0:
                await asyncio.sleep(0.001)  # pace: dbus-fast drops a connection on EAGAIN bursts
        for path in [p for p, d in devices.items() if now - d.last_heard > DEVICE_FORGET_S]:
            bus.unexport(path)
            del devices[path]
        await asyncio.sleep(period_s)


class BlueZStandIn:
    """The stand-in as a child process on ``bus_address``; ``kill()`` it mid-scan, ``start()`` it again."""

    def __init__(self, bus_address: str, spec_path: str | Path) -> None:
        self.bus_address = bus_address
        self.spec_path = Path(spec_path)
        self._proc: subprocess.Popen[str] | None = None

    def start(self, timeout: float = 15.0) -> BlueZStandIn:
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "simulators.bluez",
                "serve",
                "--address",
                self.bus_address,
                "--spec",
                str(self.spec_path),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        deadline = time.monotonic() + timeout
        line = ""
        while time.monotonic() < deadline and self._proc.poll() is None:
            line = self._proc.stdout.readline().strip()
            if line == "READY":
                return self
        self.kill()
        raise RuntimeError(f"BlueZ stand-in did not become ready (last output {line!r})")

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def toggle_adapters(self, timeout: float = 5.0) -> str:
        """Unplug every adapter (like a USB dongle pulled out), or plug them back; returns the new state."""
        assert self._proc is not None and self._proc.stdout is not None, "stand-in not running"
        self._proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self._proc.stdout.readline().strip()
            if line in ("PLUGGED", "UNPLUGGED"):
                return line
        raise TimeoutError("BlueZ stand-in did not acknowledge the adapter toggle")

    def kill(self) -> None:
        """SIGKILL, like a crashing bluetoothd: no goodbye on the bus."""
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.send_signal(signal.SIGKILL)
            self._proc.wait()
            if self._proc.stdout:
                self._proc.stdout.close()
            self._proc = None

    def __enter__(self) -> BlueZStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()


@contextlib.contextmanager
def simulated_bluez(spec_path: str | Path) -> Iterator[tuple[PrivateSystemBus, BlueZStandIn]]:
    """Private system bus + BlueZ stand-in; DBUS_SYSTEM_BUS_ADDRESS points at it while inside."""
    with PrivateSystemBus() as bus:
        bus.export_env()
        with BlueZStandIn(bus.address, spec_path) as bluez:
            yield bus, bluez


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulators.bluez", description="BlueZ stand-in process.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("serve", help="Own org.bluez on a bus and play a phones spec.")
    p.add_argument("--address", required=True, help="D-Bus address, e.g. unix:path=/tmp/x/system_bus_socket")
    p.add_argument(
        "--spec", required=True, type=Path, help="Spec JSON written by simulators.bluez.write_spec."
    )
    args = parser.parse_args(argv)
    doc = json.loads(args.spec.read_text())
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.address, doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
