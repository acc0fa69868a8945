"""The demo store: which real products stand on which plate, how much a unit weighs.

Products are the most-bought items of the UCI Online Retail data (../shared/data), with their real
names and prices, so that the offer model trained on the same data knows them. The data has no
weights, so each product gets a deterministic unit weight (from a hash of its code) between 60 g and
900 g; products sharing a shelf are kept at least 20 % apart, as a retailer's planogram would (the
similar-weight case is a separate sensing scenario).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ONLINE_RETAIL = DATA_DIR / "online_retail.csv.gz"
PLANOGRAM_HEADER = ("product_id", "name", "gondola", "shelf", "plate", "unit_weight_g", "price")


@dataclass(frozen=True, slots=True)
class PlacedProduct:
    product_id: str
    name: str
    gondola: int
    shelf: int
    plate: int
    unit_weight_g: float
    price: float


def find_online_retail(explicit: Path | None = None) -> Path:
    for candidate in (
        explicit,
        ONLINE_RETAIL,
        Path.cwd().parent / "shared" / "data" / "online_retail.csv.gz",
    ):
        if candidate is not None and candidate.exists():
            return candidate
    raise FileNotFoundError(
        "online_retail.csv.gz not found: the repository expects ../shared/data beside it (see README.md)"
    )


def slice_online_retail(source: Path, out: Path, max_invoices: int) -> Path:
    """Copy the first ``max_invoices`` invoices (the file is in time order) to ``out`` (gzip, same layout)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    invoices: set[str] = set()
    with gzip.open(source, "rt", newline="") as src, gzip.open(out, "wt", newline="", compresslevel=1) as dst:
        reader = csv.reader(src)
        writer = csv.writer(dst)
        writer.writerow(next(reader))
        for row in reader:
            if row[0] not in invoices:
                if len(invoices) >= max_invoices:
                    break
                invoices.add(row[0])
            writer.writerow(row)
    return out


def top_products(path: Path, n: int) -> list[tuple[str, str, float]]:
    """(stock code, description, median unit price) of the ``n`` products on most invoices."""
    invoices: Counter[str] = Counter()
    names: dict[str, str] = {}
    prices: dict[str, list[float]] = {}
    seen: set[tuple[str, str]] = set()
    with gzip.open(path, "rt", newline="") as fh:
        for row in csv.DictReader(fh):
            code, invoice = row["StockCode"], row["InvoiceNo"]
            if invoice.startswith("C") or not code[:1].isdigit() or float(row["Quantity"]) <= 0:
                continue
            price = float(row["UnitPrice"])
            if price <= 0:
                continue
            if (invoice, code) not in seen:
                seen.add((invoice, code))
                invoices[code] += 1
            names.setdefault(code, row["Description"].strip())
            prices.setdefault(code, []).append(price)
    result = []
    for code, _ in invoices.most_common(n):
        ps = sorted(prices[code])
        result.append((code, names[code].title(), ps[len(ps) // 2]))
    return result


def unit_weight(code: str) -> float:
    digest = hashlib.sha256(code.encode()).digest()
    return round(60.0 + (int.from_bytes(digest[:4], "big") / 2**32) * 840.0, 1)


def layout(
    products: list[tuple[str, str, float]], gondolas: int = 2, shelves: int = 2, plates: int = 6
) -> list[PlacedProduct]:
    """Place products one per plate, shelf by shelf, keeping weights on a shelf >= 20 % apart."""
    pool = list(products)
    placed: list[PlacedProduct] = []
    for g in range(1, gondolas + 1):
        for s in range(1, shelves + 1):
            weights: list[float] = []
            for p in range(1, plates + 1):
                for i, (code, name, price) in enumerate(pool):
                    w = unit_weight(code)
                    if all(abs(w - o) / max(w, o) >= 0.2 for o in weights):
                        weights.append(w)
                        placed.append(PlacedProduct(code, name, g, s, p, w, price))
                        del pool[i]
                        break
    return placed


def write_planogram(placed: list[PlacedProduct], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(PLANOGRAM_HEADER)
        for p in placed:
            writer.writerow([p.product_id, p.name, p.gondola, p.shelf, p.plate, p.unit_weight_g, p.price])
    return path
