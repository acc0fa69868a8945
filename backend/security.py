"""Bearer tokens: high-entropy random text handed out once, kept only as its sha256."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Literal

Role = Literal["admin", "gateway"]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: an admin (any store) or a gateway token of one store."""

    role: Role
    store_id: str | None
    token_id: int
    label: str

    @property
    def actor(self) -> str:
        """How the audit log names this caller."""
        return f"token {self.token_id} ({self.label})" if self.label else f"token {self.token_id}"


def new_token(role: Role) -> str:
    """A fresh token: 256 random bits, prefixed with its role so a leaked one is recognisable."""
    return f"{'adm' if role == 'admin' else 'gw'}_{secrets.token_urlsafe(32)}"


def derived_token(secret_key: str, *parts: str) -> str:
    """A gateway token derived from the service's secret (provisioning answers the same one again)."""
    mac = hmac.new(secret_key.encode(), "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()
    return f"gw_{mac}"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
