"""The day-keys job is incremental: it derives keys only for what its own documents lack (new
customers, new stores, the new day), leaves the documents of unchanged inputs alone, and writes
the same bytes as a full rebuild; the keys of a document put by hand are not reused."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from backend.db.engine import make_engine, make_sessionmaker
from backend.db.models import Resource
from backend.gateway.services import put_document
from backend.jobs.day_keys import run_day_keys
from backend.loyalty import services
from backend.loyalty.keys import KEYS_PREFIX, Published, build_document
from backend.loyalty.schemas import Consent
from backend.settings import BackendSettings
from simulators.backend.store import StoreView

pytestmark = pytest.mark.integration

NOW = 1_800_000_000.0  # 2027-01-15 08:00 UTC
DAY_S = 86_400.0


@pytest.fixture
def sessions(settings: BackendSettings) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(settings)
    yield make_sessionmaker(engine)
    engine.dispose()


def test_only_what_changed_is_derived_and_rewritten(
    settings: BackendSettings, sessions: sessionmaker[Session]
) -> None:
    view = StoreView(sessions, settings)

    def job(now: float = NOW) -> Published:
        with sessions() as session:
            return run_day_keys(session=session, secret_key=settings.secret_key, now=now, days_ahead=1)

    def enrol(recognition: bool = True) -> None:
        with sessions() as session:
            consent = Consent(recognition=recognition, offers=True, analytics=False)
            services.enrol(session=session, secret_key=settings.secret_key, consent=consent, now=NOW)

    def versions() -> dict[tuple[str, str], int]:
        with sessions() as session:
            rows = session.execute(select(Resource.store_id, Resource.name, Resource.version)).all()
        return {(s, n): v for s, n, v in rows if n.startswith(KEYS_PREFIX)}

    view.add_store("store-1")
    view.add_store("store-2")
    enrol(), enrol(), enrol(recognition=False)
    # per store: today's document, 2 customers x 2 days; tomorrow's takes tomorrow's keys from it
    assert job() == Published(stores=2, documents=4, customers=2, derived=2 * (4 + 2))
    before = versions()
    assert job() == Published(stores=2, documents=0, customers=2, derived=0)
    view.add_store("store-3")  # the other stores' documents are neither rebuilt nor rewritten
    assert job() == Published(stores=3, documents=2, customers=2, derived=6)
    assert {k: v for k, v in versions().items() if k[0] != "store-3"} == before
    enrol()  # one new customer: only their keys (2 documents x 2 days), in every store
    assert job() == Published(stores=3, documents=6, customers=3, derived=3 * 4)
    # the next day: tomorrow's document stands; the new one takes its day from it
    assert job(NOW + DAY_S) == Published(stores=3, documents=3, customers=3, derived=3 * 3)

    tomorrow = (dt.date(2027, 1, 15) + dt.timedelta(days=1)).isoformat()
    with sessions() as session:  # what the job wrote is what a full rebuild writes
        for (store, name), _ in versions().items():
            day = dt.date.fromisoformat(name.removeprefix(KEYS_PREFIX))
            full, _ = build_document(session=session, secret_key=settings.secret_key, store_id=store, day=day)
            assert bytes(session.get(Resource, (store, name)).body) == full, (store, name)  # type: ignore[union-attr]
        put_document(
            session=session,
            store_id="store-1",
            name=f"{KEYS_PREFIX}{tomorrow}",
            body=b'{"format": "smartshelf-presence-keys", "version": 2, "store": "store-1", "keys": []}',
        )
    # put by hand: its keys are not trusted; rebuilt from the job's own (today's document holds
    # tomorrow's keys), the day after derived again; nothing else is touched
    assert job(NOW + DAY_S) == Published(stores=3, documents=1, customers=3, derived=3)
