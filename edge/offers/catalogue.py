"""The store catalogue the offer engine decides with: names, prices, margins, categories, stock.

CSV format (UTF-8, header required, one product a line)::

    product_id,name,price,margin,category,new,stock
    22423,Regency Cakestand 3 Tier,12.75,0.35,cakestand,0,1/0=6;1/1=2
    23084,Rabbit Night Light,2.08,0.42,light,1,

* ``price``: shelf price per unit (> 0); ``margin``: share of the price the store keeps (0..1);
* ``category``: free text, compared case-insensitively with the rules' excluded categories;
* ``new``: 1 for a new product (eligible for the novelty share), else 0;
* ``stock``: units per shelf as ``gondola/shelf=units`` joined by ``;`` (empty: not in this store).

Loading is all-or-nothing: :class:`CatalogueError` lists every bad line.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from edge.errors import EdgeError
from edge.events import ShelfId

HEADER = ("product_id", "name", "price", "margin", "category", "new", "stock")


class CatalogueError(EdgeError):
    """A catalogue file was refused; ``problems`` holds (line, message) for every bad line."""

    def __init__(self, source: str, problems: list[tuple[int, str]]) -> None:
        self.source = source
        self.problems = problems
        shown = "\n".join(f"  line {line}: {msg}" for line, msg in problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"catalogue {source} refused:\n{shown}{more}")


@dataclass(frozen=True, slots=True)
class Product:
    product_id: str
    name: str
    price: float
    margin: float
    category: str
    new: bool = False

    @property
    def margin_value(self) -> float:
        """Money the store keeps on one unit at full price."""
        return self.price * self.margin


@dataclass(slots=True)
class Catalogue:
    """Products by id plus units in stock per (product, shelf). Stock may be updated in place."""

    products: dict[str, Product]
    stock: dict[str, dict[ShelfId, int]] = field(default_factory=dict)
    _stocked: frozenset[str] | None = field(default=None, repr=False, compare=False)
    version: int = field(default=0, compare=False)
    _new: list[Product] | None = field(default=None, repr=False, compare=False)
    #: stock levels below which a change matters to the offer engine (its rules' ``min_stock``)
    watch_below: int = field(default=1, compare=False)

    def __contains__(self, product_id: object) -> bool:
        return product_id in self.products

    def __len__(self) -> int:
        return len(self.products)

    def get(self, product_id: str) -> Product | None:
        return self.products.get(product_id)

    def new_products(self) -> list[Product]:
        """New products, by id (cached: products do not change after loading)."""
        if self._new is None:
            self._new = sorted((p for p in self.products.values() if p.new), key=lambda p: p.product_id)
        return self._new

    def set_stock(self, product_id: str, shelf: ShelfId, units: int) -> None:
        """Units of ``product_id`` on ``shelf`` now. ``version`` (what the offer engine's caches are
        keyed by) changes only when the shelf's units were or become fewer than ``watch_below``:
        above it, no product becomes or stops being offerable (a pick of a well stocked product
        costs no cache rebuild)."""
        places = self.stock.setdefault(product_id, {})
        units = max(0, units)
        old = places.get(shelf)
        places[shelf] = units
        if old is None or (old != units and min(old, units) < self.watch_below):
            self._stocked = None
            self.version += 1

    def stocked(self) -> frozenset[str]:
        """Products with at least one unit anywhere in the store (cached until stock changes)."""
        if self._stocked is None:
            self._stocked = frozenset(p for p, places in self.stock.items() if any(places.values()))
        return self._stocked

    def stock_near(self, product_id: str, shelf: ShelfId, gondola_distance: int = 0) -> int:
        """Units of ``product_id`` on shelves within ``gondola_distance`` gondolas of ``shelf``."""
        places = self.stock.get(product_id)
        if not places:
            return 0
        return sum(u for s, u in places.items() if abs(s.gondola - shelf.gondola) <= gondola_distance)

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, str]], source: str = "<rows>") -> Catalogue:
        products: dict[str, Product] = {}
        stock: dict[str, dict[ShelfId, int]] = {}
        problems: list[tuple[int, str]] = []
        for line, row in enumerate(rows, start=2):
            try:
                product, places = _parse_row(row)
            except ValueError as exc:
                problems.append((line, str(exc)))
                continue
            if product.product_id in products:
                problems.append((line, f"duplicate product_id {product.product_id!r}"))
                continue
            products[product.product_id] = product
            if places:
                stock[product.product_id] = places
        if problems:
            raise CatalogueError(source, problems)
        return cls(products, stock)

    @classmethod
    def load(cls, path: str | Path) -> Catalogue:
        path = Path(path)
        try:
            with path.open(newline="", encoding="utf-8") as fh:
                reader = csv.DictReader(fh)
                if tuple(reader.fieldnames or ()) != HEADER:
                    raise CatalogueError(str(path), [(1, f"header must be {','.join(HEADER)}")])
                return cls.from_rows(reader, str(path))
        except (OSError, UnicodeDecodeError) as exc:
            raise CatalogueError(str(path), [(0, f"cannot read: {exc}")]) from None

    def write(self, path: str | Path) -> None:
        with Path(path).open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(HEADER)
            for p in self.products.values():
                places = ";".join(
                    f"{s.gondola}/{s.shelf}={u}" for s, u in sorted(self.stock.get(p.product_id, {}).items())
                )
                writer.writerow(
                    [
                        p.product_id,
                        p.name,
                        f"{p.price:.2f}",
                        f"{p.margin:.3f}",
                        p.category,
                        int(p.new),
                        places,
                    ]
                )


def _parse_row(row: Mapping[str, str]) -> tuple[Product, dict[ShelfId, int]]:
    product_id = (row.get("product_id") or "").strip()
    if not product_id:
        raise ValueError("empty product_id")
    try:
        price = float(row.get("price") or "")
        margin = float(row.get("margin") or "")
    except ValueError:
        raise ValueError(f"{product_id}: price and margin must be numbers") from None
    if not (price > 0 and math.isfinite(price)):
        raise ValueError(f"{product_id}: price must be a finite number > 0")
    if not 0.0 <= margin <= 1.0:
        raise ValueError(f"{product_id}: margin must be a share of the price in [0, 1]")
    new = (row.get("new") or "0").strip()
    if new not in ("0", "1"):
        raise ValueError(f"{product_id}: new must be 0 or 1")
    places: dict[ShelfId, int] = {}
    for part in filter(None, (p.strip() for p in (row.get("stock") or "").split(";"))):
        where, _, units = part.partition("=")
        g, _, s = where.partition("/")
        if not (g.isdigit() and s.isdigit() and units.strip().isdigit()):
            raise ValueError(f"{product_id}: stock entry {part!r} must look like 'gondola/shelf=units'")
        places[ShelfId(int(g), int(s))] = int(units)
    name = (row.get("name") or "").strip() or product_id
    category = (row.get("category") or "").strip().lower()
    return Product(product_id, name, price, margin, category, new == "1"), places
