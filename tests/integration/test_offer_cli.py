"""``shelf-models`` offer commands end to end on a slice of the real Online Retail file."""

from __future__ import annotations

import csv
import gzip
import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest

from edge.offers import OfferModel
from edge.offers.catalogue import Catalogue

ONLINE_RETAIL = Path(__file__).resolve().parents[3] / "shared" / "data" / "online_retail.csv.gz"

pytestmark = pytest.mark.integration


def shelf_models(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "models.cli", *args], capture_output=True, text=True, timeout=240
    )


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not ONLINE_RETAIL.exists():
        pytest.skip("../shared/data/online_retail.csv.gz not present")
    path = tmp_path_factory.mktemp("src") / "online_retail_slice.csv.gz"
    with gzip.open(ONLINE_RETAIL, "rt") as src, gzip.open(path, "wt") as dst:
        dst.writelines(itertools.islice(src, 40001))
    return path


def test_convert_build_load_evaluate(source: Path, tmp_path: Path) -> None:
    tx = tmp_path / "tx.csv"
    done = shelf_models("convert-online-retail", "--source", str(source), "--out", str(tx))
    assert done.returncode == 0, done.stdout + done.stderr
    with tx.open() as fh:
        rows = list(csv.DictReader(fh))
    assert rows and not any(r["basket_id"].startswith("C") for r in rows)
    assert all(float(r["quantity"]) > 0 and float(r["price"]) > 0 for r in rows)

    out = tmp_path / "model"
    done = shelf_models("build", "--transactions", str(tx), "--out", str(out), "--quiet")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "offer model" in done.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["tuning"]["tuned"] is True
    model = OfferModel.load(out)
    assert len(model.rank(basket=[rows[0]["product_id"]], profile=None, k=10)) == 10

    profiles = tmp_path / "profiles.json"
    done = shelf_models(
        "profiles", "--model", str(out), "--transactions", str(tx), "--limit", "5", "--out", str(profiles)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    from edge.offers.sources import load_profiles

    loaded = load_profiles(profiles)
    assert len(loaded) == 5 and all(p.n_baskets > 0 for p in loaded.values())
    some = next(iter(loaded.values()))
    assert model.rank(basket=[], profile=some, k=3)[0] in some.items

    report = tmp_path / "eval.json"
    done = shelf_models(
        "evaluate", "--transactions", str(tx), "--no-tune", "--max-queries", "150", "--json", str(report)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    figures = json.loads(report.read_text())
    for task in ("basket completion", "next basket"):
        by_ranker = figures["results"][task]
        assert set(by_ranker) == {
            "model",
            "popularity",
            "personal top frequency",
            "co-occurrence",
            "TIFU-KNN",
            "repeat-explore",
        }
        assert all(0.0 <= s["recall@10"] <= 1.0 and s["queries"] > 0 for s in by_ranker.values())


def test_bad_transactions_are_reported(tmp_path: Path) -> None:
    tx = tmp_path / "tx.csv"
    tx.write_text("basket_id,customer_id,product_id,timestamp,quantity,price\nb1,,p1,yesterday,1,1.0\n")
    done = shelf_models("build", "--transactions", str(tx), "--out", str(tmp_path / "m"), "--quiet")
    assert done.returncode == 1 and "line 2" in done.stdout
    assert not (tmp_path / "m" / "manifest.json").exists()


def test_catalogue_command(source: Path, tmp_path: Path) -> None:
    planogram = tmp_path / "planogram.csv"
    planogram.write_text(
        "product_id,name,gondola,shelf,plate,unit_weight_g,price\n85123A,Heart,1,0,0,300,2.55\n71053,Lantern,1,1,2,500,3.39\n"
    )
    out = tmp_path / "catalogue.csv"
    done = shelf_models(
        "catalogue", "--source", str(source), "--planogram", str(planogram), "--out", str(out)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    catalogue = Catalogue.load(out)
    assert catalogue.stocked() == frozenset({"85123A", "71053"})
    product = catalogue.get("85123A")
    assert product is not None and product.price > 0 and 0.2 <= product.margin <= 0.5


def test_demo_build_straight_from_online_retail(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "demo"
    done = shelf_models(
        "build",
        "--online-retail",
        str(source),
        "--max-baskets",
        "300",
        "--no-tune",
        "--quiet",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["training"]["baskets"] == 300 and manifest["tuning"] == {"tuned": False}
    OfferModel.load(out)
