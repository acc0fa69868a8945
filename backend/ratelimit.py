"""Attempts per client over the last minute, counted in the database so every worker process shares them.

    limiter = RateLimiter(sessions, "enrol", limit=20)
    if limiter.hit(client, time.time()) > limiter.limit: ...       # every attempt counts
    if limiter.blocked(client, now): ...; limiter.hit(client, now)  # only failures count

A sliding window, estimated from two fixed ones: attempts are counted per (operation, client,
window of ``window_s`` seconds from the epoch) in ``rate_counts``, incremented by one atomic upsert
(``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``, on PostgreSQL and SQLite alike), so two workers
never both see the last free attempt. The count a limit is held against is
:func:`sliding_count`: the current window's attempts plus the previous window's, weighted by the
share of the last ``window_s`` seconds that still falls in it. A burst straddling a window's turn
is therefore limited as one burst (with fixed windows a client could fit twice the limit there).
Rows older than the previous window are deleted as new ones are counted.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from backend.db.models import RateCount


def sliding_count(previous: int, current: int, now: float, window_s: float) -> float:
    """Attempts in the ``window_s`` seconds up to ``now`` (pure; time is data): ``current`` (this
    window's) plus ``previous`` (the window before) times the share of the sliding window still in it,
    as if the previous window's attempts were spread evenly over it."""
    into = (now % window_s) / window_s  # how far into the current window ``now`` is, 0..1
    return current + previous * (1.0 - into)


class RateLimiter:
    """Counts attempts at one operation (``scope``) per client; ``limit`` per sliding window."""

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

    def hit(self, client: str, now: float) -> float:
        """Count one attempt; returns the client's attempts in the sliding window, this one included."""
        window, key = self.window_of(now), self._key(client)
        with self.sessions() as session:
            insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
            upsert = (
                insert(RateCount)
                .values(key=key, window_no=window, hits=1)
                .on_conflict_do_update(
                    index_elements=[RateCount.key, RateCount.window_no], set_={"hits": RateCount.hits + 1}
                )
                .returning(RateCount.hits)
            )
            hits = session.execute(upsert).scalar_one()
            previous = self._hits(session, key, window - 1)
            if hits == 1:  # the client's first attempt of this window: forget windows nobody looks at
                session.execute(delete(RateCount).where(RateCount.window_no < window - 1))
            session.commit()
        return sliding_count(previous, hits, now, self.window_s)

    def attempts(self, client: str, now: float) -> float:
        """The client's attempts counted in the sliding window up to ``now``."""
        window, key = self.window_of(now), self._key(client)
        with self.sessions() as session:
            current, previous = self._hits(session, key, window), self._hits(session, key, window - 1)
        return sliding_count(previous, current, now, self.window_s)

    @staticmethod
    def _hits(session: Session, key: str, window: int) -> int:
        hits = session.scalar(
            select(RateCount.hits).where(RateCount.key == key, RateCount.window_no == window)
        )
        return hits or 0

    def blocked(self, client: str, now: float) -> bool:
        return self.attempts(client, now) >= self.limit
