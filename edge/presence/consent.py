"""What the gateway may store about a shopper without analytics consent. Pure: no I/O, no clock.

Every event the daemon stores goes to the central service through the outbox, so storing it is
the analytics purpose. :func:`analytics_view` is the one gate in front of the event store
(``Gateway._record``): events about a shopper who did not consent to analytics lose the shopper id,
and the streams that are only about the person are not stored at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: Streams that describe a person and nothing else (where they stood, which offer was weighed for
#: them, when their visit's basket ended): dropped without analytics consent. Other streams (basket, offers, conversions) are still
#: needed for stock and offer counts and are kept without the shopper id.
PERSONAL_STREAMS = frozenset({"presence", "check-in", "offer_decision", "basket-end"})


def analytics_view(
    stream: str, payload: dict[str, Any], analytics_allowed: Callable[[str], bool]
) -> dict[str, Any] | None:
    """The payload as it may be stored: unchanged, without its shopper, or None (not at all)."""
    shopper = payload.get("shopper")
    if not shopper or analytics_allowed(shopper):
        return payload
    if stream in PERSONAL_STREAMS:
        return None
    return {**payload, "shopper": None}
