"""What a synthetic chain is fitted to: figures of real purchase data, measured one way for both.

``figures`` measures basket size, visit intervals, product popularity, repeat rate and seasonality
from plain arrays; ``fit_real`` measures them on the real data in ../shared/data and turns them into
``ChainFit``, the generator's parameters:

* Online Retail (complete baskets, a year of 4,372 customers): basket size (negative binomial on
  size - 1 by moments), visits per customer (Gamma-distributed rates of a Poisson process, by
  moments of baskets per customer-day), product popularity (a Zipf exponent from the log-log slope of
  basket counts by rank), repeat rate, month-of-year seasonality, prices (log-normal);
* Complete Journey (grocery, 2017): day-of-week seasonality, quantity per line (geometric), the
  share of discounted lines, and the demographics' shape (households/stores come from its files).

The generator's output is measured with the same ``figures`` and printed next to the real ones.
"""

from __future__ import annotations

import csv
import gzip
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from models.offers.transactions import online_retail_baskets

DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class Figures:
    """Distribution figures of a purchase history (real or synthetic), computed by ``figures``."""

    customers: int
    baskets: int
    basket_size_mean: float
    basket_size_median: float
    basket_size_p90: float
    baskets_per_customer_mean: float
    visit_interval_median_days: float
    visit_interval_mean_days: float
    zipf_exponent: float
    top1pct_products_share: float
    repeat_rate: float
    weekday_share: tuple[float, ...]  # Monday .. Sunday, share of baskets
    month_share: tuple[float, ...]  # January .. December, share of baskets

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def zipf_exponent(counts: np.ndarray) -> float:
    """Slope of log(count) against log(rank) over the products with at least 2 baskets."""
    ranked = np.sort(counts[counts >= 2])[::-1].astype(np.float64)
    if len(ranked) < 10:
        return 0.0
    ranks = np.arange(1, len(ranked) + 1, dtype=np.float64)
    slope = np.polyfit(np.log(ranks), np.log(ranked), 1)[0]
    return float(-slope)


