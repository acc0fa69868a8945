"""The simulated central service: the REAL service (backend.app) in a thread, faults in front.

    with BackendServer(tmp / "backend.db") as backend:             # SQLite file
        backend.url  # http://127.0.0.1:PORT
    BackendServer(tmp / "files", database_url=pg.url)              # PostgreSQL

``stop()`` then ``start()`` serve again on the same port (a service outage). Faults
(simulators/backend/faults.py): ``fault_after_commit`` (lost answers), ``download_limit`` (cut
download), ``slow_s``, ``garbage``. The database is migrated on construction. Until a token is added
(``add_token``) requests without one act as admin: a convenience of the simulator only.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn

from backend.app import create_app
from backend.db.migrate import upgrade
from backend.settings import BackendSettings
from simulators.backend.faults import FaultInjector, Faults
from simulators.backend.store import StoreView
from simulators.broker import free_port

log = logging.getLogger("simulators.backend")


class ServiceThread:
    """An ASGI app served by uvicorn in a thread; ``stop()`` and ``start()`` keep the port."""

    def __init__(self, app: Any, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._server is not None:
            return
        config = uvicorn.Config(
            self.app,
            host=self.host,
            port=self.port,
            log_level="critical",
            access_log=False,
            date_header=False,
            proxy_headers=False,  # as `shelf-backend serve`: the app itself trusts its trusted_proxies
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="backend-http", daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:  # the thread's own start-up, not a test wait
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the central service did not start on {self.host}:{self.port}")
            time.sleep(0.01)
        self._server, self._thread = server, thread
        log.info("central service on http://%s:%s", self.host, self.port)

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.should_exit = True
        self._server.force_exit = True  # kept-alive connections are closed, not waited for
        if self._thread:
            self._thread.join(10)
        self._server = None
        self._thread = None


class BackendServer:
    def __init__(
        self,
        db_path: str | Path,
        port: int | None = None,
        host: str = "127.0.0.1",
        database_url: str | None = None,
    ) -> None:
        path = Path(db_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.settings = BackendSettings(
            database_url=database_url or f"sqlite:///{path}",
            data_dir=path.parent / f"{path.stem}-files",
        )
        upgrade(self.settings)
        self.host = host
        self.port = port or free_port()
        self.faults = Faults()
        self.app = create_app(self.settings)
        self.store = StoreView(self.app.state.sessions, self.settings)
        self._open_token = f"adm_sim_{secrets.token_urlsafe(16)}"
        self.store.add_token(self._open_token, "admin", label="simulator open access")
        self.faults.open_access_token = self._open_token
        self._thread = ServiceThread(FaultInjector(self.app, self.faults), host, self.port)

    # ------------------------------------------------------------------ faults (old attribute names)
    @property
    def requests(self) -> int:
        return self.faults.requests

    @property
    def fault_after_commit(self) -> int:
        return self.faults.lose_answers

    @fault_after_commit.setter
    def fault_after_commit(self, n: int) -> None:
        self.faults.lose_answers = n

    @property
    def download_limit(self) -> tuple[str, int] | None:
        return self.faults.cut_download

    @download_limit.setter
    def download_limit(self, value: tuple[str, int] | None) -> None:
        self.faults.cut_download = value

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def add_token(self, token: str, role: str, store: str | None = None) -> None:
        """Register a token (the service keeps its hash); from now on requests need one."""
        self.store.add_token(token, role, store)
        self.faults.open_access_token = None

    # ------------------------------------------------------------------ serving
    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._thread.stop()

    def close(self) -> None:
        self.stop()
        with contextlib.suppress(Exception):
            self.app.state.engine.dispose()

    def __enter__(self) -> BackendServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
