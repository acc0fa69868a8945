"""Campaigns, business rules and the experiment, as validated data from the backend (never code).

One JSON document (``offer_rules.json``, schema in edge/offers/README.md)::

    {"version": "2026-11-23.1",
     "rules": {"excluded_categories": ["alcohol"], "max_offers_per_shopper": 3, ...},
     "campaigns": [{"campaign_id": "xmas", "name": "Christmas", "products": ["22423"], "weight": 2.0,
                    "discount_pct": 10, "budget_offers": 500, "start": 1764547200, "end": 1766966400}],
     "experiment": {"experiment_id": "exp-1", "salt": "s1", "holdout_share": 0.05,
                    "variants": [{"name": "ev", "share": 0.5}, {"name": "relevance", "share": 0.5,
                                  "ranking": "relevance"}]}}

Every field is checked at the door (unknown keys are errors); :func:`parse_rules` (and ``edge.offers.sources.load_rules``) raise
:class:`RulesError` naming each problem.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from edge.errors import EdgeError
from edge.offers.profile import SEGMENT_PATTERN

Ranking = Literal["expected-value", "relevance"]
#: A customer segment id, as ``shelf-models segments`` writes it and shopper profiles carry it.
SegmentId = Annotated[str, StringConstraints(pattern=SEGMENT_PATTERN)]

#: Categories whose products are never offered, named in a reason, or given social proof unless the
#: retailer changes ``rules.sensitive_categories``: an offer on a shelf display is seen by others, and
#: an offer in these categories (or one that names such a product in the basket) tells them something
#: about the shopper's health, family or habits.
DEFAULT_SENSITIVE_CATEGORIES = (
    "health",
    "pharmacy",
    "medicine",
    "baby",
    "pregnancy",
    "alcohol",
    "tobacco",
    "hygiene",
    "intimate",
    "contraception",
    "incontinence",
    "adult",
)
OPT_OUT_HINT = "Personal offers can be switched off in the app: Settings > Privacy"


class RulesError(EdgeError):
    """An offer rules document was refused; ``problems`` lists 'path: message' strings."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"offer rules {source} refused:\n" + "\n".join(f"  - {p}" for p in problems))


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Rules(_Data):
    excluded_categories: tuple[str, ...] = Field(
        (), description="Categories never offered (case-insensitive)."
    )
    excluded_products: tuple[str, ...] = Field((), description="Product ids never offered.")
    min_stock: int = Field(1, ge=1, description="Units that must be in stock on this or a nearby shelf.")
    nearby_gondolas: int = Field(1, ge=0, description="Gondolas either side that count as nearby for stock.")
    max_offers_per_shopper: int = Field(3, ge=1, description="Offers one shopper may get per shopper window.")
    shopper_window_s: float = Field(900.0, gt=0, description="Window of the per-shopper cap, seconds.")
    min_gap_s: float = Field(20.0, ge=0, description="Least seconds between two offers to one shopper.")
    same_offer_gap_s: float = Field(
        3600.0,
        ge=0,
        description="Least seconds before the same product is offered to the same shopper again.",
    )
    max_per_product_window: int | None = Field(
        None, ge=1, description="Offers of one product to all shoppers per product window (None: no cap)."
    )
    product_window_s: float = Field(3600.0, gt=0, description="Window of the per-product cap, seconds.")
    organic_offers: bool = Field(True, description="Offer products that belong to no running campaign.")
    organic_weight: float = Field(1.0, ge=0, description="Expected-value weight of non-campaign offers.")
    min_acceptance: float = Field(0.0, ge=0, le=1, description="Candidates estimated below this are dropped.")
    novelty_acceptance: float = Field(
        0.02, ge=0, le=1, description="Acceptance estimate of a new product the model has not seen yet."
    )
    social_proof_min_share: float = Field(
        0.15,
        ge=0,
        le=1,
        description="Show 'In N % of past baskets with an item you picked' only at or above this share.",
    )
    explore_floor: float = Field(
        0.02,
        ge=0,
        le=0.5,
        description="Least exploration share of every variant (raised to it, within what novelty and "
        "up-sell leave): each of a decision's top explore_top options keeps a logged propensity of at "
        "least explore_floor / explore_top, so a new policy can be evaluated on the decision log.",
    )
    candidates: int = Field(100, ge=1, le=1000, description="Model candidates considered per decision.")
    sensitive_categories: tuple[str, ...] = Field(
        DEFAULT_SENSITIVE_CATEGORIES,
        description="Categories (case-insensitive) never offered unless offer_sensitive is true, never "
        "named in an offer's reason and never given social proof (a shelf display is public).",
    )
    offer_sensitive: bool = Field(
        False, description="Offer products of sensitive categories (still without social proof)."
    )
    social_proof_min_baskets: int = Field(
        30,
        ge=1,
        description="Least past baskets holding a basket product behind a social-proof share; with a model "
        "built on fewer (its min_support), no social proof is shown.",
    )
    upsell_acceptance: float = Field(
        0.05, ge=0, le=1, description="Acceptance estimate of an up-sell the model did not rank."
    )
    upsell_max_price_ratio: float = Field(
        3.0,
        gt=1,
        description="An up-sell costs more than the product picked, and at most this many times its price.",
    )
    restock_min_units: int = Field(
        4,
        ge=2,
        description="A weight rise of at least this many units on a shelf is a restock (staff), not a return.",
    )
    opt_out_hint: str | None = Field(
        OPT_OUT_HINT,
        max_length=120,
        description="Shown with every offer: how to switch personal offers off (None: not shown).",
    )


