"""A ranked product from the offer model, as the decision core receives it (pure data)."""

from __future__ import annotations

from typing import NamedTuple


class Candidate(NamedTuple):
    """One ranked product: ``score`` estimates P(it joins the basket); ``together`` is the largest
    share of past baskets holding one of the current basket's products that also held it (0 if
    not known with enough support). A named tuple: built by the thousand per second."""

    product_id: str
    score: float
    together: float = 0.0
