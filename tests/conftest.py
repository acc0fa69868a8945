"""Fixtures shared by every test: a real Mosquitto broker on a free port, torn down after."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from backend.pgserver import PostgresServer
from simulators.broker import MosquittoBroker
from tests.support.postgres import truncate_all


@pytest.fixture
def broker() -> Iterator[MosquittoBroker]:
    """A private Mosquitto for one test (restartable on the same port with stop()/start())."""
    with MosquittoBroker() as b:
        yield b


@pytest.fixture(scope="session")
def shared_broker() -> Iterator[MosquittoBroker]:
    """One Mosquitto for tests that only publish and subscribe (never stop it in a test)."""
    with MosquittoBroker() as b:
        yield b


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A private PostgreSQL (initdb + pg_ctl, free port, temp dir), migrated once; see tests/backend/."""
    from backend.db.migrate import upgrade
    from backend.settings import BackendSettings

    with PostgresServer(durable=False) as pg:
        upgrade(BackendSettings(database_url=pg.url))
        yield pg


@pytest.fixture
def postgres_url(postgres: PostgresServer) -> Iterator[str]:
    """The migrated private PostgreSQL for one test; every row is deleted after it."""
    yield postgres.url
    truncate_all(postgres.url)
