"""A synthetic chain's transactions: numpy, vectorised per chunk of customers, Parquet per store.

Each customer visits as a Poisson process whose rate is drawn from the fitted Gamma (at least once), thinned by the
fitted weekday and month weights; a visit goes to the customer's home store (9 in 10) or another;
its size is 1 + the fitted negative binomial; each line is, with the fitted repeat share, one of the
customer's 24 favourite products, else a product drawn from the fitted Zipf popularity. Quantities
are geometric, prices log-normal per product, discounts Bernoulli with a per-customer sensitivity
(Beta around the fitted share). Chunk ``i`` uses the random stream ``(seed, i)``: the output depends
on the arguments only, not on the chunk size's effect on timing or on the machine.

Output (``out``): ``transactions/store=S/part-*.parquet`` with TX.csv's columns (``basket_id``,
``customer_id``, ``product_id`` as int64; ``timestamp`` UTC; ``quantity``, ``price``) plus
``discount`` (share of the shelf price taken off), and ``customers/part-*.parquet`` (customer_id,
home_store, and Complete Journey's demographic columns for the third of customers who gave them).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from models.jobs.synth_fit import DAY, ChainFit, Figures, figures

FAVOURITES = 24
HOME_STORE_SHARE = 0.9
DEMOGRAPHICS_SHARE = 801 / 2377  # households of Complete Journey with a demographics row
MAX_BASKET = 200


@dataclass(frozen=True, slots=True)
class ChainSpec:
    customers: int
    stores: int
    days: int
    seed: int
    start: datetime = datetime(2025, 1, 1, tzinfo=UTC)
    chunk: int = 25_000


@dataclass(frozen=True, slots=True)
class Chunk:
    transactions: pa.Table
    customers: pa.Table
    figures_input: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _day_weights(fit: ChainFit, spec: ChainSpec) -> np.ndarray:
    days = np.datetime64(spec.start.date()) + np.arange(spec.days)
    weekday = (days.astype(np.int64) + 3) % 7
    month = days.astype("datetime64[M]").astype(np.int64) % 12
    w = np.asarray(fit.weekday_weights)[weekday] * np.asarray(fit.month_weights)[month]
    return np.asarray(w / w.sum(), dtype=np.float64)


def _popularity(fit: ChainFit) -> np.ndarray:
    p = np.asarray(fit.popularity, dtype=np.float64)
    return np.asarray(p / p.sum(), dtype=np.float64)


def generate_chunk(fit: ChainFit, spec: ChainSpec, index: int) -> Chunk:
    """Customers ``index * chunk`` .. of the chain, with all their baskets over ``days``."""
    rng = np.random.default_rng([spec.seed, index])
    first = index * spec.chunk
    n = min(spec.chunk, spec.customers - first)
    customer_ids = np.arange(first, first + n, dtype=np.int64)
    pop, day_w = _popularity(fit), _day_weights(fit, spec)
    rates = np.minimum(rng.gamma(fit.rate_shape, fit.rate_scale, n), 1.0)
    visits = _positive_poisson(rng, rates * spec.days)
    v_customer = np.repeat(np.arange(n), visits)
    n_visits = len(v_customer)
    day = rng.choice(spec.days, size=n_visits, p=day_w)
    seconds = rng.integers(8 * 3600, 21 * 3600, n_visits)
    t = spec.start.timestamp() + day * DAY + seconds
    home = rng.integers(0, spec.stores, n)
    away = rng.random(n_visits) > HOME_STORE_SHARE
    store = np.where(away, rng.integers(0, spec.stores, n_visits), home[v_customer])
    p_nb = fit.size_dispersion / (fit.size_dispersion + fit.size_mean)
    sizes = np.minimum(1 + rng.negative_binomial(fit.size_dispersion, p_nb, n_visits), MAX_BASKET)
    line_visit = np.repeat(np.arange(n_visits), sizes)
    line_customer = v_customer[line_visit]
    favourites = rng.choice(len(fit.popularity), size=(n, FAVOURITES), p=pop)
    from_favourites = rng.random(len(line_visit)) < fit.repeat_share
    product = rng.choice(len(fit.popularity), size=len(line_visit), p=pop)
    fav_pick = favourites[line_customer, rng.integers(0, FAVOURITES, len(line_visit))]
    product = np.where(from_favourites, fav_pick, product)
    # A product drawn twice for one basket is one line.
    key = line_visit.astype(np.int64) * len(fit.popularity) + product
    key = np.unique(key)
    line_visit, product = key // len(fit.popularity), key % len(fit.popularity)
    quantity = rng.geometric(fit.quantity_p, len(key)).astype(np.float64)
    prices = _product_prices(fit, spec.seed)
    a = 2.0
    sensitivity = rng.beta(a, a * (1 - fit.discount_share) / fit.discount_share, n)
    discounted = rng.random(len(key)) < sensitivity[v_customer[line_visit]]
    discount = np.where(discounted, 0.2, 0.0)
    basket_ids = customer_ids[v_customer] * 10_000 + _visit_number(v_customer)
    transactions = pa.table(
        {
            "basket_id": basket_ids[line_visit],
            "customer_id": customer_ids[v_customer[line_visit]],
            "product_id": product.astype(np.int64),
            "timestamp": pa.array((t[line_visit] * 1000).astype(np.int64), pa.timestamp("ms", tz="UTC")),
            "quantity": quantity,
            "price": np.round(prices[product] * (1 - discount), 2),
            "discount": discount,
            "store": store[line_visit].astype(np.int32),
        }
    )
    customers = _customers(fit, rng, customer_ids, home)
    return Chunk(transactions, customers, (customer_ids[v_customer], t, line_visit, product))


def _positive_poisson(rng: np.random.Generator, mean: np.ndarray) -> np.ndarray:
    """Poisson counts conditioned on >= 1 (every customer of the chain shops at least once; the real
    counts they are fitted to are seen only for such customers): zeros redrawn, then set to 1."""
    visits = rng.poisson(mean)
    for _ in range(8):
        zero = visits == 0
        if not zero.any():
            break
        visits[zero] = rng.poisson(mean[zero])
    return np.asarray(np.maximum(visits, 1))


def _visit_number(v_customer: np.ndarray) -> np.ndarray:
    """0, 1, 2 ... within each customer's visits (visits are grouped by customer)."""
    starts = np.searchsorted(v_customer, v_customer, side="left")
    return np.asarray(np.arange(len(v_customer)) - starts, dtype=np.int64)


