"""``shelf-models build --engine spark``: the offer model's statistics on Spark, then the same writer.

Extract (``models.jobs.transactions.read_lines``), transform (``models.jobs.statistics``), load
(statistics as Parquet, read back as ``method.Statistics``; ``models.offers.build.write_model``
writes the ONNX graph and the manifest exactly as the local engine does). The mixing constants are
not tuned here (tuning replays validation queries one by one, a local job): they come from
``--params-from`` (an earlier tuned model's manifest) or are the defaults.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import fields
from pathlib import Path
from typing import Any

import onnx
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from edge.offers.model import MANIFEST_FILE, MODEL_FILE
from models.jobs.session import SparkSettings, start_spark
from models.jobs.statistics import load_statistics, statistics_frames, write_statistics
from models.jobs.transactions import read_lines
from models.offers.build import BuildResult, write_model
from models.offers.method import Params


def params_from(model_dir: Path | None) -> Params:
    """The constants of an earlier model's manifest (defaults without one)."""
    if model_dir is None:
        return Params()
    stored = json.loads((model_dir / MANIFEST_FILE).read_text(encoding="utf-8"))["params"]
    names = {f.name for f in fields(Params)}
    return Params(**{k: v for k, v in stored.items() if k in names})


def summary(lines: DataFrame, products_in_model: int, source: str) -> dict[str, Any]:
    """The manifest's ``training`` block (one aggregation over baskets; a handful of numbers back)."""
    baskets = lines.groupBy("basket_id").agg(
        F.min_by("customer_id", "line").alias("customer_id"),
        F.min_by("t", "line").alias("t"),
        F.countDistinct("product_id").alias("size"),
    )
    row = baskets.agg(
        F.count("*").alias("baskets"),
        F.countDistinct("customer_id").alias("customers"),
        F.sum(F.when(F.col("customer_id").isNull(), 1).otherwise(0)).alias("guest_baskets"),
        F.sum("size").alias("lines"),
        F.percentile_approx("size", 0.5, 10_000).alias("median_basket_items"),
        F.min("t").alias("first"),
        F.max("t").alias("last"),
    ).first()
    products = lines.select("product_id").distinct().count()
    assert row is not None

    def iso(t: float | None) -> str | None:
        from datetime import UTC, datetime

        return None if t is None else datetime.fromtimestamp(t, UTC).isoformat()

    return {
        "source": source,
        "baskets": int(row["baskets"]),
        "customers": int(row["customers"]),
        "guest_baskets": int(row["guest_baskets"] or 0),
        "lines": int(row["lines"] or 0),
        "median_basket_items": int(row["median_basket_items"] or 0),
        "products_seen": products,
        "products_in_model": products_in_model,
        "first": iso(row["first"]),
        "last": iso(row["last"]),
    }


def build_spark(
    transactions: str | Path,
    out: str | Path,
    params: Params | None = None,
    settings: SparkSettings | None = None,
) -> BuildResult:
    """Transactions (CSV or Parquet, file or folder) -> the offer model in ``out``."""
    params = params or Params()
    spark = start_spark(settings or SparkSettings.from_env("shelf-models build"))
    lines = read_lines(spark, transactions).cache()
    frames = statistics_frames(lines, params)
    if frames.n_baskets == 0:
        raise ValueError("no baskets to build from")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".statistics-", dir=out.parent) as work:
        write_statistics(frames, Path(work))
        stats = load_statistics(Path(work), params.neighbours)
    info = summary(lines, stats.size, Path(transactions).name)
    tuning = {"tuned": False, "engine": "spark", "reason": "constants from --params-from or the defaults"}
    manifest = write_model(out, stats, params, info, {"tuning": tuning})
    onnx.checker.check_model(str(out / MODEL_FILE))
    lines.unpersist()
    return BuildResult(out, manifest)