def figures(
    customer: np.ndarray, t: np.ndarray, line_basket: np.ndarray, line_product: np.ndarray
) -> Figures:
    """Figures of baskets (``customer``, ``t`` in unix seconds, one entry per basket) and their lines
    (``line_basket`` indexes the baskets, ``line_product`` the products; one line per distinct product).
    """
    n = len(customer)
    sizes = np.bincount(line_basket, minlength=n)
    order = np.lexsort((t, customer))
    c_sorted, t_sorted = customer[order], t[order]
    same = c_sorted[1:] == c_sorted[:-1]
    gaps = (t_sorted[1:] - t_sorted[:-1])[same] / DAY
    gaps = gaps[gaps > 0.5]  # two invoices the same day are one visit
    _, product_idx = np.unique(line_product, return_inverse=True)
    counts = np.bincount(product_idx)
    top = np.sort(counts)[::-1][: max(1, len(counts) // 100)]
    # Repeat rate: share of lines (after the customer's first basket) whose product the customer bought before.
    rank_of_basket = np.empty(n, dtype=np.int64)
    rank_of_basket[order] = np.arange(n)
    line_order = np.lexsort((rank_of_basket[line_basket],))
    lc = customer[line_basket][line_order]
    lp = product_idx[line_order]
    lb = rank_of_basket[line_basket][line_order]
    key = lc.astype(np.int64) * (int(product_idx.max()) + 1 if len(product_idx) else 1) + lp
    _, first_line = np.unique(key, return_index=True)
    first_basket_of_key = np.zeros(len(key), dtype=bool)
    first_basket_of_key[first_line] = True
    first_basket_rank = np.full(int(customer.max()) + 1 if n else 0, np.iinfo(np.int64).max)
    np.minimum.at(first_basket_rank, c_sorted, np.arange(n))
    later = lb > first_basket_rank[lc]
    repeat = float((~first_basket_of_key[later]).mean()) if later.any() else 0.0
    stamps = t.astype("datetime64[s]")
    weekday = ((stamps.astype("datetime64[D]").astype(np.int64) + 3) % 7).astype(
        np.int64
    )  # 1970-01-01 was a Thursday
    month = (stamps.astype("datetime64[M]").astype(np.int64) % 12).astype(np.int64)
    return Figures(
        customers=len(np.unique(customer)),
        baskets=n,
        basket_size_mean=float(sizes.mean()),
        basket_size_median=float(np.median(sizes)),
        basket_size_p90=float(np.percentile(sizes, 90)),
        baskets_per_customer_mean=n / max(1, len(np.unique(customer))),
        visit_interval_median_days=float(np.median(gaps)) if len(gaps) else 0.0,
        visit_interval_mean_days=float(gaps.mean()) if len(gaps) else 0.0,
        zipf_exponent=zipf_exponent(counts),
        top1pct_products_share=float(top.sum() / max(1, counts.sum())),
        repeat_rate=repeat,
        weekday_share=tuple(float(x) for x in np.bincount(weekday, minlength=7) / max(1, n)),
        month_share=tuple(float(x) for x in np.bincount(month, minlength=12) / max(1, n)),
    )


@dataclass(frozen=True, slots=True)
class ChainFit:
    """The generator's parameters, each fitted to a real data set (see the module docstring)."""

    size_mean: float  # of basket size - 1 (negative binomial)
    size_dispersion: float  # negative binomial n (shape); variance = m + m^2 / n
    rate_shape: float  # Gamma shape of customers' visit rates (visits per day)
    rate_scale: float
    popularity: tuple[float, ...]  # share of lines of the product of each popularity rank (real curve)
    repeat_share: float  # share of a returning customer's lines drawn from their own favourites
    weekday_weights: tuple[float, ...]
    month_weights: tuple[float, ...]
    price_log_mean: float
    price_log_sd: float
    quantity_p: float  # geometric success probability of quantity per line
    discount_share: float  # share of lines bought on a discount
    demographics: tuple[tuple[str, ...], ...]  # Complete Journey demographics rows (the shape)
    demographic_columns: tuple[str, ...]


def _online_retail_arrays(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    baskets = [b for b in online_retail_baskets(path) if b.customer_id]
    ids = {c: i for i, c in enumerate(sorted({b.customer_id for b in baskets if b.customer_id}))}
    customer = np.array([ids[b.customer_id] for b in baskets if b.customer_id], dtype=np.int64)
    t = np.array([b.t for b in baskets], dtype=np.float64)
    products = {p: i for i, p in enumerate(sorted({p for b in baskets for p in b.items}))}
    line_basket = np.repeat(np.arange(len(baskets)), [len(b.items) for b in baskets])
    line_product = np.array([products[p] for b in baskets for p in b.items], dtype=np.int64)
    spend = np.array([b.spend / max(1, len(b.items)) for b in baskets], dtype=np.float64)
    return customer, t, line_basket, line_product, spend


def _complete_journey(path: Path) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Weekday of each basket, quantity per line, share of discounted lines, mean quantity."""
    weekdays, quantities, discounted = [], [], 0
    with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            stamp = datetime.fromisoformat(row["transaction_timestamp"]).replace(tzinfo=UTC)
            weekdays.append(stamp.weekday())
            quantities.append(min(20.0, max(1.0, float(row["quantity"]))))  # fuel litres etc. capped
            discounted += float(row["retail_disc"]) > 0 or float(row["coupon_disc"]) > 0
    q = np.array(quantities)
    return np.array(weekdays), q, discounted / max(1, len(q)), float(q.mean())


def fit_real(data: Path) -> tuple[ChainFit, Figures]:
    """Fit the generator to ../shared/data; return it with the real figures (Online Retail)."""
    customer, t, line_basket, line_product, spend = _online_retail_arrays(data / "online_retail.csv.gz")
    real = figures(customer, t, line_basket, line_product)
    sizes = np.bincount(line_basket).astype(np.float64) - 1
    m, v = sizes.mean(), sizes.var()
    dispersion = m * m / max(v - m, 1e-9)
    days = (t.max() - t.min()) / DAY
    # Visits ~ Poisson(rate * days), rate ~ Gamma: moments net of the Poisson noise (the generator's
    # calibration then corrects for customers being seen only with at least one basket).
    per_customer = np.bincount(customer).astype(np.float64)
    per_customer = per_customer[per_customer > 0]
    rm = per_customer.mean() / days
    shape = per_customer.mean() ** 2 / max(per_customer.var() - per_customer.mean(), 1e-9)
    weekdays, _quantity, discount_share, q_mean = _complete_journey(
        data / "completejourney_transactions_sample.csv.gz"
    )
    weekday_weights = np.bincount(weekdays, minlength=7) / len(weekdays)
    month_weights = np.array(real.month_share) * 12
    month_weights = np.where(month_weights > 0, month_weights, 1.0)
    prices = np.log(spend[spend > 0])
    with gzip.open(data / "completejourney_demographics.csv.gz", "rt", encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        demo = tuple(tuple(row[1:]) for row in reader)
    real = replace(real, weekday_share=tuple(float(x) for x in weekday_weights))  # grocery: Complete Journey
    fit = ChainFit(
        size_mean=float(m),
        size_dispersion=float(dispersion),
        rate_shape=float(shape),
        rate_scale=float(rm / shape),
        popularity=tuple(float(x) for x in np.sort(np.bincount(line_product))[::-1] / len(line_product)),
        repeat_share=real.repeat_rate,
        weekday_weights=tuple(float(x) for x in weekday_weights * 7),
        month_weights=tuple(float(x) for x in month_weights),
        price_log_mean=float(prices.mean()),
        price_log_sd=float(prices.std()),
        quantity_p=1.0 / q_mean,
        discount_share=float(discount_share),
        demographics=demo,
        demographic_columns=tuple(header[1:]),
    )
    return fit, real
