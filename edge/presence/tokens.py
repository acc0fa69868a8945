"""The rolling-token scheme of the loyalty app (Exposure-Notification style). Pure: no I/O, no clock.

Three levels of keys (see TOKENS.md for the full specification and test vectors):

1. ``customer secret`` (16..64 bytes): generated once at enrolment, kept by the app and the backend.
2. ``day key`` = HKDF-SHA256(ikm=secret, salt="smartshelf/v1/store/" + store, info="day" + u32be(day),
   L=32), one per (customer, store, UTC day). Computed by the backend; the only key a gateway
   ever receives. First 16 bytes: the *token key*; last 16 bytes: the *check-in key*.
3. ``token`` for interval ``i`` (``i = floor(unix_time / 600)``) = AES-128-ECB(token key,
   "SS-RPI" || 0x00 * 6 || u32le(i)). 16 bytes, looks random, changes every 10 minutes.

The iOS check-in path (a backgrounded iOS app cannot advertise) sends the same token over the app's
network connection with a freshness tag: ``tag = HMAC-SHA256(check-in key, "SS-CHK" || token ||
u64be(t_ms) || nonce)[:8]``; the gateway accepts a (token, nonce) pair once and only near ``t``.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
import uuid
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

#: Seconds per token interval (EN uses 10 minutes).
INTERVAL_S = 600
#: Intervals per UTC day.
INTERVALS_PER_DAY = 86400 // INTERVAL_S
#: Bytes of a rolling token.
TOKEN_LEN = 16
#: Bytes of a day key (token key || check-in key).
DAY_KEY_LEN = 32
#: Bytes of a freshness tag.
TAG_LEN = 8
#: Scheme version carried in every advertisement payload.
SCHEME_VERSION = 1
#: First byte of the manufacturer/service data payload ("S").
PAYLOAD_MAGIC = 0x53
#: Bluetooth SIG company id reserved for testing; production apps use the retailer's assigned id.
TEST_COMPANY_ID = 0xFFFF
#: 16-bit service UUID (in 128-bit form) the reference apps use for the service-data layout.
TEST_SERVICE_DATA_UUID = "0000ffff-0000-1000-8000-00805f9b34fb"
#: Length of the manufacturer/service data payload: magic, version, token.
PAYLOAD_LEN = 2 + TOKEN_LEN

_RPI_PREFIX = b"SS-RPI" + bytes(6)
_CHK_PREFIX = b"SS-CHK"
_SALT_PREFIX = b"smartshelf/v1/store/"
_BT_BASE_SUFFIX = "-0000-1000-8000-00805f9b34fb"


class TokenSchemeError(ValueError):
    """A key, token or payload does not follow the scheme; ``what`` names the offending part."""

    def __init__(self, what: str, reason: str) -> None:
        self.what = what
        self.reason = reason
        super().__init__(f"{what}: {reason}")


def interval_of(t: float) -> int:
    """Token interval number of unix time ``t``."""
    return int(t // INTERVAL_S)


def day_of(t: float) -> int:
    """UTC day number (days since 1970-01-01) of unix time ``t``."""
    return int(t // 86400)


def day_of_interval(interval: int) -> int:
    """UTC day an interval belongs to."""
    return interval // INTERVALS_PER_DAY


def derive_day_key(secret: bytes, store: str, day: int) -> bytes:
    """Backend side: the 32-byte key of one customer for one store and one UTC day."""
    if not 16 <= len(secret) <= 64:
        raise TokenSchemeError("customer secret", f"must be 16..64 bytes, got {len(secret)}")
    if not store:
        raise TokenSchemeError("store", "must not be empty")
    if day < 0 or day > 0xFFFFFFFF:
        raise TokenSchemeError("day", f"out of range: {day}")
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=DAY_KEY_LEN,
        salt=_SALT_PREFIX + store.encode("utf-8"),
        info=b"day" + struct.pack(">I", day),
    )
    return hkdf.derive(secret)


def _check_day_key(day_key: bytes) -> None:
    if len(day_key) != DAY_KEY_LEN:
        raise TokenSchemeError("day key", f"must be {DAY_KEY_LEN} bytes, got {len(day_key)}")


def token_plaintext(interval: int) -> bytes:
    """The 16-byte block encrypted for ``interval``."""
    return _RPI_PREFIX + struct.pack("<I", interval & 0xFFFFFFFF)


def rolling_tokens(day_key: bytes, intervals: list[int] | tuple[int, ...]) -> list[bytes]:
    """Tokens of one day key for several intervals (one AES key schedule for all)."""
    _check_day_key(day_key)
    encryptor = Cipher(algorithms.AES(day_key[:16]), modes.ECB()).encryptor()
    out = encryptor.update(b"".join(token_plaintext(i) for i in intervals)) + encryptor.finalize()
    return [out[k : k + TOKEN_LEN] for k in range(0, len(out), TOKEN_LEN)]


def rolling_token(day_key: bytes, interval: int) -> bytes:
    """The 16-byte token a phone advertises during ``interval``."""
    return rolling_tokens(day_key, (interval,))[0]


def freshness_tag(day_key: bytes, token: bytes, t_ms: int, nonce: bytes) -> bytes:
    """Truncated HMAC proving a check-in was made at ``t_ms`` with ``nonce`` by the key holder."""
    _check_day_key(day_key)
    if len(token) != TOKEN_LEN:
        raise TokenSchemeError("token", f"must be {TOKEN_LEN} bytes, got {len(token)}")
    if not 8 <= len(nonce) <= 32:
        raise TokenSchemeError("nonce", f"must be 8..32 bytes, got {len(nonce)}")
    msg = _CHK_PREFIX + token + struct.pack(">Q", t_ms) + nonce
    return hmac.new(day_key[16:], msg, hashlib.sha256).digest()[:TAG_LEN]


def verify_tag(day_key: bytes, token: bytes, t_ms: int, nonce: bytes, tag: bytes) -> bool:
    """Constant-time check of a freshness tag."""
    return hmac.compare_digest(freshness_tag(day_key, token, t_ms, nonce), tag)


# --------------------------------------------------------------------------- advertisement layouts
def manufacturer_payload(token: bytes) -> bytes:
    """Android layout: manufacturer data (after the company id) = magic, version, token (18 bytes)."""
    if len(token) != TOKEN_LEN:
        raise TokenSchemeError("token", f"must be {TOKEN_LEN} bytes, got {len(token)}")
    return bytes((PAYLOAD_MAGIC, SCHEME_VERSION)) + token


def token_from_payload(payload: bytes) -> bytes | None:
    """The token in a manufacturer or service data payload, or None when it is not ours."""
    if len(payload) != PAYLOAD_LEN or payload[0] != PAYLOAD_MAGIC or payload[1] != SCHEME_VERSION:
        return None
    return payload[2:]


def service_uuid(token: bytes) -> str:
    """iOS foreground layout: the token as a 128-bit service UUID (lower-case, dashed)."""
    if len(token) != TOKEN_LEN:
        raise TokenSchemeError("token", f"must be {TOKEN_LEN} bytes, got {len(token)}")
    return str(uuid.UUID(bytes=token))


def token_from_uuid(value: str) -> bytes | None:
    """The token in a 128-bit service UUID, or None for 16/32-bit (Bluetooth base) or malformed UUIDs."""
    if len(value) != 36 or value[8] != "-" or value[13] != "-" or value[18] != "-" or value[23] != "-":
        return None
    if value[8:].lower() == _BT_BASE_SUFFIX:
        return None
    try:
        token = bytes.fromhex(value[:8] + value[9:13] + value[14:18] + value[19:23] + value[24:])
    except ValueError:
        return None
    return token if len(token) == TOKEN_LEN else None


def candidate_tokens(
    manufacturer_data: tuple[tuple[int, bytes], ...],
    service_data: tuple[tuple[str, bytes], ...],
    service_uuids: tuple[str, ...],
) -> list[bytes]:
    """Every 16-byte value of an advertisement that may be a token, in layout order."""
    found: list[bytes] = []
    for _company, data in manufacturer_data:
        if len(data) == PAYLOAD_LEN and data[0] == PAYLOAD_MAGIC and data[1] == SCHEME_VERSION:
            found.append(data[2:])
    for _uuid, data in service_data:
        if len(data) == PAYLOAD_LEN and data[0] == PAYLOAD_MAGIC and data[1] == SCHEME_VERSION:
            found.append(data[2:])
    for value in service_uuids:
        token = token_from_uuid(value)
        if token is not None:
            found.append(token)
    return found


# --------------------------------------------------------------------------- reference app generator
@dataclass(frozen=True, slots=True)
class CheckIn:
    """What a backgrounded iOS app sends through its network connection instead of advertising."""

    store: str
    token: bytes
    t_ms: int
    nonce: bytes
    tag: bytes


@dataclass(frozen=True, slots=True)
class AppTokenGenerator:
    """What a loyalty app does: derive today's key for the store it is in and advertise tokens.

    ``secret`` is the customer secret from enrolment. Every method takes the phone's time.
    """

    secret: bytes
    store: str
    company_id: int = TEST_COMPANY_ID

    def day_key(self, t: float) -> bytes:
        return derive_day_key(self.secret, self.store, day_of(t))

    def token(self, t: float) -> bytes:
        return rolling_token(self.day_key(t), interval_of(t))

    def manufacturer_data(self, t: float) -> dict[int, bytes]:
        """Android: {company id: payload}."""
        return {self.company_id: manufacturer_payload(self.token(t))}

    def service_data(self, t: float, uuid_str: str = TEST_SERVICE_DATA_UUID) -> dict[str, bytes]:
        """Android alternative: {16-bit service UUID: payload}."""
        return {uuid_str: manufacturer_payload(self.token(t))}

    def ios_service_uuid(self, t: float) -> str:
        """iOS in the foreground: the token as a 128-bit service UUID."""
        return service_uuid(self.token(t))

    def check_in(self, t: float, nonce: bytes) -> CheckIn:
        """iOS in the background: the check-in message (the app supplies a fresh random nonce)."""
        day_key = self.day_key(t)
        token = rolling_token(day_key, interval_of(t))
        t_ms = round(t * 1000)
        return CheckIn(self.store, token, t_ms, nonce, freshness_tag(day_key, token, t_ms, nonce))
