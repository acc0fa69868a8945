"""Basket analysis for the store layout: product pairs with high lift, and where a planogram puts them.

``pair_lift``: for products in at least ``min_support`` baskets, every pair bought together in at
least ``min_support`` baskets with ``lift = n_ab * N / (n_a * n_b)`` (how much more often than by
chance) and ``lift_low``, a one-sided lower confidence bound of it: the count of baskets together is
taken as Poisson, whose square root has a standard deviation of about 1/2 (the variance-stabilising
transform), so ``lift_low = max(0, sqrt(n_ab) - z / 2) ** 2 / (n_a * n_b / N)`` with ``z`` = 1.645
(95 %). A pair seen together in 24 baskets where 6 were expected has lift 4 but ``lift_low`` 2.8;
in 240 where 60 were expected, lift 4 and ``lift_low`` 3.6: ranking by ``lift_low`` puts pairs
whose lift is both high and well counted first, and those last (see the score in ``held_out``). ``placed``: joins the planogram (``product_id, name, gondola, shelf, plate``) and measures
how far apart each pair sits: plates on the same shelf, shelves on the same gondola, or gondolas.
``held_out``: the same lift on a later period, to tell lasting pairs from chance (the score).
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

Transform = Callable[[DataFrame], DataFrame]
PLANOGRAM_COLUMNS = ("product_id", "name", "gondola", "shelf", "plate")
Z_ONE_SIDED_95 = 1.6448536269514722


def pair_lift(min_support: int) -> Transform:
    """Typed lines -> a, b (a < b), together, n_a, n_b, baskets, lift, lift_low."""

    def transform(lines: DataFrame) -> DataFrame:
        items = lines.select("basket_id", "product_id").distinct()
        n = items.select("basket_id").distinct().count()
        counts = items.groupBy("product_id").agg(F.count("*").alias("n")).filter(F.col("n") >= min_support)
        kept = items.join(counts.select("product_id"), on="product_id", how="inner")
        a = kept.select("basket_id", F.col("product_id").alias("a"))
        b = kept.select("basket_id", F.col("product_id").alias("b"))
        pairs = (
            a.join(b, on="basket_id", how="inner")
            .filter(F.col("a") < F.col("b"))
            .groupBy("a", "b")
            .agg(F.count("*").alias("together"))
            .filter(F.col("together") >= min_support)
        )
        na = counts.select(F.col("product_id").alias("a"), F.col("n").alias("n_a"))
        nb = counts.select(F.col("product_id").alias("b"), F.col("n").alias("n_b"))
        expected = F.col("n_a") * F.col("n_b") / F.lit(float(n))  # baskets together by chance
        low = F.pow(F.greatest(F.lit(0.0), F.sqrt(F.col("together")) - F.lit(Z_ONE_SIDED_95 / 2)), 2)
        return (
            pairs.join(na, on="a", how="inner")
            .join(nb, on="b", how="inner")
            .withColumn("baskets", F.lit(n))
            .withColumn("lift", F.col("together") / expected)
            .withColumn("lift_low", low / expected)
            .select("a", "b", "together", "n_a", "n_b", "baskets", "lift", "lift_low")
        )

    return transform


def placed(planogram: DataFrame) -> Transform:
    """pair_lift -> pairs whose two products are both on the planogram, with names and distance."""
    missing = [c for c in PLANOGRAM_COLUMNS if c not in planogram.columns]
    if missing:
        raise ValueError(f"planogram: missing columns {missing} (have {planogram.columns})")
    spots = planogram.groupBy(F.col("product_id").cast("string").alias("product_id")).agg(
        F.first("name").alias("name"),
        F.min(F.col("gondola").cast("int")).alias("gondola"),
        F.min(F.col("shelf").cast("int")).alias("shelf"),
        F.min(F.col("plate").cast("int")).alias("plate"),
    )

    def side(prefix: str) -> DataFrame:
        return spots.select([F.col(c).alias(f"{prefix}_{c}") for c in spots.columns])

    def transform(pairs: DataFrame) -> DataFrame:
        joined = pairs.join(side("a"), F.col("a") == F.col("a_product_id"), "inner").join(
            side("b"), F.col("b") == F.col("b_product_id"), "inner"
        )
        gondolas = F.abs(F.col("a_gondola") - F.col("b_gondola"))
        same_shelf = (gondolas == 0) & (F.col("a_shelf") == F.col("b_shelf"))
        where = (
            F.when(
                same_shelf,
                F.concat(F.abs(F.col("a_plate") - F.col("b_plate")).cast("string"), F.lit(" plates apart")),
            )
            .when(gondolas == 0, F.lit("same gondola, other shelf"))
            .otherwise(F.concat(gondolas.cast("string"), F.lit(" gondolas apart")))
        )
        return joined.select(
            "a",
            "a_name",
            "b",
            "b_name",
            "together",
            "lift",
            "lift_low",
            gondolas.alias("gondolas_apart"),
            where.alias("placement"),
        )

    return transform


def held_out(later: DataFrame) -> Transform:
    """pairs (a, b, lift) -> with ``later_lift``, their lift in a later period (0 if not seen)."""
    cols = later.select("a", "b", F.col("lift").alias("later_lift"))

    def transform(pairs: DataFrame) -> DataFrame:
        joined = pairs.join(cols, on=["a", "b"], how="left")
        return joined.withColumn("later_lift", F.coalesce(F.col("later_lift"), F.lit(0.0)))

    return transform
