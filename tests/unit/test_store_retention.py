"""Retention: sent outbox rows, dead letters and old events go after their configured age; unsent never."""

from __future__ import annotations

import logging
from pathlib import Path

from edge.config import parse_config
from edge.store.db import open_database
from edge.store.events_repo import EventStore
from edge.store.retention import DAY_S, RetentionPolicy, prune
from tests.support.configs import IDENTITY

NOW = 1_800_000_000.0
POLICY = RetentionPolicy(sent_retention_days=7, event_retention_days=30, dead_letter_retention_days=90)


def seeded(tmp_path: Path) -> EventStore:
    """Events of various ages, sent, unsent and dead."""
    store = EventStore(open_database(tmp_path / "edge.db"))
    rows = {
        # id: (age in days of the event, sent days ago or None, dead days ago or None)
        "old-sent-long-ago": (40, 35, None),
        "old-sent-recently": (40, 2, None),
        "old-unsent": (40, None, None),
        "old-dead-long-ago": (100, None, 95),
        "old-dead-recently": (40, None, 10),
        "new-sent-long-ago": (10, 9, None),
        "new-unsent": (1, None, None),
    }
    for event_id, (age, sent, dead) in rows.items():
        store.append("basket", "pick", event_id, NOW - age * DAY_S, {"id": event_id})
        if sent is not None:
            store.db.execute(
                "UPDATE outbox SET sent_at = ? WHERE idempotency_key = ?", (NOW - sent * DAY_S, event_id)
            )
        if dead is not None:
            store.db.execute(
                "UPDATE outbox SET dead_at = ?, last_error = 'invalid' WHERE idempotency_key = ?",
                (NOW - dead * DAY_S, event_id),
            )
    return store


def test_prune_keeps_exactly_what_the_policy_keeps(tmp_path: Path) -> None:
    store = seeded(tmp_path)
    pruned = prune(store.db.conn, NOW, POLICY, batch=2)  # small batches: several transactions
    events = {r[0] for r in store.db.execute("SELECT event_id FROM events")}
    outbox = {r[0] for r in store.db.execute("SELECT idempotency_key FROM outbox")}
    # sent more than 7 days ago: outbox rows gone; dead more than 90 days ago: gone
    assert outbox == {"old-sent-recently", "old-unsent", "old-dead-recently", "new-unsent"}
    # events over 30 days old go unless an outbox row still waits to send them
    assert events == {"old-unsent", "new-sent-long-ago", "new-unsent"}
    assert (pruned.sent, pruned.dead, pruned.events) == (2, 1, 4)
    assert prune(store.db.conn, NOW, POLICY).total == 0  # nothing more on a second pass


def test_the_store_runs_retention_from_the_config_at_its_interval(tmp_path: Path, caplog) -> None:
    config = parse_config(
        {
            "gateway": IDENTITY,
            "database": {"sent_retention_days": 7, "event_retention_days": 30, "retention_interval_s": 600},
        }
    )
    d = config.database
    store = seeded(tmp_path)
    store.retention = RetentionPolicy(
        d.sent_retention_days, d.event_retention_days, d.dead_letter_retention_days
    )
    store.retention_interval_s = d.retention_interval_s
    with caplog.at_level(logging.INFO, logger="edge.store"):
        store.maintain(NOW)
    assert "retention: deleted 2 sent outbox rows, 1 dead letters, 4 events" in caplog.text
    store.append("basket", "pick", "late", NOW - 50 * DAY_S, {})
    store.db.execute("UPDATE outbox SET sent_at = ? WHERE idempotency_key = 'late'", (NOW - 20 * DAY_S,))
    store.maintain(NOW + 60)  # within the interval: no pass
    assert store.count() == 4
    store.maintain(NOW + 601)
    assert store.count() == 3


def test_event_retention_below_one_day_is_refused() -> None:
    import pytest

    from edge.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        parse_config({"gateway": IDENTITY, "database": {"event_retention_days": 0.5}})
    assert "database.event_retention_days" in str(err.value)
