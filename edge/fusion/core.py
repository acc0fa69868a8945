"""Weight + presence (+ vision) -> basket events. Pure: no I/O, no clock; time comes with the events.

Attribution: the shopper credited with a pick is the best-scoring shopper the presence core reports
at that shelf at the pick time (passed in by the caller as ``shoppers``). When nobody is there the
basket event is kept without a shopper (it still counts for stock and conversion statistics, never
for personal offers). When two shoppers are close in score the confidence of the attribution drops,
and so does the event's confidence.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from edge.events import BasketEvent, WeightEvent
from edge.presence.core import HELD_ZONE_SCORE


@dataclass(frozen=True, slots=True)
class FusionParams:
    """Tunables of the fusion core."""

    #: A second shopper within this score ratio of the best one makes the attribution ambiguous.
    ambiguity_ratio: float = 0.8
    #: Multiplier of the event confidence when the attribution is ambiguous.
    ambiguity_penalty: float = 0.6
    #: Presence scores below this are not evidence enough to credit anyone. The presence core
    #: holds a shopper's zone through a gap in adverts (HELD_ZONE_SCORE); after an outage of the
    #: receivers that held zone can be stale, and crediting it would put a pick in the wrong basket.
    #: Unattributed is recoverable (no personal offer), misattributed is not.
    min_score: float = HELD_ZONE_SCORE + 0.05
    #: A shopper who arrived at the shelf more than this long after the shelf started to move cannot
    #: have picked there (a hand needs the shelf first); seconds of slack for presence latency.
    arrival_slack_s: float = 1.0


def _digest(event: WeightEvent) -> str:
    key = f"{event.shelf.gondola}/{event.shelf.shelf}/{event.t_start:.3f}/{event.kind}/{event.plates}"
    return hashlib.blake2b(key.encode(), digest_size=10).hexdigest()


def weight_event_id(event: WeightEvent) -> str:
    """A deterministic id of a weight event (shelf, start, kind, plates): replays give the same ids."""
    return "we-" + _digest(event)


def basket_event_id(event: WeightEvent) -> str:
    """A deterministic id for the basket event made from ``event``: replays give the same ids."""
    return "be-" + _digest(event)


@dataclass(slots=True)
class BasketFusion:
    """Turns weight events into basket events attributed to the shopper present at the shelf."""

    params: FusionParams = field(default_factory=FusionParams)

    def on_weight(
        self,
        event: WeightEvent,
        shoppers: Sequence[tuple[str, float]],
        also: Sequence[str] = (),
        arrived: Mapping[str, float | None] | None = None,
    ) -> BasketEvent:
        """``shoppers``: (pseudonymous id, presence score) at ``event.shelf`` around the event, best first.

        ``also``: further sources that shaped ``event`` (``("vision",)`` after edge.fusion.vision.decide).
        ``arrived``: when each shopper arrived at this shelf, if known; a later arrival than the start of
        the event (plus slack) rules the shopper out.
        """
        latest = event.t_start + self.params.arrival_slack_s
        arrived = arrived or {}
        ranked = sorted(
            (
                s
                for s in shoppers
                if s[1] >= self.params.min_score and (arrived.get(s[0]) or float("-inf")) <= latest
            ),
            key=lambda s: s[1],
            reverse=True,
        )
        shopper: str | None = None
        confidence = event.confidence
        sources: tuple[str, ...] = ("weight",)
        if ranked:
            shopper = ranked[0][0]
            sources = ("weight", "presence")
            if len(ranked) > 1 and ranked[1][1] >= self.params.ambiguity_ratio * ranked[0][1]:
                confidence *= self.params.ambiguity_penalty
        sources = (*sources, *(s for s in also if s not in sources))
        return BasketEvent(
            t=event.t_end,
            shelf=event.shelf,
            kind=event.kind,
            product_id=event.product_id,
            quantity=event.quantity,
            confidence=round(confidence, 4),
            shopper=shopper,
            sources=sources,
            event_id=basket_event_id(event),
        )


#: The stream the daemon logs each dropped basket to (``{"shopper", "t"}``; kind ``departure``), and
#: its start to (``{"shopper": None, "t"}``, kind ``start``: every basket held in memory is gone): with
#: the stream ``basket`` it tells what each shopper held at any time
#: (models/experiments/gateway_decisions.py).
BASKET_END = "basket-end"


@dataclass(slots=True)
class Baskets:
    """What each shopper holds now, from the basket events applied so far (product -> units)."""

    contents: dict[str, dict[str, int]] = field(default_factory=dict)

    def apply(self, event: BasketEvent) -> None:
        if event.shopper is None or event.product_id is None:
            return
        basket = self.contents.setdefault(event.shopper, {})
        if event.kind == "pick":
            basket[event.product_id] = basket.get(event.product_id, 0) + event.quantity
        else:
            left = basket.get(event.product_id, 0) - event.quantity
            if left > 0:
                basket[event.product_id] = left
            else:
                basket.pop(event.product_id, None)

    def of(self, shopper: str) -> list[str]:
        """Products the shopper holds, in the order they were first picked."""
        return list(self.contents.get(shopper, {}))

    def forget(self, shopper: str) -> None:
        """Drop a shopper's basket (departure or consent revoked)."""
        self.contents.pop(shopper, None)

    def forget_all(self) -> None:
        """Drop every basket (what a daemon's restart does: baskets are held in memory)."""
        self.contents.clear()
