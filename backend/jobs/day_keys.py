"""The day-keys job: every store's ``customer-keys/{day}`` documents, published ahead of the day.

    shelf-backend jobs day-keys --days-ahead 1     # today and tomorrow, every store (run hourly)

Each document holds the keys of consented customers (recognition) for that day and the next
(backend/loyalty/keys.py). Unchanged documents are left alone (same ETag, gateways get 304).
Enrolments and consent grants reach the gateways through this job; withdrawals do not wait for it.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from backend.admin.services import SYSTEM_ACTOR
from backend.loyalty.keys import Published, publish_ahead


def run_day_keys(
    *, session: Session, secret_key: str, now: float, days_ahead: int, actor: str = SYSTEM_ACTOR
) -> Published:
    if days_ahead < 0:
        raise ValueError("days_ahead must be >= 0")
    today = dt.datetime.fromtimestamp(now, tz=dt.UTC).date()
    return publish_ahead(
        session=session, secret_key=secret_key, today=today, days_ahead=days_ahead, actor=actor
    )
