"""The planogram: which product lies on which plate, and what one unit weighs.

CSV header ``product_id,name,gondola,shelf,plate,unit_weight_g,price``; one row per (product, plate),
so a product on several plates has several rows (the same name, weight and price on each).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from edge.errors import EdgeError
from edge.events import ShelfId

HEADER = ("product_id", "name", "gondola", "shelf", "plate", "unit_weight_g", "price")


class PlanogramError(EdgeError):
    """A planogram file is malformed; ``line`` is 1-based (the header is line 1)."""

    def __init__(self, source: str, line: int, reason: str) -> None:
        self.source = source
        self.line = line
        self.reason = reason
        super().__init__(f"{source}:{line}: {reason}")


@dataclass(frozen=True, slots=True)
class Product:
    product_id: str
    name: str
    unit_weight_g: float
    price: float


@dataclass(frozen=True, slots=True)
class Placement:
    product: Product
    shelf: ShelfId
    plate: int


class Planogram:
    """Products by (shelf, plate), and the plates of each product on a shelf."""

    __slots__ = ("_by_plate", "_by_shelf", "products")

    def __init__(self, placements: Iterable[Placement] = ()) -> None:
        self.products: dict[str, Product] = {}
        self._by_plate: dict[tuple[ShelfId, int], tuple[Product, ...]] = {}
        self._by_shelf: dict[ShelfId, dict[str, tuple[int, ...]]] = {}
        for placement in placements:
            self._add(placement)

    def _add(self, placement: Placement) -> None:
        product = placement.product
        known = self.products.get(product.product_id)
        if known is not None and known.unit_weight_g != product.unit_weight_g:
            raise ValueError(
                f"product {product.product_id}: unit weight {product.unit_weight_g} g "
                f"differs from {known.unit_weight_g} g given before"
            )
        self.products.setdefault(product.product_id, product)
        key = (placement.shelf, placement.plate)
        on_plate = self._by_plate.get(key, ())
        if all(p.product_id != product.product_id for p in on_plate):
            self._by_plate[key] = (*on_plate, self.products[product.product_id])
        plates = self._by_shelf.setdefault(placement.shelf, {})
        current = plates.get(product.product_id, ())
        if placement.plate not in current:
            plates[product.product_id] = tuple(sorted((*current, placement.plate)))

    @classmethod
    def load_csv(cls, path: str | Path) -> Planogram:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise PlanogramError(str(path), 0, f"cannot read: {exc.strerror}") from None
        return cls.parse_csv(text, str(path))

    @classmethod
    def parse_csv(cls, text: str, source: str = "<planogram>") -> Planogram:
        reader = csv.reader(io.StringIO(text))
        header = next(reader, None)
        if header is None or tuple(h.strip() for h in header) != HEADER:
            raise PlanogramError(source, 1, f"header must be {','.join(HEADER)}, got {header}")
        planogram = cls()
        for line, row in enumerate(reader, start=2):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(HEADER):
                raise PlanogramError(source, line, f"expected {len(HEADER)} columns, got {len(row)}")
            pid, name, gondola, shelf, plate, weight, price = (c.strip() for c in row)
            try:
                placement = Placement(
                    Product(pid, name, float(weight), float(price)),
                    ShelfId(int(gondola), int(shelf)),
                    int(plate),
                )
            except ValueError as exc:
                raise PlanogramError(source, line, f"bad number: {exc}") from None
            if not pid:
                raise PlanogramError(source, line, "empty product_id")
            if placement.product.unit_weight_g <= 0:
                raise PlanogramError(source, line, f"unit_weight_g must be > 0, got {weight}")
            try:
                planogram._add(placement)
            except ValueError as exc:
                raise PlanogramError(source, line, str(exc)) from None
        return planogram

    def at(self, shelf: ShelfId, plate: int) -> tuple[Product, ...]:
        """Products placed on ``plate`` of ``shelf`` (empty when none)."""
        return self._by_plate.get((shelf, plate), ())

    def near(self, shelf: ShelfId, plates: Iterable[int], reach: int = 1) -> tuple[Product, ...]:
        """Products on ``plates`` or within ``reach`` plates of them, each once."""
        seen: dict[str, Product] = {}
        for plate in plates:
            for other in range(plate - reach, plate + reach + 1):
                for product in self.at(shelf, other):
                    seen.setdefault(product.product_id, product)
        return tuple(seen.values())

    def plates_of(self, shelf: ShelfId, product_id: str) -> tuple[int, ...]:
        return self._by_shelf.get(shelf, {}).get(product_id, ())

    def shelves(self) -> tuple[ShelfId, ...]:
        return tuple(sorted(self._by_shelf))

    def on_shelf(self, shelf: ShelfId) -> tuple[Product, ...]:
        return tuple(self.products[p] for p in self._by_shelf.get(shelf, {}))
