"""Customer-level transformations on Spark (DataFrame -> DataFrame): one history, baskets, profiles.

``purchase_history`` joins the central service's in-store basket export (pseudonymous shoppers)
through the enrolment table with app/web transactions into one purchase history per customer;
``baskets`` turns lines into one row per basket; ``profiles`` computes the offer model's shopper
profile (``edge.offers.profile.compute_profile``: time-decayed share of a shopper's baskets holding
each product, strongest ``max_items`` first) for every customer at once, and ``store_profiles``
lays them out per store for the central service to sync.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from edge.offers.profile import MAX_PROFILE_ITEMS

Transform = Callable[[DataFrame], DataFrame]

#: The in-store export's columns (backend export, Parquet partitioned day=/store=).
INSTORE_COLUMNS = ("pseudonym", "store_id", "basket_id", "product_id", "timestamp", "quantity", "price")
#: The enrolment table: which pseudonymous shopper id is which loyalty customer.
ENROLMENT_COLUMNS = ("pseudonym", "customer_id")


def require_columns(df: DataFrame, columns: tuple[str, ...], what: str) -> DataFrame:
    """Schema contract: the named columns must be there (a ValueError names the missing ones)."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what}: missing columns {missing} (have {df.columns})")
    return df


def purchase_history(instore: DataFrame, enrolment: DataFrame) -> Transform:
    """Online TX lines -> TX lines of both channels with ``channel`` and ``store_id`` (null online).

    In-store baskets of pseudonyms not (or no longer) in the enrolment table are dropped: the chain
    keeps no history of shoppers who are not enrolled.
    """
    require_columns(instore, INSTORE_COLUMNS, "in-store export")
    require_columns(enrolment, ENROLMENT_COLUMNS, "enrolment table")

    def transform(online: DataFrame) -> DataFrame:
        keys = enrolment.select("pseudonym", F.col("customer_id").cast("string").alias("customer_id"))
        offline = instore.join(keys.dropDuplicates(["pseudonym"]), on="pseudonym", how="inner").select(
            F.concat(
                F.lit("s"), F.col("store_id").cast("string"), F.lit("-"), F.col("basket_id").cast("string")
            ).alias("basket_id"),
            "customer_id",
            F.col("product_id").cast("string").alias("product_id"),
            F.col("timestamp").cast("string").alias("timestamp"),
            F.col("quantity").cast("string").alias("quantity"),
            F.col("price").cast("string").alias("price"),
            F.col("store_id").cast("string").alias("store_id"),
            F.lit("store").alias("channel"),
        )
        web = online.select(
            F.concat(F.lit("w-"), F.col("basket_id").cast("string")).alias("basket_id"),
            F.col("customer_id").cast("string").alias("customer_id"),
            F.col("product_id").cast("string").alias("product_id"),
            F.col("timestamp").cast("string").alias("timestamp"),
            F.col("quantity").cast("string").alias("quantity"),
            F.col("price").cast("string").alias("price"),
            F.lit(None).cast("string").alias("store_id"),
            F.lit("online").alias("channel"),
        )
        return offline.unionByName(web)

    return transform


def baskets(lines: DataFrame) -> DataFrame:
    """Typed lines -> one row per customer basket: customer_id, basket_id, t, spend, store, items."""
    store = F.col("store").cast("string") if "store" in lines.columns else F.lit(None).cast("string")
    if "store_id" in lines.columns:
        store = F.coalesce(F.col("store_id").cast("string"), store)
    return (
        lines.withColumn("_store", store)
        .groupBy("basket_id")
        .agg(
            F.min_by("customer_id", "line").alias("customer_id"),
            F.min_by("t", "line").alias("t"),
            F.min_by("_store", "line").alias("store"),
            F.sum(F.col("quantity") * F.col("price")).alias("spend"),
            F.countDistinct("product_id").alias("items"),
        )
        .filter(F.col("customer_id").isNotNull())
    )


def profiles(decay: float, max_items: int = MAX_PROFILE_ITEMS) -> Transform:
    """Typed lines -> customer_id, n_baskets, items (array), weights (array): ``compute_profile``."""

    def transform(lines: DataFrame) -> DataFrame:
        per_basket = (
            lines.groupBy("basket_id")
            .agg(F.min_by("customer_id", "line").alias("customer_id"), F.min_by("t", "line").alias("t"))
            .filter(F.col("customer_id").isNotNull())
        )
        newest_first = Window.partitionBy("customer_id").orderBy(F.col("t").desc(), F.col("basket_id").desc())
        aged = per_basket.select(
            "basket_id",
            "customer_id",
            F.pow(F.lit(decay), F.row_number().over(newest_first) - 1).alias("w"),
        )
        totals = aged.groupBy("customer_id").agg(F.sum("w").alias("total"), F.count("*").alias("n_baskets"))
        items = lines.select("basket_id", "product_id").distinct().join(aged, on="basket_id", how="inner")
        mass = items.groupBy("customer_id", "product_id").agg(F.sum("w").alias("mass"))
        strongest = Window.partitionBy("customer_id").orderBy(F.col("mass").desc(), F.col("product_id"))
        ranked = (
            mass.withColumn("rank", F.row_number().over(strongest))
            .filter(F.col("rank") <= max_items)
            .join(totals, on="customer_id", how="inner")
            .select(
                "customer_id",
                "n_baskets",
                F.struct(
                    "rank", "product_id", F.least(F.lit(1.0), F.col("mass") / F.col("total")).alias("weight")
                ).alias("entry"),
            )
        )
        grouped = ranked.groupBy("customer_id", "n_baskets").agg(
            F.sort_array(F.collect_list("entry")).alias("entries")
        )
        return grouped.select(
            "customer_id",
            "n_baskets",
            F.col("entries.product_id").alias("items"),
            F.col("entries.weight").alias("weights"),
        )

    return transform


def store_profiles(lines: DataFrame, enrolment: DataFrame | None = None) -> Transform:
    """profiles -> one row per (store, shopper) for every store where the customer shopped."""
    return to_stores(baskets(lines), enrolment)


def to_stores(basket_table: DataFrame, enrolment: DataFrame | None = None) -> Transform:
    """profiles -> one row per (store, shopper) for every store in ``basket_table`` (``customer_id``,
    ``store``) where the customer shopped.

    ``shopper`` is the pseudonym from the enrolment table when one is given (the id gateways see),
    otherwise the customer id. A ``segments`` column (``segments.with_segments``) is kept.
    """

    def transform(profile: DataFrame) -> DataFrame:
        visits = basket_table.filter(F.col("store").isNotNull()).select("customer_id", "store").distinct()
        out = profile.join(visits, on="customer_id", how="inner")
        if enrolment is not None:
            keys = enrolment.select("pseudonym", F.col("customer_id").cast("string").alias("customer_id"))
            out = out.join(keys, on="customer_id", how="inner").withColumnRenamed("pseudonym", "shopper")
        else:
            out = out.withColumn("shopper", F.col("customer_id"))
        segments = ["segments"] if "segments" in out.columns else []  # from segments.with_segments
        return out.select("store", "shopper", "items", "weights", "n_baskets", *segments)

    return transform
