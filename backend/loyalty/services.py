"""Loyalty-app customers: enrolment, consent per purpose, erasure, check-ins, shopper profiles.

Keyword-only functions over a session; routes.py and the jobs call them, and so do the tests.

Withdrawals take effect centrally at once and reach the gateways at their next pull (the current and
future keys documents are rebuilt on the spot); enrolments and grants take effect at the next run of
the day-keys job (run it hourly), because rebuilding every store's documents is the job's work:

| withdrawn | here | on the gateways |
|---|---|---|
| recognition | keys documents rebuilt without the customer; pending check-ins deleted | keys, presence, basket and stored rows deleted |
| offers | the customer's profile removed from every store's profiles document | no offer; live offers withdrawn |
| analytics | every stored event about the customer deleted | nothing stored about them any more; stored rows deleted |
| all (``erase``) | all of the above, and the customer row itself | as recognition |
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import CursorResult, delete, select
from sqlalchemy.orm import Session

from backend.admin.services import SYSTEM_ACTOR
from backend.db.loyalty_models import CheckInRow, Customer
from backend.db.models import Event, Resource, Store
from backend.errors import Forbidden, Invalid, NotFound
from backend.gateway.services import put_document
from backend.loyalty import keys
from backend.loyalty.schemas import Consent
from backend.loyalty.sealing import seal, unseal
from backend.security import token_hash
from edge.offers.profile import Profile, ProfileError
from edge.presence.checkin import CheckInMessage
from edge.presence.keys import Purpose
from edge.presence.tokens import day_of, derive_day_key, interval_of, rolling_token, verify_tag

#: Bytes of a new customer secret (TOKENS.md recommends 16).
SECRET_BYTES = 16
#: A check-in older than this is of no use to a gateway (it accepts +-120 s): deleted.
CHECK_IN_KEEP_S = 600.0
#: Largest accepted difference between a check-in's time and the service's clock, seconds.
CHECK_IN_SKEW_S = 120.0
PROFILES = "profiles"


@dataclass(frozen=True, slots=True)
class Erased:
    """What a withdrawal removed centrally."""

    events: int
    check_ins: int
    profiles: int
    key_documents: int


def today(now: float) -> dt.date:
    return dt.datetime.fromtimestamp(now, tz=dt.UTC).date()


def consent_of(customer: Customer) -> Consent:
    return Consent(recognition=customer.recognition, offers=customer.offers, analytics=customer.analytics)


# ---------------------------------------------------------------------- enrolment and consent
def enrol(*, session: Session, secret_key: str, consent: Consent, now: float) -> tuple[Customer, bytes, str]:
    """A new customer with a fresh secret (sealed at rest); returns it, the secret and its app token
    (both shown once; the token is kept hashed)."""
    app_token = f"app_{secrets.token_urlsafe(32)}"
    shopper_id = f"sh-{secrets.token_hex(8)}"
    secret = secrets.token_bytes(SECRET_BYTES)
    customer = Customer(
        shopper_id=shopper_id,
        secret=seal(secret_key, shopper_id, secret),
        app_token_hash=token_hash(app_token),
        recognition=consent.recognition,
        offers=consent.offers,
        analytics=consent.analytics,
        enrolled_at=now,
        consent_at=now,
    )
    session.add(customer)
    session.commit()
    return customer, secret, app_token  # in the keys documents from the next day-keys job run


def authenticate_app(*, session: Session, token: str) -> Customer | None:
    return session.scalars(select(Customer).where(Customer.app_token_hash == token_hash(token))).first()


def set_consent(
    *, session: Session, secret_key: str, customer: Customer, consent: Consent, now: float
) -> Erased:
    """Record a consent change; what was withdrawn is erased now and the keys documents rebuilt (the
    gateways learn it at their next pull). What was granted takes effect at the next day-keys job run."""
    withdrawn: set[Purpose] = {
        p for p in ("recognition", "offers", "analytics") if getattr(customer, p) and not getattr(consent, p)
    }
    changed = consent != consent_of(customer)
    customer.recognition, customer.offers, customer.analytics = (
        consent.recognition,
        consent.offers,
        consent.analytics,
    )
    if changed:
        customer.consent_at = now
    session.commit()
    return _erase_for(
        session=session,
        secret_key=secret_key,
        shopper_id=customer.shopper_id,
        withdrawn=withdrawn,
        now=now,
        rekey=bool(withdrawn),
    )


def erase(*, session: Session, secret_key: str, customer: Customer, now: float) -> Erased:
    """Full withdrawal: every row about the customer goes, the customer row last."""
    shopper_id = customer.shopper_id
    session.delete(customer)
    session.commit()
    return _erase_for(
        session=session,
        secret_key=secret_key,
        shopper_id=shopper_id,
        withdrawn={"recognition", "offers", "analytics"},
        now=now,
        rekey=True,
    )


def _erase_for(
    *, session: Session, secret_key: str, shopper_id: str, withdrawn: set[Purpose], now: float, rekey: bool
) -> Erased:
    events = check_ins = profiles = 0
    if "analytics" in withdrawn:
        result = session.execute(delete(Event).where(Event.payload["shopper"].as_string() == shopper_id))
        events = result.rowcount if isinstance(result, CursorResult) else 0
    if "recognition" in withdrawn:
        result = session.execute(delete(CheckInRow).where(CheckInRow.shopper_id == shopper_id))
        check_ins = result.rowcount if isinstance(result, CursorResult) else 0
    session.commit()
    if "offers" in withdrawn:
        profiles = drop_profiles(session=session, shopper_ids={shopper_id})
    documents = (
        keys.republish_current(session=session, secret_key=secret_key, today=today(now)).documents
        if rekey
        else 0
    )
    return Erased(events, check_ins, profiles, documents)


# ---------------------------------------------------------------------- check-ins
def accept_check_in(
    *, session: Session, secret_key: str, customer: Customer, message: CheckInMessage, now: float
) -> int:
    """Keep a check-in for its store's gateway after checking it is this customer's and fresh."""
    if not customer.recognition:
        raise Forbidden("no recognition consent: check-ins are not relayed")
    if session.get(Store, message.store) is None:
        raise NotFound(f"unknown store {message.store!r}")
    c = message.to_check_in()
    t = c.t_ms / 1000.0
    if abs(t - now) > CHECK_IN_SKEW_S:
        raise Invalid(f"t_ms: {t - now:+.0f} s from the service's clock (at most {CHECK_IN_SKEW_S:.0f} s)")
    day_key = derive_day_key(unseal(secret_key, customer.shopper_id, customer.secret), c.store, day_of(t))
    if rolling_token(day_key, interval_of(t)) != c.token or not verify_tag(
        day_key, c.token, c.t_ms, c.nonce, c.tag
    ):
        raise Invalid("token or tag is not this customer's for that store and time")
    session.execute(delete(CheckInRow).where(CheckInRow.received_at < now - CHECK_IN_KEEP_S))
    row = CheckInRow(
        store_id=c.store, shopper_id=customer.shopper_id, body=message.model_dump(), received_at=now
    )
    session.add(row)
    session.commit()
    return row.seq


def check_ins_after(
    *, session: Session, store_id: str, after: int, now: float, limit: int = 500
) -> tuple[list[dict[str, Any]], int]:
    """Fresh check-ins of a store after cursor ``after``: ([{seq, check_in}], next cursor)."""
    rows = session.scalars(
        select(CheckInRow)
        .where(
            CheckInRow.store_id == store_id,
            CheckInRow.seq > after,
            CheckInRow.received_at >= now - CHECK_IN_KEEP_S,
        )
        .order_by(CheckInRow.seq)
        .limit(limit)
    ).all()
    return [{"seq": r.seq, "check_in": r.body} for r in rows], (rows[-1].seq if rows else after)


# ---------------------------------------------------------------------- profiles
def publish_profiles(
    *, session: Session, store_id: str, body: bytes, actor: str = SYSTEM_ACTOR
) -> tuple[str, int, int]:
    """Validate a store's profiles ({shopper: profile}, edge.offers.profile) and publish those of
    customers with offers consent; returns (etag, published, dropped)."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise Invalid("body is not JSON") from None
    if not isinstance(doc, dict):
        raise Invalid("<root>: must be an object of shopper id -> profile")
    for shopper, profile in doc.items():
        try:
            if not isinstance(profile, dict):
                raise ProfileError("<root>", "must be an object")
            Profile.from_dict(profile)
        except ProfileError as exc:
            raise Invalid(f"{shopper}: {exc}") from None
    consented = set(
        session.scalars(
            select(Customer.shopper_id).where(Customer.offers.is_(True), Customer.shopper_id.in_(list(doc)))
        )
    )
    kept = {s: p for s, p in doc.items() if s in consented}
    etag = put_document(
        session=session, store_id=store_id, name=PROFILES, body=orjson.dumps(kept), actor=actor
    )
    return etag, len(kept), len(doc) - len(kept)


def drop_profiles(*, session: Session, shopper_ids: set[str], actor: str = SYSTEM_ACTOR) -> int:
    """Remove these shoppers from every store's profiles document; returns documents rewritten."""
    rows = session.scalars(select(Resource).where(Resource.name == PROFILES)).all()
    rewritten = 0
    for row in rows:
        doc = orjson.loads(bytes(row.body))
        if isinstance(doc, dict) and shopper_ids & doc.keys():
            kept = {s: p for s, p in doc.items() if s not in shopper_ids}
            put_document(
                session=session, store_id=row.store_id, name=PROFILES, body=orjson.dumps(kept), actor=actor
            )
            rewritten += 1
    return rewritten
