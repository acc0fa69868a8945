"""Fleet table: the last successful call of each store's gateways (migration 0101).

Health reports (versions, backlog, problems) and release reports have their own tables in
backend/db/models.py; a gateway that sends no health report still shows up through its contacts.
"""

from __future__ import annotations

from sqlalchemy import Float, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.models import Base


class FleetContact(Base):
    """When a store's gateway last called the service successfully, and with what."""

    __tablename__ = "fleet_contacts"

    store_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_contact: Mapped[float] = mapped_column(Float)
    last_call: Mapped[str] = mapped_column(String(200))
