"""Day keys: the ``customer-keys/{day}`` documents the gateways pull, derived from the customers' secrets.

The document of day D holds, for every customer with recognition consent, the day keys of D and D+1
(``edge.presence.tokens.derive_day_key``: the gateway needs the next day's tokens for the last
interval before midnight UTC) and the customer's purposes (keys file version 2,
``edge.presence.keys.keys_document``). It is stored as a per-store document (ETag) and served by
the gateway API's ``GET /v1/stores/{store}/customer-keys/{day}``; an unchanged document is not
rewritten, so its ETag (and the gateways' 304) stays.

Incremental: a customer's key of a store and day never changes (the secret does not), so keys are
derived only for what no document of the job holds yet: new customers, new stores, the new day (the
document of D-1 already holds D's keys). ``loyalty_key_documents`` remembers, per document, the
fingerprint of its inputs (consented customers and their purposes) and the ETag the job gave it: a
document whose inputs did not change is not even rebuilt, and one put by someone else (its ETag
differs) is rebuilt whole.

Who calls it: the ``day-keys`` job ahead of each day, and every consent change (the current and
future documents are rebuilt at once, so a withdrawal reaches each gateway at its next pull).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.admin.services import SYSTEM_ACTOR
from backend.db.loyalty_models import Customer, KeyDocument
from backend.db.models import Resource, Store
from backend.gateway.services import keys_name, put_document
from backend.loyalty.sealing import Opener
from edge.presence.keys import Purpose, keys_document
from edge.presence.resolver import EnrolledKey
from edge.presence.tokens import derive_day_key

KEYS_PREFIX = "customer-keys/"
#: Days of keys in one day's document: the day itself and the next one.
DAYS_PER_DOCUMENT = 2
#: Secrets read per query when only some customers need keys.
_SECRETS_PER_QUERY = 500


@dataclass(frozen=True, slots=True)
class Published:
    stores: int
    documents: int
    customers: int
    #: Day keys derived; the others were taken from the job's own documents.
    derived: int = 0


@dataclass(frozen=True, slots=True)
class Consented:
    """The customers with recognition consent and their purposes (shopper order), and a fingerprint."""

    purposes: dict[str, list[Purpose]]
    fingerprint: str


def day_number(day: dt.date) -> int:
    return (day - dt.date(1970, 1, 1)).days


def _granted(offers: bool, analytics: bool) -> list[Purpose]:
    granted: list[Purpose] = ["recognition"]
    if offers:
        granted.append("offers")
    if analytics:
        granted.append("analytics")
    return granted


def _consented(purposes: dict[str, list[Purpose]]) -> Consented:
    return Consented(purposes, hashlib.sha256(orjson.dumps(list(purposes.items()))).hexdigest())


def consented(*, session: Session) -> Consented:
    """Who the documents hold now (no secret is read)."""
    rows = session.execute(
        select(Customer.shopper_id, Customer.offers, Customer.analytics)
        .where(Customer.recognition.is_(True))
        .order_by(Customer.shopper_id)
    ).all()
    return _consented({shopper: _granted(offers, analytics) for shopper, offers, analytics in rows})


def _secrets(*, session: Session, secret_key: str, shoppers: list[str], everyone: bool) -> dict[str, bytes]:
    """The unsealed secrets of ``shoppers`` (``everyone``: of every consented customer, one query)."""
    query = select(Customer.shopper_id, Customer.secret).where(Customer.recognition.is_(True))
    if everyone:
        rows: Iterable[tuple[str, bytes]] = session.execute(query).all()
    else:
        rows = [
            row
            for i in range(0, len(shoppers), _SECRETS_PER_QUERY)
            for row in session.execute(
                query.where(Customer.shopper_id.in_(shoppers[i : i + _SECRETS_PER_QUERY]))
            )
        ]
    opener = Opener(secret_key)
    return {shopper: opener(shopper, sealed) for shopper, sealed in rows}


def _own_keys(*, session: Session, store_id: str, day: dt.date) -> dict[tuple[str, int], str]:
    """(shopper, day number) -> key (hex) from the job's own document of ``day``, or when there is
    none (the new day) of the day before, which holds ``day``'s keys."""
    for d in (day, day - dt.timedelta(days=1)):
        name = keys_name(d.isoformat())
        state = session.get(KeyDocument, (store_id, name))
        doc = session.get(Resource, (store_id, name))
        if state is not None and doc is not None and doc.etag == state.etag:
            return {(e["shopper"], e["day"]): e["key"] for e in orjson.loads(bytes(doc.body))["keys"]}
    return {}


