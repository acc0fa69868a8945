"""Weight sensing core: planogram, identification, and the detector on physical and hand-made signals."""

from __future__ import annotations

import numpy as np
import pytest

from edge.events import SampleBatch, ShelfId, WeightEvent
from edge.sensing.detector import ShelfDetector
from edge.sensing.identify import identify
from edge.sensing.planogram import Planogram, PlanogramError
from simulators.shelves.physics import ShelfPhysics

SHELF = ShelfId(1, 2)
CSV = """product_id,name,gondola,shelf,plate,unit_weight_g,price
A,Tea,1,2,1,105.5,2.5
B,Biscuits,1,2,2,250,1.2
W,Wide box,1,2,3,400,4.0
W,Wide box,1,2,4,400,4.0
C,Candles,1,2,6,60,3.0
D,Jam,1,2,7,340,2.2
"""
PLAN = Planogram.parse_csv(CSV)
T0 = 1_760_000_000.0


def batches(t: np.ndarray, x: np.ndarray, size: int = 6) -> list[SampleBatch]:
    plates = tuple(range(1, x.shape[1] + 1))
    return [
        SampleBatch(
            SHELF, plates, tuple(t[k : k + size].tolist()), tuple(map(tuple, x[k : k + size].tolist()))
        )
        for k in range(0, len(t), size)
    ]


def run(det: ShelfDetector, t: np.ndarray, x: np.ndarray) -> list[WeightEvent]:
    return [e for b in batches(t, x) for e in det.feed(b)]


def physics_run(
    schedule: list[tuple[str, float, tuple[int, ...], float, float]],
    seconds: float,
    seed: int = 4,
    rate: float = 60.0,
):
    ph = ShelfPhysics(plates=8, seed=seed)
    for kind, at, plates, grams, hold in schedule:
        ph.schedule(kind, T0 + at, plates, grams, hold)  # type: ignore[arg-type]
    t = T0 + np.arange(int(seconds * 60)) / 60.0
    x = np.vstack([ph.render(t[k : k + 60]) for k in range(0, len(t), 60)])
    x = np.round(x / 0.241) * 0.241
    step = round(60 / rate)
    return run(ShelfDetector(SHELF, PLAN), t[::step], x[::step])


# ------------------------------------------------------------------ planogram
def test_planogram_lookups() -> None:
    assert [p.product_id for p in PLAN.at(SHELF, 3)] == ["W"]
    assert PLAN.plates_of(SHELF, "W") == (3, 4)
    assert {p.product_id for p in PLAN.near(SHELF, (5,))} == {"W", "C"}
    assert PLAN.at(SHELF, 9) == () and PLAN.shelves() == (SHELF,)


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("product_id,name\n", 1, "header must be"),
        (CSV + "E,Eggs,1,2,8,heavy,1\n", 8, "bad number"),
        (CSV + "E,Eggs,1,2,8,-3,1\n", 8, "unit_weight_g must be > 0"),
        (CSV + "A,Tea,1,2,5,99,2.5\n", 8, "differs from 105.5"),
        (CSV + "E,Eggs,1,2\n", 8, "expected 7 columns"),
    ],
)
def test_planogram_errors_name_the_line(text: str, line: int, reason: str) -> None:
    with pytest.raises(PlanogramError) as err:
        Planogram.parse_csv(text, "p.csv")
    assert err.value.line == line and reason in err.value.reason


# ------------------------------------------------------------------ identification
def test_identify_quantity_and_measurement_error() -> None:
    (one,) = identify({1: -101.5}, SHELF, PLAN)  # REFERENCE.md: 101.5 g measured for 105.5 g
    assert one.product is not None and one.product.product_id == "A" and one.quantity == 1
    (three,) = identify({2: -745.0}, SHELF, PLAN)
    assert three.product is not None and three.product.product_id == "B" and three.quantity == 3


def test_identify_two_products_at_once_and_unknown() -> None:
    parts = identify({2: -250.0, 3: -400.0}, SHELF, PLAN)
    assert sorted((p.product.product_id, p.quantity) for p in parts if p.product) == [("B", 1), ("W", 1)]
    (unknown,) = identify({6: -150.0}, SHELF, PLAN)  # 2.5 candles
    assert unknown.product is None and unknown.quantity == 0 and unknown.confidence < 0.1


