"""A gateway's own event streams (the real ``Gateway`` handlers, real SQLite, a real ONNX model) ->
the gateway export -> ``simulate-policy``: the decision log it writes, with every basket rebuilt
from the basket stream, is replayed with the running rules and reproduces every logged offer."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from edge.app import Gateway
from edge.config import parse_config
from edge.events import BasketEvent, PresenceEvent, ShelfId
from edge.fusion.core import BASKET_END
from edge.offers.catalogue import Catalogue, Product
from edge.offers.sources import load_rules
from edge.presence.keys import PURPOSES
from edge.store.offer_log import STREAM
from models.cli import main as shelf_models
from models.experiments.decisions_io import read_decisions
from models.experiments.events_io import read_events
from models.experiments.gateway_export import write_gateway_export
from models.experiments.simulate_policy_cli import evaluate_rules
from tests.support.offer_models import build_tiny_model, offer_gateway_config

SHELF = ShelfId(1, 1)
PRODUCTS = ("tea", "cup", "jam", "bun", "mug", "pot", "lid", "tin")
RULES = {
    "rules": {"min_gap_s": 0, "same_offer_gap_s": 0, "max_offers_per_shopper": 100},
    "experiment": {
        "experiment_id": "exp",
        "salt": "u",
        "holdout_share": 0.3,
        "variants": [
            {"name": "ev", "share": 0.5, "explore_share": 0.3, "explore_top": 3},
            {"name": "rel", "share": 0.5, "ranking": "relevance", "novelty_share": 0.0},
        ],
    },
    "campaigns": [{"campaign_id": "mugs", "name": "Mugs", "products": ["mug", "cup"], "budget_offers": 6}],
}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("offer-model"), PRODUCTS, seed=5)


def gateway(tmp_path: Path, model_dir: Path) -> Gateway:
    """The store's daemon over ``tmp_path / "data"`` (a second one over the same data: a restart)."""
    return Gateway(parse_config(offer_gateway_config(tmp_path, model_dir)))


def run_gateway(tmp_path: Path, model_dir: Path) -> tuple[Gateway, Catalogue]:
    """A day of one shelf: 16 enrolled shoppers in overlapping visits pick 2-4 products each, a
    third of them put one back and take another, unattributed picks in between, and 4 shoppers
    come back after leaving the store and pick the same products again."""
    catalogue = Catalogue(
        {p: Product(p, p.title(), 2.0 + i, 0.3 + 0.02 * i, f"cat{i % 3}", new=p == "tin") for i, p in enumerate(PRODUCTS)}
    )  # fmt: skip
    for p in PRODUCTS:
        catalogue.set_stock(p, SHELF, 50)
    catalogue.write(tmp_path / "catalogue.csv")
    (tmp_path / "rules.json").write_text(json.dumps(RULES))
    gw = gateway(tmp_path, model_dir)
    rng = random.Random(11)
    events: list[BasketEvent | PresenceEvent] = []
    for s in range(16):
        shopper, t = f"sh-{s}", 1000.0 + 7.0 * s
        picks = rng.sample(PRODUCTS, rng.randint(2, 4))
        gw.presence.purposes[shopper] = frozenset(PURPOSES)
        for k, product in enumerate(picks):
            events.append(
                BasketEvent(t + 10.0 * k, SHELF, "pick", product, 1, 0.9, shopper, event_id=f"{shopper}-{k}")
            )
            if s % 3 == 0 and k == 0:  # put it back, take another instead
                events.append(
                    BasketEvent(t + 3.0, SHELF, "return", product, 1, 0.9, shopper, event_id=f"{shopper}-r")
                )
        events.append(BasketEvent(t + 4.0, SHELF, "pick", "lid", 1, 0.9, None, event_id=f"anon-{s}"))
        if s % 4 == 1:  # leaves the store, comes back later and takes again what was bought before
            events.append(PresenceEvent(t + 60.0, shopper, SHELF, "departure"))
            for k, product in enumerate(reversed(picks)):
                events.append(
                    BasketEvent(
                        t + 900.0 + 10.0 * k,
                        SHELF,
                        "pick",
                        product,
                        1,
                        0.9,
                        shopper,
                        event_id=f"{shopper}-v{k}",
                    )
                )
    for event in sorted(events, key=lambda e: e.t):
        if isinstance(event, PresenceEvent):
            gw.on_presence(event)  # no receiver hears the shopper any more: the visit's basket ends
        else:
            gw.on_basket(event)
    gw.on_basket(BasketEvent(1000.0, SHELF, "pick", "lid", 1, 0.9, None, event_id="anon-0"))  # a replay: once
    return gw, catalogue  # fmt: skip


def stream(gw: Gateway, name: str) -> list[dict]:
    rows = gw.db.execute("SELECT payload FROM events WHERE stream = ? ORDER BY rowid", (name,))
    return [json.loads(payload) for (payload,) in rows.fetchall()]


