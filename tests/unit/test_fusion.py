from edge.events import ShelfId, WeightEvent
from edge.fusion.core import BasketFusion, Baskets, basket_event_id, weight_event_id

SHELF = ShelfId(1, 2)


def weight(kind="pick", t=100.0, product="P1", qty=1, conf=0.9):
    return WeightEvent(
        t_start=t,
        t_end=t + 2,
        shelf=SHELF,
        plates=(3,),
        delta_g=-120.0 if kind == "pick" else 120.0,
        kind=kind,
        product_id=product,
        quantity=qty,
        confidence=conf,
    )


def test_pick_is_attributed_to_best_shopper():
    event = BasketFusion().on_weight(weight(), [("s-b", 0.4), ("s-a", 0.9)])
    assert event.shopper == "s-a"
    assert event.sources == ("weight", "presence")
    assert event.confidence == 0.9
    assert event.t == 102.0
    assert event.event_id == basket_event_id(weight())


def test_nobody_at_shelf_keeps_event_without_shopper():
    event = BasketFusion().on_weight(weight(), [])
    assert event.shopper is None
    assert event.sources == ("weight",)


def test_close_scores_lower_confidence():
    event = BasketFusion().on_weight(weight(conf=1.0), [("a", 1.0), ("b", 0.9)])
    assert event.shopper == "a"
    assert event.confidence == 0.6


def test_event_ids_are_deterministic_and_distinct():
    assert basket_event_id(weight(t=1.0)) == basket_event_id(weight(t=1.0))
    assert basket_event_id(weight(t=1.0)) != basket_event_id(weight(t=1.5))
    assert basket_event_id(weight(kind="pick")) != basket_event_id(weight(kind="return"))
    assert weight_event_id(weight(t=1.0)) == "we-" + basket_event_id(weight(t=1.0))[3:]


def test_baskets_follow_picks_and_returns():
    fusion, baskets = BasketFusion(), Baskets()
    baskets.apply(fusion.on_weight(weight(product="A", qty=2, t=1), [("s", 1.0)]))
    baskets.apply(fusion.on_weight(weight(product="B", t=2), [("s", 1.0)]))
    assert baskets.of("s") == ["A", "B"]
    baskets.apply(fusion.on_weight(weight(kind="return", product="A", t=3), [("s", 1.0)]))
    assert baskets.contents["s"] == {"A": 1, "B": 1}
    baskets.apply(fusion.on_weight(weight(kind="return", product="A", t=4), [("s", 1.0)]))
    assert baskets.of("s") == ["B"]
    baskets.forget("s")
    assert baskets.of("s") == []


def test_unknown_product_or_shopper_does_not_touch_baskets():
    baskets = Baskets()
    baskets.apply(BasketFusion().on_weight(weight(product=None), [("s", 1.0)]))
    baskets.apply(BasketFusion().on_weight(weight(), []))
    assert baskets.contents == {}


def test_stale_presence_is_not_enough_to_credit_a_shopper():
    # A zone held through a gap in adverts scores 0.25 in the presence core: not evidence.
    event = BasketFusion().on_weight(weight(), [("held-through-gap", 0.25)])
    assert event.shopper is None
    assert event.sources == ("weight",)
    event = BasketFusion().on_weight(weight(conf=1.0), [("fresh", 0.7), ("held-through-gap", 0.25)])
    assert event.shopper == "fresh"
    assert event.confidence == 1.0


def test_a_shopper_who_arrived_after_the_shelf_moved_did_not_pick():
    # weight() starts at t=100: the shelf moved before "late" got there.
    event = BasketFusion().on_weight(
        weight(t=100.0), [("late", 0.9), ("early", 0.6)], arrived={"late": 102.5, "early": 90.0}
    )
    assert event.shopper == "early"
    event = BasketFusion().on_weight(weight(t=100.0), [("late", 0.9)], arrived={"late": 102.5})
    assert event.shopper is None
    # within the slack (presence latency) still counts
    event = BasketFusion().on_weight(weight(t=100.0), [("s", 0.9)], arrived={"s": 100.8})
    assert event.shopper == "s"
