"""Deterministic assignment of shoppers to the holdout group or a variant (pure).

A shopper's bucket is the first 8 bytes of sha256("{experiment_id}:{salt}:{shopper}") as a number
in [0, 1): the same pseudonymous id always lands in the same group on every gateway, with no
state. Buckets below ``holdout_share`` are held out; the rest is split by the variants' shares.
``draw`` gives the per-decision random number (from the decision id, so a replay decides alike).

Before any experiment, the *universal holdout*: sha256("universal:{salt}:{epoch}:{shopper}") below
``universal_holdout.share`` puts the shopper in group ``universal-holdout`` for every campaign and
experiment until the salt or epoch changes (months), so the long-term effect of offers as a whole
can be measured. Its decisions are logged and followed like any holdout's.

A held-out shopper (either holdout) also gets a *shadow variant*: the variant they would have
been in, drawn by the variants' shares from an independent hash,
sha256("shadow:{experiment_id}:{salt}:{shopper}"), so holdout membership and shadow variant are
independent. The engine decides for them under that variant's mixture (the offer held back), so
variant v's treated shoppers compare like-for-like with the held-out shoppers whose shadow is v.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from edge.offers.rules import Experiment, UniversalHoldout, Variant

HOLDOUT = "holdout"
UNIVERSAL_HOLDOUT = "universal-holdout"
HELD_OUT_GROUPS = frozenset({HOLDOUT, UNIVERSAL_HOLDOUT})  # groups that are decided for but shown nothing
ID_BITS = 40  # bits of a decision id behind each of its two draws (10 hex digits)
ID_RANGE = 2.0**ID_BITS


@dataclass(frozen=True, slots=True)
class Assignment:
    """Where a shopper landed: ``variant`` is None for a holdout group, whose ``shadow`` is the
    variant its decisions are made as (None for a treated shopper)."""

    experiment_id: str
    group: str
    bucket: float
    variant: Variant | None
    shadow: Variant | None = None

    @property
    def decided_as(self) -> Variant:
        """The variant whose mixture decides for this shopper (shown or held back)."""
        decided = self.variant or self.shadow
        assert decided is not None, "an assignment has a variant or a shadow variant"
        return decided


def unit_hash(text: str) -> float:
    """A uniform number in [0, 1) from ``text`` (sha256, first 8 bytes)."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big") / 2.0**64


def assign(experiment: Experiment, shopper: str, universal: UniversalHoldout | None = None) -> Assignment:
    """The shopper's group: the universal holdout first (when configured), then the experiment's.
    A held-out shopper's ``shadow`` is drawn by the variants' shares from an independent hash."""
    if (
        universal is not None
        and universal.share > 0
        and unit_hash(f"universal:{universal.salt}:{universal.epoch}:{shopper}") < universal.share
    ):
        return Assignment(
            experiment.experiment_id, UNIVERSAL_HOLDOUT, 0.0, None, shadow_variant(experiment, shopper)
        )
    bucket = unit_hash(f"{experiment.experiment_id}:{experiment.salt}:{shopper}")
    if bucket < experiment.holdout_share:
        return Assignment(
            experiment.experiment_id, HOLDOUT, bucket, None, shadow_variant(experiment, shopper)
        )
    variant = by_shares(experiment, (bucket - experiment.holdout_share) / (1.0 - experiment.holdout_share))
    return Assignment(experiment.experiment_id, variant.name, bucket, variant)


def shadow_variant(experiment: Experiment, shopper: str) -> Variant:
    """The variant a held-out shopper's decisions are made as (independent of the holdout draw)."""
    return by_shares(experiment, unit_hash(f"shadow:{experiment.experiment_id}:{experiment.salt}:{shopper}"))


def by_shares(experiment: Experiment, position: float) -> Variant:
    """The variant at ``position`` in [0, 1) when the variants split it by their shares in order."""
    edge = 0.0
    for variant in experiment.variants:
        edge += variant.share
        if position < edge:
            return variant
    return experiment.variants[-1]


def _hex_tail(decision_id: str, start: int) -> float | None:
    digits = decision_id[start : start + ID_BITS // 4] if decision_id.startswith("d-") else ""
    if len(digits) != ID_BITS // 4:
        return None
    try:
        return int(digits, 16) / ID_RANGE
    except ValueError:
        return None


def draw(decision_id: str) -> float:
    """The decision's own random number in [0, 1), reproducible from its id.

    An engine's decision id is ``d-`` and 20 hex digits of a sha256 digest: the last 10 digits
    are the number (no second hash per decision); any other id is hashed."""
    u = _hex_tail(decision_id, 12)
    return unit_hash(f"draw:{decision_id}") if u is None else u


def explore_draw(decision_id: str) -> float:
    """A second number in [0, 1) from the id, independent of :func:`draw` (the first 10 digits)."""
    u = _hex_tail(decision_id, 2)
    return unit_hash(f"explore:{decision_id}") if u is None else u
