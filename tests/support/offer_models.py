"""A tiny offer model for gateway tests: 400 random baskets of 2-4 of the given products."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

from models.offers.build import build_from_baskets
from models.offers.transactions import Basket


def build_tiny_model(out: Path, products: Sequence[str], seed: int) -> Path:
    """Builds (untuned, a second or two) into ``out`` and returns it."""
    rng = random.Random(seed)
    baskets = [
        Basket(f"b{i}", f"c{i % 40}", 1.0e9 + i, tuple(rng.sample(list(products), rng.randint(2, 4))), 0.0)
        for i in range(400)
    ]
    build_from_baskets(baskets, out, tune=False)
    return out
