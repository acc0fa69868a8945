"""The retailer's loyalty app as the demo's shoppers use it: enrol, withdraw, over the service's API.

Only the calls the app makes (``POST /v1/loyalty/customers`` and ``DELETE /v1/loyalty/me``; backend/README.md "Enrolment and consent"); the customer secret the app
keeps is the one the service answered, so the phone advertises tokens the day-keys job can match.
"""

from __future__ import annotations

from dataclasses import dataclass

import requests

from simulators.phones import Customer, Platform


@dataclass(frozen=True, slots=True)
class AppInstall:
    """One phone's app after enrolment: the customer it advertises as and its app token."""

    customer: Customer
    app_token: str


def enrol(
    url: str,
    platform: Platform = "android",
    *,
    recognition: bool = True,
    offers: bool = True,
    analytics: bool = True,
    timeout_s: float = 10.0,
) -> AppInstall:
    consent = {"recognition": recognition, "offers": offers, "analytics": analytics}
    answer = requests.post(f"{url}/v1/loyalty/customers", json={"consent": consent}, timeout=timeout_s)
    answer.raise_for_status()
    body = answer.json()
    customer = Customer(body["shopper_id"], bytes.fromhex(body["secret"]), platform)
    return AppInstall(customer, body["app_token"])


def withdraw(url: str, install: AppInstall, timeout_s: float = 10.0) -> None:
    """Withdraw everything: the service erases the customer (``DELETE /v1/loyalty/me``)."""
    answer = requests.delete(
        f"{url}/v1/loyalty/me", headers={"Authorization": f"Bearer {install.app_token}"}, timeout=timeout_s
    )
    answer.raise_for_status()
