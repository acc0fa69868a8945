"""The synthetic chain: same arguments, same output; figures measured as documented."""

from __future__ import annotations

import numpy as np
import pytest

from models.jobs.synth import ChainSpec, generate_chunk
from models.jobs.synth_fit import DAY, ChainFit, figures

FIT = ChainFit(
    size_mean=4.0,
    size_dispersion=2.0,
    rate_shape=1.0,
    rate_scale=0.05,
    popularity=tuple(float(x) for x in 1 / np.arange(1, 201)),
    repeat_share=0.4,
    weekday_weights=(1, 1, 1, 1, 1, 2, 2),
    month_weights=(1,) * 12,
    price_log_mean=1.0,
    price_log_sd=0.5,
    quantity_p=0.5,
    discount_share=0.3,
    demographics=(("25-34", "50-74K"), ("65+", "Under 15K")),
    demographic_columns=("age", "income"),
)


def test_a_chunk_depends_on_the_arguments_only() -> None:
    spec = ChainSpec(customers=500, stores=3, days=60, seed=4, chunk=500)
    a, b = generate_chunk(FIT, spec, 0), generate_chunk(FIT, spec, 0)
    assert a.transactions.equals(b.transactions) and a.customers.equals(b.customers)
    tx = a.transactions
    assert tx.column_names == [
        "basket_id",
        "customer_id",
        "product_id",
        "timestamp",
        "quantity",
        "price",
        "discount",
        "store",
    ]
    customers = set(tx.column("customer_id").to_pylist())
    assert customers == set(range(500))  # every customer shops at least once
    assert set(tx.column("store").to_pylist()) <= {0, 1, 2}
    assert a.customers.num_rows == 500 and set(a.customers.column_names) == {
        "customer_id",
        "home_store",
        "age",
        "income",
    }
    other = generate_chunk(FIT, ChainSpec(customers=500, stores=3, days=60, seed=5, chunk=500), 0)
    assert not other.transactions.equals(tx)


def test_figures_of_a_hand_made_history() -> None:
    # Customer 0: baskets on day 0 (products 0, 1) and day 10 (products 1, 2); customer 1: day 3 (product 0).
    customer = np.array([0, 0, 1])
    t = np.array([0.0, 10 * DAY, 3 * DAY])  # 1970-01-01 was a Thursday
    line_basket = np.array([0, 0, 1, 1, 2])
    line_product = np.array([0, 1, 1, 2, 0])
    f = figures(customer, t, line_basket, line_product)
    assert (f.customers, f.baskets, f.basket_size_mean, f.baskets_per_customer_mean) == (2, 3, 5 / 3, 1.5)
    assert f.visit_interval_median_days == pytest.approx(10.0)
    assert f.repeat_rate == pytest.approx(0.5)  # of the second basket's 2 lines, product 1 was bought before
    assert f.weekday_share[3] == pytest.approx(1 / 3) and f.weekday_share[6] == pytest.approx(2 / 3)
    assert f.month_share[0] == pytest.approx(1.0)
