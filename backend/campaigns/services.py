"""Offer rules and campaigns, validated with the gateway's own models before they are published.

A document the gateways would refuse (``edge.offers.rules.parse_rules``: filters, caps, campaigns,
experiment) is refused here with every problem named, so it never reaches a store.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.admin.services import SYSTEM_ACTOR
from backend.db.models import Store
from backend.errors import Invalid
from backend.gateway.services import put_document
from edge.offers.rules import OfferRules, RulesError, parse_rules

CAMPAIGNS = "campaigns"


def validate(body: bytes) -> OfferRules:
    """The rules document as the gateway will read it; Invalid naming every problem otherwise."""
    try:
        doc: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise Invalid("body is not JSON") from None
    try:
        return parse_rules(doc, "campaigns")
    except RulesError as exc:
        raise Invalid("campaigns refused: " + "; ".join(exc.problems[:20])) from None


def publish(
    *, session: Session, store_ids: list[str] | None, body: bytes, actor: str = SYSTEM_ACTOR
) -> dict[str, str]:
    """Validate once, then publish to the given stores (every store when None); store -> ETag."""
    validate(body)
    if store_ids is None:
        store_ids = list(session.scalars(select(Store.store_id).order_by(Store.store_id)))
    return {
        s: put_document(session=session, store_id=s, name=CAMPAIGNS, body=body, actor=actor)
        for s in store_ids
    }
