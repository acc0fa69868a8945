"""The central service's tests: its own PostgreSQL (initdb + pg_ctl, free port, temporary directory),
migrated once per session; SQLite migrated once and copied per test. Rows are cleaned after each test.

``settings`` is parametrised over both databases; ``service`` serves the real app over HTTP.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from sqlalchemy import text

from backend.app import create_app
from backend.db.engine import make_engine
from backend.db.migrate import upgrade
from backend.db.models import Base
from backend.pgserver import PostgresServer
from backend.settings import BackendSettings
from simulators.backend.server import ServiceThread
from simulators.backend.store import StoreView
from simulators.broker import free_port

ADMIN = "adm_test-admin-token"
GATEWAY = "gw_test-gateway-token"
STORE = "store-1"


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    with PostgresServer(durable=False) as pg:
        upgrade(BackendSettings(database_url=pg.url))
        yield pg


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("backend-template") / "backend.db"
    upgrade(BackendSettings(database_url=f"sqlite:///{path}"))
    return path


def clean(settings: BackendSettings) -> None:
    """Delete every row (PostgreSQL: one TRUNCATE, identities restarted)."""
    engine = make_engine(settings)
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BackendSettings]:
    files = tmp_path / "files"
    if request.param == "sqlite":
        db = tmp_path / "backend.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), db)
        yield BackendSettings(database_url=f"sqlite:///{db}", data_dir=files)
        return
    pg: PostgresServer = request.getfixturevalue("postgres")
    settings = BackendSettings(database_url=pg.url, data_dir=files)
    try:
        yield settings
    finally:
        clean(settings)


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
