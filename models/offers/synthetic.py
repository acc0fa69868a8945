"""Synthetic grocery chains with a chosen shape, to check the offer model beyond one data set.

Each customer has *staples* (products they buy again and again, each with its own rate) and
*tastes* (a preference over shopping missions: fixed, disjoint groups of products bought together, like
"breakfast" or "baking"). A basket draws each staple with its rate times ``repeat_scale``, then
``missions`` missions from the customer's tastes with a few of each mission's products, then
``noise`` products by global popularity. Product popularity is Zipf-like (exponent
``zipf``). Visits are spread over ``days`` at random, so the time-based split of ``evaluate``
applies as on real data.

Two documented shapes (``SHAPES``):

* ``repeat`` — grocery where repeat purchases dominate: many staples bought often, one small
  mission per basket (most of a basket is what the customer bought before);
* ``explore`` — baskets mostly new to the customer: few, rarely repeated staples, two or three
  missions a basket drawn from broad tastes (co-purchase and similar customers matter more than
  the customer's own history).

Deterministic for a seed; pure numpy, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from models.offers.transactions import Basket

DAY = 86_400.0
START = 1_600_000_000.0  # 2020-09-13, an arbitrary fixed origin


@dataclass(frozen=True, slots=True)
class SynthShape:
    """Parameters of a synthetic chain (see the module docstring)."""

    customers: int = 1500
    products: int = 3000
    visits: float = 14.0  # mean baskets per customer (1 + Poisson)
    days: float = 365.0
    zipf: float = 1.0  # product popularity ~ 1 / rank**zipf
    staples: float = 12.0  # mean staples per customer (1 + Poisson)
    staple_rate: tuple[float, float] = (2.0, 3.0)  # Beta(a, b) of a staple's per-basket rate
    repeat_scale: float = 1.0
    mission_count: int = 80  # missions in the chain
    mission_size: int = 30  # products per mission
    tastes: float = 0.3  # Dirichlet concentration of a customer's missions (small = narrow)
    missions: float = 1.0  # mean missions per basket (Poisson, at least one)
    mission_items: float = 3.0  # mean products taken from a mission (1 + Poisson)
    noise: float = 1.0  # mean products by global popularity (Poisson)
    guest_share: float = 0.1  # baskets without a customer id
    seed: int = 16


SHAPES: dict[str, SynthShape] = {
    "repeat": SynthShape(staple_rate=(3.0, 3.0), mission_items=2.0, noise=0.5),
    "explore": SynthShape(
        staples=3.0,
        staple_rate=(1.0, 6.0),
        tastes=1.0,
        missions=2.5,
        mission_items=2.0,
        noise=2.0,
    ),
}


def synthetic_baskets(shape: SynthShape | str = "repeat", **overrides: float | int) -> list[Basket]:
    """Baskets of a synthetic chain, oldest first (``overrides`` replace fields of the shape)."""
    p = SHAPES[shape] if isinstance(shape, str) else shape
    if overrides:
        p = replace(p, **overrides)  # type: ignore[arg-type]
    rng = np.random.default_rng(p.seed)
    popularity = 1.0 / np.arange(1, p.products + 1) ** p.zipf
    cdf = np.cumsum(popularity) / popularity.sum()
    within = 1.0 / np.arange(1, p.mission_size + 1) ** 0.7  # a mission's core products first
    within_cdf = np.cumsum(within) / within.sum()

    def draw(weights_cdf: np.ndarray, n: int) -> np.ndarray:
        """``n`` draws with replacement (a searchsorted: ``rng.choice`` with ``p`` is slow)."""
        return np.minimum(np.searchsorted(weights_cdf, rng.random(n)), len(weights_cdf) - 1)

    ids = [f"P{i:05d}" for i in range(p.products)]
    order = rng.permutation(p.products)  # missions: disjoint groups of products, any popularity
    missions = [
        np.take(order, np.arange(m * p.mission_size, (m + 1) * p.mission_size), mode="wrap")
        for m in range(p.mission_count)
    ]
    baskets: list[Basket] = []
    for c in range(p.customers):
        staples = np.unique(draw(cdf, 1 + int(rng.poisson(p.staples))))
        rates = np.minimum(1.0, rng.beta(*p.staple_rate, size=len(staples)) * p.repeat_scale)
        taste_cdf = np.cumsum(rng.dirichlet(np.full(p.mission_count, p.tastes)))
        n_visits = 1 + int(rng.poisson(p.visits))
        times = np.sort(rng.uniform(0.0, p.days * DAY, size=n_visits))
        customer = None if rng.random() < p.guest_share else f"C{c:05d}"
        for v, t in enumerate(times):
            items: dict[int, None] = dict.fromkeys(int(i) for i in staples[rng.random(len(staples)) < rates])
            for m in draw(taste_cdf, max(1, int(rng.poisson(p.missions)))):
                mission = missions[int(m)]
                picks = draw(within_cdf, 1 + int(rng.poisson(p.mission_items)))
                items.update(dict.fromkeys(int(i) for i in mission[picks]))
            items.update(dict.fromkeys(int(i) for i in draw(cdf, int(rng.poisson(p.noise)))))
            basket_id = f"S{c:05d}-{v:03d}"
            baskets.append(Basket(basket_id, customer, START + float(t), tuple(ids[i] for i in items), 0.0))
    baskets.sort(key=lambda b: (b.t, b.basket_id))
    return baskets
