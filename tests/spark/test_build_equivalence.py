"""The Spark engine computes the same statistics, item table and rankings as the local engine."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import SparkSession

from edge.offers.model import OfferModel
from models.jobs.build_job import build_spark
from models.jobs.statistics import load_statistics, statistics_frames, write_statistics
from models.jobs.transactions import read_lines
from models.offers.build import build
from models.offers.method import Params, Statistics, fit
from models.offers.transactions import TX_HEADER, TransactionsError, read_transactions


def assert_same_statistics(local: Statistics, spark: Statistics) -> None:
    assert spark.items == local.items
    assert spark.n_baskets == local.n_baskets
    np.testing.assert_array_equal(spark.item_baskets, local.item_baskets)
    np.testing.assert_array_equal(spark.popularity, local.popularity)
    np.testing.assert_array_equal(spark.nbr_idx, local.nbr_idx)
    np.testing.assert_array_equal(spark.nbr_count, local.nbr_count)


def spark_statistics(spark: SparkSession, path: Path, params: Params, work: Path) -> Statistics:
    write_statistics(statistics_frames(read_lines(spark, path), params), work)
    return load_statistics(work, params.neighbours)


def test_statistics_equal_method_fit_with_capped_baskets_and_ties(
    spark: SparkSession, retail_slice: Path, tmp_path: Path
) -> None:
    # A small cap and few neighbours exercise the spread of large baskets and the tie order.
    params = Params(max_pair_items=7, neighbours=5, min_item_baskets=3)
    local = fit(read_transactions(retail_slice), params)
    assert local.size > 300 and (local.nbr_count[:, -1] > 0).sum() > 200  # many rows cut at k
    assert_same_statistics(local, spark_statistics(spark, retail_slice, params, tmp_path / "s"))


def test_build_writes_the_same_model_and_rankings(
    spark: SparkSession, retail_slice: Path, tmp_path: Path
) -> None:
    build(retail_slice, tmp_path / "local", tune=False)
    build_spark(retail_slice, tmp_path / "spark")
    local = json.loads((tmp_path / "local" / "manifest.json").read_text())
    remote = json.loads((tmp_path / "spark" / "manifest.json").read_text())
    assert remote["items"] == local["items"]
    assert remote["params"] == local["params"]
    assert remote["training"] == local["training"]
    assert remote["profiles"] == local["profiles"]  # the chain-profiles job reads this block
    a, b = OfferModel.load(tmp_path / "local"), OfferModel.load(tmp_path / "spark")
    baskets = read_transactions(retail_slice)
    for basket in baskets[::15]:
        history = [x.items for x in baskets if x.customer_id == basket.customer_id and x.t < basket.t]
        profile = a.profile(history) if history else None
        for part in ([], list(basket.items[:3])):
            assert b.rank(part, profile, 10) == a.rank(part, profile, 10)


def test_partitioned_parquet_folder_gives_the_same_statistics(
    spark: SparkSession, retail_slice: Path, tmp_path: Path
) -> None:
    rows = list(zip(*[line.split(",") for line in retail_slice.read_text().splitlines()[1:]], strict=True))
    table = pa.table({name: pa.array(col) for name, col in zip(TX_HEADER, rows, strict=True)})
    table = table.append_column("store", pa.array(["1"] * table.num_rows))
    folder = tmp_path / "export"
    pq.write_to_dataset(table, str(folder), partition_cols=["store"])
    params = Params(neighbours=10)
    local = fit(read_transactions(retail_slice), params)
    assert_same_statistics(local, spark_statistics(spark, folder, params, tmp_path / "s"))


def test_a_bad_line_is_named(spark: SparkSession, tmp_path: Path) -> None:
    tx = tmp_path / "tx.csv"
    tx.write_text(
        ",".join(TX_HEADER) + "\nb1,c1,p1,2011-01-01T10:00:00Z,1,2.0\nb2,c1,p2,yesterday,1,2.0\n",
        encoding="utf-8",
    )
    with pytest.raises(TransactionsError, match=r"basket 'b2', product 'p2'.*'yesterday'"):
        read_lines(spark, tx)
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(TransactionsError, match="header must be"):
        read_lines(spark, tmp_path / "bad.csv")
