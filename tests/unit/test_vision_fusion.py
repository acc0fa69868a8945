"""Weight + camera fusion: the camera separates similar weights, the weight fixes the quantity."""

from __future__ import annotations

from edge.events import LaneInteraction, ShelfId, WeightEvent
from edge.fusion.core import BasketFusion
from edge.fusion.vision import Candidate, VisionJoin, candidates_near, decide, joins
from edge.sensing.planogram import Placement, Planogram, Product

SHELF = ShelfId(1, 1)
# Two products 2 % apart on one wide plate: weight alone cannot tell them.
CANDIDATES = [Candidate("TEA", 3, 400.0), Candidate("COFFEE", 3, 408.0), Candidate("JAM", 4, 250.0)]


def weight(delta: float, kind: str = "pick", t: float = 10.0, plates: tuple[int, ...] = (3,)) -> WeightEvent:
    return WeightEvent(t, t + 1.0, SHELF, plates, delta, kind, "TEA", 1, 0.5)  # type: ignore[arg-type]


def seen(
    product: str | None, plate: int = 3, kind: str = "pick", t: float = 9.5, conf: float = 0.9
) -> LaneInteraction:
    return LaneInteraction(t, t + 1.2, "cam-1", SHELF, plate, kind, product, conf)  # type: ignore[arg-type]


def test_camera_decides_between_similar_weights() -> None:
    decided = decide(weight(-404.0), [seen("COFFEE")], CANDIDATES)
    assert decided.product_id == "COFFEE" and decided.quantity == 1
    assert decided.confidence > 0.8
    alone = decide(weight(-404.0), [], CANDIDATES)
    assert alone.confidence < 0.6  # weight alone is a coin toss between TEA and COFFEE


def test_weight_decides_the_quantity() -> None:
    decided = decide(weight(-2 * 408.0), [seen("COFFEE")], CANDIDATES)
    assert (decided.product_id, decided.quantity) == ("COFFEE", 2)


def test_weight_overrules_a_camera_that_names_an_impossible_product() -> None:
    decided = decide(weight(-250.0, plates=(3, 4)), [seen("TEA", plate=4, conf=0.6)], CANDIDATES)
    assert decided.product_id == "JAM"


def test_join_needs_same_shelf_kind_time_and_nearby_plate() -> None:
    w = weight(-400.0)
    assert joins(w, seen("TEA"), VisionJoin().params)
    assert not joins(w, seen("TEA", kind="return"), VisionJoin().params)
    assert joins(w, seen(None, kind="touch"), VisionJoin().params)  # where the hand went
    assert not joins(w, seen("TEA", t=30.0), VisionJoin().params)
    assert not joins(w, seen("TEA", plate=6), VisionJoin().params)


def test_vision_join_consumes_matched_interactions_and_expires_the_rest() -> None:
    join = VisionJoin()
    join.add(seen("COFFEE"))
    join.add(seen(None, kind="touch"))  # joined as where the hand went, names no product
    join.add(seen("JAM", plate=4, t=40.0))
    join.add(seen(None, plate=5, kind="touch", t=41.0))
    decided, used = join.refine(weight(-404.0), CANDIDATES)
    assert decided.product_id == "COFFEE" and len(used) == 2
    assert join.expired(45.0) == []
    assert [i.product_id for i in join.expired(60.0)] == ["JAM"]  # an unclaimed touch is dropped


def test_the_plate_the_camera_saw_a_hand_reach_settles_a_tie_between_neighbour_plates() -> None:
    """Issue 17's real pick: a 105.5 g item taken from plates 4-5, a 103.9 g one on plate 3, and
    the event's plates were 3, 4 and 5. The camera (unsure what was taken: a touch) saw the hand at 4."""
    candidates = [
        Candidate("NEIGHBOUR", 3, 103.9),
        Candidate("TAKEN", 4, 105.5),
        Candidate("TAKEN", 5, 105.5),
    ]
    event = WeightEvent(10.0, 11.0, SHELF, (3, 4, 5), -104.6, "pick", None, 1, 0.5)
    alone = decide(event, [], candidates)
    assert alone.product_id == "NEIGHBOUR" and alone.confidence < 0.4  # weight alone: the wrong one
    decided = decide(event, [seen(None, plate=4, kind="touch")], candidates)
    assert decided.product_id == "TAKEN" and decided.confidence > 0.6
    assert decide(event, [seen(None, plate=3, kind="touch")], candidates).product_id == "NEIGHBOUR"


def test_candidates_come_from_the_planogram_around_the_changed_plates() -> None:
    planogram = Planogram(
        Placement(Product(pid, pid, w, 1.0), SHELF, plate)
        for pid, w, plate in (("TEA", 400.0, 3), ("COFFEE", 408.0, 3), ("JAM", 250.0, 4), ("SOAP", 90.0, 6))
    )
    found = candidates_near(planogram, SHELF, (3,))
    assert sorted((c.product_id, c.plate) for c in found) == [("COFFEE", 3), ("JAM", 4), ("TEA", 3)]


def test_basket_event_lists_vision_as_a_source() -> None:
    decided = decide(weight(-404.0), [seen("COFFEE")], CANDIDATES)
    basket = BasketFusion().on_weight(decided, [("s-a", 1.0)], also=("vision",))
    assert basket.sources == ("weight", "presence", "vision")
    assert basket.product_id == "COFFEE" and basket.shopper == "s-a"
