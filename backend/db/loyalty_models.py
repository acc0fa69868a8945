"""Tables of the loyalty area (customers and their consent, relayed check-ins); migration 0101.

Kept apart from backend/db/models.py (same ``Base``) so the loyalty area is one place. Nothing here
identifies a person: ``shopper_id`` is the pseudonymous id the gateways see; the retailer's own
loyalty system, not this service, links it to an account if it wants to.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Float, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.models import Base, JsonDoc, SeqId


class Customer(Base):
    """An enrolled loyalty-app customer: the secret of TOKENS.md and the consent per purpose."""

    __tablename__ = "loyalty_customers"

    shopper_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    #: The customer secret sealed with the service's secret_key (backend/loyalty/sealing.py).
    secret: Mapped[bytes] = mapped_column(LargeBinary)
    app_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    recognition: Mapped[bool] = mapped_column(Boolean)
    offers: Mapped[bool] = mapped_column(Boolean)
    analytics: Mapped[bool] = mapped_column(Boolean)
    enrolled_at: Mapped[float] = mapped_column(Float)
    consent_at: Mapped[float] = mapped_column(Float)


class CheckInRow(Base):
    """A check-in of a backgrounded iOS app, kept for the store's gateway a few minutes."""

    __tablename__ = "loyalty_check_ins"
    __table_args__ = (Index("ix_loyalty_check_ins_store_seq", "store_id", "seq"),)

    seq: Mapped[int] = mapped_column(SeqId, primary_key=True, autoincrement=True)
    store_id: Mapped[str] = mapped_column(String(64))
    shopper_id: Mapped[str] = mapped_column(String(32), index=True)
    body: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    received_at: Mapped[float] = mapped_column(Float, index=True)


class KeyDocument(Base):
    """What the day-keys job last wrote as one store's keys document of one day (backend/loyalty/keys.py):
    the fingerprint of its inputs (consented customers and their purposes) and the ETag it got. A
    document whose ETag is no longer this one was put by someone else and is rebuilt whole."""

    __tablename__ = "loyalty_key_documents"

    store_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    inputs: Mapped[str] = mapped_column(String(64))
    etag: Mapped[str] = mapped_column(String(100))