# ------------------------------------------------------------------ detector on hand-made signals
def clean(
    seconds: float, plates: int = 8, noise: float = 0.5, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = T0 + np.arange(int(seconds * 60)) / 60.0
    x = 1000.0 + rng.normal(0, noise, (len(t), plates))
    return t, x


def test_a_clean_pick_gives_one_event_with_times_from_the_samples() -> None:
    t, x = clean(10)
    rel = t - T0
    x[:, 1] -= 250.0 * np.clip((rel - 4.0) / 0.5, 0, 1)  # lifted over 0.5 s
    x[(rel > 4.0) & (rel < 5.0), 1] += 40 * np.sin(20 * rel[(rel > 4.0) & (rel < 5.0)])
    (event,) = run(ShelfDetector(SHELF, PLAN), t, x)
    assert event.kind == "pick" and event.plates == (2,) and event.product_id == "B" and event.quantity == 1
    assert event.delta_g == pytest.approx(-250, abs=2)
    assert T0 + 3.8 < event.t_start < T0 + 4.2 and T0 + 5.0 < event.t_end < T0 + 7.0
    assert event.confidence > 0.9


def test_a_step_without_a_hand_is_a_tare_not_a_pick() -> None:
    t, x = clean(8)
    x[t - T0 >= 4.0, 3] -= 1500.0  # the bridge applied a new zero
    det = ShelfDetector(SHELF, PLAN)
    assert run(det, t, x) == [] and det.stats["steps"] == 1


def test_a_gap_in_the_data_still_gives_the_change() -> None:
    t, x = clean(12)
    x[t - T0 >= 5.0, 6] += 340.0
    keep = (t - T0 < 4.0) | (t - T0 > 7.0)  # 3 s lost: unplugged while the jam came back
    (event,) = run(ShelfDetector(SHELF, PLAN), t[keep], x[keep])
    assert event.kind == "return" and event.product_id == "D" and event.t_start < T0 + 4.0


def test_drift_alone_gives_nothing() -> None:
    t, x = clean(120)
    x += np.outer(t - T0, np.linspace(-0.05, 0.05, 8))  # up to 6 g over two minutes
    assert run(ShelfDetector(SHELF, PLAN), t, x) == []


def test_out_of_order_samples_are_dropped_and_counted() -> None:
    t, x = clean(3)
    det = ShelfDetector(SHELF, PLAN)
    run(det, t, x)
    run(det, t[:12], x[:12])
    assert det.stats["out_of_order"] == 12


def test_one_batch_from_the_future_does_not_blind_the_shelf() -> None:
    """A batch stamped a day ahead (a forged or glitched message) is followed by the real timeline:
    once the real samples have run behind it for the confirmation time, the detector adopts them."""
    t, x = clean(20)
    rel = t - T0
    x[:, 1] -= 250.0 * np.clip((rel - 12.0) / 0.5, 0, 1)  # a pick 12 s in
    det = ShelfDetector(SHELF, PLAN)
    events = run(det, t[:240], x[:240])  # 4 s of quiet samples
    det.feed(SampleBatch(SHELF, tuple(range(1, 9)), (T0 + 86_400.0,), (tuple(x[240].tolist()),)))
    events += run(det, t[240:], x[240:])
    assert [(e.kind, e.product_id) for e in events] == [("pick", "B")]
    assert det.stats["clock_steps"] == 1
    assert det.stats["out_of_order"] == round(det.params.clock_step_confirm_s * 60)


def test_a_late_duplicate_batch_is_dropped_without_restarting_the_timeline() -> None:
    t, x = clean(10)
    det = ShelfDetector(SHELF, PLAN)
    run(det, t[:500], x[:500])
    det.feed(batches(t[:6], x[:6])[0])  # redelivered after a reconnect: 8 s old
    run(det, t[500:], x[500:])
    assert det.stats["clock_steps"] == 0 and det.stats["out_of_order"] == 6


# ------------------------------------------------------------------ detector on the physical model
def test_pick_and_return_across_two_plates() -> None:
    events = physics_run([("pick", 3.0, (3, 4), 400.0, 1.5), ("return", 12.0, (3, 4), 400.0, 2.0)], 20)
    assert [(e.kind, e.product_id, e.quantity) for e in events] == [("pick", "W", 1), ("return", "W", 1)]
    assert set(events[0].plates) <= {3, 4}


def test_second_hand_before_the_first_settled() -> None:
    events = physics_run([("pick", 3.0, (1,), 105.5, 1.5), ("pick", 3.6, (7,), 340.0, 1.5)], 12)
    assert sorted((e.product_id, e.quantity) for e in events) == [("A", 1), ("D", 1)]


def test_long_hold_and_several_units() -> None:
    events = physics_run([("pick", 3.0, (2,), 500.0, 12.0)], 24)
    assert [(e.kind, e.product_id, e.quantity) for e in events] == [("pick", "B", 2)]


def test_leaning_on_the_shelf_gives_no_event() -> None:
    assert physics_run([("lean", 3.0, (5, 6), 900.0, 5.0)], 16) == []


def test_finish_closes_an_event_at_the_end_of_a_recording() -> None:
    t, x = clean(6)
    rel = t - T0
    x[:, 6] += 340.0 * np.clip((rel - 5.0) / 0.3, 0, 1)  # the jam comes back 0.7 s before the end
    det = ShelfDetector(SHELF, PLAN)
    assert run(det, t, x) == []
    (event,) = det.finish()
    assert event.kind == "return" and event.product_id == "D" and event.confidence < 0.6
    assert det.finish() == []


@pytest.mark.parametrize("rate", [10.0, 20.0, 30.0])
def test_lower_sample_rates_of_hx711_and_nau7802(rate: float) -> None:
    events = physics_run(
        [
            ("pick", 5.0, (2,), 250.0, 1.5),
            ("return", 14.0, (7,), 340.0, 2.0),
            ("pick", 20.0, (3, 4), 800.0, 1.0),
        ],
        30,
        rate=rate,
    )
    assert [(e.kind, e.product_id, e.quantity) for e in events] == [
        ("pick", "B", 1),
        ("return", "D", 1),
        ("pick", "W", 2),
    ]


# ------------------------------------------------------------------ the real recording's failures (issue 17)
REAL = Planogram.parse_csv(
    """product_id,name,gondola,shelf,plate,unit_weight_g,price
near,Tea 103.9,1,2,3,103.9,1
tea,Tea 105.5,1,2,4,105.5,1
tea,Tea 105.5,1,2,5,105.5,1
bottle,Bottle,1,2,10,538,1
big,Big bottle,1,2,11,621.7,1
"""
)


def test_the_plates_that_carry_the_change_name_the_product_not_the_union_that_moved() -> None:
    # 101.5 g from the 105.5 g facing on plates 4-5; plate 3 (103.9 g) only moved with the hand
    (tea,) = identify({3: -1.8, 4: -47.0, 5: -54.5}, SHELF, REAL)
    assert tea.product is not None and tea.product.product_id == "tea" and tea.plates == (4, 5)
    # the 538 g bottle from plate 10 in an event over plates 9-12, plate 11 nudged by the hand
    (bottle,) = identify({9: 2.5, 10: -531.0, 11: -24.0, 12: 1.0}, SHELF, REAL)
    assert bottle.product is not None and bottle.product.product_id == "bottle" and bottle.quantity == 1
    assert bottle.plates == (10, 11)  # the plates that carry the change, not the four that moved


def test_two_hands_on_neighbouring_facings_become_two_parts() -> None:
    parts = identify({3: -98.0, 4: 52.0, 5: 50.5}, SHELF, REAL)  # one takes 103.9, one puts 105.5 back
    assert sorted((p.product.product_id, p.quantity, p.delta_g < 0) for p in parts if p.product) == [
        ("near", 1, True),
        ("tea", 1, False),
    ]


def test_sensing_section_sets_the_detector_parameters(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from edge.config import load_config
    from edge.sensing.detector_params import DetectorParams
    from edge.wiring import detector_params

    gateway = f'[gateway]\nstore_id = "s1"\ngateway_id = "gw-1"\ndata_dir = "{tmp_path}"\n'
    path = tmp_path / "edge.toml"
    path.write_text(gateway + "[sensing]\nsettle_window_s = 1.2\nmin_event_g = 15\ndisturbance_g = 6.0\n")
    params = detector_params(load_config(path).sensing)
    assert (params.settle_window_s, params.min_event_g, params.identify.disturbance_g) == (1.2, 15.0, 6.0)
    (tmp_path / "empty.toml").write_text(gateway)
    assert detector_params(load_config(tmp_path / "empty.toml").sensing) == DetectorParams()
