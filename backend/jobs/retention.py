"""Retention of raw events: delete those received more than ``event_retention_days`` ago."""

from __future__ import annotations

from sqlalchemy import CursorResult, delete
from sqlalchemy.orm import Session

from backend.admin.services import SYSTEM_ACTOR, audit
from backend.db.models import Event

DAY_S = 86_400.0


def purge_events(
    *, session: Session, retention_days: int | None, now: float, actor: str = SYSTEM_ACTOR
) -> int:
    """Delete raw events older than the retention; returns how many. None keeps everything."""
    if retention_days is None:
        return 0
    cutoff = now - retention_days * DAY_S
    result = session.execute(delete(Event).where(Event.received_at < cutoff))
    deleted = result.rowcount if isinstance(result, CursorResult) else 0
    audit(
        session=session,
        actor=actor,
        action="events.purge",
        target="events",
        detail={"retention_days": retention_days, "cutoff": cutoff, "deleted": deleted},
    )
    session.commit()
    return int(deleted or 0)
