"""Repurchase timing and customer value: Spark transformations on tiny frames, model identities."""

from __future__ import annotations

import numpy as np
import pytest
from pyspark.sql import Row, SparkSession

from edge.offers.profile import Profile
from models.jobs.repurchase import labelled, predict
from models.jobs.synth_fit import DAY
from models.jobs.value import BgNbd, rfm


def test_repurchase_probability_is_the_negative_binomial_predictive(spark: SparkSession) -> None:
    days = spark.createDataFrame(
        [Row(customer_id="c1", product_id="p", day=d) for d in (0, 10, 20, 31)]
        + [Row(customer_id="c2", product_id="q", day=5)]
    )
    got = {
        r["customer_id"]: r for r in days.transform(predict(30.0)).transform(labelled(days, 30.0)).collect()
    }
    # c1 bought p on 3 days before the cut-off (first on day 0): a = 3 - 1 + 1, b = 30 + 1 / (2 / 30).
    assert got["c1"]["p"] == pytest.approx(1 - (45 / 52) ** 3)
    assert got["c1"]["expected_day"] == pytest.approx(30 + 45 * (2 ** (1 / 3) - 1))
    assert got["c1"]["y"] == 1.0 and got["c1"]["n"] == 3
    # q was never bought twice: the floor rate 1e-4 per day, one purchase.
    assert got["c2"]["p"] == pytest.approx(1 - ((25 + 1e4) / (25 + 1e4 + 7)) ** 1)
    assert got["c2"]["y"] == 0.0


def test_rfm_sufficient_statistics(spark: SparkSession) -> None:
    lines = spark.createDataFrame(
        [
            Row(customer_id="c1", t=0.5 * DAY, quantity=1.0, price=10.0),
            Row(customer_id="c1", t=0.7 * DAY, quantity=2.0, price=5.0),  # same day: one occasion of 20
            Row(customer_id="c1", t=4.2 * DAY, quantity=1.0, price=30.0),
            Row(customer_id="c1", t=9.0 * DAY, quantity=1.0, price=50.0),
            Row(customer_id="c1", t=12.0 * DAY, quantity=1.0, price=99.0),  # after the cut-off
            Row(customer_id="c2", t=8.0 * DAY, quantity=3.0, price=1.0),
        ]
    )
    rows = sorted(lines.transform(rfm(10.0)).collect(), key=lambda r: r["customer_id"])  # type: ignore[arg-type]
    assert [r.asDict() for r in rows] == [
        {"customer_id": "c1", "x": 2, "t_x": 9.0, "T": 10.0, "m": 40.0, "total": 100.0},
        {"customer_id": "c2", "x": 0, "t_x": 0.0, "T": 2.0, "m": None, "total": 3.0},
    ]


def test_bgnbd_identities_and_recovery() -> None:
    model = BgNbd(r=0.5, alpha=10.0, a=0.8, b=2.5)
    params = np.array([model.r, model.alpha, model.a, model.b])
    # No repeat purchase: the likelihood is (alpha / (alpha + T)) ** r.
    ll = BgNbd.log_likelihood(params, np.array([0.0]), np.array([0.0]), np.array([30.0]))
    assert ll[0] == pytest.approx(0.5 * np.log(10 / 40))
    assert model.expected(0.0, np.array([3.0]), np.array([20.0]), np.array([30.0]))[0] == pytest.approx(0.0)
    # Simulated BG/NBD customers: the fit finds the parameters again.
    rng = np.random.default_rng(3)
    n, horizon = 20_000, 90.0
    lam = rng.gamma(model.r, 1 / model.alpha, n)
    p = rng.beta(model.a, model.b, n)
    x, t_x = np.zeros(n), np.zeros(n)
    t, alive = np.zeros(n), np.ones(n, dtype=bool)
    for _ in range(200):
        t = t + rng.exponential(1 / lam)
        buy = alive & (t < horizon)
        x[buy] += 1
        t_x[buy] = t[buy]
        alive = buy & (rng.random(n) >= p)
    fitted = BgNbd.fit(x, t_x, np.full(n, horizon), np.ones(n))
    assert fitted.r == pytest.approx(model.r, rel=0.15)
    assert fitted.alpha == pytest.approx(model.alpha, rel=0.2)
    assert fitted.a / (fitted.a + fitted.b) == pytest.approx(model.a / (model.a + model.b), rel=0.2)


