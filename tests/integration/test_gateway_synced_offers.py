"""Catalogue, rules and profiles the backend sync pulled feed the offer stage when no local file is set."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from edge.app import Gateway
from edge.config import parse_config
from edge.sync.pull import synced_path
from edge.updates import apply_update


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from models.offers.build import build_from_baskets
    from models.offers.transactions import Basket

    baskets = [
        Basket(f"b{i}", f"c{i % 5}", 1_700_000_000.0 + i, items, 10.0)
        for i, items in enumerate([("milk", "bread"), ("milk", "eggs"), ("bread", "butter")] * 10)
    ]
    out = tmp_path_factory.mktemp("model")
    build_from_baskets(baskets, out, tune=False)
    return out


def config(tmp_path: Path, model_dir: Path) -> dict[str, object]:
    return {
        "gateway": {"store_id": "s1", "gateway_id": "gw-1", "data_dir": str(tmp_path / "data")},
        "presence": {"source": "none"},
        "web": {"enabled": False},
        "offers": {"model_dir": str(model_dir)},  # no catalogue, rules or profiles configured
    }


def pulled(tmp_path: Path, resource: str, doc: object) -> Path:
    """Write a document where the puller puts it (as SyncPuller.pull does)."""
    path = synced_path(tmp_path / "data", resource)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


CATALOGUE = {
    "rows": [
        {"product_id": p, "name": p, "price": 2, "margin": 0.3, "category": "c", "new": 0, "stock": "1/1=9"}
        for p in ("milk", "bread", "eggs")
    ]
}
PROFILES = {"sh-1": {"items": ["eggs"], "weights": [0.5], "n_baskets": 4}}


def test_first_catalogue_turns_offers_on_and_survives_a_restart(tmp_path: Path, model_dir: Path) -> None:
    gw = Gateway(parse_config(config(tmp_path, model_dir)))
    assert gw.offers is None  # nothing to offer from yet
    apply_update(gw, "profiles", pulled(tmp_path, "profiles", PROFILES))  # kept on disk until then
    assert gw.offers is None
    apply_update(gw, "catalogue", pulled(tmp_path, "catalogue", CATALOGUE))
    assert gw.offers is not None
    assert len(gw.offers.engine.catalogue) == 3
    assert set(gw.offers.profiles) == {"sh-1"}

    rules = {"version": "r-7", "campaigns": []}
    apply_update(gw, "campaigns", pulled(tmp_path, "campaigns", rules))
    assert gw.offers.engine.rules.version == "r-7"
    apply_update(gw, "profiles", pulled(tmp_path, "profiles", {}))
    assert gw.offers.profiles == {}
    gw.db.conn.close()

    again = Gateway(parse_config(config(tmp_path, model_dir)))  # restart: the synced copies load
    assert again.offers is not None
    assert len(again.offers.engine.catalogue) == 3
    assert again.offers.engine.rules.version == "r-7"


def test_bad_profiles_are_refused_and_the_old_ones_kept(
    tmp_path: Path, model_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pulled(tmp_path, "catalogue", CATALOGUE)
    pulled(tmp_path, "profiles", PROFILES)
    gw = Gateway(parse_config(config(tmp_path, model_dir)))
    assert gw.offers is not None and set(gw.offers.profiles) == {"sh-1"}
    bad = {"sh-2": {"items": ["x"], "weights": [7], "n_baskets": 1}}
    with caplog.at_level(logging.ERROR, logger="edge.updates"):
        apply_update(gw, "profiles", pulled(tmp_path, "profiles", bad))
    assert set(gw.offers.profiles) == {"sh-1"}
    assert "refused profiles update" in caplog.text and "sh-2" in caplog.text
