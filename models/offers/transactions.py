"""Transactions: the one input format of the offer model, and the Online Retail converter.

TX.csv has the header ``basket_id,customer_id,product_id,timestamp,quantity,price``, one line per
product in a basket. ``customer_id`` may be empty (a guest); ``timestamp`` is ISO 8601 (``Z`` or an
offset; naive means UTC) or unix seconds; ``quantity`` and ``price`` are numbers. Lines of one
basket need not be adjacent. Any grocery data set can be brought into this shape.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

TX_HEADER = ("basket_id", "customer_id", "product_id", "timestamp", "quantity", "price")


class TransactionsError(ValueError):
    """A transactions file cannot be read; carries the file, line and reason."""

    def __init__(self, path: str, line: int, reason: str) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        super().__init__(f"{path}, line {line}: {reason}")


@dataclass(frozen=True, slots=True)
class Basket:
    """One shopping trip: who, when (unix seconds) and the distinct products bought."""

    basket_id: str
    customer_id: str | None
    t: float
    items: tuple[str, ...]
    spend: float


def parse_timestamp(text: str) -> float:
    """Unix seconds from ISO 8601 or a number; raise ValueError otherwise."""
    text = text.strip()
    with contextlib.suppress(ValueError):
        return float(text)
    iso = text[:-1] + "+00:00" if text.endswith("Z") else text
    stamp = datetime.fromisoformat(iso)
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", newline="", encoding="utf-8")
    return path.open("r", newline="", encoding="utf-8")


def read_transactions(path: str | Path, max_baskets: int | None = None) -> list[Basket]:
    """Read TX.csv into baskets sorted by time (ties by basket id).

    ``max_baskets`` keeps only the *earliest* baskets (a quick slice for demos and tests).
    Products appearing twice in a basket are counted once; lines with quantity <= 0 are ignored.
    """
    path = Path(path)
    try:
        with _open_text(path) as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None or tuple(h.strip() for h in header) != TX_HEADER:
                raise TransactionsError(
                    str(path), 1, f"header must be {','.join(TX_HEADER)} (got {header!r})"
                )
            return baskets_from_rows(enumerate(reader, start=2), str(path), max_baskets)
    except (UnicodeDecodeError, csv.Error, EOFError, gzip.BadGzipFile) as exc:
        raise TransactionsError(str(path), 0, f"not a readable UTF-8 CSV file: {exc}") from None


def baskets_from_rows(
    rows: Iterable[tuple[int, Sequence[str]]], source: str, max_baskets: int | None = None
) -> list[Basket]:
    """Baskets from numbered TX rows (fields in TX_HEADER order), sorted by time."""
    lines: dict[str, list[str]] = {}
    meta: dict[str, tuple[str | None, float]] = {}
    spend: dict[str, float] = {}
    for number, row in rows:
        if not row:
            continue
        if len(row) != len(TX_HEADER):
            raise TransactionsError(source, number, f"expected 6 fields, got {len(row)}")
        basket_id, customer_id, product_id, stamp, quantity, price = (f.strip() for f in row)
        if not basket_id or not product_id:
            raise TransactionsError(source, number, "basket_id and product_id must not be empty")
        try:
            t = parse_timestamp(stamp)
            q = float(quantity)
            p = float(price) if price else 0.0
        except ValueError as exc:
            raise TransactionsError(source, number, f"bad number or timestamp: {exc}") from None
        if not (math.isfinite(t) and math.isfinite(q) and math.isfinite(p)):
            raise TransactionsError(
                source,
                number,
                f"bad number or timestamp: not finite (timestamp {t}, quantity {q}, price {p})",
            )
        if q <= 0:
            continue
        items = lines.setdefault(basket_id, [])
        if basket_id not in meta:
            meta[basket_id] = (customer_id or None, t)
        if product_id not in items:
            items.append(product_id)
        spend[basket_id] = spend.get(basket_id, 0.0) + q * p
    baskets = [
        Basket(bid, meta[bid][0], meta[bid][1], tuple(items), round(spend[bid], 2))
        for bid, items in lines.items()
        if items
    ]
    baskets.sort(key=lambda b: (b.t, b.basket_id))
    return baskets if max_baskets is None else baskets[:max_baskets]


def online_retail_baskets(source: str | Path, max_baskets: int | None = None) -> list[Basket]:
    """Baskets straight from online_retail.csv.gz (the converter's filtering, no TX.csv written).

    With ``max_baskets`` reading stops after that many invoices in file order (the file is in
    invoice order), so a small demo model costs a fraction of a pass over the file.
    """

    def rows() -> Iterator[tuple[int, Sequence[str]]]:
        seen: set[str] = set()
        for number, row in enumerate(online_retail_rows(source), start=2):
            if row[0] not in seen:
                if max_baskets is not None and len(seen) >= max_baskets:
                    return
                seen.add(row[0])
            yield number, row

    return baskets_from_rows(rows(), str(source), max_baskets)


def online_retail_rows(path: str | Path) -> Iterator[tuple[str, str, str, str, str, str]]:
    """Online Retail lines as TX rows: cancellations, returns, zero prices and non-products dropped.

    Dropped: invoices starting with ``C`` (cancellations), quantity <= 0, unit price <= 0, and stock
    codes that do not start with a digit (POST, DOT, M, BANK CHARGES, AMAZONFEE, gift vouchers...).
    """
    with _open_text(Path(path)) as fh:
        for row in csv.DictReader(fh):
            invoice, code = row["InvoiceNo"].strip(), row["StockCode"].strip().upper()
            if invoice.startswith("C") or not code[:1].isdigit():
                continue
            try:
                quantity, price = float(row["Quantity"]), float(row["UnitPrice"])
            except ValueError:
                continue
            if quantity <= 0 or price <= 0:
                continue
            yield (
                invoice,
                row["CustomerID"].strip(),
                code,
                row["InvoiceDate"].strip(),
                row["Quantity"],
                row["UnitPrice"],
            )


def convert_online_retail(source: str | Path, out: str | Path) -> int:
    """Write TX.csv from online_retail.csv(.gz); return the number of lines written."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(TX_HEADER)
        for row in online_retail_rows(source):
            writer.writerow(row)
            count += 1
    return count


def complete_journey_rows(path: str | Path) -> Iterator[tuple[str, str, str, str, str, str]]:
    """The Complete Journey's transactions as TX rows (household = customer; unit price =
    sales_value / quantity; lines with quantity or sales value <= 0 dropped)."""
    with _open_text(Path(path)) as fh:
        for row in csv.DictReader(fh):
            try:
                quantity, value = float(row["quantity"]), float(row["sales_value"])
            except ValueError:
                continue
            if quantity <= 0 or value <= 0:
                continue
            yield (
                row["basket_id"].strip(),
                row["household_id"].strip(),
                row["product_id"].strip(),
                row["transaction_timestamp"].strip(),
                row["quantity"],
                f"{value / quantity:.4f}",
            )


def complete_journey_baskets(source: str | Path) -> list[Basket]:
    """Baskets straight from completejourney_transactions(_sample).csv.gz."""
    return baskets_from_rows(enumerate(complete_journey_rows(source), start=2), str(source))


def online_retail_products(source: str | Path) -> dict[str, tuple[str, float]]:
    """Stock code -> (description, median unit price) over the kept lines (for catalogues)."""
    names: dict[str, str] = {}
    prices: dict[str, list[float]] = {}
    with _open_text(Path(source)) as fh:
        for row in csv.DictReader(fh):
            code = row["StockCode"].strip().upper()
            if row["InvoiceNo"].startswith("C") or not code[:1].isdigit():
                continue
            try:
                price = float(row["UnitPrice"])
            except ValueError:
                continue
            if price <= 0:
                continue
            if row["Description"].strip():
                names.setdefault(code, row["Description"].strip())
            prices.setdefault(code, []).append(price)
    result = {}
    for code, values in prices.items():
        values.sort()
        result[code] = (names.get(code, code).title(), values[len(values) // 2])
    return result
