"""Deterministic assignment of shoppers to the holdout group or a variant (pure).

A shopper's bucket is the first 8 bytes of sha256("{experiment_id}:{salt}:{shopper}") as a number
in [0, 1): the same pseudonymous id always lands in the same group on every gateway, with no
state. Buckets below ``holdout_share`` are held out; the rest is split by the variants' shares.
``draw`` gives the per-decision random number (from the decision id, so a replay decides alike).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from edge.offers.rules import Experiment, Variant

HOLDOUT = "holdout"


@dataclass(frozen=True, slots=True)
class Assignment:
    """Where a shopper landed: ``variant`` is None for the holdout group."""

    experiment_id: str
    group: str
    bucket: float
    variant: Variant | None


def unit_hash(text: str) -> float:
    """A uniform number in [0, 1) from ``text`` (sha256, first 8 bytes)."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big") / 2.0**64


def assign(experiment: Experiment, shopper: str) -> Assignment:
    bucket = unit_hash(f"{experiment.experiment_id}:{experiment.salt}:{shopper}")
    if bucket < experiment.holdout_share:
        return Assignment(experiment.experiment_id, HOLDOUT, bucket, None)
    position = (bucket - experiment.holdout_share) / (1.0 - experiment.holdout_share)
    edge = 0.0
    for variant in experiment.variants:
        edge += variant.share
        if position < edge:
            return Assignment(experiment.experiment_id, variant.name, bucket, variant)
    last = experiment.variants[-1]
    return Assignment(experiment.experiment_id, last.name, bucket, last)


def draw(decision_id: str) -> float:
    """The decision's own random number in [0, 1), reproducible from its id."""
    return unit_hash(f"draw:{decision_id}")
