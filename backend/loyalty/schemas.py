"""API bodies of the loyalty area (tables in backend/db/loyalty_models.py)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Consent(_Body):
    """What the customer agreed to in the app, one switch per purpose."""

    recognition: bool = Field(
        description="The store's gateway may recognise the phone (BLE tokens, check-in)."
    )
    offers: bool = Field(
        description="Personalised offers on the shelf displays (needs recognition to happen)."
    )
    analytics: bool = Field(description="Events about the customer may be stored and analysed centrally.")


class EnrolRequest(_Body):
    consent: Consent = Field(description="Consent per purpose given at enrolment.")


class Enrolled(_Body):
    """Answered ONCE at enrolment: the app keeps secret and app_token in its secure storage."""

    shopper_id: str = Field(description="Pseudonymous id the gateways see (never a loyalty number).")
    secret: str = Field(description="Customer secret S of TOKENS.md, hex (16 bytes); not shown again.")
    app_token: str = Field(description="Bearer token of this app install; kept only hashed; not shown again.")
    consent: Consent = Field(description="Consent as recorded.")


class CustomerPublic(_Body):
    shopper_id: str = Field(description="Pseudonymous id.")
    consent: Consent = Field(description="Current consent per purpose.")
    enrolled_at: float = Field(description="Unix time of enrolment.")
    consent_at: float = Field(description="Unix time of the last consent change.")


class CheckInAccepted(_Body):
    seq: int = Field(description="Sequence number under which the store's gateway will receive it.")


class ProfilesPublished(_Body):
    etag: str = Field(description="ETag of the published profiles document of the store.")
    profiles: int = Field(description="Profiles published (customers with offers consent).")
    dropped: int = Field(description="Profiles left out: unknown customer or no offers consent.")


class KeysPublished(_Body):
    stores: int = Field(description="Stores whose keys were (re)published.")
    documents: int = Field(description="Day documents written (unchanged ones are not rewritten).")
    customers: int = Field(description="Customers with recognition consent in each document.")
