"""The offer model's statistics on Spark: the same ``Statistics`` as ``models.offers.method.fit``.

Each step is a DataFrame -> DataFrame transformation mirroring one part of ``method.fit``
(tests/spark/test_build_equivalence.py proves the results equal on Online Retail):

* ``basket_items``: a product twice in a basket counts once, at its first line (``_encode``'s
  first-seen order);
* ``vocabulary``: products in at least ``min_item_baskets`` baskets, indexed by basket count
  descending, then product id (``method.vocabulary``);
* ``encoded``: a basket's products in the vocabulary; baskets over ``max_pair_items`` keep every
  ``ceil(len / cap)``-th product, at most ``cap`` (``method._encode``);
* ``neighbours``: for each product the ``neighbours`` co-purchased products with the most shared
  baskets, ties to the lower index (``method.cooccurrence``).

The results are small (products x neighbours): the job writes them as Parquet and
``load_statistics`` reads them back with pyarrow, so nothing passes through ``collect()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from models.offers.method import Params, Statistics

ITEMS_DIR = "items"
NEIGHBOURS_DIR = "neighbours"
BASKETS_FILE = "n_baskets.txt"


def basket_items(lines: DataFrame) -> DataFrame:
    """Typed lines -> one row per (basket, product) with ``pos_line``, its first line."""
    return lines.groupBy("basket_id", "product_id").agg(F.min("line").alias("pos_line"))


def vocabulary(min_item_baskets: int):  # type: ignore[no-untyped-def]
    """basket_items -> (idx, product_id, baskets): the model's item table."""

    def transform(items: DataFrame) -> DataFrame:
        counts = items.groupBy("product_id").agg(F.count("*").alias("baskets"))
        kept = counts.filter(F.col("baskets") >= min_item_baskets)
        # The item table is small (products, not lines): one ordered window over it is fine.
        order = Window.orderBy(F.col("baskets").desc(), F.col("product_id"))
        return kept.select((F.row_number().over(order) - 1).alias("idx"), "product_id", "baskets")

    return transform


def encoded(vocab: DataFrame, cap: int):  # type: ignore[no-untyped-def]
    """basket_items -> (basket_id, idx): products in the vocabulary, large baskets spread to ``cap``."""

    def transform(items: DataFrame) -> DataFrame:
        known = items.join(vocab.select("product_id", "idx"), on="product_id", how="inner")
        in_basket = Window.partitionBy("basket_id")
        ordered = in_basket.orderBy("pos_line")
        with_pos = known.select(
            "basket_id",
            "idx",
            (F.row_number().over(ordered) - 1).alias("pos"),
            F.count("*").over(in_basket).alias("n"),
        )
        step = F.ceil(F.col("n") / F.lit(cap))
        keep = (F.col("pos") % step == 0) & (F.floor(F.col("pos") / step) < cap)
        return with_pos.filter(keep).select("basket_id", "idx")

    return transform


def neighbours(k: int):  # type: ignore[no-untyped-def]
    """encoded -> (row, rank, col, count): the top-``k`` co-purchased items of every item."""

    def transform(enc: DataFrame) -> DataFrame:
        a = enc.select("basket_id", F.col("idx").alias("row"))
        b = enc.select("basket_id", F.col("idx").alias("col"))
        pairs = (
            a.join(b, on="basket_id", how="inner")
            .filter(F.col("row") != F.col("col"))
            .groupBy("row", "col")
            .agg(F.count("*").alias("count"))
        )
        best = Window.partitionBy("row").orderBy(F.col("count").desc(), F.col("col"))
        ranked = pairs.select("row", "col", "count", (F.row_number().over(best) - 1).alias("rank"))
        return ranked.filter(F.col("rank") < k).select("row", "rank", "col", "count")

    return transform


@dataclass(frozen=True, slots=True)
class StatisticsFrames:
    """The statistics as DataFrames (what the job writes) and the number of baskets."""

    items: DataFrame
    neighbours: DataFrame
    n_baskets: int


def statistics_frames(lines: DataFrame, params: Params) -> StatisticsFrames:
    """Typed lines (quantity > 0) -> the statistics of ``method.fit`` as DataFrames."""
    items = basket_items(lines).cache()
    vocab = items.transform(vocabulary(params.min_item_baskets)).cache()
    nbrs = items.transform(encoded(vocab, params.max_pair_items)).transform(neighbours(params.neighbours))
    n_baskets = items.select("basket_id").distinct().count()
    return StatisticsFrames(vocab, nbrs, n_baskets)


def write_statistics(frames: StatisticsFrames, out: Path) -> None:
    """Load: the statistics as Parquet under ``out`` (items/, neighbours/, n_baskets.txt)."""
    out.mkdir(parents=True, exist_ok=True)
    frames.items.coalesce(1).write.mode("overwrite").parquet(str(out / ITEMS_DIR))
    frames.neighbours.write.mode("overwrite").parquet(str(out / NEIGHBOURS_DIR))
    (out / BASKETS_FILE).write_text(f"{frames.n_baskets}\n", encoding="utf-8")


def load_statistics(folder: Path, k: int) -> Statistics:
    """The written statistics as ``method.Statistics`` (the arrays ``method.fit`` returns)."""
    items = pq.read_table(str(folder / ITEMS_DIR)).sort_by("idx")
    nbrs = pq.read_table(str(folder / NEIGHBOURS_DIR))
    n_baskets = int((folder / BASKETS_FILE).read_text(encoding="utf-8"))
    product_ids = [str(p) for p in items.column("product_id").to_pylist()]
    item_baskets = np.asarray(items.column("baskets").to_numpy(), dtype=np.int64)
    n = len(product_ids)
    nbr_idx = np.full((n, k), n, dtype=np.int64)
    nbr_count = np.zeros((n, k), dtype=np.float32)
    rows = np.asarray(nbrs.column("row").to_numpy(), dtype=np.int64)
    ranks = np.asarray(nbrs.column("rank").to_numpy(), dtype=np.int64)
    nbr_idx[rows, ranks] = np.asarray(nbrs.column("col").to_numpy(), dtype=np.int64)
    nbr_count[rows, ranks] = np.asarray(nbrs.column("count").to_numpy(), dtype=np.float32)
    popularity = (item_baskets / max(1, n_baskets)).astype(np.float32)
    return Statistics(product_ids, item_baskets, popularity, nbr_idx, nbr_count, n_baskets)
