"""Typed Parquet columns are read as they are and give what the same values as text give."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import Row, SparkSession

from models.jobs.transactions import read_lines
from models.offers.transactions import TX_HEADER, TransactionsError

Value = str | int | float | Decimal | datetime | date | None


def _text(value: Value, kind: pa.DataType) -> str:
    """The value as a CSV export writes it (ISO 8601 times, shortest float text; null is empty)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if kind == pa.float32():
        return str(np.float32(value))
    return str(value)


def _write(folder: Path, name: str, columns: dict[str, pa.Array]) -> tuple[Path, Path]:
    """The same lines as typed Parquet and as CSV text."""
    table = pa.table(columns)
    parquet = folder / f"{name}.parquet"
    pq.write_table(table, str(parquet))
    text = folder / f"{name}.csv"
    with text.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(TX_HEADER)
        kinds = [table.schema.field(c).type for c in TX_HEADER]
        for row in zip(*(table.column(c).to_pylist() for c in TX_HEADER), strict=True):
            out.writerow([_text(v, kind) for v, kind in zip(row, kinds, strict=True)])
    return parquet, text


def _rows(spark: SparkSession, path: Path) -> list[Row]:
    return read_lines(spark, path).orderBy("line").collect()


T0 = datetime(2025, 3, 1, 10, 0, 0, 250_000, tzinfo=UTC)
NAIVE = [datetime(2025, 3, 1, 10, 0, 0, 250_000), datetime(2025, 3, 2, 23, 59, 59)]

GOOD: dict[str, dict[str, pa.Array]] = {
    # the synthetic chain's schema: int64 ids, UTC timestamps, float64 numbers
    "chain": {
        "basket_id": pa.array([" b1 ", "b1", "b2", "b3"]),
        "customer_id": pa.array([7, 7, None, 8], pa.int64()),
        "product_id": pa.array([101, 102, 101, 103], pa.int64()),
        "timestamp": pa.array([T0, T0, datetime(2025, 3, 2, tzinfo=UTC), T0], pa.timestamp("ms", "UTC")),
        "quantity": pa.array([1.0, 2.5, 0.0, -1.0], pa.float64()),
        "price": pa.array([2.5, None, 0.1, 1e300], pa.float64()),
    },
    # naive timestamps (read as TIMESTAMP_NTZ), integer quantities, decimal prices
    "naive": {
        "basket_id": pa.array(["b1", "b2", "b3"]),
        "customer_id": pa.array(["c1", " ", "c2"]),
        "product_id": pa.array(["p1", "p2", "p3"]),
        "timestamp": pa.array([*NAIVE, NAIVE[0]], pa.timestamp("us")),
        "quantity": pa.array([1, 3, 0], pa.int32()),
        "price": pa.array([Decimal("2.50"), None, Decimal("0.07")], pa.decimal128(9, 2)),
    },
    # dates; decimal and float32 quantities (float32 stays on the text path), integer prices
    "dates": {
        "basket_id": pa.array(["b1", "b2", "b3"]),
        "customer_id": pa.array([None, "c1", "c1"]),
        "product_id": pa.array(["p1", "p1", "p2"]),
        "timestamp": pa.array([date(2025, 3, 1), date(2024, 2, 29), date(2025, 3, 1)], pa.date32()),
        "quantity": pa.array([Decimal("0.125"), Decimal("2"), Decimal("1.1")], pa.decimal128(6, 3)),
        "price": pa.array([3, 0, None], pa.int64()),
    },
    # unix seconds as numbers
    "epoch": {
        "basket_id": pa.array(["b1", "b2"]),
        "customer_id": pa.array(["c1", "c2"]),
        "product_id": pa.array(["p1", "p2"]),
        "timestamp": pa.array([1_740_823_200.25, 1_740_909_599.0], pa.float64()),
        "quantity": pa.array([np.float32(0.1), np.float32(2.0)], pa.float32()),
        "price": pa.array([1.0e-7, 12345678.9], pa.float64()),
    },
    "epoch_int": {
        "basket_id": pa.array(["b1", "b2"]),
        "customer_id": pa.array(["c1", "c2"]),
        "product_id": pa.array(["p1", "p2"]),
        "timestamp": pa.array([1_740_823_200, 2**53 + 1], pa.int64()),
        "quantity": pa.array([1, 2], pa.int64()),
        "price": pa.array([1.5, 2.0], pa.float64()),
    },
}


@pytest.mark.parametrize("name", sorted(GOOD))
def test_typed_parquet_gives_the_lines_its_text_gives(spark: SparkSession, tmp_path: Path, name: str) -> None:
    parquet, text = _write(tmp_path, name, GOOD[name])
    typed, parsed = _rows(spark, parquet), _rows(spark, text)
    assert typed == parsed
    assert typed, "quantity > 0 keeps some lines"
    assert all(isinstance(r["t"], float) and isinstance(r["price"], float) for r in typed)


def _bad(**change: Sequence[Value]) -> dict[str, pa.Array]:
    columns = {
        "basket_id": pa.array(["b1", "b2"]),
        "customer_id": pa.array([1, 2], pa.int64()),
        "product_id": pa.array([11, 12], pa.int64()),
        "timestamp": pa.array([T0, T0], pa.timestamp("ms", "UTC")),
        "quantity": pa.array([1.0, 1.0], pa.float64()),
        "price": pa.array([2.0, 2.0], pa.float64()),
    }
    for name, values in change.items():
        columns[name] = pa.array(values, columns[name].type)
    return columns


STAMP = "timestamp '2025-03-01 10:00:00.25'"
BAD = {
    "no quantity": (
        _bad(quantity=[1.0, None]),
        "basket 'b2', product '12'",
        f"{STAMP}, quantity None, price 2.0",
    ),
    "no timestamp": (_bad(timestamp=[T0, None]), "basket 'b2', product '12'", "timestamp None, quantity 1.0"),
    "no basket": (_bad(basket_id=["b1", None]), "basket None, product '12'", f"{STAMP}, quantity 1.0"),
    "blank basket": (_bad(basket_id=["b1", "  "]), "basket '', product '12'", f"{STAMP}, quantity 1.0"),
    "no product": (_bad(product_id=[11, None]), "basket 'b2', product None", f"{STAMP}, quantity 1.0"),
    "infinite price": (
        _bad(price=[2.0, math.inf]),
        "basket 'b2', product '12'",
        f"{STAMP}, quantity 1.0, price inf",
    ),
    "NaN quantity": (
        _bad(quantity=[1.0, math.nan]),
        "basket 'b2', product '12'",
        f"{STAMP}, quantity nan, price 2.0",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_typed_value_is_named_as_its_text_is(spark: SparkSession, tmp_path: Path, case: str) -> None:
    columns, line, values = BAD[case]
    parquet, text = _write(tmp_path, "bad", columns)
    with pytest.raises(TransactionsError) as typed:
        read_lines(spark, parquet)
    assert typed.value.reason.startswith(f"{line}: empty id, bad number or timestamp ({values}")
    # the text's timestamp is shown as written; the line and the other values are the same
    with pytest.raises(TransactionsError) as parsed:
        read_lines(spark, text)
    assert parsed.value.reason.startswith(f"{line}: empty id, bad number or timestamp (")
    assert parsed.value.reason.split(", quantity")[1] == typed.value.reason.split(", quantity")[1]
