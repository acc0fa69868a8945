"""Day keys: the ``customer-keys/{day}`` documents the gateways pull, derived from the customers' secrets.

The document of day D holds, for every customer with recognition consent, the day keys of D and D+1
(``edge.presence.tokens.derive_day_key``: the gateway needs the next day's tokens for the last
interval before midnight UTC) and the customer's purposes (keys file version 2,
``edge.presence.keys.keys_document``). It is stored as a per-store document (ETag) and served by
the gateway API's ``GET /v1/stores/{store}/customer-keys/{day}``; an unchanged document is not
rewritten, so its ETag (and the gateways' 304) stays.

Who calls it: the ``day-keys`` job ahead of each day, and every consent change (the current and
future documents are rebuilt at once, so a withdrawal reaches each gateway at its next pull).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.admin.services import SYSTEM_ACTOR
from backend.db.loyalty_models import Customer
from backend.db.models import Resource, Store
from backend.gateway.services import keys_name, put_document
from backend.loyalty.sealing import Opener
from edge.presence.keys import Purpose, keys_document
from edge.presence.resolver import EnrolledKey
from edge.presence.tokens import derive_day_key

KEYS_PREFIX = "customer-keys/"
#: Days of keys in one day's document: the day itself and the next one.
DAYS_PER_DOCUMENT = 2


@dataclass(frozen=True, slots=True)
class Published:
    stores: int
    documents: int
    customers: int


def day_number(day: dt.date) -> int:
    return (day - dt.date(1970, 1, 1)).days


def _granted(offers: bool, analytics: bool) -> list[Purpose]:
    granted: list[Purpose] = ["recognition"]
    if offers:
        granted.append("offers")
    if analytics:
        granted.append("analytics")
    return granted


def build_document(*, session: Session, secret_key: str, store_id: str, day: dt.date) -> tuple[bytes, int]:
    """The keys document of one store and day, and how many customers it holds."""
    rows = session.execute(
        select(Customer.shopper_id, Customer.secret, Customer.offers, Customer.analytics)
        .where(Customer.recognition.is_(True))
        .order_by(Customer.shopper_id)
    ).all()
    first = day_number(day)
    days = range(first, first + DAYS_PER_DOCUMENT)
    opener = Opener(secret_key)
    keys = [
        EnrolledKey(shopper, d, derive_day_key(secret, store_id, d))
        for shopper, secret in ((shopper, opener(shopper, sealed)) for shopper, sealed, _, _ in rows)
        for d in days
    ]
    purposes: dict[str, list[Purpose]] = {
        shopper: _granted(offers, analytics) for shopper, _, offers, analytics in rows
    }
    return keys_document(store_id, keys, purposes), len(rows)


def publish(
    *, session: Session, secret_key: str, store_id: str, day: dt.date, actor: str = SYSTEM_ACTOR
) -> tuple[bool, int]:
    """(Re)publish one document; returns (written, customers). An identical document is left alone."""
    body, customers = build_document(session=session, secret_key=secret_key, store_id=store_id, day=day)
    name = keys_name(day.isoformat())
    current = session.get(Resource, (store_id, name))
    if current is not None and bytes(current.body) == body:
        return False, customers
    put_document(session=session, store_id=store_id, name=name, body=body, actor=actor)
    return True, customers


def publish_ahead(
    *, session: Session, secret_key: str, today: dt.date, days_ahead: int, actor: str = SYSTEM_ACTOR
) -> Published:
    """The job: documents of ``today`` .. ``today + days_ahead`` for every store."""
    stores = session.scalars(select(Store.store_id).order_by(Store.store_id)).all()
    written = customers = 0
    for store_id in stores:
        for offset in range(days_ahead + 1):
            done, customers = publish(
                session=session,
                secret_key=secret_key,
                store_id=store_id,
                day=today + dt.timedelta(days=offset),
                actor=actor,
            )
            written += done
    return Published(len(stores), written, customers)


def republish_current(
    *, session: Session, secret_key: str, today: dt.date, actor: str = SYSTEM_ACTOR
) -> Published:
    """After a consent change: rebuild every published document of today or later, in every store."""
    rows = session.execute(
        select(Resource.store_id, Resource.name).where(Resource.name.startswith(KEYS_PREFIX))
    ).all()
    written = customers = 0
    stores: set[str] = set()
    for store_id, name in rows:
        day = dt.date.fromisoformat(name.removeprefix(KEYS_PREFIX))
        if day < today:
            continue
        stores.add(store_id)
        done, customers = publish(
            session=session, secret_key=secret_key, store_id=store_id, day=day, actor=actor
        )
        written += done
    return Published(len(stores), written, customers)
