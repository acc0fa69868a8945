"""Storing offer decisions: every decision is an event of stream ``offer_decision`` (so it reaches
the backend through the outbox for uplift measurement), queryable locally through the
``offer_decisions`` view (migration 30), and replayed into the engine after a restart."""

from __future__ import annotations

import json

import sqlite_utils

from edge.offers.decision import DecisionRecord
from edge.store.events_repo import EventStore

STREAM = "offer_decision"


def record_decision(store: EventStore, record: DecisionRecord) -> bool:
    """Store one decision with its outbox row; False when it was stored before (a replay)."""
    return store.append(STREAM, record.outcome, record.decision_id, record.t, record.to_dict())


def decisions_since(db: sqlite_utils.Database, since_t: float) -> list[DecisionRecord]:
    """Stored decisions with ``t >= since_t``, oldest first (for ``OfferEngine.restore``)."""
    rows = db.execute(
        "SELECT payload FROM events WHERE stream = ? AND t >= ? ORDER BY t, event_id", (STREAM, since_t)
    ).fetchall()
    return [DecisionRecord.from_dict(json.loads(row[0])) for row in rows]
