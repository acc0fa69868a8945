"""Customer jobs on Spark: one history from both channels, profiles equal to the gateway's."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import Row, SparkSession

from edge.offers.profile import compute_profile
from models.jobs.customers import profiles, purchase_history, store_profiles
from models.jobs.transactions import read_lines, typed_lines
from models.offers.evaluation import histories
from models.offers.transactions import read_transactions


@pytest.mark.parametrize("decay", [0.5, 1.0])
def test_profiles_equal_compute_profile(spark: SparkSession, retail_slice: Path, decay: float) -> None:
    # Powers of two (and 1.0) add up exactly in any order, so ties break the same way as in Python.
    expected = {c: compute_profile(h, decay) for c, h in histories(read_transactions(retail_slice)).items()}
    got = read_lines(spark, retail_slice).transform(profiles(decay)).toLocalIterator()
    rows = {r["customer_id"]: r for r in got}
    assert set(rows) == set(expected)
    for customer, profile in expected.items():
        row = rows[customer]
        assert (tuple(row["items"]), tuple(row["weights"]), row["n_baskets"]) == (
            profile.items,
            profile.weights,
            profile.n_baskets,
        )


def test_one_history_from_store_and_web_through_the_enrolment_table(spark: SparkSession) -> None:
    online = spark.createDataFrame(
        [
            Row(
                basket_id="7",
                customer_id="c1",
                product_id="p1",
                timestamp="2025-03-01T10:00:00Z",
                quantity="1",
                price="2.5",
            )
        ]
    )
    instore = spark.createDataFrame(
        [
            Row(
                pseudonym="s-aa",
                store_id=3,
                basket_id="1",
                product_id="p2",
                timestamp="2025-03-02T09:00:00Z",
                quantity=2.0,
                price=1.0,
            ),
            Row(
                pseudonym="s-zz",
                store_id=3,
                basket_id="2",
                product_id="p3",
                timestamp="2025-03-02T09:05:00Z",
                quantity=1.0,
                price=1.0,
            ),
        ]
    )
    enrolment = spark.createDataFrame([Row(pseudonym="s-aa", customer_id="c1")])
    history = online.transform(purchase_history(instore, enrolment)).orderBy("basket_id").collect()
    assert [r.asDict() for r in history] == [
        {
            "basket_id": "s3-1",
            "customer_id": "c1",
            "product_id": "p2",
            "timestamp": "2025-03-02T09:00:00Z",
            "quantity": "2.0",
            "price": "1.0",
            "store_id": "3",
            "channel": "store",
        },
        {
            "basket_id": "w-7",
            "customer_id": "c1",
            "product_id": "p1",
            "timestamp": "2025-03-01T10:00:00Z",
            "quantity": "1",
            "price": "2.5",
            "store_id": None,
            "channel": "online",
        },
    ]  # s-zz is not enrolled: nothing of it is kept
    from pyspark.sql import functions as F

    lines = typed_lines(
        online.transform(purchase_history(instore, enrolment)).withColumn(
            "line", F.monotonically_increasing_id()
        )
    ).drop("_timestamp_text")
    per_store = lines.transform(profiles(1.0)).transform(store_profiles(lines, enrolment)).collect()
    assert [r.asDict() for r in per_store] == [
        {"store": "3", "shopper": "s-aa", "items": ["p1", "p2"], "weights": [0.5, 0.5], "n_baskets": 2}
    ]


def test_missing_export_columns_are_named(spark: SparkSession) -> None:
    bad = spark.createDataFrame([Row(pseudonym="s", product_id="p")])
    with pytest.raises(ValueError, match=r"in-store export: missing columns \['store_id'"):
        purchase_history(bad, spark.createDataFrame([Row(pseudonym="s", customer_id="c")]))
