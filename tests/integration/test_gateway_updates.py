"""What the backend sync pulls is applied to the running daemon; garbage is refused, nothing is lost."""

from __future__ import annotations

import json
import logging

from edge.app import Gateway
from edge.config import parse_config
from edge.events import ShelfId, ShopperSighting
from edge.presence.keys import write_keys_file
from edge.updates import apply_update
from simulators.phones import enrolled_keys, make_customers


def gateway(tmp_path, **extra) -> Gateway:
    return Gateway(
        parse_config(
            {
                "gateway": {"store_id": "s1", "gateway_id": "gw-1", "data_dir": str(tmp_path / "data")},
                "presence": {"source": "none", "receivers": {"rx": "1/1"}},
                "web": {"enabled": False},
                **extra,
            }
        )
    )


def test_revoked_customer_is_forgotten_with_the_next_sync(tmp_path):
    gw = gateway(tmp_path)
    customers = make_customers(2, seed=3)
    keys_path = tmp_path / "keys.json"
    write_keys_file(keys_path, "s1", enrolled_keys(customers, "s1", [20000]))
    apply_update(gw, "customer-keys", keys_path)
    assert gw.presence.resolver.enrolled == 2

    for t in (1.0, 1.5, 2.0):
        for c in customers:
            gw.presence.tracker.observe(ShopperSighting(t=t, receiver="rx", shopper=c.shopper, rssi=-60))
    gw.baskets.contents[customers[0].shopper] = {"p1": 1}
    gw.store.append("basket", "pick", "e-0", 2.0, {"shopper": customers[0].shopper, "product_id": "p1"})
    gw.store.append("basket", "pick", "e-1", 2.0, {"shopper": customers[1].shopper, "product_id": "p1"})
    assert set(gw.presence.tracker.shoppers()) == {c.shopper for c in customers}

    write_keys_file(keys_path, "s1", enrolled_keys(customers[1:], "s1", [20000]))
    apply_update(gw, "customer-keys", keys_path)
    assert gw.presence.resolver.enrolled == 1
    assert gw.presence.tracker.shoppers() == [customers[1].shopper]
    assert customers[0].shopper not in gw.baskets.contents
    # Stored events about the revoked customer are gone too, including those not yet sent.
    assert gw.store.count() == 1
    assert gw.store.pending_outbox() == 1


def test_garbage_documents_are_refused_and_the_old_data_kept(tmp_path, caplog):
    gw = gateway(tmp_path)
    bad = tmp_path / "planogram.json"
    bad.write_text('{"rows": [{"product_id": "a", "name": "A", "gondola": "x"}]}')
    with caplog.at_level(logging.ERROR, logger="edge.updates"):
        apply_update(gw, "planogram", bad)
        bad.write_text("<html>502 Bad Gateway</html>")
        apply_update(gw, "customer-keys", bad)
        apply_update(gw, "planogram", bad)
    assert len(gw.sensing.planogram.products) == 0
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 3
    assert all("refused" in m for m in messages)
    assert "planogram" in messages[0] and "customer-keys" in messages[1]


def test_planogram_update_reaches_the_detectors(tmp_path):
    gw = gateway(tmp_path)
    doc = {
        "rows": [
            {
                "product_id": "p1",
                "name": "Tea",
                "gondola": 1,
                "shelf": 1,
                "plate": 2,
                "unit_weight_g": 250,
                "price": 2.5,
            }
        ]
    }
    path = tmp_path / "planogram.json"
    path.write_text(json.dumps(doc))
    apply_update(gw, "planogram", path)
    assert [p.product_id for p in gw.sensing.planogram.at(ShelfId(1, 1), 2)] == ["p1"]


def test_a_replayed_weight_event_is_stored_and_counted_once(tmp_path):
    from edge.events import WeightEvent

    gw = gateway(tmp_path)
    gw.presence.tracker.observe(ShopperSighting(t=99.0, receiver="rx", shopper="s-1", rssi=-55))
    gw.presence.tracker.observe(ShopperSighting(t=99.5, receiver="rx", shopper="s-1", rssi=-55))
    event = WeightEvent(
        t_start=100.0,
        t_end=101.5,
        shelf=ShelfId(1, 1),
        plates=(2,),
        delta_g=-250.0,
        kind="pick",
        product_id="p1",
        quantity=1,
        confidence=0.95,
    )
    gw.on_weight(event)
    gw.on_weight(event)  # the same event again (a replayed log, a restarted bridge re-sending)
    assert gw.store.count("weight") == 1
    assert gw.store.count("basket") == 1
    assert gw.baskets.contents == {"s-1": {"p1": 1}}
