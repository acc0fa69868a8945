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

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from edge.errors import EdgeError

Ranking = Literal["expected-value", "relevance"]


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
        0.15, ge=0, le=1, description="Show 'bought together by N %' only at or above this share."
    )
    candidates: int = Field(100, ge=1, le=1000, description="Model candidates considered per decision.")


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
    max_per_shopper: int | None = Field(
        None, ge=1, description="Offers of this campaign per shopper in total."
    )

    @model_validator(mode="after")
    def _check(self) -> Campaign:
        if not self.products and not self.categories:
            raise ValueError("a campaign needs products or categories")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError("end must be after start")
        return self

    def running(self, t: float) -> bool:
        return (self.start is None or t >= self.start) and (self.end is None or t < self.end)

    def covers(self, product_id: str, category: str) -> bool:
        return product_id in self.products or category in {c.lower() for c in self.categories}


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

    @model_validator(mode="after")
    def _check(self) -> Variant:
        if self.novelty_share + self.explore_share > 1:
            raise ValueError("novelty_share + explore_share must be <= 1")
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


class OfferRules(_Data):
    version: str = Field("builtin", min_length=1, description="Version of this document (logged).")
    rules: Rules = Field(default_factory=Rules, description="Hard filters and caps.")
    campaigns: tuple[Campaign, ...] = Field((), description="Running and planned campaigns.")
    experiment: Experiment = Field(default_factory=Experiment, description="Holdout and variants.")

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
