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
import datetime as dt
import json
import os
import random
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from edge.config import DisplaySection, MqttSection
from edge.events import ShelfId
from edge.logging_setup import configure
from edge.mqtt.client import MqttClient, MqttMessage
from edge.mqtt.payloads import OfferMessage
from edge.mqtt.topics import Topics
from edge.sync.pull import keys_resource
from simulators.backend.server import BackendServer
from simulators.bluez import BlueZStandIn, PrivateSystemBus, write_spec
from simulators.broker import MosquittoBroker, free_port
from simulators.demo_store import DemoFiles, prepare, write_config
from simulators.displays import SimulatedDisplay
from simulators.processes import ManagedProcess
from simulators.web_display.server import WebDisplayServer

if TYPE_CHECKING:
    from simulators.phones import ShopperScript

STORE = "store-demo"


class Stoppable(Protocol):
    def stop(self) -> object: ...


@dataclass(frozen=True)
class _Stop:
    """Puts something stopped by another verb (``kill``) on the demo's tear-down stack."""

    stop: Callable[[], object]


NAMES = ["Ava", "Ben", "Chloe", "Dev", "Emma", "Femi", "Gus", "Hana"]


@dataclass
class PlannedPick:
    shopper: str
    shelf: ShelfId
    plate: int
    product_id: str
    name: str
    at: float


@dataclass
class Observed:
    weight: list[dict[str, Any]] = field(default_factory=list)
    basket: list[dict[str, Any]] = field(default_factory=list)
    presence: list[dict[str, Any]] = field(default_factory=list)
    offers: list[dict[str, Any]] = field(default_factory=list)
    shown: list[tuple[str, OfferMessage]] = field(default_factory=list)
    availability: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Narrator:
    """Subscribes to the gateway's observer topics and prints a readable account."""

    def __init__(self, console: Console, mqtt: MqttSection, topics: Topics, names: dict[str, str], t0: float):
        self.console = console
        self.names = names
        self.t0 = t0
        self.seen = Observed()
        self.client = MqttClient(mqtt, "demo-narrator")
        self.client.subscribe(topics.all_gateway_events(), self._on_event, qos=1)
        root = f"smartshelf/{topics.store}"
        for role in ("gateway", "bridge"):
            self.client.subscribe(f"{root}/{role}/+/availability", self._on_availability, qos=1)

    def who(self, shopper: object) -> str:
        return f"{self.names.get(str(shopper), '?')} ({shopper})" if shopper else "nobody opted-in"

    def say(self, text: str) -> None:
        self.console.print(f"[dim]+{time.time() - self.t0:5.1f}s[/] {text}")

    def _on_availability(self, msg: MqttMessage) -> None:
        with self.seen.lock:
            self.seen.availability[msg.topic.split("/")[-3] + "/" + msg.topic.split("/")[-2]] = (
                msg.payload.decode()
            )

    def _on_event(self, msg: MqttMessage) -> None:
        kind = msg.topic.rsplit("/", 1)[-1]
        data = json.loads(msg.payload)
        bucket = {
            "weight": self.seen.weight,
            "basket": self.seen.basket,
            "presence": self.seen.presence,
            "offer": self.seen.offers,
        }.get(kind)
        if bucket is None:
            return
        with self.seen.lock:
            bucket.append(data)
        if kind == "presence":
            verb = {"arrival": "arrives at", "departure": "leaves", "dwell": "lingers at"}[data["kind"]]
            self.say(
                f"[cyan]shopper {self.who(data['shopper'])} {verb} gondola {data['gondola']} / shelf {data['shelf']}[/]"
            )
        elif kind == "basket":
            product = data["product_id"] or "an unknown product"
            self.say(
                f"[yellow]{data['kind']}[/] at gondola {data['gondola']} / shelf {data['shelf']}: "
                f"[bold]{product}[/] x{data['quantity']} (confidence {data['confidence']:.2f}) "
                f"-> basket of {self.who(data['shopper'])}"
            )
        elif kind == "offer":
            proof = f" - {data['social_proof']}" if data.get("social_proof") else ""
            self.say(
                f"[green]offer[/] for {self.who(data['shopper'])} -> display {data['display']}: "
                f"[bold]{data['name']}[/] {data['price']:.2f} ({data['reason']}{proof})"
            )

    def on_show(self, display: str, offer: OfferMessage) -> None:
        with self.seen.lock:
            self.seen.shown.append((display, offer))
        body = f"[bold]{offer.name}[/]  {offer.price:.2f}\n{offer.reason}"
        if offer.social_proof:
            body += f"\n[italic]{offer.social_proof}[/]"
        self.console.print(Panel(body, title=f"display {display} shows", expand=False, border_style="green"))