def test_pair_lift_and_placement(spark: SparkSession) -> None:
    from models.jobs.layout import Z_ONE_SIDED_95, pair_lift, placed

    baskets = {"b1": "xy", "b2": "xy", "b3": "xz", "b4": "z", "b5": "y"}
    lines = spark.createDataFrame(
        [Row(basket_id=b, product_id=p) for b, products in baskets.items() for p in products]
    )
    planogram = spark.createDataFrame(
        [
            Row(product_id="x", name="Pasta", gondola="1", shelf="2", plate="1"),
            Row(product_id="y", name="Sauce", gondola="3", shelf="1", plate="4"),
            Row(product_id="z", name="Cheese", gondola="1", shelf="2", plate="4"),
        ]
    )
    pairs = lines.transform(pair_lift(1)).transform(placed(planogram)).orderBy("a", "b").collect()
    # 5 baskets; x in 3, y in 3, z in 2: lift(x, y) = 2 * 5 / 9, lift(x, z) = 1 * 5 / 6.
    assert [r.asDict() for r in pairs] == [
        {
            "a": "x",
            "a_name": "Pasta",
            "b": "y",
            "b_name": "Sauce",
            "together": 2,
            "lift": pytest.approx(10 / 9),
            "lift_low": pytest.approx((2**0.5 - Z_ONE_SIDED_95 / 2) ** 2 * 5 / 9),
            "gondolas_apart": 2,
            "placement": "2 gondolas apart",
        },
        {
            "a": "x",
            "a_name": "Pasta",
            "b": "z",
            "b_name": "Cheese",
            "together": 1,
            "lift": pytest.approx(5 / 6),
            "lift_low": pytest.approx((1 - Z_ONE_SIDED_95 / 2) ** 2 * 5 / 6),
            "gondolas_apart": 0,
            "placement": "3 plates apart",
        },
    ]


def test_segments_follow_the_documented_rules(spark: SparkSession) -> None:
    from models.jobs.segments import features, segmented

    def line(customer: str, day: float, price: float, discount: float = 0.0) -> Row:
        return Row(customer_id=customer, t=day * DAY, quantity=1.0, price=price, discount=discount)

    lines = spark.createDataFrame(
        [line("champ", d, 50.0) for d in (10, 40, 80, 95)]
        + [line("deal", 90, 5.0, 0.2), line("deal", 91, 5.0, 0.2), line("deal", 92, 5.0)]
        + [line("gone", 2, 20.0)]
        + [line("fresh", 99, 8.0)]
    )
    feats = lines.transform(features(100.0))
    rows = feats.transform(segmented((1.0, 2.0), (20.0, 60.0))).orderBy("customer_id").collect()
    assert [(r["customer_id"], r["recency"], r["frequency"], r["segment"]) for r in rows] == [
        ("champ", 5.0, 4, "champions"),
        ("deal", 8.0, 3, "deal-seekers"),  # 2 of 3 lines on discount
        ("fresh", 1.0, 1, "new"),
        ("gone", 98.0, 1, "lapsed"),
    ]


def test_segments_ride_along_with_store_profiles(spark: SparkSession) -> None:
    from models.jobs.customers import store_profiles
    from models.jobs.segments import with_segments

    lines = spark.createDataFrame(
        [
            Row(
                basket_id=f"b{i}",
                customer_id=c,
                store="s1",
                t=1.0,
                line=i,
                product_id="p",
                quantity=1.0,
                price=1.0,
            )
            for i, c in enumerate(("c1", "c2"))
        ]
    )
    profile = spark.createDataFrame(
        [Row(customer_id=c, n_baskets=1, items=["p"], weights=[1.0]) for c in ("c1", "c2")]
    )
    segments = spark.createDataFrame([Row(customer_id="c1", segment="champions")])
    rows = (
        profile.transform(with_segments(segments))
        .transform(store_profiles(lines))
        .orderBy("shopper")
        .collect()
    )
    assert [(r["shopper"], r["segments"]) for r in rows] == [("c1", ["champions"]), ("c2", None)]
    # the gateway reads the JSON line as a profile: the segment, or none (unknown)
    docs = [Profile.from_dict({k: v for k, v in r.asDict().items() if v is not None}) for r in rows]
    assert [d.segments for d in docs] == [frozenset({"champions"}), frozenset()]


def test_blend_is_non_negative_least_squares_from_the_normal_equations() -> None:
    from scipy.optimize import nnls

    from models.jobs.value import Blend

    rng = np.random.default_rng(5)
    x = rng.gamma(1.0, 50.0, size=(500, 2))
    for y in (x @ [0.7, 0.5] + rng.normal(0, 5, 500), x @ [-0.4, 1.2] + rng.normal(0, 5, 500)):
        got = Blend.fit(x.T @ x, x.T @ y)
        want, _ = nnls(x, y)
        assert (got.model, got.last) == (pytest.approx(want[0], abs=1e-6), pytest.approx(want[1], abs=1e-6))
    assert Blend.fit(x.T @ x, x.T @ (x @ [-0.4, 1.2])).model == 0.0  # a negative weight is clipped