def test_the_exported_decision_log_replays_every_logged_offer(tmp_path: Path, model_dir: Path) -> None:
    gw, _ = run_gateway(tmp_path, model_dir)
    decisions, ends = stream(gw, STREAM), stream(gw, BASKET_END)
    assert len(decisions) >= 50 and {d["outcome"] for d in decisions} >= {"offered", "held-out"}
    assert len(ends) == 4
    out, rules = tmp_path / "export", str(tmp_path / "rules.json")
    code = shelf_models(["gateway-export", "--db", str(tmp_path / "data" / "edge.db"), "--store-id", "s1",
                         "--catalogue", str(tmp_path / "catalogue.csv"), "--rules", rules, "--out", str(out)])  # fmt: skip
    summary = json.loads((out / "export.json").read_text())
    assert code == 0 and summary["decisions_written"] == len(decisions) and not summary["skipped"]
    assert summary["basket_ends"] == 4
    logged = {d.event_id: d for d in read_decisions(out)}
    assert len(logged) == len(decisions)
    # after a put-back the basket no longer holds what was put back; a new visit starts empty
    assert logged["sh-0-1"].basket == (logged["sh-0-1"].product_id,)
    assert logged["sh-1-v0"].basket == (logged["sh-1-v0"].product_id,)
    # the same directory is what `shelf-models uplift` reads
    assert len(read_events(out).labels.arms) >= 2
    # the running rules decide every context again: same decision id, outcome, product, propensity
    code = shelf_models(
        ["simulate-policy", "--rules", rules, "--decisions", str(out), "--out", str(tmp_path / "sim.json")]
    )
    result = json.loads((tmp_path / "sim.json").read_text())
    assert code == 0 and result["mismatched"] == 0
    assert result["n_decisions"] == sum(1 for d in decisions if d["outcome"] != "held-out")


def test_a_missing_event_store_is_one_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "rules.json").write_text(json.dumps(RULES))
    Catalogue({"tea": Product("tea", "Tea", 2.0, 0.3, "cat0")}).write(tmp_path / "catalogue.csv")
    code = shelf_models(["gateway-export", "--db", str(tmp_path / "nope.db"), "--store-id", "s1", "--catalogue",
                         str(tmp_path / "catalogue.csv"), "--rules", str(tmp_path / "rules.json"), "--out", str(tmp_path / "x")])  # fmt: skip
    assert code == 2 and "nope.db: no such event store" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("lost", ["returns", "visit ends"])
def test_baskets_rebuilt_without_part_of_the_streams_contradict_the_records(
    tmp_path: Path, model_dir: Path, lost: str
) -> None:
    """The check has teeth: without the returns, or without the visits' ends, rebuilt baskets hold
    a product the record shows was a candidate; those decisions are skipped and counted."""
    gw, catalogue = run_gateway(tmp_path, model_dir)
    decisions, baskets, ends = stream(gw, STREAM), stream(gw, "basket"), stream(gw, BASKET_END)
    if lost == "returns":
        baskets = [b for b in baskets if b["kind"] == "pick"]
    else:
        ends = []
    rules = load_rules(tmp_path / "rules.json")
    rebuilt = write_gateway_export(tmp_path / "export", "s1", decisions, baskets, catalogue, rules, ends)
    assert rebuilt.skipped["basket-contradicts-record"] >= 3
    assert rebuilt.table.num_rows + sum(rebuilt.skipped.values()) == len(decisions)
    # what is left replays exactly: the extra products of the others could not change their decision
    assert evaluate_rules(tmp_path / "export", rules, rules)["mismatched"] == 0


def test_a_restart_mid_visit_ends_the_basket_in_the_log_too(tmp_path: Path, model_dir: Path) -> None:
    gw, _ = run_gateway(tmp_path, model_dir)
    shopper, t = "sh-restart", 5000.0
    gw.presence.purposes[shopper] = frozenset(PURPOSES)
    gw.on_basket(BasketEvent(t, SHELF, "pick", "tea", 1, 0.9, shopper, event_id="rs-1"))
    # the daemon restarts: baskets are held in memory, so the new one starts without the tea
    again = gateway(tmp_path, model_dir)
    again.clock = lambda: t + 30.0
    again.log_start()  # what Gateway.run does first
    again.presence.purposes[shopper] = frozenset(PURPOSES)
    again.on_basket(BasketEvent(t + 60.0, SHELF, "pick", "cup", 1, 0.9, shopper, event_id="rs-2"))
    assert again.baskets.of(shopper) == ["cup"]
    starts = [e for e in stream(again, BASKET_END) if e["shopper"] is None]
    assert starts == [{"shopper": None, "t": t + 30.0}]
    out, rules = tmp_path / "export", str(tmp_path / "rules.json")
    code = shelf_models(["gateway-export", "--db", str(tmp_path / "data" / "edge.db"), "--store-id", "s1",
                         "--catalogue", str(tmp_path / "catalogue.csv"), "--rules", rules, "--out", str(out)])  # fmt: skip
    assert code == 0 and not json.loads((out / "export.json").read_text())["skipped"]
    logged = {d.event_id: d for d in read_decisions(out)}
    assert logged["rs-1"].basket == ("tea",) and logged["rs-2"].basket == ("cup",)
