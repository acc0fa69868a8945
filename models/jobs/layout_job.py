"""``shelf-models layout``: product pairs with high lift and, for a store's planogram, the strong
pairs placed far apart, as a Markdown report a category manager can read (Spark)."""

from __future__ import annotations

import argparse
from pathlib import Path

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from models.jobs.layout import held_out, pair_lift, placed
from models.jobs.session import SparkSettings, start_spark
from models.jobs.transactions import read_lines
from models.offers.method import Params
from models.offers.transactions import TransactionsError

STRONG_LIFT = 2.0
RANKINGS = ("lift_low", "lift", "together")  # the report's ranking, raw lift, most bought together


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--transactions", required=True, type=Path, help="TX lines: CSV or Parquet, file or folder."
    )
    parser.add_argument("--planogram", required=True, type=Path, help="The store's planogram CSV.")
    parser.add_argument("--min-support", type=int, default=Params().min_support, help="Baskets a pair needs.")
    parser.add_argument("--top", type=int, default=25, help="Pairs listed in the report.")
    parser.add_argument("--out", required=True, type=Path, help="Markdown report to write.")


def stability(pairs: DataFrame, top: int, order: str) -> float:
    """Share of the ``top`` pairs (by ``order``) whose later lift is still >= STRONG_LIFT."""
    chosen = pairs.orderBy(F.col(order).desc(), "a", "b").limit(top)
    row = chosen.agg(F.avg((F.col("later_lift") >= STRONG_LIFT).cast("double"))).first()
    return float(row[0]) if row and row[0] is not None else 0.0


def report(rows: list[dict[str, object]], strong: int, far: int, lasting: dict[str, float], top: int) -> str:
    lines = [
        "# Products bought together, and where the planogram puts them",
        "",
        f"{strong} pairs of products on this planogram are bought together at least {STRONG_LIFT:g} times as often "
        f"as chance would have it, counting for chance in small numbers (the lower 95 % bound of the lift is "
        f">= {STRONG_LIFT:g}); {far} of them sit on different gondolas. Placing such pairs next to each other "
        "makes the second purchase easier; keeping them apart walks shoppers past more of the store. The list "
        "shows the surest strong pairs placed on different gondolas.",
        "",
        f"How lasting these pairs are: of the {top} pairs ranked highest in the earlier 80 % of the period, "
        f"the share that still had lift >= {STRONG_LIFT:g} in the last 20 %: by the lower bound of the lift "
        f"(this list) {lasting['lift_low']:.0%}, by the lift itself {lasting['lift']:.0%}, the pairs most often "
        f"bought together (the usual list) {lasting['together']:.0%}.",
        "",
        "| product | with product | baskets together | lift | lift, lower 95 % bound | placement |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['a_name']} ({r['a']}) | {r['b_name']} ({r['b']}) | {r['together']} | {float(r['lift']):.1f} "  # type: ignore[arg-type]
            f"| {float(r['lift_low']):.1f} | {r['placement']} |"  # type: ignore[arg-type]
        )
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    try:
        spark = start_spark(SparkSettings.from_env("shelf-models layout"))
        lines = read_lines(spark, args.transactions).cache()
        planogram = spark.read.option("header", True).csv(str(args.planogram))
        pairs = lines.transform(pair_lift(args.min_support)).transform(placed(planogram)).cache()
        bounds = lines.agg(F.min("t"), F.max("t")).first()
        assert bounds is not None
        split = bounds[0] + 0.8 * (bounds[1] - bounds[0])
        earlier = lines.filter(F.col("t") < split).transform(pair_lift(max(2, args.min_support * 4 // 5)))
        later = lines.filter(F.col("t") >= split).transform(pair_lift(max(2, args.min_support // 5)))
        scored = earlier.transform(held_out(later)).cache()
        lasting = {order: stability(scored, args.top, order) for order in RANKINGS}
        strong_pairs = pairs.filter(F.col("lift_low") >= STRONG_LIFT)
        far_pairs = strong_pairs.filter(F.col("gondolas_apart") > 0)
        strong, far = strong_pairs.count(), far_pairs.count()
        listed = [r.asDict() for r in far_pairs.orderBy(F.col("lift_low").desc(), "a", "b").take(args.top)]
    except (OSError, ValueError, TransactionsError) as exc:
        print(f"shelf-models layout: {exc}")
        return 1
    args.out.write_text(report(listed, strong, far, lasting, args.top), encoding="utf-8")
    print(
        f"{strong} strong pairs on the planogram, {far} on different gondolas; report written to {args.out}"
    )
    print(
        f"lasting (lift >= {STRONG_LIFT:g} later) among the top {args.top}: by lower bound of lift "
        f"{lasting['lift_low']:.0%}, by lift {lasting['lift']:.0%}, by count (baseline) {lasting['together']:.0%}"
    )
    return 0
