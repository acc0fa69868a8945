"""The offer decision's data: its context, the options it weighs and what it records (pure data).

Re-exported by :mod:`edge.offers.decision`; import them from there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from edge.events import Offer, ShelfId
from edge.offers.catalogue import Product
from edge.offers.propensity import ARMS, propensity_of
from edge.offers.rules import Campaign, Variant


@dataclass(frozen=True, slots=True)
class DecisionContext:
    """What the daemon knows beyond the event: where to show, consent, other held products, and the
    shopper's customer segments (from the profile; empty: unknown)."""

    display: str
    shelf: ShelfId
    consent: bool = True
    held: frozenset[str] = frozenset()
    segments: frozenset[str] = frozenset()


class Option(NamedTuple):
    """A candidate that passed every hard filter (built only for the few the policy may pick)."""

    product: Product
    acceptance: float
    value: float
    weight: float
    campaign: Campaign | None
    together: float
    novel: bool = False

    @property
    def expected_value(self) -> float:
        return self.acceptance * self.value * self.weight

    def key(self, variant: Variant) -> float:
        return self.expected_value if variant.ranking == "expected-value" else self.acceptance


class DecisionRecord(NamedTuple):
    """Everything needed to measure uplift later: group, candidates, choice and its propensity.

    Immutable; a named tuple rather than a frozen dataclass because one is made per decision and
    a frozen dataclass's constructor costs about 5 us of the offer decision's 200 us budget."""

    decision_id: str
    t: float
    shopper: str
    shelf: str
    display: str
    experiment_id: str
    variant: str
    outcome: str
    chosen: str | None
    arm: str | None
    propensity: float
    campaign_id: str | None
    candidates: tuple[str, ...]
    keys: tuple[float, ...]
    filtered: tuple[tuple[str, int], ...]
    rules_version: str
    scores: tuple[float, ...] = ()  # the model's acceptance estimate of each logged candidate
    mixture: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # greedy, explore, novelty, upsell
    explore_top: int = 0  # how many of the best candidates the explore arm drew from
    novel: str | None = None  # the novelty arm's product (None: the arm had none)
    upsell: str | None = None  # the up-sell arm's product (None: the arm had none)
    picked: str | None = None  # the product just picked (what an up-sell is an alternative to)
    discount: float = 0.0  # money off one unit of the chosen product (its campaign's), granted if shown
    shadow_variant: str | None = None  # a held-out shopper's variant its decision was made as
    segments: tuple[str, ...] = ()  # the shopper's segments the campaigns were matched with (sorted)

    def candidate_propensities(self) -> list[float]:
        """The probability that this decision's policy picks each logged candidate (same order)."""
        top = self.candidates[: self.explore_top]
        return [propensity_of(pid, self.mixture, top, self.novel, self.upsell) for pid in self.candidates]

    def to_dict(self) -> dict[str, Any]:
        greedy, explore, novelty, upsell = self.mixture
        return {
            "decision_id": self.decision_id,
            "t": self.t,
            "shopper": self.shopper,
            "shelf": self.shelf,
            "display": self.display,
            "experiment_id": self.experiment_id,
            "variant": self.variant,
            "outcome": self.outcome,
            "chosen": self.chosen,
            "arm": self.arm,
            "propensity": self.propensity,
            "campaign_id": self.campaign_id,
            "candidates": list(self.candidates),
            "keys": list(self.keys),
            "filtered": dict(self.filtered),
            "rules_version": self.rules_version,
            "scores": list(self.scores),
            "mixture": {"greedy": greedy, "explore": explore, "novelty": novelty, "upsell": upsell},
            "explore_top": self.explore_top,
            "novel": self.novel,
            "upsell": self.upsell,
            "picked": self.picked,
            "discount": self.discount,
            "shadow_variant": self.shadow_variant,
            "segments": list(self.segments),
            "candidate_propensities": self.candidate_propensities(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DecisionRecord:
        mix = dict(data.get("mixture") or {})
        return cls(
            decision_id=str(data["decision_id"]),
            t=float(data["t"]),
            shopper=str(data["shopper"]),
            shelf=str(data["shelf"]),
            display=str(data["display"]),
            experiment_id=str(data["experiment_id"]),
            variant=str(data["variant"]),
            outcome=str(data["outcome"]),
            chosen=None if data.get("chosen") is None else str(data["chosen"]),
            arm=None if data.get("arm") is None else str(data["arm"]),
            propensity=float(data["propensity"]),
            campaign_id=None if data.get("campaign_id") is None else str(data["campaign_id"]),
            candidates=tuple(str(c) for c in data.get("candidates", ())),
            keys=tuple(float(k) for k in data.get("keys", ())),
            filtered=tuple((str(k), int(v)) for k, v in dict(data.get("filtered", {})).items()),
            rules_version=str(data.get("rules_version", "")),
            scores=tuple(float(s) for s in data.get("scores", ())),
            mixture=tuple(float(mix.get(arm, 0.0)) for arm in ARMS),  # type: ignore[arg-type]
            explore_top=int(data.get("explore_top", 0)),
            novel=_text(data.get("novel")),
            upsell=_text(data.get("upsell")),
            picked=_text(data.get("picked")),
            discount=float(data.get("discount", 0.0)),
            shadow_variant=_text(data.get("shadow_variant")),
            segments=tuple(str(s) for s in data.get("segments", ())),
        )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


class Decision(NamedTuple):
    """The outcome of one decision: the offer to show (None when nothing is shown), its record, and
    the exposure: the offer shown, or for a held-out shopper the offer held back (its ``variant``
    is the holdout group), which the display publisher records and follows like a shown one."""

    offer: Offer | None
    record: DecisionRecord
    exposure: Offer | None = None
