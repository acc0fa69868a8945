"""Customer secrets sealed at rest: AES-256-GCM under a key derived from ``settings.secret_key``.

A copy of the database (backup, replica, dump) alone does not give the secrets that derive every
customer's day keys. The shopper id is bound as associated data, so a sealed secret moved to
another row does not open. ``secret_key`` therefore must not change once customers are enrolled
(it also derives the provisioned gateway tokens).
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = b"\x01"
NONCE = 12


class SealError(ValueError):
    """A sealed secret does not open (another secret_key, or a tampered row)."""

    def __init__(self, shopper_id: str) -> None:
        self.shopper_id = shopper_id
        super().__init__(f"secret of {shopper_id} does not open: was settings.secret_key changed?")


def _aead(secret_key: str) -> AESGCM:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"smartshelf/backend/loyalty-secrets", info=b"v1"
    ).derive(secret_key.encode())
    return AESGCM(key)


def seal(secret_key: str, shopper_id: str, secret: bytes) -> bytes:
    nonce = os.urandom(NONCE)
    return VERSION + nonce + _aead(secret_key).encrypt(nonce, secret, shopper_id.encode())


def unseal(secret_key: str, shopper_id: str, sealed: bytes) -> bytes:
    sealed = bytes(sealed)
    if sealed[:1] != VERSION:
        raise SealError(shopper_id)
    try:
        return _aead(secret_key).decrypt(sealed[1 : 1 + NONCE], sealed[1 + NONCE :], shopper_id.encode())
    except InvalidTag:
        raise SealError(shopper_id) from None


class Opener:
    """Unseals many secrets with one derived key (the day-keys job opens every customer's)."""

    def __init__(self, secret_key: str) -> None:
        self._aead = _aead(secret_key)

    def __call__(self, shopper_id: str, sealed: bytes) -> bytes:
        sealed = bytes(sealed)
        if sealed[:1] != VERSION:
            raise SealError(shopper_id)
        try:
            return self._aead.decrypt(sealed[1 : 1 + NONCE], sealed[1 + NONCE :], shopper_id.encode())
        except InvalidTag:
            raise SealError(shopper_id) from None
