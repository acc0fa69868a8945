"""A small real store around the real daemon process, for fault tests: one shelf of four plates fed over
real MQTT as the bridge would, one enrolled shopper heard by one remote BLE receiver, one display, an
offer model built from a handful of baskets, and an observer of what the daemon publishes.

    store = SmallStore.create(tmp_path, broker, data_dir=...)
    with store.running():                      # receiver + shelf feeds, observer
        daemon = store.start_daemon()
        basket_id = store.pick(plate=1)        # returns the basket event's id once the daemon published it
"""

from __future__ import annotations

import csv
import itertools
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import requests

from edge.config import MqttSection
from edge.mqtt.client import MqttClient, MqttMessage
from edge.mqtt.payloads import SampleBatchMessage, SightingItem, SightingsMessage, encode
from edge.mqtt.topics import Topics
from edge.ports import free_port as free_port  # re-exported: callers import it from here
from edge.presence.keys import write_keys_file
from simulators.broker import MosquittoBroker
from simulators.phones import Customer, advert_fields, days_covering, enrolled_keys, make_customers
from simulators.processes import ManagedProcess
from tests.support.waiting import wait_until

STORE = "s-faults"
GATEWAY = "gw-f"
RECEIVER = "rx-1"
DISPLAY = "d-1"
#: product, name, plate, unit weight (g), price
PRODUCTS = (
    ("p1", "Tea", 1, 250.0, 2.5),
    ("p2", "Coffee", 2, 400.0, 4.0),
    ("p3", "Biscuits", 3, 150.0, 1.8),
    ("p4", "Jam", 4, 330.0, 3.1),
)
#: Products sold at the shelf's display but not on its plates (offers need products not yet in the basket).
MORE = (("p5", "Honey", 3.9), ("p6", "Butter", 2.2), ("p7", "Bread", 1.9), ("p8", "Milk", 1.1))
RATE_HZ = 60.0
#: Sample time beyond the detector's 1 s warm-up before the first pick (the daemon's subscription
#: is only known to within the /healthz poll).
WARM_UP_MARGIN_S = 0.5


def _build_files(root: Path) -> dict[str, Path]:
    """Planogram, catalogue, rules, model and keys of the small store."""
    from models.offers.build import build_from_baskets
    from models.offers.transactions import Basket

    root.mkdir(parents=True, exist_ok=True)
    planogram = root / "planogram.csv"
    with planogram.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(("product_id", "name", "gondola", "shelf", "plate", "unit_weight_g", "price"))
        for pid, name, plate, weight, price in PRODUCTS:
            w.writerow((pid, name, 1, 1, plate, weight, price))
    catalogue = root / "catalogue.csv"
    with catalogue.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(("product_id", "name", "price", "margin", "category", "new", "stock"))
        for pid, name, price in [(p[0], p[1], p[4]) for p in PRODUCTS] + list(MORE):
            w.writerow((pid, name, price, 0.3, "food", 0, "1/1=100"))
    rules = root / "rules.json"
    rules.write_text(
        json.dumps(
            {
                "version": "faults-1",
                "rules": {"min_gap_s": 0, "same_offer_gap_s": 0, "max_offers_per_shopper": 1000},
                "experiment": {"holdout_share": 0},
            }
        )
    )
    ids = [p[0] for p in PRODUCTS] + [m[0] for m in MORE]
    baskets = [
        Basket(f"b{i}", f"c{i % 7}", 1.7e9 + i * 3600, tuple(combo), 10.0)
        for i, combo in enumerate(c for n in (2, 3) for c in itertools.combinations(ids, n) for _ in range(3))
    ]
    model = root / "model"
    build_from_baskets(baskets, model, tune=False)
    return {"planogram": planogram, "catalogue": catalogue, "rules": rules, "model": model}


