"""Shopper profiles computed centrally (what the backend ships to gateways as profiles JSON)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from edge.offers.model import OfferModel
from edge.offers.profile import Profile
from models.offers.build import profile_params
from models.offers.evaluation import histories
from models.offers.method import Profiler
from models.offers.neighbours import TifuKnn
from models.offers.transactions import Basket


def profiler_for(model: OfferModel, baskets: Sequence[Basket]) -> Profiler:
    """How profiles are built for ``model`` over these customers' baskets: its neighbour constants
    (every customer is a potential neighbour), or the decayed repurchase share for older models."""
    params = profile_params(model.manifest)
    if params is None:
        return model.profile
    return TifuKnn(baskets, params).profile


def build_profiles(
    model: OfferModel,
    baskets: Sequence[Basket],
    shoppers: Mapping[str, str] | None = None,
    limit: int | None = None,
) -> dict[str, Profile]:
    """Profiles keyed by shopper id from customers' baskets (oldest first).

    ``shoppers`` maps a pseudonymous shopper id to a customer id (default: the customer id itself,
    for the customers with the most baskets first, at most ``limit``).
    """
    hist = histories(baskets)
    if shoppers is None:
        ranked = sorted(hist, key=lambda c: (-len(hist[c]), c))
        shoppers = {c: c for c in ranked[:limit]}
    profiler = profiler_for(model, baskets)
    return {shopper: profiler(hist.get(customer, [])) for shopper, customer in shoppers.items()}


def write_profiles(profiles: Mapping[str, Profile], path: str | Path) -> None:
    data = {shopper: profile.to_dict() for shopper, profile in profiles.items()}
    Path(path).write_text(json.dumps(data, separators=(",", ":")) + "\n", encoding="utf-8")
