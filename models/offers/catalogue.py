"""A store catalogue from Online Retail products (for the demo store and tests).

The data has names and prices but no margins, categories or stock, so: ``margin`` is a fixed
pseudo-random share in [0.20, 0.50] from a hash of the stock code (documented as synthetic);
``category`` is the last word of the description (HOLDER, BAG, MUG...); ``new`` marks products
first sold in the last ``new_days`` days of the data; stock is ``units`` per planogram place.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path

from edge.events import ShelfId
from edge.offers.catalogue import Catalogue, Product
from models.offers.transactions import parse_timestamp


def synthetic_margin(code: str) -> float:
    digest = hashlib.sha256(f"margin:{code}".encode()).digest()
    return round(0.20 + int.from_bytes(digest[:4], "big") / 2**32 * 0.30, 3)


def category_of(name: str) -> str:
    words = [w for w in name.replace(",", " ").split() if w.isalpha()]
    return words[-1].lower() if words else "other"


def catalogue_from_online_retail(
    source: str | Path,
    planogram: Iterable[Mapping[str, str]] = (),
    units: int = 12,
    new_days: float = 30.0,
) -> Catalogue:
    names: dict[str, str] = {}
    prices: dict[str, list[float]] = {}
    first: dict[str, float] = {}
    last_t = 0.0
    with gzip.open(source, "rt", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            code = row["StockCode"].strip().upper()
            if row["InvoiceNo"].startswith("C") or not code[:1].isdigit():
                continue
            try:
                price, quantity = float(row["UnitPrice"]), float(row["Quantity"])
                t = parse_timestamp(row["InvoiceDate"])
            except ValueError:
                continue
            if price <= 0 or quantity <= 0:
                continue
            if row["Description"].strip():
                names.setdefault(code, row["Description"].strip().title())
            prices.setdefault(code, []).append(price)
            first[code] = min(first.get(code, t), t)
            last_t = max(last_t, t)
    products = {}
    for code, values in prices.items():
        values.sort()
        name = names.get(code, code)
        products[code] = Product(
            code,
            name,
            values[len(values) // 2],
            synthetic_margin(code),
            category_of(name),
            first[code] >= last_t - new_days * 86400,
        )
    catalogue = Catalogue(products)
    for place in planogram:
        code = place["product_id"]
        if code in products:
            shelf = ShelfId(int(place["gondola"]), int(place["shelf"]))
            catalogue.set_stock(code, shelf, catalogue.stock.get(code, {}).get(shelf, 0) + units)
    return catalogue
