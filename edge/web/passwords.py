"""The dashboard password as stored in the config: a salted scrypt hash, or (old configs) plain text.

    stored = hash_password("correct horse battery")      # 'scrypt$16384$8$1$<salt>$<digest>'
    verify(stored, "correct horse battery")              # True
    verify("plain-text-password", "plain-text-password")  # True: plain text still works (not advised)

``shelf-edge dashboard --hash-password`` prints the hashed form for ``[web] password``. Only the
standard library (``hashlib.scrypt``, ``hmac.compare_digest``): nothing to install on a gateway.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

SCHEME = "scrypt"
#: scrypt cost: 16 MiB of memory and ~50 ms of one core per check on a gateway (RFC 7914 interactive).
N, R, P = 2**14, 8, 1
SALT_BYTES = 16
DIGEST_BYTES = 32
_MAX_MEMORY = 64 * 2**20  # refuse costs that would stall a login for seconds or eat the memory


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def is_hashed(stored: str) -> bool:
    """True when ``stored`` is in the hashed form (it starts with ``scrypt$``)."""
    return stored.startswith(SCHEME + "$")


def hash_password(password: str, salt: bytes | None = None) -> str:
    """The hashed form of ``password`` with a fresh random salt (or ``salt``, for tests)."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.scrypt(password.encode(), salt=salt, n=N, r=R, p=P, dklen=DIGEST_BYTES)
    return f"{SCHEME}${N}${R}${P}${_b64(salt)}${_b64(digest)}"


def parse_hashed(stored: str) -> tuple[int, int, int, bytes, bytes]:
    """(n, r, p, salt, digest) of a hashed password; ValueError with the reason when malformed."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != SCHEME:
        raise ValueError(
            "a hashed password has 6 fields 'scrypt$N$r$p$salt$digest' "
            "(print one with: shelf-edge dashboard --hash-password)"
        )
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, digest = _unb64(parts[4]), _unb64(parts[5])
    except (ValueError, binascii.Error) as exc:
        raise ValueError(f"hashed password: cannot read its numbers or base64 fields ({exc})") from None
    if n < 2 or n & (n - 1) or not 1 <= r <= 32 or not 1 <= p <= 16 or 128 * n * r > _MAX_MEMORY:
        raise ValueError(
            f"hashed password: cost N={n} r={r} p={p} out of range (N a power of 2, 128*N*r <= 64 MiB)"
        )
    if len(salt) < 8 or len(digest) < 16:
        raise ValueError("hashed password: salt or digest too short")
    return n, r, p, salt, digest


def verify(stored: str, given: str) -> bool:
    """Whether ``given`` matches ``stored`` (hashed or plain), in constant time for equal lengths."""
    if not is_hashed(stored):
        return hmac.compare_digest(given.encode(), stored.encode())
    n, r, p, salt, digest = parse_hashed(stored)
    candidate = hashlib.scrypt(
        given.encode(), salt=salt, n=n, r=r, p=p, dklen=len(digest), maxmem=_MAX_MEMORY + 2**20
    )
    return hmac.compare_digest(candidate, digest)