@dataclass
class Observed:
    """What the daemon published on its gateway event topics."""

    basket: list[dict[str, Any]] = field(default_factory=list)
    offers: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    presence: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_message(self, msg: MqttMessage) -> None:
        kind = msg.topic.rsplit("/", 1)[-1]
        body = json.loads(msg.payload)
        with self.lock:
            {
                "basket": self.basket,
                "offer": self.offers,
                "decision": self.decisions,
                "presence": self.presence,
            }.get(kind, []).append(body)

    def ids(self) -> set[str]:
        """Ids of every basket event, offer and decision published (each is also a stored event)."""
        with self.lock:
            return (
                {b["event_id"] for b in self.basket}
                | {o["offer_id"] for o in self.offers}
                | {d["decision_id"] for d in self.decisions}
            )


class ShelfFeed:
    """Shelf 1/1 as the bridge publishes it: 6 samples per batch at 60 Hz, a little noise, picks as ramps."""

    def __init__(self, mqtt: MqttSection) -> None:
        self.client = MqttClient(mqtt, "test-shelf-feed")
        self.topic = Topics(STORE).samples(1, 1)
        self.weights = np.array([10 * p[3] for p in PRODUCTS])
        self._ramps: list[tuple[float, float, int, float]] = []  # (t0, t1, plate index, delta)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._rng = np.random.default_rng(7)
        self._seq = 0
        #: Time of the last sample published.
        self.last_t = 0.0
        self._thread = threading.Thread(target=self._run, name="test-shelf-feed", daemon=True)

    def start(self) -> None:
        self.client.start()
        assert self.client.wait_connected(10)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.client.stop()

    def take(self, plate: int, grams: float, duration_s: float = 0.4) -> float:
        """Start a ramp of ``-grams`` on ``plate`` now; returns its end time."""
        t0 = time.time()
        with self._lock:
            self._ramps.append((t0, t0 + duration_s, plate - 1, -grams))
        return t0 + duration_s

    def _level(self, t: float) -> np.ndarray:
        level = self.weights.copy()
        with self._lock:
            for t0, t1, i, delta in self._ramps:
                level[i] += delta * min(1.0, max(0.0, (t - t0) / (t1 - t0)))
        return level

    def _run(self) -> None:
        t = time.time()
        while not self._stop.is_set():
            ts = [t + k / RATE_HZ for k in range(6)]
            readings = [
                (self._level(x) + self._rng.normal(0, 0.3, len(PRODUCTS))).round(2).tolist() for x in ts
            ]
            t = ts[-1] + 1 / RATE_HZ
            message = SampleBatchMessage(
                bridge="test", gondola=1, shelf=1, seq=self._seq, plates=[1, 2, 3, 4], t=ts, readings=readings
            )
            self._seq += 1
            self.client.publish(self.topic, encode(message), qos=0)
            self.last_t = ts[-1]
            self._stop.wait(max(0.0, t - time.time()))


class Receiver:
    """Remote BLE receiver rx-1 at shelf 1/1 hearing the shopper's phone twice a second."""

    def __init__(self, mqtt: MqttSection, customer: Customer) -> None:
        self.client = MqttClient(mqtt, "test-receiver")
        self.customer = customer
        self.topic = Topics(STORE).ble_sightings(RECEIVER)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="test-receiver", daemon=True)

    def start(self) -> None:
        self.client.start()
        assert self.client.wait_connected(10)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.client.stop()

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            t = time.time()
            adv = advert_fields(self.customer, STORE, t)
            item = SightingItem(
                t=t,
                rssi=-50,
                manufacturer_data={k: v.hex() for k, v in adv.manufacturer_data.items()},
                service_data={k: v.hex() for k, v in adv.service_data.items()},
                service_uuids=list(adv.service_uuids),
            )
            self.client.publish(self.topic, encode(SightingsMessage(receiver=RECEIVER, sightings=[item])))


