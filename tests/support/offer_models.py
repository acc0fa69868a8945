"""A tiny offer model for gateway tests: 400 random baskets of 2-4 of the given products."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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


def offer_gateway_config(root: Path, model_dir: Path, **extra: Any) -> dict[str, Any]:
    """A one-shelf gateway with offers over ``root`` (``data/``, ``catalogue.csv``, ``rules.json``),
    no presence source, no web; ``extra`` sections are added (an ``offers`` one merged in)."""
    offers = {
        "model_dir": str(model_dir),
        "catalogue": str(root / "catalogue.csv"),
        "rules": str(root / "rules.json"),
        **extra.pop("offers", {}),
    }
    return {
        "gateway": {"store_id": "s1", "gateway_id": "gw-1", "data_dir": str(root / "data")},
        "presence": {"source": "none"},
        "web": {"enabled": False},
        "displays": [{"display_id": "d1", "gondola": 1, "shelf": 1}],
        "offers": offers,
        **extra,
    }