def _build(
    *,
    session: Session,
    secret_key: str,
    store_id: str,
    day: dt.date,
    who: Consented,
    known: dict[tuple[str, int], str],
) -> tuple[bytes, Consented, int]:
    """The document, who it really holds (a customer erased meanwhile is left out) and keys derived."""
    first = day_number(day)
    days = range(first, first + DAYS_PER_DOCUMENT)
    missing = [s for s in who.purposes if any((s, d) not in known for d in days)]
    secrets = _secrets(
        session=session, secret_key=secret_key, shoppers=missing, everyone=len(missing) == len(who.purposes)
    )
    gone = set(missing) - secrets.keys()  # erased since ``who`` was read
    held = {s: p for s, p in who.purposes.items() if s not in gone}
    keys: list[EnrolledKey] = []
    derived = 0
    for shopper in held:
        for d in days:
            key = known.get((shopper, d))
            if key is None:
                keys.append(EnrolledKey(shopper, d, derive_day_key(secrets[shopper], store_id, d)))
                derived += 1
            else:
                keys.append(EnrolledKey(shopper, d, bytes.fromhex(key)))
    used = who if len(held) == len(who.purposes) else _consented(held)
    return keys_document(store_id, keys, held), used, derived


def build_document(*, session: Session, secret_key: str, store_id: str, day: dt.date) -> tuple[bytes, int]:
    """The keys document of one store and day, every key derived, and how many customers it holds."""
    body, used, _ = _build(
        session=session,
        secret_key=secret_key,
        store_id=store_id,
        day=day,
        who=consented(session=session),
        known={},
    )
    return body, len(used.purposes)


def publish(
    *,
    session: Session,
    secret_key: str,
    store_id: str,
    day: dt.date,
    who: Consented | None = None,
    actor: str = SYSTEM_ACTOR,
) -> tuple[bool, int, int]:
    """(Re)publish one document for ``who`` (default: the customers consented now); returns (written,
    customers, keys derived). A document of the same inputs, or identical, is left alone."""
    who = who if who is not None else consented(session=session)
    name = keys_name(day.isoformat())
    state = session.get(KeyDocument, (store_id, name))
    current = session.get(Resource, (store_id, name))
    if (
        state is not None
        and current is not None
        and (state.etag, state.inputs) == (current.etag, who.fingerprint)
    ):
        return False, len(who.purposes), 0
    known = _own_keys(session=session, store_id=store_id, day=day)
    body, used, derived = _build(
        session=session, secret_key=secret_key, store_id=store_id, day=day, who=who, known=known
    )
    if current is not None and bytes(current.body) == body:
        written, etag = False, current.etag
    else:
        written, etag = (
            True,
            put_document(session=session, store_id=store_id, name=name, body=body, actor=actor),
        )
    session.merge(KeyDocument(store_id=store_id, name=name, inputs=used.fingerprint, etag=etag))
    session.commit()
    return written, len(used.purposes), derived


def publish_ahead(
    *, session: Session, secret_key: str, today: dt.date, days_ahead: int, actor: str = SYSTEM_ACTOR
) -> Published:
    """The job: documents of ``today`` .. ``today + days_ahead`` for every store (in day order, so
    each new day's document takes the day before's keys)."""
    stores = session.scalars(select(Store.store_id).order_by(Store.store_id)).all()
    who = consented(session=session)
    written = derived = 0
    for store_id in stores:
        for offset in range(days_ahead + 1):
            done, _, keys = publish(
                session=session,
                secret_key=secret_key,
                store_id=store_id,
                day=today + dt.timedelta(days=offset),
                who=who,
                actor=actor,
            )
            written += done
            derived += keys
    return Published(len(stores), written, len(who.purposes), derived)


def republish_current(
    *, session: Session, secret_key: str, today: dt.date, actor: str = SYSTEM_ACTOR
) -> Published:
    """After a consent change: rebuild every published document of today or later, in every store
    (from the keys they hold: a withdrawal derives nothing)."""
    rows = session.execute(
        select(Resource.store_id, Resource.name)
        .where(Resource.name.startswith(KEYS_PREFIX))
        .order_by(Resource.store_id, Resource.name)
    ).all()
    who = consented(session=session)
    written = derived = 0
    stores: set[str] = set()
    for store_id, name in rows:
        day = dt.date.fromisoformat(name.removeprefix(KEYS_PREFIX))
        if day < today:
            continue
        stores.add(store_id)
        done, _, keys = publish(
            session=session, secret_key=secret_key, store_id=store_id, day=day, who=who, actor=actor
        )
        written += done
        derived += keys
    return Published(len(stores), written, len(who.purposes), derived)