def _product_prices(fit: ChainFit, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, 1 << 30])
    return np.asarray(
        np.round(np.exp(rng.normal(fit.price_log_mean, fit.price_log_sd, len(fit.popularity))), 2) + 0.05
    )


def _customers(fit: ChainFit, rng: np.random.Generator, ids: np.ndarray, home: np.ndarray) -> pa.Table:
    has = rng.random(len(ids)) < DEMOGRAPHICS_SHARE
    rows = rng.integers(0, len(fit.demographics), len(ids))
    columns: dict[str, object] = {"customer_id": ids, "home_store": home.astype(np.int32)}
    for j, name in enumerate(fit.demographic_columns):
        values = np.array([r[j] for r in fit.demographics], dtype=object)[rows]
        columns[name] = pa.array([v if h else None for v, h in zip(values, has, strict=True)], pa.string())
    return pa.table(columns)


def calibrated(fit: ChainFit, real: Figures, seed: int, rounds: int = 4) -> ChainFit:
    """Correct the basket size mean, the visit rate and the repeat share for what drawing does to
    them (a product drawn twice is one line; every customer shops at least once; popular products
    repeat by chance): a few small runs, each moving a parameter by the gap between the measured
    and the real figure."""
    spec = ChainSpec(customers=3000, stores=1, days=365, seed=seed + 7919, chunk=3000)
    for _ in range(rounds):
        got = figures(*generate_chunk(fit, spec, 0).figures_input)
        size = fit.size_mean * (real.basket_size_mean - 1) / max(got.basket_size_mean - 1, 1e-9)
        share = min(0.95, max(0.0, fit.repeat_share + (real.repeat_rate - got.repeat_rate)))
        scale = (
            fit.rate_scale
            * (real.baskets_per_customer_mean - 1)
            / max(got.baskets_per_customer_mean - 1, 1e-9)
        )
        fit = replace(fit, size_mean=size, repeat_share=share, rate_scale=scale)
    return fit


def chunks(fit: ChainFit, spec: ChainSpec) -> Iterator[Chunk]:
    for index in range(-(-spec.customers // spec.chunk)):
        yield generate_chunk(fit, spec, index)


def write_chain(fit: ChainFit, spec: ChainSpec, out: Path) -> tuple[int, Figures]:
    """Write the chain under ``out``; return the number of lines and the first chunk's figures."""
    lines = 0
    measured: Figures | None = None
    for index, chunk in enumerate(chunks(fit, spec)):
        pq.write_to_dataset(
            chunk.transactions,
            str(out / "transactions"),
            partition_cols=["store"],
            basename_template=f"part-{index:05d}-{{i}}.parquet",
            existing_data_behavior="overwrite_or_ignore",
        )
        (out / "customers").mkdir(parents=True, exist_ok=True)
        pq.write_table(chunk.customers, str(out / "customers" / f"part-{index:05d}.parquet"))
        lines += chunk.transactions.num_rows
        if measured is None:
            measured = figures(*chunk.figures_input)
    assert measured is not None
    return lines, measured
