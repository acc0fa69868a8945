"""Customer value: BG/NBD (purchase occasions) x Gamma-Gamma (spend per occasion), our own fit.

Spark reduces the history to each customer's sufficient statistics (``rfm``): repeat purchase days
``x``, recency ``t_x`` (days from the first to the last purchase day), age ``T`` (days from the first
purchase to the cut-off) and ``m`` (mean spend of the repeat days). BG/NBD's likelihood depends on
(x, t_x, T) only, so customers sharing a triple are counted once (``triples``): the fit reads that
small table (scipy, Nelder-Mead on log-parameters), never the customers. Expected occasions per
triple are computed in numpy and joined back in Spark; the Gamma-Gamma mean is a Spark column.

BG/NBD has no seasonality and no trend, and it knows a customer's level only through the mean of the
repeat days: on a period that differs from the average one (Online Retail's November) it misses.
``Blend`` corrects that with what the data itself says, without looking at the holdout: on a
validation period inside the history (the ``horizon`` days before the cut-off, the model refitted
on what came before), the actual spend is regressed on the model's forecast and on last period's
spend (non-negative least squares, no intercept); the two weights are then applied at the cut-off.
Spark sums the 2 x 2 normal equations; the driver solves them.

Fader, Hardie & Lee (2005), "Counting your customers the easy way", Marketing Science 24(2),
equations (6) and (10); Fader, Hardie & Lee (2005), "RFM and CLV", JMR 42(4), and the Gamma-Gamma
note (Fader & Hardie 2013), equations (1)-(5).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from scipy.optimize import minimize, nnls
from scipy.special import betaln, gammaln, hyp2f1

from models.jobs.synth_fit import DAY

# L2 penalty on the log-parameters (per customer; BG/NBD all four, Gamma-Gamma p and q): a weak
# pull towards 1 that keeps b finite where the data show no drop-out (the likelihood is then flat
# in b: on Online Retail's first nine months the unpenalised b runs to 1e13).
PENALIZER = 1e-3


def rfm(cutoff_day: float) -> object:
    """Typed lines -> customer_id, x, t_x, T, m, spend (per customer, purchases before ``cutoff_day``)."""

    def transform(lines: DataFrame) -> DataFrame:
        days = (
            lines.filter(F.col("customer_id").isNotNull() & (F.col("t") < cutoff_day * DAY))
            .groupBy("customer_id", F.floor(F.col("t") / DAY).alias("day"))
            .agg(F.sum(F.col("quantity") * F.col("price")).alias("spend"))
        )
        first = F.min("day")
        per = days.groupBy("customer_id").agg(
            (F.count("*") - 1).alias("x"),
            (F.max("day") - first).cast("double").alias("t_x"),
            (F.lit(cutoff_day) - first).cast("double").alias("T"),
            F.sum("spend").alias("total"),
            F.min_by("spend", "day").alias("first_spend"),
        )
        repeat_mean = (F.col("total") - F.col("first_spend")) / F.col("x")
        return per.select(
            "customer_id", "x", "t_x", "T", F.when(F.col("x") > 0, repeat_mean).alias("m"), "total"
        )

    return transform


def spend_between(start_day: float, end_day: float) -> object:
    """Typed lines -> customer_id, spend in [start_day, end_day)."""

    def transform(lines: DataFrame) -> DataFrame:
        window = lines.filter(
            F.col("customer_id").isNotNull() & (F.col("t") >= start_day * DAY) & (F.col("t") < end_day * DAY)
        )
        return window.groupBy("customer_id").agg(F.sum(F.col("quantity") * F.col("price")).alias("spend"))

    return transform


def triples(stats: DataFrame) -> DataFrame:
    """rfm -> x, t_x, T, customers (BG/NBD's sufficient statistics, counted)."""
    return stats.groupBy("x", "t_x", "T").agg(F.count("*").alias("customers"))


@dataclass(frozen=True, slots=True)
class BgNbd:
    r: float
    alpha: float
    a: float
    b: float

    @staticmethod
    def log_likelihood(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        r, alpha, a, b = params
        a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
        a2 = betaln(a, b + x) - betaln(a, b)
        a3 = -(r + x) * np.log(alpha + T)
        with np.errstate(divide="ignore", invalid="ignore"):
            a4 = np.where(
                x > 0,
                np.log(a) - np.log(np.maximum(b + x - 1, 1e-12)) - (r + x) * np.log(alpha + t_x),
                -np.inf,
            )
        return np.asarray(a1 + a2 + np.logaddexp(a3, a4))

    @classmethod
    def fit(cls, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, weights: np.ndarray) -> BgNbd:
        total = weights.sum()

        def nll(log_params: np.ndarray) -> float:
            params = np.exp(log_params)
            value = -(weights * cls.log_likelihood(params, x, t_x, T)).sum() / total
            value += PENALIZER * float((log_params**2).sum())
            return float(value) if np.isfinite(value) else 1e300

        start = np.log([1.0, max(float(np.average(T, weights=weights)), 1.0) / 4, 1.0, 3.0])
        best = minimize(
            nll, start, method="Nelder-Mead", options={"maxiter": 4000, "xatol": 1e-6, "fatol": 1e-6}
        )
        return cls(*(float(v) for v in np.exp(best.x)))

    def expected(self, horizon: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """E[purchase days in (T, T + horizon] | x, t_x, T] (equation 10)."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        z = horizon / (alpha + T + horizon)
        head = (a + b + x - 1) / (a - 1)
        tail = 1 - ((alpha + T) / (alpha + T + horizon)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z)
        alive = 1 + (x > 0) * (a / np.maximum(b + x - 1, 1e-12)) * ((alpha + T) / (alpha + t_x)) ** (r + x)
        return np.asarray(head * tail / alive)


@dataclass(frozen=True, slots=True)
class GammaGamma:
    p: float
    q: float
    gamma: float

    @classmethod
    def fit(cls, x: np.ndarray, m: np.ndarray) -> GammaGamma:
        keep = (x > 0) & (m > 0)
        x, m = x[keep], m[keep]

        def nll(log_params: np.ndarray) -> float:
            p, q, g = np.exp(log_params)
            ll = (
                gammaln(p * x + q)
                - gammaln(p * x)
                - gammaln(q)
                + q * np.log(g)
                + (p * x - 1) * np.log(m)
                + p * x * np.log(x)
                - (p * x + q) * np.log(g + x * m)
            )
            value = -ll.mean() + PENALIZER * float((log_params[:2] ** 2).sum())
            return float(value) if np.isfinite(value) else 1e300

        best = minimize(
            nll, np.log([2.0, 3.0, float(np.mean(m))]), method="Nelder-Mead", options={"maxiter": 4000}
        )
        return cls(*(float(v) for v in np.exp(best.x)))

    def expected_spend(self, x: Column, m: Column) -> Column:
        """E[spend per purchase day | x, m] as a Spark column (the population mean for x = 0)."""
        p, q, g = F.lit(self.p), F.lit(self.q), F.lit(self.gamma)
        population = F.lit(self.p * self.gamma / (self.q - 1)) if self.q > 1 else F.lit(None)
        personal = p * (g + x * m) / (p * x + q - 1)
        return F.when((x > 0) & m.isNotNull() & (m > 0), personal).otherwise(population)


@dataclass(frozen=True, slots=True)
class Blend:
    """Expected spend = ``model`` x BG/NBD x Gamma-Gamma forecast + ``last`` x last period's spend."""

    model: float
    last: float

    @classmethod
    def fit(cls, gram: np.ndarray, cross: np.ndarray) -> Blend:
        """Non-negative least squares from the normal equations: ``gram`` = X'X (2 x 2, columns model
        forecast and last period's spend), ``cross`` = X'y (y: the actual spend). With G = L L', the
        objective |X w - y|^2 is |L' w - L^-1 X'y|^2 plus a constant, which ``nnls`` minimises."""
        gram = np.asarray(gram, dtype=np.float64) + np.eye(2) * 1e-9 * max(1.0, float(np.trace(gram)))
        chol = np.linalg.cholesky(gram)
        weights, _ = nnls(chol.T, np.linalg.solve(chol, np.asarray(cross, dtype=np.float64)))
        return cls(float(weights[0]), float(weights[1]))

    @staticmethod
    def normal_equations(
        table: DataFrame, model: str, last: str, actual: str
    ) -> tuple[np.ndarray, np.ndarray]:
        """X'X and X'y of the columns ``model``, ``last`` against ``actual`` (one Spark aggregation)."""
        m, b, y = F.col(model), F.col(last), F.col(actual)
        row = table.agg(F.sum(m * m), F.sum(m * b), F.sum(b * b), F.sum(m * y), F.sum(b * y)).first()
        mm, mb, bb, my, by = (float(v or 0.0) for v in (row if row is not None else [0.0] * 5))
        return np.array([[mm, mb], [mb, bb]]), np.array([my, by])

    def expected(self, model: Column, last: Column) -> Column:
        return F.lit(self.model) * model + F.lit(self.last) * last
