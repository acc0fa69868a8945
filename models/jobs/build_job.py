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
from models.jobs.statistics import StatisticsFrames, load_statistics, statistics_frames, write_statistics
from models.jobs.transactions import read_lines
from models.offers.build import PROFILE_METHOD, BuildResult, profile_params, write_model
from models.offers.method import Params
from models.offers.neighbours import TifuParams


def params_from(model_dir: Path | None) -> Params:
    """The constants of an earlier model's manifest (defaults without one)."""
    if model_dir is None:
        return Params()
    stored = json.loads((model_dir / MANIFEST_FILE).read_text(encoding="utf-8"))["params"]
    names = {f.name for f in fields(Params)}
    return Params(**{k: v for k, v in stored.items() if k in names})


def profiles_from(model_dir: Path | None) -> TifuParams:
    """The profile constants of an earlier model's manifest (TIFU-KNN's defaults without one)."""
    if model_dir is None:
        return TifuParams()
    stored = json.loads((model_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
    return profile_params(stored) or TifuParams()


def median_size(baskets: DataFrame) -> int:
    """The local engine's ``sizes[len // 2]`` (upper median), exact, from the histogram of basket sizes
    (a few hundred rows at most: sizes, not baskets)."""
    histogram = baskets.groupBy(F.size("products").alias("size")).count().orderBy("size")
    counts = [(int(r["size"]), int(r["count"])) for r in histogram.toLocalIterator()]
    total, seen = sum(c for _, c in counts), 0
    for size, count in counts:
        seen += count
        if seen > total // 2:
            return size
    return 0


def summary(frames: StatisticsFrames, products_in_model: int, source: str) -> dict[str, Any]:
    """The manifest's ``training`` block from the basket table (a handful of numbers back)."""
    baskets = frames.baskets
    row = baskets.agg(
        F.count("*").alias("baskets"),
        F.sum(F.when(F.col("customer_id").isNull(), 1).otherwise(0)).alias("guest_baskets"),
        F.sum(F.size("products")).alias("lines"),
        F.min("t").alias("first"),
        F.max("t").alias("last"),
    ).first()
    customers = baskets.filter(F.col("customer_id").isNotNull()).groupBy("customer_id").count().count()
    assert row is not None

    def iso(t: float | None) -> str | None:
        from datetime import UTC, datetime

        return None if t is None else datetime.fromtimestamp(t, UTC).isoformat()

    return {
        "source": source,
        "baskets": int(row["baskets"]),
        "customers": customers,
        "guest_baskets": int(row["guest_baskets"] or 0),
        "lines": int(row["lines"] or 0),
        "median_basket_items": median_size(baskets),
        "products_seen": frames.products_seen,
        "products_in_model": products_in_model,
        "first": iso(row["first"]),
        "last": iso(row["last"]),
    }


def build_spark(
    transactions: str | Path,
    out: str | Path,
    params: Params | None = None,
    settings: SparkSettings | None = None,
    tifu: TifuParams | None = None,
) -> BuildResult:
    """Transactions (CSV or Parquet, file or folder) -> the offer model in ``out``."""
    params = params or Params()
    spark = start_spark(settings or SparkSettings.from_env("shelf-models build"))
    lines = read_lines(spark, transactions)
    frames = statistics_frames(lines, params)
    if frames.n_baskets == 0:
        raise ValueError("no baskets to build from")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".statistics-", dir=out.parent) as work:
        write_statistics(frames, Path(work))
        stats = load_statistics(Path(work), params.neighbours)
    info = summary(frames, stats.size, Path(transactions).name)
    tuning = {"tuned": False, "engine": "spark", "reason": "constants from --params-from or the defaults"}
    profiles = {"method": PROFILE_METHOD, **(tifu or TifuParams()).as_dict()}
    manifest = write_model(out, stats, params, info, {"tuning": tuning, "profiles": profiles})
    onnx.checker.check_model(str(out / MODEL_FILE))
    frames.baskets.unpersist()
    return BuildResult(out, manifest)