class Campaign(_Data):
    campaign_id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="Campaign identifier.")
    name: str = Field(min_length=1, max_length=80, description="Name shown as the offer's reason.")
    products: tuple[str, ...] = Field((), description="Product ids in the campaign.")
    categories: tuple[str, ...] = Field((), description="Whole categories in the campaign.")
    start: float | None = Field(None, description="Unix seconds the campaign starts (None: already running).")
    end: float | None = Field(None, description="Unix seconds the campaign ends (None: open-ended).")
    weight: float = Field(1.0, ge=0, description="Multiplier of the expected value of its offers.")
    discount_pct: float = Field(0.0, ge=0, lt=100, description="Price reduction shown, percent.")
    budget_offers: int | None = Field(
        None, ge=0, description="Offers it may show in total (None: no budget)."
    )
    budget_money: float | None = Field(
        None,
        ge=0,
        description="Discounts it may grant in total, store currency: each offer shown spends its unit "
        "discount (price x discount_pct); the campaign stops once the sum reaches this (None: no budget).",
    )
    budget_redeemed: float | None = Field(
        None,
        ge=0,
        description="Discounts it may see redeemed in total (an offer converted: the shopper picked it); "
        "the campaign stops once the sum reaches this (None: no budget).",
    )
    max_per_shopper: int | None = Field(
        None, ge=1, description="Offers of this campaign per shopper in total."
    )
    segments: tuple[SegmentId, ...] = Field(
        (),
        description="Customer segment ids (shelf-models segments, carried by the shopper's profile) "
        "the campaign is for; empty: every shopper. A shopper whose segment is unknown is not reached.",
    )
    exclude_segments: tuple[SegmentId, ...] = Field(
        (),
        description="Customer segment ids the campaign is never for. With any segment condition, a "
        "shopper whose segment is unknown is not reached.",
    )

    @model_validator(mode="after")
    def _check(self) -> Campaign:
        if not self.products and not self.categories:
            raise ValueError("a campaign needs products or categories")
        if set(self.segments) & set(self.exclude_segments):
            raise ValueError("a segment cannot be both targeted and excluded")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError("end must be after start")
        return self

    def running(self, t: float) -> bool:
        return (self.start is None or t >= self.start) and (self.end is None or t < self.end)

    def covers(self, product_id: str, category: str) -> bool:
        return product_id in self.products or category in {c.lower() for c in self.categories}

    @property
    def targeted(self) -> bool:
        """The campaign names segments (to target or to exclude)."""
        return bool(self.segments or self.exclude_segments)

    def reaches(self, segments: frozenset[str]) -> bool:
        """A shopper in ``segments`` (empty: unknown) may get this campaign's offers: every shopper
        when it names no segment; otherwise only a shopper with a known segment, in one of
        ``segments`` (when it lists any) and in none of ``exclude_segments``."""
        if not self.segments and not self.exclude_segments:
            return True
        if not segments:
            return False
        return (not self.segments or not segments.isdisjoint(self.segments)) and segments.isdisjoint(
            self.exclude_segments
        )


