"""Attempts per client and minute, counted in the database so every worker process shares them.

    limiter = RateLimiter(sessions, "enrol", limit=20)
    if limiter.hit(client, time.time()) > limiter.limit: ...       # every attempt counts
    if limiter.blocked(client, now): ...; limiter.hit(client, now)  # only failures count

Fixed windows of ``window_s`` seconds from the epoch: one row per (operation, client, window) in
``rate_counts``, incremented by one atomic upsert (``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``,
on PostgreSQL and SQLite alike), so two workers never both see the last free attempt. A client may
fit up to twice the limit across a window boundary: a limit on guessing and flooding speed, not an
exact quota.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from backend.db.models import RateCount


class RateLimiter:
    """Counts attempts at one operation (``scope``) per client; ``limit`` per window."""

    def __init__(
        self, sessions: sessionmaker[Session], scope: str, *, limit: int, window_s: int = 60
    ) -> None:
        self.sessions = sessions
        self.scope = scope
        self.limit = limit
        self.window_s = window_s

    def _key(self, client: str) -> str:
        return f"{self.scope}:{client}"[:120]

    def window_of(self, now: float) -> int:
        return int(now // self.window_s)

    def hit(self, client: str, now: float) -> int:
        """Count one attempt; returns the client's attempts in the current window, this one included."""
        window = self.window_of(now)
        with self.sessions() as session:
            insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
            upsert = (
                insert(RateCount)
                .values(key=self._key(client), window_no=window, hits=1)
                .on_conflict_do_update(
                    index_elements=[RateCount.key, RateCount.window_no], set_={"hits": RateCount.hits + 1}
                )
                .returning(RateCount.hits)
            )
            hits = session.execute(upsert).scalar_one()
            if hits == 1:  # the client's first attempt of this window: forget past windows
                session.execute(delete(RateCount).where(RateCount.window_no < window))
            session.commit()
        return hits

    def attempts(self, client: str, now: float) -> int:
        """The client's attempts counted in the current window."""
        with self.sessions() as session:
            hits = session.scalar(
                select(RateCount.hits).where(
                    RateCount.key == self._key(client), RateCount.window_no == self.window_of(now)
                )
            )
        return hits or 0

    def blocked(self, client: str, now: float) -> bool:
        return self.attempts(client, now) >= self.limit
