"""Row cleaning for tests on the private PostgreSQL (tests/conftest.py ``postgres_url``)."""

from __future__ import annotations

from sqlalchemy import text

from backend.db.engine import make_engine
from backend.db.models import Base
from backend.settings import BackendSettings


def truncate_all(url: str) -> None:
    """Delete every row of the service's tables (one TRUNCATE, identities restarted)."""
    engine = make_engine(BackendSettings(database_url=url))
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
