"""The demo's scenario (shoppers and their picks) and its narrator (an MQTT observer of the store)."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.panel import Panel

from edge.config import MqttSection
from edge.events import ShelfId
from edge.mqtt.client import MqttClient, MqttMessage
from edge.mqtt.payloads import OfferMessage
from edge.mqtt.topics import Topics
from simulators.demo_store import DemoFiles

if TYPE_CHECKING:
    from simulators.phones import Customer, ShopperScript

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
    decisions: list[dict[str, Any]] = field(default_factory=list)
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
            "decision": self.seen.decisions,
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
                f"-> basket of {self.who(data['shopper'])} [dim](from {' + '.join(data['sources'])})[/]"
            )
        elif kind == "decision" and data["outcome"] != "offered":
            why = {
                "held-out": "in the holdout group (decided and logged, not shown: uplift is measured against it)",
                "no-candidate": "nothing in stock nearby passes the rules",
                "capped-gap": "had an offer moments ago (frequency cap)",
                "capped-shopper": "had enough offers for now (frequency cap)",
            }.get(data["outcome"], data["outcome"])
            self.say(f"[magenta]no offer[/] for {self.who(data['shopper'])}: {why}")
        elif kind == "offer":
            proof = f" - {data['social_proof']}" if data.get("social_proof") else ""
            proof += f"; variant {data['variant']}"
            if data.get("campaign_id"):
                proof += f", campaign {data['campaign_id']}"
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
    files: DemoFiles, n: int, t0: float, seed: int, customers: Sequence[Customer] | None = None
) -> tuple[list[ShopperScript], list[PlannedPick]]:
    """Scripts for ``n`` shoppers visiting two shelves each, picking one product at each visit.

    ``customers`` (the demo's: enrolled through the service's loyalty API) default to ``n`` made up.
    """
    from simulators.phones import Customer, ShopperScript, make_customers

    rng = random.Random(seed)
    shelves = files.shelves()
    customers = list(customers) if customers is not None else make_customers(n, seed=seed)
    scripts: list[ShopperScript] = []
    picks: list[PlannedPick] = []
    for i, customer in enumerate(customers):
        first = t0 + 4.0 + i * 7.0
        visits = []
        for v in range(2):
            shelf = shelves[(i + v * 2 + i // 2) % len(shelves)]
            arrive = first + v * 22.0  # > the 20 s per-shopper gap of the example rules
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
