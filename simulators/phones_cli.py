"""``shelf-sim phones``: play a presence scenario in real time, for a running gateway to hear.

Two ways in, matching the two gateway sources:

- ``--via mqtt`` (default): simulated remote receivers publish ``SightingsMessage`` on the broker
  (gateway ``presence.source = "mqtt-receivers"``);
- ``--via bluez``: a private dbus-daemon with the BlueZ stand-in, one adapter per receiver
  (``hci0``, ``hci1``, ...); the gateway runs with ``presence.source = "bleak"`` and
  ``DBUS_SYSTEM_BUS_ADDRESS`` set to the printed address.

Either way the enrolled customers' keys are written to ``--keys-out`` (the gateway's
``presence.keys_file``) and the matching ``[presence]`` configuration is printed.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from edge.config import MqttSection
from edge.presence.keys import write_keys_file
from simulators.phones import PhoneWorld, days_covering, enrolled_keys
from simulators.phones_scenarios import SCENARIOS, starting_at


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scenario", choices=sorted(SCENARIOS), default="neighbours", help="Scenario to play."
    )
    parser.add_argument("--via", choices=("mqtt", "bluez"), default="mqtt", help="Remote receivers or BlueZ.")
    parser.add_argument("--mqtt-host", default="127.0.0.1", help="Broker host (--via mqtt).")
    parser.add_argument("--mqtt-port", type=int, default=1883, help="Broker port (--via mqtt).")
    parser.add_argument(
        "--keys-out", type=Path, default=Path("var/presence-keys.json"), help="Keys file to write."
    )
    parser.add_argument("--start-in", type=float, default=3.0, help="Seconds until the first visit begins.")
    parser.add_argument("--seed", type=int, default=1, help="Radio noise seed.")
    parser.add_argument("--duration", type=float, default=None, help="Stop after this many seconds.")


def run(args: argparse.Namespace) -> int:
    scenario = starting_at(SCENARIOS[args.scenario](), time.time() + args.start_in)
    world = PhoneWorld(scenario.layout, scenario.scripts, store=scenario.store, seed=args.seed)
    end = world.end_t() + 5.0
    if args.duration is not None:
        end = min(end, time.time() + args.duration)
    write_keys_file(
        args.keys_out,
        scenario.store,
        enrolled_keys(scenario.enrolled, scenario.store, days_covering(time.time(), end)),
    )
    print(f"keys of {len(scenario.enrolled)} enrolled customers written to {args.keys_out}")
    print(
        f"scenario {scenario.name}: {len(scenario.scripts)} phones ({len(scenario.strangers)} not enrolled), "
        f"{end - time.time():.0f} s"
    )
    if args.via == "mqtt":
        return _run_mqtt(args, world, scenario.layout.zones_text(), end)
    return _run_bluez(args, scenario, end)


def _config(source: str, zones: dict[str, str], keys: Path, extra: str = "") -> str:
    lines = [
        "[presence]",
        f'source = "{source}"',
        f'keys_file = "{keys}"',
        *([extra] if extra else []),
        "",
        "[presence.receivers]",
    ]
    lines += [f'"{r}" = "{z}"' for r, z in sorted(zones.items())]
    return "\n".join(lines)


def _run_mqtt(args: argparse.Namespace, world: PhoneWorld, zones: dict[str, str], end: float) -> int:
    from simulators.phones_mqtt import ReceiverPublisher

    print(_config("mqtt-receivers", zones, args.keys_out))
    with ReceiverPublisher(world, MqttSection(host=args.mqtt_host, port=args.mqtt_port), world.store) as pub:
        while time.time() < end:
            time.sleep(1.0)
        print(f"done: {pub.sightings} sightings in {pub.messages} messages")
    return 0


def _run_bluez(args: argparse.Namespace, scenario, end: float) -> int:  # type: ignore[no-untyped-def]
    from simulators.bluez import simulated_bluez, write_spec

    receivers = sorted(scenario.layout.receivers)
    adapters = {f"hci{i}": rid for i, rid in enumerate(receivers)}
    zones = {f"local-{a}": scenario.layout.zones_text()[rid] for a, rid in adapters.items()}
    g = max(s.gondola for s in scenario.layout.shelves)
    s = max(s.shelf for s in scenario.layout.shelves)
    with tempfile.TemporaryDirectory() as d:
        spec = write_spec(Path(d) / "spec.json", scenario.scripts, adapters, scenario.store, g, s, args.seed)
        with simulated_bluez(spec) as (bus, _bluez):
            names = [a for a in adapters if a != "hci0"]
            print(
                _config(
                    "bleak", zones, args.keys_out, f'adapter = "hci0"\nadapters = {names!r}'.replace("'", '"')
                )
            )
            print(f"export DBUS_SYSTEM_BUS_ADDRESS={bus.address}")
            while time.time() < end:
                time.sleep(1.0)
    print("done")
    return 0
