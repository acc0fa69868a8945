"""Revocation on the gateway's database: a revoked shopper's data is deleted, not just hidden.

``PresenceService.revoke`` removes the keys and the in-memory presence state. The events already
written (presence, basket, offers, ...) are removed by :func:`forget_shoppers`, which the daemon
calls in the same place (after a sync reports revocations)::

    presence.revoke(ids)
    forget_shoppers(db, ids)

It deletes, in one transaction, every row of every table that has a ``shopper`` column equal to
one of the ids, and every row whose JSON ``payload`` has such a ``shopper`` field (``events``,
``outbox`` and any later table following the same convention). It never touches a table it does not
find these columns in.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import sqlite_utils

log = logging.getLogger("edge.presence.privacy")


def forget_shoppers(db: sqlite_utils.Database, shopper_ids: Iterable[str]) -> dict[str, int]:
    """Delete every stored row about these shoppers; return rows deleted per table."""
    ids = sorted(set(shopper_ids))
    if not ids:
        return {}
    marks = ",".join("?" for _ in ids)
    deleted: dict[str, int] = {}
    conn = db.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        for name in db.table_names():
            columns = {c.name for c in db.table(name).columns}
            clauses = []
            params: list[str] = []
            if "shopper" in columns:
                clauses.append(f"shopper IN ({marks})")
                params += ids
            if "payload" in columns:
                clauses.append(f"(json_valid(payload) AND json_extract(payload, '$.shopper') IN ({marks}))")
                params += ids
            if not clauses:
                continue
            cursor = conn.execute(f"DELETE FROM [{name}] WHERE {' OR '.join(clauses)}", params)
            if cursor.rowcount:
                deleted[name] = cursor.rowcount
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    log.info("revocation: %d shopper(s) forgotten, rows deleted: %s", len(ids), deleted or "none")
    return deleted