class Variant(_Data):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,32}$", description="Variant name logged with decisions.")
    share: float = Field(gt=0, le=1, description="Share of the non-holdout shoppers in this variant.")
    ranking: Ranking = Field(
        "expected-value",
        description="'expected-value': acceptance x margin x weight; 'relevance': acceptance.",
    )
    novelty_share: float = Field(0.1, ge=0, le=1, description="Probability of offering the best new product.")
    explore_share: float = Field(
        0.05, ge=0, le=1, description="Probability of a uniform pick among the top few."
    )
    explore_top: int = Field(5, ge=1, le=50, description="How many top offers the exploration picks from.")
    upsell_share: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Probability of offering the up-sell of the product just picked (same category, "
        "higher price, more money margin), when there is one.",
    )

    @model_validator(mode="after")
    def _check(self) -> Variant:
        if self.novelty_share + self.explore_share + self.upsell_share > 1:
            raise ValueError("novelty_share + explore_share + upsell_share must be <= 1")
        return self


class Experiment(_Data):
    experiment_id: str = Field("default", pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="Experiment id.")
    salt: str = Field(
        "smartshelf", min_length=1, description="Mixed into the hash; change to reshuffle shoppers."
    )
    holdout_share: float = Field(0.05, ge=0, le=0.5, description="Share of shoppers who never see an offer.")
    variants: tuple[Variant, ...] = Field(
        (Variant(name="default", share=1.0),), min_length=1, description="Variants; shares sum to 1."
    )

    @model_validator(mode="after")
    def _check(self) -> Experiment:
        if abs(sum(v.share for v in self.variants) - 1.0) > 1e-6:
            raise ValueError("variant shares must sum to 1")
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names) or "holdout" in names:
            raise ValueError("variant names must be unique and not 'holdout'")
        return self


class UniversalHoldout(_Data):
    share: float = Field(
        0.0, ge=0, le=0.2, description="Share of shoppers who get no offer at all, across every campaign."
    )
    salt: str = Field("universal", min_length=1, description="Mixed into the hash (keep it for months).")
    epoch: str = Field(
        "1",
        min_length=1,
        max_length=32,
        description="Changing it draws a new universal holdout group (e.g. once a year).",
    )


class OfferRules(_Data):
    version: str = Field("builtin", min_length=1, description="Version of this document (logged).")
    rules: Rules = Field(default_factory=Rules, description="Hard filters and caps.")
    campaigns: tuple[Campaign, ...] = Field((), description="Running and planned campaigns.")
    experiment: Experiment = Field(default_factory=Experiment, description="Holdout and variants.")
    universal_holdout: UniversalHoldout = Field(
        default_factory=UniversalHoldout,
        description="Shoppers held out of every campaign and experiment, for long-term effects.",
    )

    @model_validator(mode="after")
    def _unique(self) -> OfferRules:
        ids = [c.campaign_id for c in self.campaigns]
        if len(set(ids)) != len(ids):
            raise ValueError("campaign ids must be unique")
        return self


def parse_rules(data: Any, source: str = "<data>") -> OfferRules:
    try:
        return OfferRules.model_validate(data)
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors()]
        raise RulesError(source, problems) from None
