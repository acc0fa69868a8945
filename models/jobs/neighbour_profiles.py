"""The offer model's TIFU-KNN shopper profiles on Spark: the local engine's own code, per pool.

``models.offers.neighbours.TifuKnn`` builds a customer's profile from their vector blended with the
mean vector of their nearest customers. Searching the nearest customers among *all* customers
costs (customers x customers): quadratic, so it does not scale to a chain. Here every customer has
a **pool**: their home store (the store of most of their baskets, ties to the lower store id; one
pool when the lines carry no store), split by a hash of the customer id into pools of at most
``pool_size`` customers. The neighbours are searched within the pool, so the cost grows linearly
with the number of customers (``pool_size`` x customers). Each pool runs
``TifuKnn(pool's baskets, params).profile`` unchanged (``applyInArrow``, one Python call per pool):
a pool's profiles equal the local profiles job (``models.offers.profiles.build_profiles``) run on
that pool's baskets (tests/spark/test_neighbour_profiles.py), and with a single pool they equal it
on the whole data set.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from models.jobs.statistics import basket_table
from models.offers.evaluation import histories
from models.offers.neighbours import TifuKnn, TifuParams
from models.offers.transactions import Basket

Transform = Callable[[DataFrame], DataFrame]

#: Customers per neighbour pool on one machine (a store's customers are split above this).
POOL_SIZE = 5_000

PROFILE_SCHEMA = "customer_id string, n_baskets long, items array<string>, weights array<double>"


def store_column(lines: DataFrame) -> DataFrame:
    """Lines with ``store`` as a string: ``store_id`` where set (in-store), else ``store`` (or null)."""
    store = F.col("store").cast("string") if "store" in lines.columns else F.lit(None).cast("string")
    if "store_id" in lines.columns:
        store = F.coalesce(F.col("store_id").cast("string"), store)
    return lines.withColumn("store", store)


def home_pools(baskets: DataFrame, pool_size: int) -> DataFrame:
    """basket_table (with ``store``) -> customer_id, pool: home store and hash bucket."""
    visits = baskets.filter(F.col("customer_id").isNotNull()).groupBy("customer_id", "store").count()
    rank = F.struct((-F.col("count")).alias("c"), F.coalesce(F.col("store"), F.lit("")).alias("s"))
    home = visits.groupBy("customer_id").agg(F.min_by("store", rank).alias("home"))
    sizes = home.groupBy("home").agg(F.ceil(F.count("*") / F.lit(pool_size)).alias("buckets"))
    bucket = F.pmod(F.xxhash64("customer_id"), F.col("buckets"))
    pool = F.concat_ws("/", F.coalesce(F.col("home"), F.lit("-")), bucket.cast("string"))
    return home.join(F.broadcast(sizes), on="home", how="inner").select("customer_id", pool.alias("pool"))


def pool_profiles(params: TifuParams) -> Callable[[pa.Table], pa.Table]:
    """One pool's baskets (basket_id, customer_id, t, products) -> its customers' profiles."""

    def profile(table: pa.Table) -> pa.Table:
        columns = table.to_pydict()
        pool = [
            Basket(b, c, t, tuple(p), 0.0)
            for b, c, t, p in zip(
                columns["basket_id"], columns["customer_id"], columns["t"], columns["products"], strict=True
            )
        ]
        pool.sort(key=lambda b: (b.t, b.basket_id))  # read_transactions' order
        knn = TifuKnn(pool, params)
        out: dict[str, list[object]] = {"customer_id": [], "n_baskets": [], "items": [], "weights": []}
        for customer, history in histories(pool).items():
            result = knn.profile(history)
            out["customer_id"].append(customer)
            out["n_baskets"].append(result.n_baskets)
            out["items"].append(list(result.items))
            out["weights"].append(list(result.weights))
        return pa.table(
            out,
            schema=pa.schema(
                [
                    ("customer_id", pa.string()),
                    ("n_baskets", pa.int64()),
                    ("items", pa.list_(pa.string())),
                    ("weights", pa.list_(pa.float64())),
                ]
            ),
        )

    return profile


def neighbour_profiles(params: TifuParams, pool_size: int = POOL_SIZE) -> Transform:
    """basket_table (with ``store``) -> customer_id, n_baskets, items, weights (TIFU-KNN per pool)."""

    def transform(baskets: DataFrame) -> DataFrame:
        known = baskets.filter(F.col("customer_id").isNotNull())
        pooled = known.join(home_pools(known, pool_size), on="customer_id", how="inner")
        rows = pooled.select("pool", "basket_id", "customer_id", "t", "products")
        return rows.groupBy("pool").applyInArrow(
            lambda table: _without_pool(table, pool_profiles(params)), PROFILE_SCHEMA
        )

    return transform


def _without_pool(table: pa.Table, profile: Callable[[pa.Table], pa.Table]) -> pa.Table:
    return profile(table.drop_columns(["pool"]))


def store_baskets(lines: DataFrame) -> DataFrame:
    """Typed lines -> basket_table with each basket's ``store`` (at its first line)."""
    return basket_table(store_column(lines), extra=("store",))
