"""Offers through the daemon's own handlers (``Gateway``, real SQLite, real ONNX model): a held-out
decision is an exposure followed to its conversion like a shown offer; live stock from weight events
(a sold-out shelf gets no offer for its product; a restock is recognised, not taken for a return);
a campaign for customer segments reaches the shopper whose synced profile is in one and no other;
and, with the daemon running against a real Mosquitto, a shown offer reaches its display's topic
with its reason and the opt-out hint."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

import pytest

from edge.app import Gateway
from edge.config import parse_config
from edge.events import BasketEvent, ShelfId, WeightEvent
from edge.mqtt.client import MqttClient
from edge.mqtt.topics import Topics
from edge.offers.catalogue import Catalogue, Product
from edge.offers.experiments import HOLDOUT, assign
from edge.offers.rules import OPT_OUT_HINT, Experiment
from edge.presence.keys import PURPOSES
from tests.support.offer_models import build_tiny_model, offer_gateway_config
from tests.support.waiting import wait_until

SHELF = ShelfId(1, 1)
PRODUCTS = ("tea", "cup", "jam", "bun", "mug", "pot")
EXPERIMENT = {
    "experiment_id": "exp",
    "salt": "s",
    "holdout_share": 0.5,
    "variants": [{"name": "v", "share": 1.0}],
}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("offer-model"), PRODUCTS, seed=3)


def gateway(
    tmp_path: Path,
    model_dir: Path,
    mqtt: dict | None = None,
    campaigns: list[dict] | None = None,
    profiles: dict[str, dict] | None = None,
) -> Gateway:
    catalogue = Catalogue({p: Product(p, p.title(), 2.0 + i, 0.4, f"cat{i}") for i, p in enumerate(PRODUCTS)})
    for p in PRODUCTS:
        catalogue.set_stock(p, SHELF, 3)
    catalogue.write(tmp_path / "catalogue.csv")
    rules = {
        "rules": {"min_gap_s": 0, "same_offer_gap_s": 0, "max_offers_per_shopper": 100},
        "experiment": EXPERIMENT,
        "campaigns": campaigns or [],
    }
    (tmp_path / "rules.json").write_text(json.dumps(rules))
    if profiles is not None:  # as the sync pulls them from the central service
        (tmp_path / "profiles.json").write_text(json.dumps(profiles))
    config = offer_gateway_config(
        tmp_path,
        model_dir,
        offers={"profiles": str(tmp_path / "profiles.json")} if profiles is not None else {},
        backend={"conversion_window_s": 120},
        **({"mqtt": mqtt} if mqtt else {}),
    )
    return Gateway(parse_config(config))


def enrolled(gw: Gateway, *shoppers: str) -> None:
    """The shoppers as the synced keys would make them: enrolled with every consent purpose."""
    for shopper in shoppers:
        gw.presence.purposes[shopper] = frozenset(PURPOSES)


def payloads(gw: Gateway, stream: str) -> list[dict]:
    rows = gw.db.execute("SELECT kind, payload FROM events WHERE stream = ? ORDER BY t, event_id", (stream,))
    return [{"kind": kind, **json.loads(payload)} for kind, payload in rows.fetchall()]


def shopper_in(group: str) -> str:
    return next(
        s
        for s in (f"s-{i}" for i in range(100))
        if (assign(Experiment(**EXPERIMENT), s).group == HOLDOUT) == (group == HOLDOUT)
    )


def test_a_held_out_decision_is_an_exposure_followed_to_its_conversion(
    tmp_path: Path, model_dir: Path
) -> None:
    gw = gateway(tmp_path, model_dir)
    held = shopper_in(HOLDOUT)
    enrolled(gw, held)
    gw.on_basket(BasketEvent(1000.0, SHELF, "pick", "tea", 1, 0.9, held, event_id="be-1"))
    (decision,) = payloads(gw, "offer_decision")
    assert decision["kind"] == "held-out" and decision["variant"] == HOLDOUT and decision["chosen"]
    assert len(decision["candidate_propensities"]) == len(decision["candidates"]) == len(decision["scores"])
    (exposure,) = payloads(gw, "offers")
    assert exposure["kind"] == "holdout" and exposure["shown"] is False
    assert exposure["decision_id"] == decision["decision_id"] and exposure["product_id"] == decision["chosen"]
    assert gw.stats["offers"] == 0 and gw.displays is not None and gw.displays.counts["held_out"] == 1
    # the shopper picks the product held back, within the configured conversion window
    gw.on_basket(BasketEvent(1100.0, SHELF, "pick", decision["chosen"], 1, 0.9, held, event_id="be-2"))
    (conversion,) = payloads(gw, "conversions")
    assert conversion["offer_id"] == exposure["offer_id"] and conversion["variant"] == HOLDOUT


def weight(t: float, kind: str, product: str, units: int) -> WeightEvent:
    return WeightEvent(
        t, t + 1.0, SHELF, (1,), 100.0 * units * (1 if kind == "return" else -1), kind, product, units, 0.95
    )  # type: ignore[arg-type]


def test_sold_out_shelf_gets_no_offer_and_a_restock_is_recognised(tmp_path: Path, model_dir: Path) -> None:
    gw = gateway(tmp_path, model_dir)
    assert gw.offers is not None
    shopper = shopper_in("v")
    enrolled(gw, shopper)
    for i in range(3):  # the shelf's three cups go (picks nobody at the shelf is credited with)
        gw.on_weight(weight(900.0 + 10 * i, "pick", "cup", 1))
    assert gw.offers.engine.catalogue.stock["cup"][SHELF] == 0
    for i, product in enumerate(("tea", "jam", "bun", "mug")):
        gw.on_basket(BasketEvent(1000.0 + i, SHELF, "pick", product, 1, 0.9, shopper, event_id=f"be-{i}"))
    decisions = payloads(gw, "offer_decision")
    assert len(decisions) == 4 and all(
        d["chosen"] != "cup" and "cup" not in d["candidates"] for d in decisions
    )
    gw.on_weight(weight(1100.0, "return", "cup", 6))  # staff fill the shelf
    (restock,) = payloads(gw, "stock")
    assert restock["kind"] == "restock" and restock["product_id"] == "cup" and restock["level"] == 6
    assert gw.store.count("basket") == 7  # 3 picks + 4 shopper picks: the restock is no return
    assert gw.offers.engine.catalogue.stock["cup"][SHELF] == 6 and "cup" in gw.offers.engine.offerable(SHELF)
    gw.on_basket(BasketEvent(1200.0, SHELF, "pick", "pot", 1, 0.9, shopper, event_id="be-9"))
    assert "cup" in payloads(gw, "offer_decision")[-1]["candidates"]  # offered again once stocked


def test_a_shown_offer_reaches_its_display_with_its_reason_and_the_opt_out_hint(
    broker, tmp_path: Path, model_dir: Path
) -> None:
    mqtt = {"host": broker.host, "port": broker.port, "reconnect_min_s": 0.2, "reconnect_max_s": 1.0}
    gw = gateway(tmp_path, model_dir, mqtt)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(target=loop.run_until_complete, args=(gw.run(stop),), daemon=True)
    thread.start()
    display = MqttClient(gw.config.mqtt, "test-display")
    received: list[dict] = []
    display.subscribe(
        Topics("s1").display_offer(1, 1, "d1"), lambda m: received.append(json.loads(m.payload)), qos=1
    )
    display.start()
    try:
        assert display.wait_connected(10)
        wait_until(gw.mqtt.connected.is_set, 10, what="gateway connected")
        shopper = shopper_in("v")
        enrolled(gw, shopper)
        event = BasketEvent(time.time(), SHELF, "pick", "tea", 1, 0.9, shopper, event_id="be-shown")
        loop.call_soon_threadsafe(gw.on_basket, event)  # on the daemon's loop, as MQTT handlers run
        wait_until(lambda: received, 10, what="the offer on the display's topic")
        (offer,) = received
        assert offer["type"] == "offer" and offer["opt_out"] == OPT_OUT_HINT and offer["reason"]
        assert gw.displays is not None and gw.displays.counts["published"] == 1
    finally:
        display.stop()
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)


def test_live_stock_holds_across_a_restart(tmp_path: Path, model_dir: Path) -> None:
    gw = gateway(tmp_path, model_dir)
    now = time.time()  # after the catalogue file was written: these change its stock
    gw.on_weight(weight(now, "pick", "cup", 1))
    gw.on_weight(weight(now + 10, "pick", "cup", 1))
    gw.on_weight(weight(now + 20, "return", "jam", 5))  # a restock
    gw.db.conn.close()
    again = Gateway(gw.config)  # the daemon restarted on the same data directory
    assert again.offers is not None
    stock = again.offers.engine.catalogue.stock
    assert stock["cup"][SHELF] == 1 and stock["jam"][SHELF] == 8 and stock["tea"][SHELF] == 3


def test_a_segment_campaign_reaches_only_shoppers_in_its_segments(tmp_path: Path, model_dir: Path) -> None:
    campaign = {
        "campaign_id": "champ-mugs",
        "name": "Mugs for our champions",
        "categories": [f"cat{i}" for i in range(len(PRODUCTS))],  # every product
        "discount_pct": 15,
        "weight": 50.0,
        "segments": ["champions"],
    }
    experiment = Experiment(**EXPERIMENT)
    champion, lapsed, unknown = [
        s for s in (f"s-{i}" for i in range(100)) if assign(experiment, s).group != HOLDOUT
    ][:3]  # all three in the variant that is shown offers
    profile = {"items": ["tea", "cup"], "weights": [0.5, 0.4], "n_baskets": 4}
    profiles = {
        champion: {**profile, "segments": ["champions"]},
        lapsed: {**profile, "segments": ["lapsed"]},
        unknown: profile,  # a profile without a segment: not targeted
    }
    gw = gateway(tmp_path, model_dir, campaigns=[campaign], profiles=profiles)
    enrolled(gw, champion, lapsed, unknown)
    now = time.time()  # offers are shown only while fresh
    for i, shopper in enumerate((champion, lapsed, unknown)):
        gw.on_basket(BasketEvent(now + i, SHELF, "pick", "tea", 1, 0.9, shopper, event_id=f"be-{i}"))
    decisions = {d["shopper"]: d for d in payloads(gw, "offer_decision")}
    assert decisions[champion]["campaign_id"] == "champ-mugs" and decisions[champion]["segments"] == [
        "champions"
    ]
    assert decisions[champion]["discount"] > 0
    assert decisions[lapsed]["campaign_id"] is None and decisions[lapsed]["segments"] == ["lapsed"]
    assert decisions[unknown]["campaign_id"] is None and decisions[unknown]["segments"] == []
    assert decisions[lapsed]["discount"] == decisions[unknown]["discount"] == 0.0
    assert all(d["outcome"] == "offered" for d in decisions.values())