def plan_shoppers(
    files: DemoFiles, n: int, t0: float, seed: int
) -> tuple[list[ShopperScript], list[PlannedPick]]:
    """Scripts for ``n`` shoppers visiting two shelves each, picking one product at each visit."""
    from simulators.phones import Customer, ShopperScript, make_customers

    rng = random.Random(seed)
    shelves = files.shelves()
    customers = make_customers(n, seed=seed)
    scripts: list[ShopperScript] = []
    picks: list[PlannedPick] = []
    for i, customer in enumerate(customers):
        first = t0 + 4.0 + i * 7.0
        visits = []
        for v in range(2):
            shelf = shelves[(i + v * 2 + i // 2) % len(shelves)]
            arrive = first + v * 16.0
            visits.append((shelf, arrive, arrive + 12.0))
            product = rng.choice(files.on_shelf(shelf))
            picks.append(
                PlannedPick(
                    customer.shopper, shelf, product.plate, product.product_id, product.name, arrive + 4.0
                )
            )
        scripts.append(ShopperScript(customer, visits))
    # A passer-by whose phone is not enrolled: it must never appear anywhere.
    stranger = Customer("stranger", b"\x99" * 16, "android", enrolled=False)
    scripts.append(ShopperScript(stranger, [(shelves[0], t0 + 6.0, t0 + 20.0)]))
    return scripts, picks


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
        "--restart-broker-at",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop Mosquitto this many seconds after the first shopper enters, start it again 3 s later",
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
        self.narrator: Narrator | None = None
        self.broker_restarts = 0
        self.broker_back_at: float | None = None
        self.broker_stopped_at: float | None = None
        self.backend_events = 0
        self.doctor_exit: int | None = None
        #: Environment of the gateway's processes: the private system bus the BlueZ stand-in is on.
        self.child_env: dict[str, str] = {}
        self.web_display_url = ""
        self.daemon_alive_at_end = False

    def run(self) -> int:
        try:
            return self._run()
        finally:
            for item in reversed(self.stack):
                try:
                    if isinstance(item, MosquittoBroker):
                        item.close()
                    else:
                        item.stop()
                except Exception as exc:  # keep tearing the rest down
                    self.console.print(f"[red]stopping {item!r} failed: {exc}[/]")

    def _run(self) -> int:
        from edge.presence.keys import write_keys_file
        from simulators.phones import PhoneWorld, aisle_store, days_covering, enrolled_keys
        from simulators.phones_mqtt import ReceiverPublisher
        from simulators.shelves.firmware import SimulatedShelfFirmware

        c, args = self.console, self.args
        started = time.time()
        c.rule("[bold]smart-shelf demo store")
        planogram, catalogue, model_dir, products = prepare(
            self.workdir, say=lambda s: c.print(f"[dim]{s}[/]")
        )
        run_dir = self.workdir / f"run-{int(started)}"
        run_dir.mkdir(parents=True)
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
        backend = BackendServer(run_dir / "backend.db")
        backend.start()
        self.stack.append(backend)
        self.backend = backend
        c.print(
            f"reference backend on {backend.url}: serves today's consented customer keys, receives events"
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

        layout = aisle_store(gondolas=2, shelves_per_gondola=2)
        # Shelf 1/1 is heard by the gateway's own Bluetooth adapter hci0 (the unmodified bleak scanner
        # against the BlueZ stand-in on a private D-Bus); the other shelves by remote receivers over MQTT.
        local_receiver = "rx-g1s1"
        zones = {("local-hci0" if r == local_receiver else r): z for r, z in layout.zones_text().items()}
        t0 = time.time() + 8.0
        scripts, picks = plan_shoppers(files, args.shoppers, t0, args.seed)
        # The backend derives per-(customer, store, day) keys and serves them; the gateway pulls them.
        write_keys_file(
            files.keys,
            STORE,
            enrolled_keys([s.customer for s in scripts], STORE, days_covering(t0 - 3600, t0 + 3600)),
        )
        today = dt.datetime.fromtimestamp(t0, dt.UTC).date()
        backend.store.put_resource(STORE, keys_resource(today), files.keys.read_bytes())
        names = {
            s.customer.shopper: NAMES[i % len(NAMES)] for i, s in enumerate(scripts) if s.customer.enrolled
        }
        dashboard_port = free_port()
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
            dashboard_port=dashboard_port,
            backend_url=backend.url,
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
        self.web_display_url = web.page_url(broker.websockets_port, STORE, displays)
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
        c.print(f"technician dashboard: http://127.0.0.1:{dashboard_port}/ (password: shelf-demo-2026)")
        c.print(f"shelf displays in a browser: {self.web_display_url}")
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
            firmware[pick.shelf].schedule_pick(
                pick.at, (pick.plate,), product.unit_weight_g, product_id=pick.product_id
            )

        end = t0 + args.duration
        last_leave = max(v[2] for s in scripts for v in s.visits)
        done_at = last_leave + 20.0
        restart_at = t0 + args.restart_broker_at if args.restart_broker_at is not None else None
        doctor_at: float | None = t0 + 6.0
        while time.time() < min(end, done_at):
            if doctor_at is not None and time.time() >= doctor_at:
                doctor_at = None
                threading.Thread(target=self._doctor, args=(files.config,), daemon=True).start()
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
        """What a technician would run on this gateway: ``shelf-edge doctor``, one line per check."""
        proc = subprocess.run(
            [ManagedProcess.console_script("shelf-edge"), "doctor", "--config", str(config), "--listen", "2"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, **self.child_env},
        )
        self.doctor_exit = proc.returncode
        report = "\n".join(f"  {line}" for line in (proc.stdout + proc.stderr).splitlines())
        self.console.print(
            "[bold]shelf-edge doctor[/], run by a technician while shoppers are in the store:\n" + report,
        )

    def _wait(self, predicate: Callable[[], bool], timeout: float) -> bool:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if predicate():
                return True
            time.sleep(0.05)
        return False

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
        matched = attributed = 0
        for pick in picks:
            hit = next(
                (
                    b
                    for b in basket
                    if b["kind"] == "pick"
                    and b["gondola"] == pick.shelf.gondola
                    and b["shelf"] == pick.shelf.shelf
                    and pick.at - 1.0 < float(b["t"]) < pick.at + 9.0
                    and b["product_id"] == pick.product_id
                ),
                None,
            )
            if hit:
                matched += 1
                attributed += hit["shopper"] == pick.shopper
        strangers = sum(1 for p in presence if p["shopper"] == "stranger") + sum(
            1 for b in basket if b.get("shopper") == "stranger"
        )
        table = Table(title="demo summary")
        table.add_column("what")
        table.add_column("count", justify="right")
        table.add_row("picks made by shoppers (ground truth)", str(len(picks)))
        table.add_row("picks detected with the right product", str(matched))
        table.add_row("  ... attributed to the right shopper", str(attributed))
        table.add_row("presence events (arrivals, departures)", str(len(presence)))
        table.add_row("offers decided", str(len(offers)))
        table.add_row("offers shown on displays (acknowledged)", str(len(shown)))
        table.add_row(
            "events received by the backend (outbox -> HTTP)", str(self.backend.store.event_count(STORE))
        )
        table.add_row("non-enrolled phone seen anywhere", str(strangers))
        c.print(table)
        self.daemon_alive_at_end = daemon.running and bridge.running
        daemon.stop()
        self.backend_events = self.backend.store.event_count(STORE)
        bridge.stop()
        c.print(f"[dim]logs: {daemon.log_path} and {bridge.log_path}[/]")
        ok = matched > 0 and len(shown) > 0 and strangers == 0
        c.print(
            "[bold green]demo complete[/]"
            if ok
            else "[bold red]demo incomplete: no pick or no offer got through[/]"
        )
        return 0 if ok else 1
