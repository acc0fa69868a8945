"""``shelf-sim demo``: a whole simulated store, end to end, on real parts, narrated.

What runs (everything but the load cells and the radio is the real thing):
- a private Mosquitto broker on a free port;
- one simulated shelf controller per shelf, speaking the shelf protocol on a pseudo-terminal;
- ``shelf-bridge run`` (pyserial on those ptys) and ``shelf-edge run`` (the daemon), as child processes
  with the same generated config file a store would have;
- shoppers' phones walking through the store, advertising rolling loyalty tokens, heard by simulated
  remote BLE receivers that publish over MQTT (plus one phone that is not enrolled and never shows);
- one simulated display per shelf, printing what the shopper would see and acknowledging it.
The narrator only listens to MQTT, like any observer of the store would.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from rich.console import Console

from backend.pgserver import PostgresServer
from edge.config import DisplaySection, MqttSection
from edge.events import ShelfId
from edge.logging_setup import configure
from edge.mqtt.topics import Topics
from simulators.backend.server import BackendServer
from simulators.bluez import BlueZStandIn, PrivateSystemBus, write_spec
from simulators.broker import MosquittoBroker, free_port
from simulators.demo_narrator import NAMES, Narrator, PlannedPick, plan_shoppers
from simulators.demo_report import (
    dashboard_state,
    match_picks,
    run_doctor,
    summary_table,
    uplift_report,
    wait_for,
    withdrawal_reached_gateway,
)
from simulators.demo_store import (
    CAMERA_SHELF,
    DASHBOARD_PASSWORD,
    DemoFiles,
    camera_section,
    prepare,
    start_camera,
    write_config,
)
from simulators.displays import SimulatedDisplay
from simulators.loyalty_app import AppInstall
from simulators.processes import ManagedProcess
from simulators.web_display.server import WebDisplayServer

STORE = "store-demo"
#: The gateway's pulls (keys, catalogue, ...) in the demo: a withdrawal reaches it within this.
PULL_INTERVAL_S = 3.0
#: Seconds from a planned pick to its weight event being decided (hand hold + settling), generously.
SETTLE_S = 6.0


class Stoppable(Protocol):
    def stop(self) -> object: ...


@dataclass(frozen=True)
class _Stop:
    """Puts something stopped by another verb (``kill``) on the demo's tear-down stack."""

    stop: Callable[[], object]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--duration",
        type=float,
        default=75.0,
        help="stop this many seconds after the first shopper enters, or when the scenario is over "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--shoppers", type=int, default=3, help="simulated opted-in shoppers (default %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=7, help="random seed of the scenario")
    parser.add_argument(
        "--workdir", type=Path, default=Path("var/demo"), help="cache and logs (default %(default)s)"
    )
    parser.add_argument(
        "--no-browser",
        dest="browser",
        action="store_false",
        help="don't open the web displays page in the desktop's browser (never opened without a desktop)",
    )
    parser.add_argument(
        "--restart-broker-at",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop Mosquitto this many seconds after the first shopper enters, start it again 3 s later",
    )
    parser.add_argument(
        "--database",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="the central service's database: a SQLite file, or a PostgreSQL the demo starts itself "
        "(default %(default)s)",
    )


def run(args: argparse.Namespace) -> int:
    console = Console(highlight=False)
    configure("WARNING", "console")
    return Demo(args, console).run()


