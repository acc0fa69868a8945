"""Fixtures shared by every test: a real Mosquitto broker on a free port, torn down after.

``make test`` runs the suite on two pytest-xdist workers (``-n 2 --dist loadscope``); the hooks below
decide how the tests are shared between them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from backend.pgserver import PostgresServer
from simulators.broker import MosquittoBroker
from tests.support.postgres import truncate_all

if TYPE_CHECKING:
    from xdist.remote import Producer
    from xdist.scheduler.protocol import Scheduling


#: Work units given out first, longest first, so that no worker is left alone with a long one at the
#: end: the whole simulated store (about 85 s), then every Spark test (about 75 s with the session).
_FIRST = ("tests/e2e/", "tests/spark/")


def _work_unit(nodeid: str) -> str:
    """One test module, or all of tests/spark/ (so that one worker starts the run's one SparkSession)."""
    path = nodeid.split("::", 1)[0]
    return "tests/spark/" if path.startswith("tests/spark/") else path


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Producer) -> Scheduling | None:
    """``--dist loadscope`` with :func:`_work_unit` as the scope: a module's module-scoped fixtures
    (a built model, a prepared store) are built once, on one worker, and Spark starts once. Not
    ``--dist loadgroup`` with ``xdist_group`` marks: pytest-xdist 3.8.0 no longer applies the groups
    under pytest 9.2 (pytest-dev/pytest-xdist#1386) and would share the tests out one by one."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModuleScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _work_unit(nodeid)

    return ModuleScheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On a pytest-xdist worker, the units of :data:`_FIRST` come first (the scheduler hands the units
    out in this order with ``--no-loadscope-reorder``); a plain ``pytest`` run keeps the collection
    order."""
    if not hasattr(config, "workerinput"):
        return

    def rank(item: pytest.Item) -> int:
        return next((i for i, p in enumerate(_FIRST) if item.nodeid.startswith(p)), len(_FIRST))

    items.sort(key=rank)  # stable: the collection order within each rank


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
