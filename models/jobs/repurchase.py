"""Repurchase timing on Spark: per customer and product, P(buying again within 7 days) and when.

Method (Gamma-Poisson, empirical Bayes, written once as Spark columns): a customer buys a product as
a Poisson process with rate ``lam``; the prior on ``lam`` is Gamma(``PRIOR_SHAPE``, ``beta_p``) with
the product's pooled rate ``1 / beta_p`` (its repeat purchases per day of exposure over all its
buyers). After ``n`` purchase days, the first ``E`` days before the cut-off, the posterior is
Gamma(``a = n - 1 + PRIOR_SHAPE``, ``b = E + beta_p``), and

    P(buy within h days) = 1 - (b / (b + h)) ** a        (negative binomial predictive)
    median wait          = b * (2 ** (1 / a) - 1)         (reported as the expected date)

The probability is then recalibrated by a logistic regression (Spark ML) on its logit, the days
since the pair's and the customer's last purchase and the purchase count, fitted one horizon earlier.
Scored on a time split: predictions at ``cutoff`` for every (customer, product) bought before it,
labels = bought in (cutoff, cutoff + h]; Brier score and a calibration table against the naive rate
(the share of such pairs bought in the ``h`` days before the cut-off, from the same history).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pyspark.ml.classification import LogisticRegression, LogisticRegressionModel
from pyspark.ml.functions import array_to_vector, vector_to_array
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from models.jobs.synth_fit import DAY

HORIZON_DAYS = 7.0
PRIOR_SHAPE = 1.0
MIN_PRODUCT_RATE = 1e-4  # per day: products never bought twice still get a (small) rate

Transform = Callable[[DataFrame], DataFrame]


def purchase_days(lines: DataFrame) -> DataFrame:
    """Typed lines -> distinct (customer_id, product_id, day) with ``day`` in days since the epoch."""
    return (
        lines.filter(F.col("customer_id").isNotNull())
        .select("customer_id", "product_id", F.floor(F.col("t") / DAY).alias("day"))
        .distinct()
    )


def _probability(a: Column, b: Column, horizon: float) -> Column:
    return 1 - F.pow(b / (b + F.lit(horizon)), a)


def predict(cutoff_day: float, horizon: float = HORIZON_DAYS) -> Transform:
    """purchase_days -> customer_id, product_id, n, last_day, p, expected_day (at ``cutoff_day``)."""

    def transform(days: DataFrame) -> DataFrame:
        before = days.filter(F.col("day") < cutoff_day)
        pairs = before.groupBy("customer_id", "product_id").agg(
            F.count("*").alias("n"), F.min("day").alias("first_day"), F.max("day").alias("last_day")
        )
        exposure = F.lit(cutoff_day) - F.col("first_day")
        product = pairs.groupBy("product_id").agg(
            (F.sum(F.col("n") - 1) / F.greatest(F.sum(exposure), F.lit(1.0))).alias("rate")
        )
        a = F.col("n") - 1 + F.lit(PRIOR_SHAPE)
        b = exposure + F.lit(PRIOR_SHAPE) / F.greatest(F.col("rate"), F.lit(MIN_PRODUCT_RATE))
        customer = pairs.groupBy("customer_id").agg(F.max("last_day").alias("customer_last_day"))
        return (
            pairs.join(product, on="product_id", how="inner")
            .join(customer, on="customer_id", how="inner")
            .select(
                "customer_id",
                "product_id",
                "n",
                "last_day",
                _probability(a, b, horizon).alias("p"),
                (F.lit(cutoff_day) + b * (F.pow(F.lit(2.0), 1 / a) - 1)).alias("expected_day"),
                F.array(
                    F.log(_probability(a, b, horizon) / (1 - _probability(a, b, horizon) + 1e-9) + 1e-9),
                    F.log1p(F.lit(cutoff_day) - F.col("last_day")),
                    F.log1p(F.lit(cutoff_day) - F.col("customer_last_day")),
                    F.log(F.col("n").cast("double")),
                ).alias("features"),
            )
        )

    return transform


def labelled(days: DataFrame, cutoff_day: float, horizon: float = HORIZON_DAYS) -> Transform:
    """predictions -> predictions with ``y`` (1 if bought in (cutoff, cutoff + horizon])."""
    window = days.filter((F.col("day") >= cutoff_day) & (F.col("day") < cutoff_day + horizon))
    bought = window.select("customer_id", "product_id").distinct().withColumn("y", F.lit(1.0))

    def transform(predictions: DataFrame) -> DataFrame:
        joined = predictions.join(bought, on=["customer_id", "product_id"], how="left")
        return joined.withColumn("y", F.coalesce(F.col("y"), F.lit(0.0)))

    return transform


def calibration(train: DataFrame) -> LogisticRegressionModel:
    """Logistic recalibration of the Gamma-Poisson probability with recency (pair and customer) and
    purchase count, fitted on predictions one horizon earlier (labelled ``y``); Spark ML, no rows out."""
    data = train.select(array_to_vector(F.col("features")).alias("x"), F.col("y").alias("label"))
    model: LogisticRegressionModel = LogisticRegression(
        featuresCol="x", labelCol="label", maxIter=50, regParam=1e-4
    ).fit(data)
    return model


def calibrated(model: LogisticRegressionModel) -> Transform:
    """predictions -> predictions with ``p`` replaced by the recalibrated probability."""

    def transform(predictions: DataFrame) -> DataFrame:
        scored = model.transform(predictions.withColumn("x", array_to_vector(F.col("features"))))
        return scored.withColumn("p", vector_to_array(F.col("probability"))[1]).drop(
            "x", "rawPrediction", "probability", "prediction"
        )

    return transform


@dataclass(frozen=True, slots=True)
class Score:
    pairs: int
    base_rate: float  # share of pairs bought in the horizon (test)
    naive_rate: float  # the naive prediction: the same share one horizon earlier
    brier_model: float
    brier_naive: float
    brier_uncalibrated: float  # the Gamma-Poisson probability before recalibration
    calibration: tuple[tuple[float, float, float, int], ...]  # (bin low, mean p, share bought, pairs)

    @property
    def skill(self) -> float:
        """Brier skill score against the naive rate (> 0: the model is better)."""
        return 1.0 - self.brier_model / self.brier_naive if self.brier_naive else 0.0


def evaluate(
    days: DataFrame, cutoff_day: float, horizon: float = HORIZON_DAYS
) -> tuple[Score, LogisticRegressionModel]:
    """Score ``predict`` at ``cutoff_day`` against the naive rate (a few aggregates back, no rows);
    also return the recalibration fitted on the horizon before ``cutoff_day``."""
    earlier = (
        days.transform(predict(cutoff_day - horizon, horizon))
        .transform(labelled(days, cutoff_day - horizon, horizon))
        .cache()
    )
    naive_row = earlier.agg(F.avg("y")).first()
    naive = float(naive_row[0]) if naive_row and naive_row[0] is not None else 0.0
    model = calibration(earlier)
    raw = days.transform(predict(cutoff_day, horizon)).transform(labelled(days, cutoff_day, horizon))
    scored = raw.withColumn("p0", F.col("p")).transform(calibrated(model)).cache()
    earlier.unpersist()
    row = scored.agg(
        F.count("*").alias("pairs"),
        F.avg("y").alias("base"),
        F.avg(F.pow(F.col("p0") - F.col("y"), 2)).alias("brier0"),
        F.avg(F.pow(F.col("p") - F.col("y"), 2)).alias("brier"),
        F.avg(F.pow(F.lit(naive) - F.col("y"), 2)).alias("brier_naive"),
    ).first()
    assert row is not None
    bins = (
        scored.withColumn("bin", F.least(F.floor(F.col("p") * 10), F.lit(9)))
        .groupBy("bin")
        .agg(F.avg("p").alias("p"), F.avg("y").alias("y"), F.count("*").alias("n"))
        .orderBy("bin")
        .collect()  # at most 10 rows: the calibration table
    )
    scored.unpersist()
    score = Score(
        pairs=int(row["pairs"]),
        base_rate=float(row["base"] or 0.0),
        naive_rate=naive,
        brier_model=float(row["brier"] or 0.0),
        brier_naive=float(row["brier_naive"] or 0.0),
        brier_uncalibrated=float(row["brier0"] or 0.0),
        calibration=tuple((b["bin"] / 10, float(b["p"]), float(b["y"]), int(b["n"])) for b in bins),
    )
    return score, model
