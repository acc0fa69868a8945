"""chain-profiles computes the model's TIFU-KNN profiles with the local profiles job's own code."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import SparkSession

from edge.offers.model import MANIFEST_FILE, OfferModel
from models.jobs.neighbour_profiles import home_pools, store_baskets
from models.jobs.profiles_job import profiles_per_store
from models.jobs.transactions import read_lines
from models.offers.build import build
from models.offers.profiles import build_profiles
from models.offers.rerank import FEATURES, Reranker
from models.offers.transactions import TX_HEADER, read_transactions


@pytest.fixture(scope="module", params=["prediction", "re-ranked"])
def model(
    request: pytest.FixtureRequest, retail_slice: Path, tmp_path_factory: pytest.TempPathFactory
) -> OfferModel:
    out = tmp_path_factory.mktemp("model")
    build(retail_slice, out, tune=False)
    if request.param == "re-ranked":  # a re-ranker leaning on the trend and the neighbours
        manifest = json.loads((out / MANIFEST_FILE).read_text())
        coef = {"log_prediction": 1.0, "trend": 2.0, "log_neighbours": 0.5, "in_last_basket": -0.5}
        zero, one = tuple(0.0 for _ in FEATURES), tuple(1.0 for _ in FEATURES)
        reranker = Reranker(zero, one, tuple(coef.get(f, 0.0) for f in FEATURES), -1.0)
        manifest["profiles"]["reranker"] = reranker.as_dict()
        (out / MANIFEST_FILE).write_text(json.dumps(manifest))
    return OfferModel.load(out)


def as_dicts(rows: list) -> dict[tuple[str, str], tuple]:  # type: ignore[type-arg]
    return {
        (r["store"], r["shopper"]): (tuple(r["items"]), tuple(r["weights"]), r["n_baskets"]) for r in rows
    }


def test_one_pool_equals_the_local_profiles_job(
    spark: SparkSession, retail_slice: Path, model: OfferModel, tmp_path: Path
) -> None:
    # Every line in one store: one pool, so the neighbours are searched among all customers as the
    # local job does (on the customers' baskets: guest baskets belong to no pool).
    rows = list(zip(*[line.split(",") for line in retail_slice.read_text().splitlines()[1:]], strict=True))
    table = pa.table({name: pa.array(col) for name, col in zip(TX_HEADER, rows, strict=True)})
    pq.write_table(table.append_column("store", pa.array(["7"] * table.num_rows)), tmp_path / "tx.parquet")
    manifest = json.loads((model.directory / MANIFEST_FILE).read_text())
    got = as_dicts(profiles_per_store(read_lines(spark, tmp_path / "tx.parquet"), manifest, None).collect())
    local = build_profiles(model, [b for b in read_transactions(retail_slice) if b.customer_id])
    assert len(local) > 100
    assert got == {("7", c): (p.items, p.weights, p.n_baskets) for c, p in local.items()}


def test_pools_by_home_store_equal_the_local_job_on_each_pool(
    spark: SparkSession, retail_slice: Path, model: OfferModel, tmp_path: Path
) -> None:
    header, *lines = retail_slice.read_text().splitlines()
    # Store by basket: customers shop in several stores; pools of at most 40 customers.
    tx = tmp_path / "tx.csv"
    tx.write_text("\n".join([header, *lines]) + "\n")
    stores = {b.basket_id: str(sum(map(ord, b.basket_id)) % 3) for b in read_transactions(tx)}
    rows = list(zip(*[line.split(",") for line in lines], strict=True))
    table = pa.table({name: pa.array(col) for name, col in zip(TX_HEADER, rows, strict=True)})
    table = table.append_column("store", pa.array([stores.get(b, "0") for b in rows[0]]))
    pq.write_table(table, tmp_path / "tx.parquet")
    spark_lines = read_lines(spark, tmp_path / "tx.parquet")
    manifest = json.loads((model.directory / MANIFEST_FILE).read_text())
    got = as_dicts(profiles_per_store(spark_lines, manifest, None, pool_size=40).collect())

    pool_of = {r["customer_id"]: r["pool"] for r in home_pools(store_baskets(spark_lines), 40).collect()}
    sizes: dict[str, int] = defaultdict(int)
    for pool in pool_of.values():
        sizes[pool] += 1
    assert len(sizes) > 6 and max(sizes.values()) <= 60  # several pools, none far above the size
    baskets = read_transactions(tx)
    expected = {}
    for pool in sizes:
        members = [b for b in baskets if b.customer_id and pool_of[b.customer_id] == pool]
        for customer, profile in build_profiles(model, members).items():
            for store in {stores[b.basket_id] for b in members if b.customer_id == customer}:
                expected[(store, customer)] = (profile.items, profile.weights, profile.n_baskets)
    assert got == expected
