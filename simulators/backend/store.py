"""What tests, the demo and the soak read or set directly in the simulated service's database.

Every method calls the real service's own functions (backend.*.services); nothing here is a second
implementation of the service.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
from sqlalchemy.orm import Session, sessionmaker

from backend.admin import services as admin
from backend.gateway import services as gateway
from backend.jobs.day_keys import run_day_keys
from backend.loyalty.keys import Published
from backend.releases import services as releases
from backend.releases import storage
from backend.security import Role
from backend.settings import BackendSettings

ACTOR = "simulator"


class StoreView:
    def __init__(self, sessions: sessionmaker[Session], settings: BackendSettings) -> None:
        self.sessions = sessions
        self.settings = settings

    def add_token(self, token: str, role: str, store: str | None = None, label: str = "") -> None:
        r: Role = "admin" if role == "admin" else "gateway"
        with self.sessions() as session:
            if store is not None:
                admin.ensure_store(session=session, store_id=store, actor=ACTOR)
            admin.issue_token(session=session, role=r, store_id=store, label=label, actor=ACTOR, token=token)
            session.commit()

    def add_store(self, store: str, name: str = "") -> None:
        with self.sessions() as session:
            admin.ensure_store(session=session, store_id=store, name=name, actor=ACTOR)
            session.commit()

    def run_day_keys(self, now: float, days_ahead: int = 1) -> Published:
        """The day-keys job, as ``shelf-backend jobs day-keys`` runs it from its timer."""
        with self.sessions() as session:
            done = run_day_keys(
                session=session, secret_key=self.settings.secret_key, now=now, days_ahead=days_ahead
            )
            session.commit()
        return done

    def event_count(self, store: str | None = None) -> int:
        with self.sessions() as session:
            return gateway.event_count(session=session, store_id=store)

    def events(
        self, store: str, after: int = 0, limit: int = 1000, stream: str | None = None
    ) -> list[dict[str, Any]]:
        with self.sessions() as session:
            rows, _ = gateway.read_events(
                session=session, store_id=store, after=after, limit=limit, stream=stream
            )
        return rows

    def iter_events(self, store: str, stream: str, page: int = 1000) -> Iterator[dict[str, Any]]:
        """Every event of one stream of a store, in arrival order (paged by the service's cursor)."""
        after = 0
        while True:
            with self.sessions() as session:
                rows, after = gateway.read_events(
                    session=session, store_id=store, after=after, limit=page, stream=stream
                )
            if not rows:
                return
            yield from rows

    def add_events(self, store: str, events: list[dict[str, Any]]) -> int:
        """Store events as a gateway's batch would (the service's own ingest); returns how many."""
        with self.sessions() as session:
            admin.ensure_store(session=session, store_id=store, actor=ACTOR)
            session.commit()
            result = gateway.receive_events(
                session=session, store_id=store, body=orjson.dumps({"events": events}), max_events=len(events)
            )
        return len(result.accepted)

    def put_resource(self, store: str, name: str, body: bytes) -> str:
        with self.sessions() as session:
            return gateway.put_document(session=session, store_id=store, name=name, body=body, actor=ACTOR)

    def put_release_file(self, model: str, version: int, name: str, data: bytes) -> str:
        """Replace a release file behind the service's back (tampering tests): no checks."""
        stored = storage.write_bytes(
            data_dir=self.settings.data_dir, model=model, version=version, name=name, data=data
        )
        with self.sessions() as session:
            releases.record_file(
                session=session, model=model, version=version, name=name, stored=stored, actor=ACTOR
            )
        return stored.sha256

    def latest_release(self, model: str) -> bytes | None:
        with self.sessions() as session:
            return releases.latest(session=session, model=model)

    def reports(self, store: str | None = None) -> list[dict[str, Any]]:
        with self.sessions() as session:
            return releases.reports(session=session, store_id=store)
