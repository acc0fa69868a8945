"""The offer model's statistics on Spark: the same ``Statistics`` as ``models.offers.method.fit``.

Each step is a DataFrame -> DataFrame transformation mirroring one part of ``method.fit``
(tests/spark/test_build_equivalence.py proves the results equal on Online Retail):

* ``basket_table``: one row per basket (the only shuffle of every line): its customer and time at
  its first line, and its distinct products in first-seen order (``_encode``'s order), as an array;
* ``vocabulary``: products in at least ``min_item_baskets`` baskets, indexed by basket count
  descending, then product id (``method.vocabulary``);
* ``encoded``: a basket's products as dense vocabulary indices (ints; a broadcast join with the
  item table), baskets over ``max_pair_items`` keep every ``ceil(len / cap)``-th product, at most
  ``cap`` (``method._encode``);
* ``neighbours``: each basket's pairs (``row < col``, the counts are symmetric) as one long key
  ``row * N + col``, counted with map-side partial aggregation; for each product the ``neighbours`` co-purchased products with the
  most shared baskets, ties to the lower index (``method.cooccurrence``).

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


def basket_table(lines: DataFrame, extra: tuple[str, ...] = ()) -> DataFrame:
    """Typed lines -> basket_id, key (dense long), customer_id, t, products (distinct, first line
    first), and the ``extra`` columns at the basket's first line."""
    entries = F.array_sort(F.collect_list(F.struct("line", "product_id")))
    grouped = lines.groupBy("basket_id").agg(
        F.min_by("customer_id", "line").alias("customer_id"),
        F.min_by("t", "line").alias("t"),
        F.array_distinct(entries.getField("product_id")).alias("products"),
        *(F.min_by(c, "line").alias(c) for c in extra),
    )
    return grouped.withColumn("key", F.monotonically_increasing_id())


def product_counts(baskets: DataFrame) -> DataFrame:
    """basket_table -> (product_id, baskets): every product seen (partial aggregation per partition)."""
    return baskets.select(F.explode("products").alias("product_id")).groupBy("product_id").count()


def vocabulary(min_item_baskets: int):  # type: ignore[no-untyped-def]
    """product_counts -> (idx, product_id, baskets): the model's item table."""

    def transform(counts: DataFrame) -> DataFrame:
        kept = counts.filter(F.col("count") >= min_item_baskets).withColumnRenamed("count", "baskets")
        # The item table is small (products, not lines): one ordered window over it is fine.
        order = Window.orderBy(F.col("baskets").desc(), F.col("product_id"))
        return kept.select((F.row_number().over(order) - 1).cast("int").alias("idx"), "product_id", "baskets")

    return transform


def encoded(vocab: DataFrame, cap: int):  # type: ignore[no-untyped-def]
    """basket_table -> (key, items): vocabulary indices in basket order, large baskets spread to ``cap``."""

    def transform(baskets: DataFrame) -> DataFrame:
        exploded = baskets.select("key", F.posexplode("products").alias("pos", "product_id"))
        known = exploded.join(F.broadcast(vocab.select("product_id", "idx")), on="product_id")
        ordered = F.array_sort(F.collect_list(F.struct("pos", "idx"))).getField("idx")
        per_basket = known.groupBy("key").agg(ordered.alias("all"))
        n = F.size("all")
        step = F.ceil(n / F.lit(cap))
        spread = F.filter("all", lambda _, i: (i % step == 0) & (F.floor(i / step) < cap))
        return per_basket.select("key", F.when(n > cap, spread).otherwise(F.col("all")).alias("items"))

    return transform


def neighbours(k: int, n_items: int):  # type: ignore[no-untyped-def]
    """encoded -> (row, rank, col, count): the top-``k`` co-purchased items of every item."""

    def transform(enc: DataFrame) -> DataFrame:
        rows = enc.select(F.explode("items").alias("row"), "items")
        # c(j, i) = c(i, j): count each unordered pair once (row < col), then both directions.
        pairs = rows.select("row", F.explode("items").alias("col")).filter(F.col("row") < F.col("col"))
        keyed = pairs.select((F.col("row").cast("long") * n_items + F.col("col")).alias("pair"))
        counted = keyed.groupBy("pair").agg(F.count("*").alias("count"))
        low, high = F.expr(f"int(pair div {n_items})"), F.expr(f"int(pair % {n_items})")
        both = F.array(
            F.struct(low.alias("row"), high.alias("col")), F.struct(high.alias("row"), low.alias("col"))
        )
        split = counted.select(F.inline(both), "count")
        best = Window.partitionBy("row").orderBy(F.col("count").desc(), F.col("col"))
        ranked = split.select("row", "col", "count", (F.row_number().over(best) - 1).alias("rank"))
        return ranked.filter(F.col("rank") < k).select("row", "rank", "col", "count")

    return transform


@dataclass(frozen=True, slots=True)
class StatisticsFrames:
    """The statistics as DataFrames (what the job writes), the basket table and product counts."""

    items: DataFrame
    neighbours: DataFrame
    n_baskets: int
    baskets: DataFrame  # basket_table (persisted): the manifest's summary is computed from it
    products_seen: int


def statistics_frames(lines: DataFrame, params: Params) -> StatisticsFrames:
    """Typed lines (quantity > 0) -> the statistics of ``method.fit`` as DataFrames."""
    baskets = basket_table(lines).persist()
    n_baskets = baskets.count()
    counts = product_counts(baskets).persist()
    products_seen = counts.count()
    vocab = counts.transform(vocabulary(params.min_item_baskets)).persist()
    n_items = vocab.count()
    nbrs = baskets.transform(encoded(vocab, params.max_pair_items)).transform(
        neighbours(params.neighbours, max(1, n_items))
    )
    return StatisticsFrames(vocab, nbrs, n_baskets, baskets, products_seen)


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
