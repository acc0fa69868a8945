"""Storing offer decisions (the store adapter; the pure offer core never imports this module).

Every decision is an event of stream ``offer_decision`` (so it reaches the backend through the
outbox for uplift measurement and policy replay), queryable locally through the
``offer_decisions`` view (migration 30), and replayed into the engine after a restart together
with the conversions seen since (so redeemed campaign money is counted again).
"""

from __future__ import annotations

import json

import sqlite_utils

from edge.events import ShelfId, WeightEvent
from edge.offers.decision import DecisionRecord
from edge.store.events_repo import EventStore

STREAM = "offer_decision"
CONVERSIONS = "conversions"
WEIGHT = "weight"


def record_decision(store: EventStore, record: DecisionRecord) -> bool:
    """Store one decision with its outbox row; False when it was stored before (a replay)."""
    return store.append(STREAM, record.outcome, record.decision_id, record.t, record.to_dict())


def decisions_since(db: sqlite_utils.Database, since_t: float) -> list[DecisionRecord]:
    """Stored decisions with ``t >= since_t``, oldest first (for ``OfferEngine.restore``)."""
    rows = db.execute(
        "SELECT payload FROM events WHERE stream = ? AND t >= ? ORDER BY t, event_id", (STREAM, since_t)
    ).fetchall()
    return [DecisionRecord.from_dict(json.loads(row[0])) for row in rows]


def conversions_since(db: sqlite_utils.Database, since_t: float) -> list[tuple[str, float]]:
    """(offer id, time) of the conversions stored with ``t >= since_t``, oldest first (for
    ``OfferEngine.restore``: their campaign discounts count as redeemed again)."""
    rows = db.execute(
        "SELECT payload FROM events WHERE stream = ? AND t >= ? ORDER BY t, event_id", (CONVERSIONS, since_t)
    ).fetchall()
    found = []
    for row in rows:
        data = json.loads(row[0])
        found.append((str(data.get("offer_id", "")), float(data.get("t", 0.0))))
    return found


def weight_events_since(db: sqlite_utils.Database, since_t: float) -> list[WeightEvent]:
    """Stored weight events (as sensed, before vision refined them) settled at ``t >= since_t``,
    oldest first: replayed into the live stock after a restart."""
    rows = db.execute(
        "SELECT payload FROM events WHERE stream = ? AND t >= ? ORDER BY t, event_id", (WEIGHT, since_t)
    ).fetchall()
    events = []
    for row in rows:
        d = json.loads(row[0])
        events.append(
            WeightEvent(
                float(d["t_start"]),
                float(d["t_end"]),
                ShelfId(int(d["gondola"]), int(d["shelf"])),
                tuple(int(p) for p in d["plates"]),
                float(d["delta_g"]),
                "pick" if d["kind"] == "pick" else "return",
                None if d.get("product_id") is None else str(d["product_id"]),
                int(d["quantity"]),
                float(d["confidence"]),
            )
        )
    return events
