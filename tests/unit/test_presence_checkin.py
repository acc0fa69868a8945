"""iOS check-in: JSON at the door, then token + tag + freshness + replay checks in the service."""

from __future__ import annotations

import json

import pytest

from edge.config import parse_config
from edge.errors import PayloadError
from edge.presence.checkin import parse_check_in
from edge.presence.resolver import EnrolledKey
from edge.presence.service import PresenceService
from edge.presence.sources import NoSource
from edge.presence.tokens import AppTokenGenerator, day_of, derive_day_key
from tests.support.configs import IDENTITY

T = 1_763_899_500.25
SECRET = bytes(range(16))


def _body(store: str = "store-001", nonce: bytes = b"12345678") -> bytes:
    c = AppTokenGenerator(SECRET, store).check_in(T, nonce)
    return json.dumps(
        {"store": c.store, "token": c.token.hex(), "t_ms": c.t_ms, "nonce": c.nonce.hex(), "tag": c.tag.hex()}
    ).encode()


def _service() -> PresenceService:
    service = PresenceService(
        parse_config({"gateway": IDENTITY, "presence": {"source": "none"}}),
        None,
        source=NoSource(),
        clock=lambda: T,
    )
    service.set_keys([EnrolledKey("sh-ios", day_of(T), derive_day_key(SECRET, "store-001", day_of(T)))])
    return service


def test_valid_check_in_is_accepted_once() -> None:
    service = _service()
    assert service.check_in(parse_check_in(_body()), now=T + 5) == "sh-ios"
    assert service.check_in(parse_check_in(_body()), now=T + 6) is None  # replayed nonce
    assert service.check_in(parse_check_in(_body(nonce=b"abcdefgh")), now=T + 7) == "sh-ios"
    assert service.stats()["check_ins_accepted"] == 2 and service.stats()["check_ins_refused"] == 1


def test_other_store_and_stale_check_ins_are_refused() -> None:
    service = _service()
    assert service.check_in(parse_check_in(_body(store="store-002")), now=T) is None
    assert service.check_in(parse_check_in(_body(nonce=b"zzzzzzzz")), now=T + 3600) is None


def test_malformed_check_in_names_the_field() -> None:
    body = json.loads(_body())
    body["tag"] = "00"
    with pytest.raises(PayloadError, match="tag: String should match pattern"):
        parse_check_in(json.dumps(body).encode())
    with pytest.raises(PayloadError, match=r"<body>|Invalid JSON"):
        parse_check_in(b"not json")
