"""The central service's tests: its own PostgreSQL (tests/conftest.py ``postgres``: initdb + pg_ctl,
free port, temporary directory, migrated once per session, rows deleted after each test); SQLite
migrated once and copied per test.

``settings`` is parametrised over both databases; ``service`` serves the real app over HTTP.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from backend.app import create_app
from backend.db.migrate import upgrade
from backend.settings import BackendSettings
from simulators.backend.server import ServiceThread
from simulators.backend.store import StoreView
from simulators.broker import free_port
from tests.support.waiting import wait_until

ADMIN = "adm_test-admin-token"
GATEWAY = "gw_test-gateway-token"
STORE = "store-1"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("backend-template") / "backend.db"
    upgrade(BackendSettings(database_url=f"sqlite:///{path}"))
    return path


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BackendSettings]:
    files = tmp_path / "files"
    if request.param == "sqlite":
        db = tmp_path / "backend.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), db)
        yield BackendSettings(database_url=f"sqlite:///{db}", data_dir=files)
        return
    yield BackendSettings(database_url=request.getfixturevalue("postgres_url"), data_dir=files)


def clear_of_a_minute_boundary(margin_s: float = 8.0) -> None:
    """The rate limits count per minute of the clock and weigh the previous minute's count by what is
    left of it (backend/ratelimit.py): wait, if need be, until a sequence of requests started now
    ends within the same minute, so its count is exact."""
    wait_until(lambda: time.time() % 60 < 60 - margin_s, timeout=margin_s + 2, what="a fresh minute")


@dataclass
class Service:
    url: str
    view: StoreView
    settings: BackendSettings
    admin: requests.Session
    gateway: requests.Session
    thread: ServiceThread


def _session(token: str) -> requests.Session:
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {token}"
    return s


@pytest.fixture
def service(settings: BackendSettings) -> Iterator[Service]:
    """The real app over HTTP, with an admin token and a gateway token of store-1."""
    app = create_app(settings)
    view = StoreView(app.state.sessions, settings)
    view.add_token(ADMIN, "admin", label="test admin")
    view.add_token(GATEWAY, "gateway", STORE, label="test gateway")
    thread = ServiceThread(app, "127.0.0.1", free_port())
    thread.start()
    try:
        yield Service(
            f"http://127.0.0.1:{thread.port}", view, settings, _session(ADMIN), _session(GATEWAY), thread
        )
    finally:
        thread.stop()
        app.state.engine.dispose()
