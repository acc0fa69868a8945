"""Every schema migration of the gateway database, in one explicit list.

Version blocks per component keep parallel work from colliding:
1-9 foundation (events, outbox), 10-19 sensing, 20-29 presence, 30-39 offers,
40-49 displays and sync, 50-59 vision, 60-69 operations (doctor, dashboard).
A released migration is never edited: add a new one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "events and outbox",
        (
            """CREATE TABLE events (
                event_id TEXT PRIMARY KEY,
                stream TEXT NOT NULL,
                kind TEXT NOT NULL,
                t REAL NOT NULL,
                payload TEXT NOT NULL
            )""",
            "CREATE INDEX events_stream_t ON events (stream, t)",
            """CREATE TABLE outbox (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                stream TEXT NOT NULL,
                idempotency_key TEXT NOT NULL UNIQUE,
                kind TEXT NOT NULL,
                payload TEXT NOT NULL,
                created_at REAL NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt_at REAL NOT NULL DEFAULT 0,
                sent_at REAL
            )""",
            "CREATE INDEX outbox_pending ON outbox (sent_at, stream, id)",
        ),
    ),
    # Retention (edge/store/retention.py) deletes old events by their time, across streams.
    Migration(2, "events by time, for retention", ("CREATE INDEX events_t ON events (t)",)),
    # --- 30-39 offers (edge/offers): decisions are events (stream 'offer_decision'); a view to query them
    Migration(
        30,
        "offer decisions view",
        (
            """CREATE VIEW offer_decisions AS
                SELECT event_id AS decision_id,
                       t,
                       json_extract(payload, '$.shopper') AS shopper,
                       json_extract(payload, '$.experiment_id') AS experiment_id,
                       json_extract(payload, '$.variant') AS variant,
                       json_extract(payload, '$.outcome') AS outcome,
                       json_extract(payload, '$.chosen') AS chosen,
                       json_extract(payload, '$.arm') AS arm,
                       json_extract(payload, '$.propensity') AS propensity,
                       json_extract(payload, '$.campaign_id') AS campaign_id,
                       json_extract(payload, '$.display') AS display,
                       json_extract(payload, '$.rules_version') AS rules_version
                FROM events WHERE stream = 'offer_decision'""",
        ),
    ),
    # --- 40-49 displays and sync (edge/displays, edge/sync)
    Migration(
        40,
        "outbox dead letters, sync cursors, model releases",
        (
            "ALTER TABLE outbox ADD COLUMN last_error TEXT",
            "ALTER TABLE outbox ADD COLUMN dead_at REAL",
            """CREATE TABLE sync_cursors (
                resource TEXT PRIMARY KEY,
                etag TEXT NOT NULL,
                path TEXT NOT NULL,
                updated_at REAL NOT NULL
            )""",
            """CREATE TABLE model_releases (
                model TEXT NOT NULL,
                version INTEGER NOT NULL,
                slot TEXT NOT NULL,
                status TEXT NOT NULL,
                detail TEXT NOT NULL DEFAULT '',
                updated_at REAL NOT NULL,
                PRIMARY KEY (model, version)
            )""",
        ),
    ),
    Migration(
        41,
        "sync status: when a pull round and a push last succeeded (the dashboard's store-status row)",
        ("CREATE TABLE sync_status (what TEXT PRIMARY KEY, at REAL NOT NULL)",),
    ),
)
