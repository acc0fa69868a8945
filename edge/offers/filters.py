"""Per-shelf and per-product facts of the offer engine that depend only on the catalogue, its
stock and the rules (pure; cached until one of them changes): what a shelf can offer at all, why
a product cannot be offered there, and which running campaign with budget left covers a product.

Part of :class:`edge.offers.decision.OfferEngine` (its base class).
"""

from __future__ import annotations

from edge.events import ShelfId
from edge.offers.catalogue import Catalogue, Product
from edge.offers.rules import Campaign, OfferRules
from edge.offers.state import OfferState

Info = tuple[Product, float, bool, bool]  # product, organic money margin, covered by a campaign, new
Facts = tuple[frozenset[str], tuple[Product, ...], dict[str, Info]]


class ShelfFacts:
    """Cached facts; the engine sets the attributes below (rules, catalogue, caps and budgets)."""

    _rules: OfferRules
    _catalogue: Catalogue
    _state: OfferState
    _excluded_products: frozenset[str]
    _excluded_categories: frozenset[str]
    _sensitive: frozenset[str]  # sensitive categories (lower case)
    _never: frozenset[str]  # categories never offered: excluded, and sensitive unless allowed
    _campaign_scope: list[tuple[Campaign, frozenset[str], frozenset[str]]]
    _static: dict[ShelfId, tuple[int, Facts]]
    _hot: tuple[ShelfId, int, Facts] | None
    _infos: dict[str, Info]

    def offerable(self, shelf: ShelfId) -> frozenset[str]:
        """Products that could be offered at ``shelf`` at all: in the catalogue, not excluded, in stock
        on this or a nearby gondola. Pass it to ``OfferModel.candidates(within=...)`` so the model
        only spends its ``k`` on these. Cached until the catalogue's stock changes."""
        return self._static_ok(shelf)[0]

    def _static_ok(self, shelf: ShelfId) -> Facts:
        """(offerable product ids, offerable new products by id, facts per offerable product) at
        ``shelf``, cached per stock version (and by identity for the shelf asked last)."""
        catalogue = self._catalogue
        hot = self._hot
        if hot is not None and hot[0] is shelf and hot[1] == catalogue.version:
            return hot[2]
        cached = self._static.get(shelf)
        if cached is None or cached[0] != catalogue.version:
            r = self._rules.rules
            ok = frozenset(
                pid
                for pid in catalogue.stocked()
                if (p := catalogue.get(pid)) is not None
                and pid not in self._excluded_products
                and p.category not in self._never
                and catalogue.stock_near(pid, shelf, r.nearby_gondolas) >= r.min_stock
            )
            new = tuple(p for p in catalogue.new_products() if p.product_id in ok)
            cached = self._static[shelf] = (
                catalogue.version,
                (ok, new, {pid: self._info(pid) for pid in ok}),
            )
        self._hot = (shelf, cached[0], cached[1])
        return cached[1]

    def _static_reason(self, product_id: str) -> str:
        product = self._catalogue.get(product_id)
        if product is None:
            return "not-in-catalogue"
        if product_id in self._excluded_products or product.category in self._excluded_categories:
            return "excluded"
        if product.category in self._never:
            return "sensitive"
        return "out-of-stock"

    def _info(self, product_id: str) -> Info:
        """(product, organic money margin, covered by any campaign, new), cached per product."""
        info = self._infos.get(product_id)
        if info is None:
            product = self._catalogue.products[product_id]
            covered = any(
                product_id in products or product.category in categories
                for _, products, categories in self._campaign_scope
            )
            info = (product, max(0.0, product.price * product.margin), covered, product.new)
            self._infos[product_id] = info
        return info

    def _campaign(
        self, product: Product, shopper: str, t: float, segments: frozenset[str]
    ) -> tuple[Campaign | None, bool]:
        """Best running campaign with budget left for ``product`` that reaches a shopper in
        ``segments`` (:meth:`Campaign.reaches`); flag True if one covers it but is spent."""
        best: Campaign | None = None
        spent = False
        for campaign, products, categories in self._campaign_scope:
            if product.product_id not in products and product.category not in categories:
                continue
            if not campaign.running(t) or not campaign.reaches(segments):
                continue
            if self._state.campaign_exhausted(campaign, shopper):
                spent = True
                continue
            if best is None or campaign.weight > best.weight:
                best = campaign
        return best, spent
