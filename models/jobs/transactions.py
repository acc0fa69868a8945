"""Extract: transaction lines (TX.csv's columns) from CSV or Parquet, a file or a partitioned folder.

The schema contract is TX.csv's (``models.offers.transactions.TX_HEADER``); extra columns (a
``store_id``, the partition columns ``day=``/``store=`` of an export) are kept. Every line gets
``line``, its position in the source (Spark's file order), which decides the order of a basket's
products exactly as the local reader's first-seen order does. A line with an empty basket or
product id, or a quantity, price or timestamp that does not parse stops the job with
:class:`models.offers.transactions.TransactionsError` naming the basket, product and value.
"""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from models.offers.transactions import TX_HEADER, TransactionsError

#: Columns (and types) of the typed lines every job starts from.
LINES_COLUMNS = ("line", "basket_id", "customer_id", "product_id", "t", "quantity", "price")


def _is_parquet(path: Path) -> bool:
    if path.is_dir():
        return any(path.rglob("*.parquet"))
    return path.suffix == ".parquet"


def read_raw(spark: SparkSession, path: str | Path) -> DataFrame:
    """TX columns as read (strings for CSV), plus ``line``; a missing column is a TransactionsError."""
    path = Path(path)
    if not path.exists():
        raise TransactionsError(str(path), 0, "no such file or folder")
    if _is_parquet(path):
        df = spark.read.parquet(str(path))
    else:
        df = spark.read.option("header", True).option("mode", "FAILFAST").csv(str(path))
        if tuple(c.strip() for c in df.columns) != TX_HEADER:
            raise TransactionsError(
                str(path), 1, f"header must be {','.join(TX_HEADER)} (got {df.columns!r})"
            )
    missing = [c for c in TX_HEADER if c not in df.columns]
    if missing:
        raise TransactionsError(str(path), 0, f"missing columns {missing} (have {df.columns})")
    return df.withColumn("line", F.monotonically_increasing_id())


def _seconds(col: Column) -> Column:
    """Unix seconds from a number, an ISO 8601 string (naive = UTC) or a timestamp column."""
    text = F.trim(col.cast("string"))
    return F.coalesce(text.try_cast("double"), F.try_to_timestamp(text).cast("double"))


def typed_lines(raw: DataFrame) -> DataFrame:
    """Schema contract -> typed lines (``LINES_COLUMNS`` plus any extra columns); bad values flagged."""
    extra = [c for c in raw.columns if c not in (*TX_HEADER, "line")]
    price = F.trim(F.col("price").cast("string"))
    customer = F.trim(F.col("customer_id").cast("string"))
    return raw.select(
        "line",
        F.trim(F.col("basket_id").cast("string")).alias("basket_id"),
        F.when(customer == "", None).otherwise(customer).alias("customer_id"),
        F.trim(F.col("product_id").cast("string")).alias("product_id"),
        _seconds(F.col("timestamp")).alias("t"),
        F.trim(F.col("quantity").cast("string")).try_cast("double").alias("quantity"),
        F.when(F.coalesce(price, F.lit("")) == "", F.lit(0.0))
        .otherwise(price.try_cast("double"))
        .alias("price"),
        F.col("timestamp").cast("string").alias("_timestamp_text"),
        *extra,
    )


def check_lines(lines: DataFrame, source: str) -> None:
    """Raise TransactionsError for the first bad line (one small action; nothing collected)."""
    empty = F.coalesce(F.col("basket_id"), F.lit("")) == ""
    empty = empty | (F.coalesce(F.col("product_id"), F.lit("")) == "")
    bad = lines.filter(empty | F.col("t").isNull() | F.col("quantity").isNull() | F.col("price").isNull())
    first = bad.select("basket_id", "product_id", "_timestamp_text", "quantity", "price").limit(1).take(1)
    if first:
        row = first[0]
        raise TransactionsError(
            source,
            0,
            f"basket {row['basket_id']!r}, product {row['product_id']!r}: empty id, bad number or timestamp "
            f"(timestamp {row['_timestamp_text']!r}, quantity {row['quantity']}, price {row['price']})",
        )


def read_lines(spark: SparkSession, path: str | Path) -> DataFrame:
    """Extract + check: typed lines with quantity > 0 (the lines every model counts)."""
    lines = typed_lines(read_raw(spark, path))
    check_lines(lines, str(path))
    return lines.filter(F.col("quantity") > 0).drop("_timestamp_text")
