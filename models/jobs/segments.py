"""Customer segments from purchase behaviour, with stable ids and a description in words.

Features per customer (``features``): recency (days since the last purchase day), frequency
(purchase days), monetary (spend), discount share (share of lines bought on a discount, when the
lines carry a ``discount`` column). Frequency and monetary are banded at the chain's terciles
(``approxQuantile``: two numbers each reach the driver). The segment is a fixed rule over the bands,
so its id means the same on every run and every chain (``SEGMENTS``, first matching rule wins);
campaign rules target these ids, and ``chain-profiles --segments`` puts each customer's id into the
shopper profile the gateways receive (``with_segments``). Demographics (Complete Journey's columns: age, income, ...) are
joined where the retailer has them and summarised per segment.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from models.jobs.synth_fit import DAY

Transform = Callable[[DataFrame], DataFrame]
ACTIVE_DAYS = 30
LAPSING_DAYS = 90
DEAL_SHARE = 0.5

#: id -> description for marketing; rules in ``segment_rule`` (first match wins).
SEGMENTS: dict[str, str] = {
    "deal-seekers": "buy mostly on discount (half of their lines or more); respond to price offers",
    "champions": "bought in the last 30 days, among the most frequent and highest-spending third",
    "loyal": "bought in the last 90 days and among the most frequent third",
    "new": "bought in the last 30 days, few purchase days so far",
    "big-baskets": "bought in the last 90 days, not frequent but among the highest-spending third",
    "regular": "bought in the last 90 days, middling frequency and spend",
    "at-risk": "were frequent or high-spending, but nothing in the last 90 days",
    "lapsed": "nothing in the last 90 days, and never frequent or high-spending",
}


def features(end_day: float) -> Transform:
    """Typed lines -> customer_id, recency, frequency, monetary, discount_share (lines before end_day)."""

    def transform(lines: DataFrame) -> DataFrame:
        known = lines.filter(F.col("customer_id").isNotNull() & (F.col("t") < end_day * DAY))
        discount = (
            (F.col("discount") > 0).cast("double")
            if "discount" in lines.columns
            else F.lit(None).cast("double")
        )
        return known.groupBy("customer_id").agg(
            (F.lit(end_day) - F.max(F.floor(F.col("t") / DAY))).alias("recency"),
            F.countDistinct(F.floor(F.col("t") / DAY)).alias("frequency"),
            F.sum(F.col("quantity") * F.col("price")).alias("monetary"),
            F.avg(discount).alias("discount_share"),
        )

    return transform


def segment_rule(f_high: Column, m_high: Column, f_low: Column) -> Column:
    recent, current = F.col("recency") <= ACTIVE_DAYS, F.col("recency") <= LAPSING_DAYS
    deal = F.coalesce(F.col("discount_share"), F.lit(0.0)) >= DEAL_SHARE
    return (
        F.when(deal & current, "deal-seekers")
        .when(recent & f_high & m_high, "champions")
        .when(current & f_high, "loyal")
        .when(recent & f_low, "new")
        .when(current & m_high, "big-baskets")
        .when(current, "regular")
        .when(f_high | m_high, "at-risk")
        .otherwise("lapsed")
    )


def segmented(frequency_cuts: tuple[float, float], monetary_cuts: tuple[float, float]) -> Transform:
    """features -> features with ``segment`` (the terciles come from ``tercile_cuts``)."""

    def transform(feats: DataFrame) -> DataFrame:
        f_high = F.col("frequency") > F.lit(frequency_cuts[1])
        f_low = F.col("frequency") <= F.lit(frequency_cuts[0])
        m_high = F.col("monetary") > F.lit(monetary_cuts[1])
        return feats.withColumn("segment", segment_rule(f_high, m_high, f_low))

    return transform


def with_segments(segments: DataFrame) -> Transform:
    """profiles (``customer_id``, ...) -> the same with ``segments``: the customer's segment id as a
    one-element array, the field gateways read from a shopper's profile (campaigns target it). A
    customer the segments table does not know gets null (the JSON line has no ``segments``: unknown).
    """
    ids = segments.select(
        F.col("customer_id").cast("string").alias("customer_id"), F.array("segment").alias("segments")
    ).dropDuplicates(["customer_id"])

    def transform(profile: DataFrame) -> DataFrame:
        return profile.join(ids, on="customer_id", how="left")

    return transform


def tercile_cuts(feats: DataFrame) -> tuple[tuple[float, float], tuple[float, float]]:
    freq, money = feats.approxQuantile(["frequency", "monetary"], [1 / 3, 2 / 3], 0.001)
    return (freq[0], freq[1]), (money[0], money[1])


def recency_only(feats: DataFrame) -> DataFrame:
    """The baseline segmentation: recency bands alone."""
    band = F.when(F.col("recency") <= ACTIVE_DAYS, "active").when(F.col("recency") <= LAPSING_DAYS, "lapsing")
    return feats.withColumn("segment", band.otherwise("lapsed"))


def explained_share(assigned: DataFrame, outcome: DataFrame) -> float:
    """Share of the variance of ``outcome.spend`` (0 when absent) explained by ``segment`` (eta squared)."""
    joined = assigned.join(outcome, on="customer_id", how="left").fillna(0.0, subset=["spend"])
    total = joined.agg(
        F.avg("spend").alias("mean"), F.variance("spend").alias("var"), F.count("*").alias("n")
    ).first()
    if total is None or not total["var"]:
        return 0.0
    between = (
        joined.groupBy("segment")
        .agg(F.count("*").alias("n"), F.avg("spend").alias("m"))
        .agg(F.sum(F.col("n") * F.pow(F.col("m") - F.lit(total["mean"]), 2)).alias("ss"))
        .first()
    )
    ss = float(between["ss"]) if between and between["ss"] is not None else 0.0
    return ss / (float(total["var"]) * (int(total["n"]) - 1))