class Demo:
    def __init__(self, args: argparse.Namespace, console: Console) -> None:
        self.args = args
        self.console = console
        self.workdir: Path = args.workdir.resolve()
        self.stack: list[Stoppable] = []
        #: Filled as the demo runs; read by the end-to-end test.
        self.picks: list[PlannedPick] = []
        self.picks_made: list[PlannedPick] = []
        self.narrator: Narrator | None = None
        self.broker_restarts = 0
        self.broker_back_at: float | None = None
        self.broker_stopped_at: float | None = None
        self.backend_events = 0
        self.doctor_exit: int | None = None
        self.dashboard_port = 0
        self.dashboard_json = ""
        self.dashboard_metrics = ""
        #: Environment of the gateway's processes: the private system bus the BlueZ stand-in is on.
        self.child_env: dict[str, str] = {}
        self.web_display_url = ""
        self.daemon_alive_at_end = False
        self.installs: list[AppInstall] = []
        self.run_started = 0
        self.withdrawn_at: float | None = None
        #: Seconds from the withdrawal in the app until the gateway's pulled keys no longer held the customer.
        self.withdrawal_reached_gateway_s: float | None = None

    def run(self) -> int:
        try:
            return self._run()
        finally:
            for item in reversed(self.stack):
                try:
                    if isinstance(item, MosquittoBroker | PostgresServer):
                        item.close()
                    else:
                        item.stop()
                except Exception as exc:  # keep tearing the rest down
                    self.console.print(f"[red]stopping {item!r} failed: {exc}[/]")

    def _run(self) -> int:
        from simulators.loyalty_app import enrol, withdraw
        from simulators.phones import PhoneWorld, Platform, aisle_store
        from simulators.phones_mqtt import ReceiverPublisher
        from simulators.shelves.firmware import SimulatedShelfFirmware

        c, args = self.console, self.args
        started = time.time()
        c.rule("[bold]smart-shelf demo store")
        planogram, catalogue, model_dir, products = prepare(
            self.workdir, say=lambda s: c.print(f"[dim]{s}[/]")
        )
        self.run_started = int(started)
        run_dir = self.workdir / f"run-{self.run_started}"
        run_dir.mkdir(parents=True)
        self.run_dir, self.catalogue_path = run_dir, catalogue  # for the uplift report at the end
        files = DemoFiles(
            self.workdir,
            planogram,
            catalogue,
            model_dir,
            run_dir / "keys.json",
            run_dir / "edge.toml",
            products,
        )

        broker = MosquittoBroker(websockets_port=free_port())
        broker.start()
        self.stack.append(broker)
        mqtt = MqttSection(host=broker.host, port=broker.port, reconnect_min_s=0.5, reconnect_max_s=2.0)
        topics = Topics(STORE)
        c.print(
            f"mosquitto listening on {broker.host}:{broker.port} (MQTT) and :{broker.websockets_port} (WebSockets)"
        )
        database_url = None
        if args.database == "postgres":
            pg = PostgresServer()
            pg.start()
            self.stack.append(pg)
            database_url = pg.url
            c.print(f"PostgreSQL (private cluster in {pg.root}) on {pg.host}:{pg.port}")
        backend = BackendServer(run_dir / "backend.db", database_url=database_url)
        backend.start()
        self.stack.append(backend)
        self.backend = backend
        c.print(
            f"central service (backend/, on {args.database}) on {backend.url}: serves today's consented "
            "customer keys, receives events"
        )

        shelf_ports: dict[ShelfId, str] = {}
        for i, shelf in enumerate(files.shelves()):
            fw = SimulatedShelfFirmware(
                shelf.gondola, shelf.shelf, plates=6, rate_hz=60, seed=args.seed + i, link_dir=run_dir
            )
            shelf_ports[shelf] = fw.start()
            self.stack.append(fw)
        firmware = {
            ShelfId(fw.gondola, fw.shelf): fw for fw in self.stack if isinstance(fw, SimulatedShelfFirmware)
        }
        c.print(
            f"{len(shelf_ports)} simulated shelf controllers on ptys: {', '.join(sorted(shelf_ports.values()))}"
        )

        camera = start_camera(files, CAMERA_SHELF, args.seed)
        self.stack.append(_Stop(camera.close))
        c.print(
            f"shelf camera over gondola {CAMERA_SHELF.gondola} / shelf {CAMERA_SHELF.shelf}: {camera.url}"
        )
        layout = aisle_store(gondolas=2, shelves_per_gondola=2)
        # Shelf 1/1 is heard by the gateway's own Bluetooth adapter hci0 (the unmodified bleak scanner
        # against the BlueZ stand-in on a private D-Bus); the other shelves by remote receivers over MQTT.
        local_receiver = "rx-g1s1"
        zones = {("local-hci0" if r == local_receiver else r): z for r, z in layout.zones_text().items()}
        # The shoppers enrol through the loyalty app (the service answers each one's secret); the
        # day-keys job publishes their keys for the store, and the gateway pulls them like any store.
        platforms: tuple[Platform, ...] = ("android", "ios", "android-service")
        self.installs = [enrol(backend.url, platforms[i % len(platforms)]) for i in range(args.shoppers)]
        backend.store.add_store(STORE, "demo store")
        t0 = time.time() + 8.0
        published = backend.store.run_day_keys(now=t0, days_ahead=1)
        c.print(
            f"{len(self.installs)} shoppers enrolled through the loyalty app (POST /v1/loyalty/customers); "
            f"day-keys job: {published.documents} keys document(s), {published.customers} customer(s)"
        )
        scripts, picks = plan_shoppers(
            files, args.shoppers, t0, args.seed, [i.customer for i in self.installs]
        )
        names = {
            s.customer.shopper: NAMES[i % len(NAMES)] for i, s in enumerate(scripts) if s.customer.enrolled
        }
        dashboard_port = self.dashboard_port = free_port()
        write_config(
            files.config,
            store=STORE,
            data_dir=run_dir / "data",
            mqtt_port=broker.port,
            shelf_ports=shelf_ports,
            planogram=planogram,
            catalogue=catalogue,
            model_dir=model_dir,
            keys=None,
            zones=zones,
            presence_source="bleak+mqtt-receivers",
            cameras=[camera_section(camera, CAMERA_SHELF)],
            dashboard_port=dashboard_port,
            backend_url=backend.url,
            pull_interval_s=PULL_INTERVAL_S,
        )

        self.picks = picks
        narrator = self.narrator = Narrator(c, mqtt, topics, names, started)
        narrator.client.start()
        self.stack.append(narrator.client)
        displays = [
            DisplaySection(
                display_id=f"d-g{shelf.gondola}s{shelf.shelf}", gondola=shelf.gondola, shelf=shelf.shelf
            )
            for shelf in files.shelves()
        ]
        web = WebDisplayServer()
        web.start()
        self.stack.append(web)
        assert broker.websockets_port is not None
        # The terminal displays are the store's displays; the page mirrors them for a person to watch.
        self.web_display_url = web.page_url(broker.websockets_port, STORE, displays, mirror=True)
        for shelf in files.shelves():
            d = DisplaySection(
                display_id=f"d-g{shelf.gondola}s{shelf.shelf}", gondola=shelf.gondola, shelf=shelf.shelf
            )
            display = SimulatedDisplay(mqtt, topics, d, on_show=narrator.on_show)
            display.start()
            self.stack.append(display)

        bus = PrivateSystemBus().start()
        self.stack.append(bus)
        self.child_env = {"DBUS_SYSTEM_BUS_ADDRESS": bus.address}
        spec = write_spec(
            run_dir / "bluez-spec.json", scripts, {"hci0": local_receiver}, STORE, 2, 2, seed=args.seed
        )
        bluez = BlueZStandIn(bus.address, spec).start()
        self.stack.append(_Stop(bluez.kill))
        c.print(f"BlueZ stand-in on a private D-Bus ({bus.address}) plays adapter hci0 at shelf 1/1")
        bridge = ManagedProcess(
            "shelf-bridge",
            [ManagedProcess.console_script("shelf-bridge"), "run", "--config", str(files.config)],
            run_dir / "bridge.log",
        ).start()
        self.stack.append(bridge)
        daemon = ManagedProcess(
            "shelf-edge",
            [ManagedProcess.console_script("shelf-edge"), "run", "--config", str(files.config)],
            run_dir / "edge.log",
            env=self.child_env,
        ).start()
        self.stack.append(daemon)
        if not self._wait(
            lambda: (
                narrator.seen.availability.get("gateway/gw-demo") == "online"
                and narrator.seen.availability.get("bridge/bridge-demo") == "online"
            ),
            30,
        ):
            c.print("[red]the daemon or the bridge did not come online; their logs:[/]")
            c.print(bridge.tail(), markup=False)
            c.print(daemon.tail(), markup=False)
            return 1
        c.print("shelf-bridge and shelf-edge are online; shoppers are coming in")
        c.print(f"technician dashboard: http://127.0.0.1:{dashboard_port}/ (password: {DASHBOARD_PASSWORD})")
        c.print(f"shelf displays in a browser: {self.web_display_url}")
        if args.browser and (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            webbrowser.open(self.web_display_url)  # every simulated display, on the desktop
        for s in scripts:
            if s.customer.enrolled:
                c.print(f"  shopper {names[s.customer.shopper]} ({s.customer.shopper}) uses the loyalty app")

        remote = [r for r in sorted(layout.receivers) if r != local_receiver]
        world = PhoneWorld(layout, scripts, store=STORE, seed=args.seed, receivers=remote)
        receivers = ReceiverPublisher(world, mqtt, STORE)
        receivers.start()
        self.stack.append(receivers)
        for pick in picks:
            product = next(
                p
                for p in products
                if p.product_id == pick.product_id and ShelfId(p.gondola, p.shelf) == pick.shelf
            )
            at, hold = pick.at, 1.5
            if pick.shelf == CAMERA_SHELF:
                # The camera sees an arm reach into the lane; the load cells feel the same hand.
                reach = camera.add_reach(pick.plate - 1, "pick", pick.shopper, delay_s=pick.at - time.time())
                at, hold = camera.started_at + reach.t0 + reach.reach_s, reach.dwell_s
            firmware[pick.shelf].schedule_pick(
                at, (pick.plate,), product.unit_weight_g, hold, pick.product_id
            )

        end = t0 + args.duration
        last_leave = max(v[2] for s in scripts for v in s.visits)
        done_at = last_leave + 20.0
        restart_at = t0 + args.restart_broker_at if args.restart_broker_at is not None else None
        doctor_at: float | None = t0 + 6.0
        # The first shopper withdraws consent in the app once done shopping (or shortly before the end).
        first = next(s for s in scripts if s.customer.enrolled)
        withdraw_at: float | None = max(t0, min(first.visits[-1][2] + 1.0, end - 8.0))
        while time.time() < min(end, done_at):
            if doctor_at is not None and time.time() >= doctor_at:
                doctor_at = None
                threading.Thread(target=self._doctor, args=(files.config,), daemon=True).start()
            if withdraw_at is not None and time.time() >= withdraw_at:
                withdraw_at = None
                withdraw(backend.url, self.installs[0])
                self.withdrawn_at = time.time()
                narrator.say(
                    f"[yellow]{names[first.customer.shopper]} withdrew consent in the loyalty app "
                    "(DELETE /v1/loyalty/me): erased centrally[/]"
                )
            if restart_at is not None and time.time() >= restart_at:
                restart_at = None
                narrator.say("[red]mosquitto stopped (simulated broker restart)[/]")
                self.broker_stopped_at = time.time()
                broker.stop()
                time.sleep(3.0)
                broker.start()
                self.broker_back_at = time.time()
                self.broker_restarts += 1
                narrator.say("[red]mosquitto started again[/]")
            if not daemon.running or not bridge.running:
                c.print(f"[red]{'shelf-edge' if not daemon.running else 'shelf-bridge'} exited; log:[/]")
                c.print((daemon if not daemon.running else bridge).tail(), markup=False)
                return 1
            time.sleep(0.2)
        return self._summary(narrator, picks, names, daemon, bridge)

    def _doctor(self, config: Path) -> None:
        self.doctor_exit = run_doctor(config, self.child_env, self.console)

    def _wait(self, predicate: Callable[[], bool], timeout: float) -> bool:
        return wait_for(predicate, timeout)

    def _summary(
        self,
        narrator: Narrator,
        picks: list[PlannedPick],
        names: dict[str, str],
        daemon: ManagedProcess,
        bridge: ManagedProcess,
    ) -> int:
        c = self.console
        seen = narrator.seen
        with seen.lock:
            basket = list(seen.basket)
            offers = list(seen.offers)
            shown = list(seen.shown)
            presence = list(seen.presence)
        # Picks whose hand had left the shelf long enough before the end to be decided (about 3 s).
        picks = [p for p in picks if p.at + SETTLE_S <= time.time()]
        self.picks_made = picks
        matched, attributed = match_picks(picks, basket)
        strangers = sum(1 for p in presence if p["shopper"] == "stranger") + sum(
            1 for b in basket if b.get("shopper") == "stranger"
        )
        rows = [
            ("picks made by shoppers before the end (ground truth)", str(len(picks))),
            ("picks detected with the right product", str(matched)),
            ("  ... attributed to the right shopper", str(attributed)),
            ("presence events (arrivals, departures)", str(len(presence))),
            ("offers decided", str(len(offers))),
            ("offers shown on displays (acknowledged)", str(len(shown))),
            (
                f"events received by the central service ({self.args.database}, outbox -> HTTP)",
                str(self.backend.store.event_count(STORE)),
            ),
            ("non-enrolled phone seen anywhere", str(strangers)),
        ]
        if self.withdrawn_at is not None:
            reached = self.withdrawal_reached_gateway_s = withdrawal_reached_gateway(
                self.workdir / f"run-{self.run_started}" / "data",
                self.installs[0].customer.shopper,
                self.withdrawn_at,
            )
            rows.append(
                (
                    "seconds from a withdrawal in the app to the gateway's keys without the customer",
                    "not within 15 s" if reached is None else f"{reached:.1f}",
                )
            )
        table = summary_table(rows)
        c.print(table)
        self.daemon_alive_at_end = daemon.running and bridge.running
        self.dashboard_json, self.dashboard_metrics = dashboard_state(self.dashboard_port, c)
        daemon.stop()
        self.backend_events = self.backend.store.event_count(STORE)
        bridge.stop()
        c.print(f"[dim]logs: {daemon.log_path} and {bridge.log_path}[/]")
        uplift_report(self.backend.store, STORE, self.catalogue_path, self.run_dir, c)
        ok = matched > 0 and len(shown) > 0 and strangers == 0
        c.print(
            "[bold green]demo complete[/]"
            if ok
            else "[bold red]demo incomplete: no pick or no offer got through[/]"
        )
        return 0 if ok else 1
