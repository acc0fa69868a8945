"""The day-keys job: keys per second of one store's document, against the bare key derivation.

Figures (one core, CPU time of this process):
- loyalty.day_keys_per_s: ``backend.loyalty.keys.build_document`` for one store and day on SQLite
  (customers read from the table, two day keys each derived with ``derive_day_key``, the version 2
  document serialised); baseline: ``derive_day_key`` alone for the same (customer, day) pairs, i.e.
  what the job costs beyond the cryptography it cannot avoid.
- loyalty.day_keys_unchanged_run_s, loyalty.day_keys_one_enrolment_run_s: the whole job
  (``run_day_keys``, ``--days-ahead 1``) for STORES stores, CPU seconds of a run when nothing changed
  and after one new enrolment; baseline: the first run, which derives every key.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import tempfile
import time
from pathlib import Path

from backend.db.engine import make_engine, make_sessionmaker
from backend.db.loyalty_models import Customer
from backend.db.migrate import upgrade
from backend.jobs.day_keys import run_day_keys
from backend.loyalty.keys import DAYS_PER_DOCUMENT, build_document, day_number
from backend.loyalty.sealing import seal
from backend.settings import BackendSettings
from edge.presence.tokens import derive_day_key
from simulators.backend.store import StoreView

N = int(os.environ.get("BENCH_LOYALTY_N", "20000"))
STORE = "store-001"
STORES = 3
NOW = 1_800_000_000.0


def main() -> list[dict[str, object]]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = BackendSettings(database_url=f"sqlite:///{Path(tmp) / 'b.db'}", data_dir=Path(tmp))
        upgrade(settings)
        engine = make_engine(settings)
        sessions = make_sessionmaker(engine)
        plain = [secrets.token_bytes(16) for _ in range(N)]

        def customer(i: int, secret: bytes) -> Customer:
            return Customer(
                shopper_id=f"sh-{i:012x}",
                secret=seal(settings.secret_key, f"sh-{i:012x}", secret),
                app_token_hash=f"{i:064x}",
                recognition=True,
                offers=i % 2 == 0,
                analytics=i % 3 == 0,
                enrolled_at=0.0,
                consent_at=0.0,
            )

        customers = [customer(i, plain[i]) for i in range(N)]
        secrets_only = plain
        with sessions() as session:
            session.add_all(customers)
            session.commit()
        day = dt.date(2026, 11, 30)
        with sessions() as session:
            started = time.process_time()
            body, count = build_document(
                session=session, secret_key=settings.secret_key, store_id=STORE, day=day
            )
            job_s = time.process_time() - started
        assert count == N and body
        first = day_number(day)
        started = time.process_time()
        for secret in secrets_only:
            for d in range(first, first + DAYS_PER_DOCUMENT):
                derive_day_key(secret, STORE, d)
        bare_s = time.process_time() - started

        view = StoreView(sessions, settings)
        for i in range(STORES):
            view.add_store(f"store-{i:03d}")

        def run_s() -> float:
            started = time.process_time()
            with sessions() as session:
                run_day_keys(session=session, secret_key=settings.secret_key, now=NOW, days_ahead=1)
            return time.process_time() - started

        first_s, unchanged_s = run_s(), run_s()
        with sessions() as session:
            session.add(customer(N, secrets.token_bytes(16)))
            session.commit()
        enrolment_s = run_s()
        engine.dispose()
    keys = N * DAYS_PER_DOCUMENT
    return [
        {
            "bench": "loyalty.day_keys_per_s",
            "value": round(keys / job_s),
            "unit": "keys/s",
            "baseline": round(keys / bare_s),
            "customers": N,
            "document_mb": round(len(body) / 1e6, 1),
        },
        {
            "bench": "loyalty.day_keys_unchanged_run_s",
            "value": round(unchanged_s, 3),
            "unit": "s CPU",
            "baseline": round(first_s, 3),
            "customers": N,
            "stores": STORES,
        },
        {
            "bench": "loyalty.day_keys_one_enrolment_run_s",
            "value": round(enrolment_s, 3),
            "unit": "s CPU",
            "baseline": round(first_s, 3),
            "customers": N,
            "stores": STORES,
        },
    ]
