"""The token scheme: derivation, rotation, layouts, freshness tags, and the batch AES against cryptography."""

from __future__ import annotations

import numpy as np
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.presence.aesbatch import encrypt_block, tokens_for_keys
from edge.presence.tokens import (
    INTERVAL_S,
    AppTokenGenerator,
    TokenSchemeError,
    candidate_tokens,
    derive_day_key,
    freshness_tag,
    interval_of,
    manufacturer_payload,
    rolling_token,
    service_uuid,
    token_from_payload,
    token_from_uuid,
    verify_tag,
)

T0 = 1_763_900_000.0


def test_day_key_depends_on_customer_store_and_day() -> None:
    secret = bytes(range(16))
    base = derive_day_key(secret, "store-001", 20415)
    assert len(base) == 32
    assert derive_day_key(secret, "store-001", 20415) == base
    assert derive_day_key(secret, "store-002", 20415) != base
    assert derive_day_key(secret, "store-001", 20416) != base
    assert derive_day_key(bytes(range(1, 17)), "store-001", 20415) != base


def test_bad_secret_is_refused_with_the_reason() -> None:
    with pytest.raises(TokenSchemeError, match=r"16\.\.64 bytes"):
        derive_day_key(b"short", "store-001", 1)


def test_token_rotates_every_interval_and_is_stable_within() -> None:
    app = AppTokenGenerator(bytes(16), "store-001")
    start = interval_of(T0) * INTERVAL_S
    assert app.token(start) == app.token(start + INTERVAL_S - 0.001)
    assert app.token(start) != app.token(start + INTERVAL_S)


def test_token_is_aes_of_the_interval_block() -> None:
    key = derive_day_key(bytes(16), "store-001", 20415)
    block = b"SS-RPI" + bytes(6) + (2939760).to_bytes(4, "little")
    enc = Cipher(algorithms.AES(key[:16]), modes.ECB()).encryptor()
    assert rolling_token(key, 2939760) == enc.update(block) + enc.finalize()


def test_advertisement_layouts_round_trip() -> None:
    app = AppTokenGenerator(bytes(range(16)), "store-001")
    token = app.token(T0)
    ((company, payload),) = app.manufacturer_data(T0).items()
    assert company == 0xFFFF and len(payload) == 18
    assert token_from_payload(payload) == token
    assert token_from_uuid(app.ios_service_uuid(T0)) == token
    ((uuid_str, sd),) = app.service_data(T0).items()
    assert token_from_payload(sd) == token
    found = candidate_tokens(((company, payload),), ((uuid_str, sd),), (service_uuid(token),))
    assert found == [token, token, token]


def test_foreign_advertisements_yield_no_candidates() -> None:
    assert (
        candidate_tokens(
            ((0x004C, bytes(18)), (0xFFFF, b"\x53\x02" + bytes(16))),
            (("0000feaa-0000-1000-8000-00805f9b34fb", bytes(18)),),
            ("0000180f-0000-1000-8000-00805f9b34fb", "not-a-uuid-at-all-but-36-chars-long!"),
        )
        == []
    )
    assert token_from_payload(manufacturer_payload(bytes(16))[:-1]) is None


def test_freshness_tag_binds_token_time_and_nonce() -> None:
    key = derive_day_key(bytes(16), "store-001", 20415)
    token = rolling_token(key, 5)
    tag = freshness_tag(key, token, 1000, b"n" * 8)
    assert len(tag) == 8
    assert verify_tag(key, token, 1000, b"n" * 8, tag)
    assert not verify_tag(key, token, 1001, b"n" * 8, tag)
    assert not verify_tag(key, token, 1000, b"m" * 8, tag)
    other = derive_day_key(bytes(16), "store-001", 20416)
    assert not verify_tag(other, token, 1000, b"n" * 8, tag)


@settings(max_examples=25, deadline=None)
@given(
    keys=st.lists(st.binary(min_size=16, max_size=16), min_size=1, max_size=40),
    block=st.binary(min_size=16, max_size=16),
)
def test_batch_aes_matches_cryptography(keys: list[bytes], block: bytes) -> None:
    arr = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(-1, 16)
    out = encrypt_block(arr, block)
    for i, key in enumerate(keys):
        enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
        assert out[i].tobytes() == enc.update(block) + enc.finalize()


def test_batch_tokens_match_reference_generator_across_chunks() -> None:
    rng = np.random.default_rng(7)
    day_keys = rng.integers(0, 256, size=(70_000, 32), dtype=np.uint8)
    out = tokens_for_keys(np.ascontiguousarray(day_keys[:, :16]), 2_939_760)
    for i in (0, 1, 65_535, 65_536, 69_999):
        assert out[i].tobytes() == rolling_token(day_keys[i].tobytes(), 2_939_760)


def test_batch_aes_refuses_bad_shapes() -> None:
    with pytest.raises(ValueError, match="shape"):
        encrypt_block(np.zeros((3, 15), dtype=np.uint8), bytes(16))


def test_batch_aes_fips197_known_answer() -> None:
    key = np.frombuffer(bytes.fromhex("000102030405060708090a0b0c0d0e0f"), np.uint8).reshape(1, 16)
    out = encrypt_block(key, bytes.fromhex("00112233445566778899aabbccddeeff"))
    assert out[0].tobytes().hex() == "69c4e0d86a7b0430d8cdb78070b4c55a"


@settings(max_examples=200, deadline=None)
@given(token=st.binary(min_size=16, max_size=16), upper=st.booleans())
def test_uuid_layout_round_trips_any_token(token: bytes, upper: bool) -> None:
    text = service_uuid(token)
    text = text.upper() if upper else text
    if text.lower().endswith("-0000-1000-8000-00805f9b34fb"):
        assert token_from_uuid(text) is None  # indistinguishable from a standard 16/32-bit UUID
    else:
        assert token_from_uuid(text) == token