@dataclass
class SmallStore:
    root: Path
    data_dir: Path
    config_path: Path
    broker: MosquittoBroker
    web_port: int
    customer: Customer
    observed: Observed = field(default_factory=Observed)
    shelf: ShelfFeed | None = None
    picks: int = 0

    @classmethod
    def create(
        cls, root: Path, broker: MosquittoBroker, data_dir: Path, backend_url: str | None = None
    ) -> SmallStore:
        files = _build_files(root / "files")
        customer = make_customers(1, seed=11)[0]
        now = time.time()
        keys = write_keys_file(
            root / "files" / "keys.json",
            STORE,
            enrolled_keys([customer], STORE, days_covering(now - 86400, now + 86400)),
        )
        web_port = free_port()
        backend = (
            f'[backend]\nurl = "{backend_url}"\npush_interval_s = 0.2\nretry_min_s = 0.1\nretry_max_s = 2\n'
            "pull_interval_s = 3600\nhealth_window_s = 1\n"
            if backend_url
            else ""
        )
        config = root / "edge.toml"
        config.write_text(
            f'[gateway]\nstore_id = "{STORE}"\ngateway_id = "{GATEWAY}"\ndata_dir = "{data_dir}"\n'
            f'[mqtt]\nhost = "{broker.host}"\nport = {broker.port}\nreconnect_min_s = 0.2\nreconnect_max_s = 1.0\n'
            f'[sensing]\nplanogram = "{files["planogram"]}"\n'
            f'[presence]\nsource = "mqtt-receivers"\nkeys_file = "{keys}"\n'
            f'[presence.receivers]\n{RECEIVER} = "1/1"\n'
            f'[[displays]]\ndisplay_id = "{DISPLAY}"\ngondola = 1\nshelf = 1\n'
            f'[offers]\nmodel_dir = "{files["model"]}"\ncatalogue = "{files["catalogue"]}"\nrules = "{files["rules"]}"\n'
            f'[web]\nhost = "127.0.0.1"\nport = {web_port}\npassword = "faults-test-password"\n'
            "health_report_interval_s = 0\n"
            f'[database]\nheld_spill_dir = "{root / "run"}"\n' + backend
        )
        return cls(root, data_dir, config, broker, web_port, customer)

    @property
    def mqtt(self) -> MqttSection:
        return MqttSection(host=self.broker.host, port=self.broker.port)

    @contextmanager
    def running(self) -> Iterator[SmallStore]:
        """The observer, the receiver and the shelf feed, for the duration of the block."""
        observer = MqttClient(self.mqtt, "test-observer")
        observer.subscribe(Topics(STORE).gateway_events(GATEWAY, "+"), self.observed.on_message, qos=1)
        observer.start()
        receiver = Receiver(self.mqtt, self.customer)
        self.shelf = ShelfFeed(self.mqtt)
        try:
            assert observer.wait_connected(10)
            receiver.start()
            self.shelf.start()
            yield self
        finally:
            self.shelf.stop()
            receiver.stop()
            observer.stop()

    def start_daemon(self, name: str = "daemon") -> ManagedProcess:
        daemon = ManagedProcess(
            name,
            [ManagedProcess.console_script("shelf-edge"), "run", "--config", str(self.config_path)],
            self.root / f"{name}.log",
        ).start()
        arrivals = len(self.observed.presence)
        wait_until(lambda: self.healthz()[0] == 200 or not daemon.running, 30, what="daemon healthy")
        assert daemon.running, daemon.tail()
        assert self.shelf is not None
        healthy_at = time.time()  # subscribed to samples: the detector sees the feed from about now
        wait_until(lambda: len(self.observed.presence) > arrivals, 10, what="the shopper's arrival")
        # The detector absorbs its first second of samples (warm-up, DetectorParams): feed it past that.
        warm = healthy_at + 1.0 + WARM_UP_MARGIN_S
        wait_until(lambda: self.shelf is not None and self.shelf.last_t > warm, 10, what="detector warm-up")
        return daemon

    def healthz(self) -> tuple[int, dict[str, Any]]:
        try:
            response = requests.get(f"http://127.0.0.1:{self.web_port}/healthz", timeout=2)
        except requests.RequestException:
            return 0, {}
        return response.status_code, response.json()

    def pick(self, plate: int) -> dict[str, Any]:
        """Take one unit from ``plate``; return the basket event (with a shopper) the daemon published."""
        assert self.shelf is not None
        unit = PRODUCTS[plate - 1][3]
        before = len(self.observed.basket)
        self.shelf.take(plate, unit)
        self.picks += 1
        wait_until(lambda: len(self.observed.basket) > before, 15, what=f"basket event of pick {self.picks}")
        with self.observed.lock:
            return self.observed.basket[before]
