"""Soak: backend down for a long stretch (then two answers lost), Mosquitto restarted, the writer
SIGKILLed mid-write (twice); the real central service on SQLite and on PostgreSQL.

The backend must end with every ground-truth event exactly once and no display may have shown an
offer past its expiry. About 20 s.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from simulators.soak import run_soak

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_soak_exactly_once_and_never_stale(
    tmp_path: Path, database: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("postgres_url") if database == "postgres" else None
    result = run_soak(seconds=20, workdir=tmp_path, database_url=url)
    report = "\n".join(result.log)
    assert result.writer_kills == 2 and result.broker_restarts == 1, report
    assert result.backend_down_s >= 5, report
    assert result.missing == [] and result.unexpected == [], report
    assert result.basket_on_backend == result.expected > 1000, report
    assert result.shown_expired == 0, report
    assert result.offers_shown > 0 and result.offers_published > 0, report
    assert result.ok
