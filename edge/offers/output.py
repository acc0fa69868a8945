"""The offer decision's output: its id, the shopper's group and the record it logs (part of
:class:`edge.offers.decision.OfferEngine`, its base class; pure: no I/O, no clock)."""

from __future__ import annotations

import hashlib

from edge.events import BasketEvent, ShelfId
from edge.offers.experiments import Assignment, assign
from edge.offers.records import DecisionContext, DecisionRecord
from edge.offers.rules import OfferRules, Variant

GROUP_CACHE = 65536


def decision_id_of(event_id: str, shopper: str | None, t: float, product_id: str | None, shelf: str) -> str:
    """The id of the decision on one basket event (``shelf``: its shelf's name, ``str(ShelfId)``)."""
    key = f"{event_id}|{shopper}|{t!r}|{product_id}|{shelf}"
    return "d-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]


class DecisionOutput:
    """Ids, groups and records; the engine sets the attributes below (see its ``rules`` setter)."""

    _rules: OfferRules
    _variants: dict[str, Variant]
    _groups: dict[str, Assignment]
    _logged_as: tuple[str, str]
    _shelf_names: dict[ShelfId, str]
    _name_hot: tuple[ShelfId | None, str]

    def _shelf_name(self, shelf: ShelfId) -> str:
        hot = self._name_hot
        if hot[0] is shelf:
            return hot[1]
        name = self._shelf_names.get(shelf)
        if name is None:
            name = self._shelf_names[shelf] = str(shelf)
        self._name_hot = (shelf, name)
        return name

    def _group(self, shopper: str) -> Assignment:
        """The shopper's group: universal holdout, experiment holdout or a variant (with the
        exploration floor applied); deterministic, so cached per shopper."""
        group = self._groups.get(shopper)
        if group is None:
            if len(self._groups) >= GROUP_CACHE:
                self._groups.clear()
            group = assign(self._rules.experiment, shopper, self._rules.universal_holdout)
            group = Assignment(
                group.experiment_id,
                group.group,
                group.bucket,
                None if group.variant is None else self._variants[group.variant.name],
                None if group.shadow is None else self._variants[group.shadow.name],
            )
            self._groups[shopper] = group
        return group

    def _decision_id(self, event: BasketEvent) -> str:
        hot = self._name_hot
        shelf = hot[1] if hot[0] is event.shelf else self._shelf_name(event.shelf)
        return decision_id_of(event.event_id, event.shopper, event.t, event.product_id, shelf)

    def _record(
        self,
        decision_id: str,
        event: BasketEvent,
        shopper: str,
        context: DecisionContext,
        group: Assignment | None,
        outcome: str,
        chosen: str | None = None,
        arm: str | None = None,
        propensity: float = 0.0,
        campaign_id: str | None = None,
        candidates: tuple[str, ...] = (),
        keys: tuple[float, ...] = (),
        filtered: tuple[tuple[str, int], ...] = (),
        scores: tuple[float, ...] = (),
        mixture: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0),
        explore_top: int = 0,
        novel: str | None = None,
        upsell: str | None = None,
        discount: float = 0.0,
    ) -> DecisionRecord:
        """The decision's record (what the uplift measurement reads later)."""
        experiment_id, rules_version = self._logged_as
        hot = self._name_hot
        return DecisionRecord(
            decision_id,
            event.t,
            shopper,
            hot[1] if hot[0] is context.shelf else self._shelf_name(context.shelf),
            context.display,
            experiment_id,
            group.group if group else "",
            outcome,
            chosen,
            arm,
            propensity,
            campaign_id,
            candidates,
            keys,
            filtered,
            rules_version,
            scores,
            mixture,
            explore_top,
            novel,
            upsell,
            event.product_id,
            discount,
            group.shadow.name if group is not None and group.shadow is not None else None,
            tuple(sorted(context.segments)) if context.segments else (),
        )
