"""Live shelf stock from sensing (pure: no I/O, no clock; time comes with the events).

Every weight event of a shelf changes the units the catalogue counts there
(:meth:`edge.offers.catalogue.Catalogue.set_stock`), so the offer engine stops offering a product
whose shelves (this one and those within ``nearby_gondolas``) are empty:

* a **pick** of ``n`` units takes ``n`` away (never below 0);
* a **return** of fewer than ``restock_min_units`` units puts them back;
* a weight **rise of ``restock_min_units`` units or more** (``rules.restock_min_units``, default 4)
  is a **restock** (staff filling the
  shelf, not a shopper putting things back): the units are added and the daemon records it as a
  ``stock/restock`` event instead of a basket return. A rise the detector could not name (more
  units than it tries, up to 12) is counted in units of the only product on those plates
  (planogram), when there is exactly one.

A shopper putting back ``restock_min_units`` or more units at once would be taken for a restock
(the stock is right either way; that shopper's basket keeps them). The default of 4 keeps the
common return of one or two units a return.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from edge.events import ShelfId, WeightEvent
from edge.offers.catalogue import Catalogue
from edge.sensing.planogram import Planogram

RESTOCK_MIN_UNITS = 4
StockKind = Literal["pick", "return", "restock"]


@dataclass(frozen=True, slots=True)
class StockChange:
    """What one weight event did to a shelf's stock."""

    kind: StockKind
    product_id: str
    shelf: ShelfId
    units: int  # change, negative for a pick
    level: int  # units on this shelf afterwards

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "product_id": self.product_id,
            "gondola": self.shelf.gondola,
            "shelf": self.shelf.shelf,
            "units": self.units,
            "level": self.level,
        }


class StockKeeper:
    """Applies weight events to the catalogue's stock and tells restocks from returns."""

    def __init__(
        self,
        catalogue: Catalogue,
        planogram: Planogram | None = None,
        restock_min_units: int = RESTOCK_MIN_UNITS,
    ) -> None:
        if restock_min_units < 2:
            raise ValueError("restock_min_units must be at least 2 (a single unit back is a return)")
        self.catalogue = catalogue
        self.planogram = planogram or Planogram()
        self.restock_min_units = restock_min_units

    def on_weight(self, event: WeightEvent) -> StockChange | None:
        """The stock change of ``event`` (applied to the catalogue), or None when it names no
        product the catalogue knows."""
        product_id, units = event.product_id, event.quantity
        if product_id is None and event.kind == "return":
            product_id, units = self._unnamed_rise(event)
        if product_id is None or units <= 0 or product_id not in self.catalogue:
            return None
        kind: StockKind = event.kind
        if kind == "return" and units >= self.restock_min_units:
            kind = "restock"
        delta = -units if kind == "pick" else units
        places = self.catalogue.stock.get(product_id, {})
        level = max(0, places.get(event.shelf, 0) + delta)
        self.catalogue.set_stock(product_id, event.shelf, level)
        return StockChange(kind, product_id, event.shelf, delta, level)

    def _unnamed_rise(self, event: WeightEvent) -> tuple[str | None, int]:
        """(product, units) of a rise the detector left unnamed: in units of the only product on
        its plates, if that makes at least a restock's worth; else (None, 0)."""
        products = {p.product_id: p for plate in event.plates for p in self.planogram.at(event.shelf, plate)}
        if len(products) != 1:
            return None, 0
        (product,) = products.values()
        units = round(event.delta_g / product.unit_weight_g)
        if units < self.restock_min_units:
            return None, 0
        return product.product_id, units
