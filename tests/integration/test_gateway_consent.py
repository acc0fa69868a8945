"""Consent per purpose at the gateway: recognition, personalised offers, analytics (keys v2)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from edge.app import Gateway
from edge.config import parse_config
from edge.events import BasketEvent, PresenceEvent, ShelfId
from edge.presence.keys import Purpose, write_keys_file
from edge.presence.tokens import day_of
from edge.updates import apply_update
from simulators.phones import enrolled_keys, make_customers

SHELF = ShelfId(1, 1)
DAY = 20000
T = DAY * 86400.0 + 3600.0


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from models.offers.build import build_from_baskets
    from models.offers.transactions import Basket

    baskets = [
        Basket(f"b{i}", f"c{i % 5}", 1_700_000_000.0 + i, items, 10.0)
        for i, items in enumerate(
            [("milk", "bread"), ("milk", "eggs"), ("bread", "butter"), ("milk", "bread", "eggs")] * 10
        )
    ]
    out = tmp_path_factory.mktemp("model")
    build_from_baskets(baskets, out, tune=False)
    return out


def gateway(tmp_path: Path, model_dir: Path, now: float = T) -> Gateway:
    catalogue = tmp_path / "catalogue.csv"
    catalogue.write_text(
        "product_id,name,price,margin,category,new,stock\n"
        + "".join(f"{p},{p.title()},2.0,0.4,dairy,0,1/1=50\n" for p in ("milk", "bread", "eggs", "butter"))
    )
    config = {
        "gateway": {"store_id": "s1", "gateway_id": "gw-1", "data_dir": str(tmp_path / "data")},
        "presence": {"source": "none", "receivers": {"rx": "1/1"}},
        "web": {"enabled": False},
        "offers": {"model_dir": str(model_dir), "catalogue": str(catalogue)},
        "displays": [{"display_id": "d1", "gondola": 1, "shelf": 1}],
    }
    gw = Gateway(parse_config(config), clock=lambda: now)
    assert gw.offers is not None
    return gw


def publish_keys(
    gw: Gateway, tmp_path: Path, purposes: dict[str, tuple[Purpose, ...]], days: tuple[int, ...] = (DAY,)
) -> None:
    customers = [c for c in make_customers(4, seed=5) if c.shopper in purposes]
    path = write_keys_file(tmp_path / "keys.json", "s1", enrolled_keys(customers, "s1", days), purposes)
    apply_update(gw, "customer-keys", path)


def pick(gw: Gateway, shopper: str, n: int) -> None:
    gw.on_presence(PresenceEvent(T + n, shopper, SHELF, "arrival", -60.0))
    gw.on_basket(BasketEvent(T + n, SHELF, "pick", "milk", 1, 0.9, shopper, event_id=f"e-{shopper}"))


def stored(gw: Gateway, stream: str) -> list[dict[str, object]]:
    rows = gw.db.execute("SELECT payload FROM events WHERE stream = ? ORDER BY t", (stream,)).fetchall()
    return [json.loads(r[0]) for r in rows]


def test_each_purpose_is_honoured(tmp_path: Path, model_dir: Path) -> None:
    gw = gateway(tmp_path, model_dir)
    everything: tuple[Purpose, ...] = ("recognition", "offers", "analytics")
    purposes: dict[str, tuple[Purpose, ...]] = {
        "sh-0000": everything,
        "sh-0001": ("recognition", "offers"),  # offers, but nothing stored about them
        "sh-0002": ("recognition", "analytics"),  # measured, but no personalised offer
        "sh-0003": ("offers", "analytics"),  # not recognised at all
    }
    publish_keys(gw, tmp_path, purposes)
    assert gw.presence.resolver.enrolled_shoppers() == {"sh-0000", "sh-0001", "sh-0002"}
    for n, shopper in enumerate(("sh-0000", "sh-0001", "sh-0002")):
        pick(gw, shopper, n)

    # presence events only of shoppers with analytics consent
    assert [p["shopper"] for p in stored(gw, "presence")] == ["sh-0000", "sh-0002"]
    # basket events of everyone, without the shopper where analytics was not given
    assert [b["shopper"] for b in stored(gw, "basket")] == ["sh-0000", None, "sh-0002"]
    decisions = {d["shopper"]: d["outcome"] for d in stored(gw, "offer_decision")}
    assert set(decisions) == {"sh-0000", "sh-0002"}
    assert decisions["sh-0002"] == "no-consent"
    assert decisions["sh-0000"] != "no-consent"
    # sh-0001 got an offer (offers consent): it is stored, but without the shopper
    offers = stored(gw, "offer")
    assert {o["shopper"] for o in offers} == {"sh-0000", None}
    assert gw.stats["offers"] == 2


def test_withdrawing_analytics_deletes_stored_rows_but_keeps_recognition(
    tmp_path: Path, model_dir: Path
) -> None:
    gw = gateway(tmp_path, model_dir)
    everything: tuple[Purpose, ...] = ("recognition", "offers", "analytics")
    publish_keys(gw, tmp_path, {"sh-0000": everything, "sh-0001": everything})
    pick(gw, "sh-0000", 0)
    pick(gw, "sh-0001", 1)
    assert {p["shopper"] for p in stored(gw, "presence")} == {"sh-0000", "sh-0001"}

    publish_keys(gw, tmp_path, {"sh-0000": ("recognition", "offers"), "sh-0001": everything})
    assert gw.presence.resolver.enrolled_shoppers() == {"sh-0000", "sh-0001"}
    assert not gw.presence.consents("sh-0000", "analytics")
    rows = gw.db.execute("SELECT payload FROM events").fetchall()
    assert rows and all(json.loads(r[0]).get("shopper") != "sh-0000" for r in rows)
    outbox = gw.db.execute("SELECT count(*) FROM outbox").fetchone()[0]
    assert outbox == len(rows)  # nothing about them left to send either

    publish_keys(gw, tmp_path, {"sh-0001": everything})  # full withdrawal: forgotten
    assert gw.presence.resolver.enrolled_shoppers() == {"sh-0001"}
    assert gw.presence.purposes.keys() == {"sh-0001"}


def test_a_relayed_check_in_makes_the_shopper_present_in_the_store(tmp_path: Path, model_dir: Path) -> None:
    from edge.presence.service import CHECK_IN_PRESENCE_S
    from edge.presence.tokens import AppTokenGenerator

    now = time.time()  # the resolver's window follows the real clock (it never moves backwards)
    gw = gateway(tmp_path, model_dir, now)
    everything: tuple[Purpose, ...] = ("recognition", "offers", "analytics")
    publish_keys(
        gw,
        tmp_path,
        {"sh-0000": everything, "sh-0001": ("recognition",)},
        (day_of(now - 1200), day_of(now + 1200)),
    )
    customers = make_customers(2, seed=5)
    app = [AppTokenGenerator(c.secret, "s1") for c in customers]

    assert gw.on_check_in(app[0].check_in(now, bytes(8))) == "sh-0000"
    assert gw.on_check_in(app[0].check_in(now, bytes(8))) is None  # relayed twice: replay refused
    assert gw.on_check_in(app[1].check_in(now - 1, bytes(range(8)))) == "sh-0001"
    assert gw.on_check_in(AppTokenGenerator(bytes(16), "s1").check_in(now, bytes(8))) is None  # stranger
    assert gw.presence.in_store(now) == ["sh-0000", "sh-0001"]
    # stored only with analytics consent
    assert [c["shopper"] for c in stored(gw, "check-in")] == ["sh-0000"]
    gw.presence.tick(now + CHECK_IN_PRESENCE_S)
    assert gw.presence.in_store(now + CHECK_IN_PRESENCE_S) == []
