"""Shopper profiles: what the model knows about one shopper's past baskets (pure, no I/O).

The backend computes profiles centrally from purchase history (``OfferModel.profile``) and ships
them to the gateways as JSON (``Profile.to_dict``); the gateway never sees the raw history. A
profile may carry the customer's segment ids (``shelf-models segments``), which campaigns may
target; profiles exist only for enrolled customers with offers consent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MAX_PROFILE_ITEMS = 200
MAX_SEGMENTS = 16
SEGMENT_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"  # a segment id (profiles and campaign rules)
SEGMENT_ID = re.compile(SEGMENT_PATTERN)


class ProfileError(ValueError):
    """A shipped profile document is malformed; ``field`` names the offending part."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"profile {field}: {reason}")


@dataclass(frozen=True, slots=True)
class Profile:
    """Time-decayed repurchase frequency per product, strongest first, over ``n_baskets`` baskets.

    ``weights[i]`` is the decayed share of past baskets that held ``items[i]`` (0..1); ``segments``:
    the customer's segment ids (empty: unknown).
    """

    items: tuple[str, ...]
    weights: tuple[float, ...]
    n_baskets: int
    segments: frozenset[str] = frozenset()

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "items": list(self.items),
            "weights": list(self.weights),
            "n_baskets": self.n_baskets,
        }
        if self.segments:
            doc["segments"] = sorted(self.segments)
        return doc

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Profile:
        items, weights, n = data.get("items"), data.get("weights"), data.get("n_baskets")
        if not isinstance(items, list) or not all(isinstance(i, str) and i for i in items):
            raise ProfileError("items", "must be a list of non-empty product ids")
        if not isinstance(weights, list) or len(weights) != len(items):
            raise ProfileError("weights", "must be a list as long as items")
        if not all(isinstance(w, int | float) and 0.0 <= float(w) <= 1.0 for w in weights):
            raise ProfileError("weights", "every weight must be a number in [0, 1]")
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise ProfileError("n_baskets", "must be a non-negative integer")
        segments = data.get("segments", [])
        if not isinstance(segments, list) or len(segments) > MAX_SEGMENTS:
            raise ProfileError("segments", f"must be a list of at most {MAX_SEGMENTS} segment ids")
        bad = [s for s in segments if not isinstance(s, str) or not SEGMENT_ID.match(s)]
        if bad:
            raise ProfileError("segments", f"not segment ids (lower case, digits, '_.-'): {bad[:5]}")
        return cls(tuple(items), tuple(float(w) for w in weights), n, frozenset(segments))


def compute_profile(
    history: Sequence[Sequence[str]], decay: float, max_items: int = MAX_PROFILE_ITEMS
) -> Profile:
    """Profile from past baskets, oldest first: the basket ``a`` trips ago weighs ``decay**a``."""
    total = 0.0
    mass: dict[str, float] = {}
    n = 0
    for age, basket in enumerate(reversed(history)):
        if not basket:
            continue
        n += 1
        weight = decay**age
        total += weight
        for item in dict.fromkeys(basket):
            mass[item] = mass.get(item, 0.0) + weight
    if n == 0:
        return Profile((), (), 0)
    ranked = sorted(mass.items(), key=lambda kv: (-kv[1], kv[0]))[:max_items]
    return Profile(tuple(item for item, _ in ranked), tuple(min(1.0, w / total) for _, w in ranked), n)
