"""TOKENS.md test vectors: checked against the reference code and an independent RFC 5869 / FIPS-197 path."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import struct
from pathlib import Path

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from edge.presence import tokens
from edge.presence.aesbatch import tokens_for_keys

DOC = Path(tokens.__file__).with_name("TOKENS.md")


def _vectors() -> dict:  # type: ignore[type-arg]
    match = re.search(r"```json vectors\n(.*?)```", DOC.read_text(), re.S)
    assert match, "TOKENS.md lost its ```json vectors block"
    return json.loads(match.group(1))  # type: ignore[no-any-return]


def _hkdf_by_hand(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def test_day_keys_match_the_document_and_rfc5869_by_hand() -> None:
    v = _vectors()
    secret = bytes.fromhex(v["secret"])
    assert tokens.derive_day_key(secret, v["store"], v["day"]).hex() == v["day_key"]
    assert tokens.derive_day_key(secret, "store-002", v["day"]).hex() == v["day_key_store_002"]
    assert tokens.derive_day_key(secret, v["store"], v["day"] + 1).hex() == v["day_key_next_day"]
    by_hand = _hkdf_by_hand(
        secret, b"smartshelf/v1/store/" + v["store"].encode(), b"day" + struct.pack(">I", v["day"]), 32
    )
    assert by_hand.hex() == v["day_key"]


def test_tokens_layouts_and_tag_match_the_document() -> None:
    v = _vectors()
    day_key = bytes.fromhex(v["day_key"])
    assert tokens.interval_of(v["t"]) == v["interval"]
    assert tokens.day_of(v["t"]) == v["day"]
    assert tokens.token_plaintext(v["interval"]).hex() == v["block"]
    for interval, expected in v["tokens"].items():
        assert tokens.rolling_token(day_key, int(interval)).hex() == expected
        enc = Cipher(algorithms.AES(day_key[:16]), modes.ECB()).encryptor()
        assert (enc.update(tokens.token_plaintext(int(interval))) + enc.finalize()).hex() == expected
        batch = tokens_for_keys(np.frombuffer(day_key[:16], np.uint8).reshape(1, 16), int(interval))
        assert batch[0].tobytes().hex() == expected
    token = bytes.fromhex(v["tokens"][str(v["interval"])])
    assert tokens.manufacturer_payload(token).hex() == v["manufacturer_payload"]
    assert tokens.service_uuid(token) == v["service_uuid"]
    c = v["check_in"]
    tag = tokens.freshness_tag(day_key, token, c["t_ms"], bytes.fromhex(c["nonce"]))
    assert tag.hex() == c["tag"]
    by_hand = hmac.new(
        day_key[16:],
        b"SS-CHK" + token + struct.pack(">Q", c["t_ms"]) + bytes.fromhex(c["nonce"]),
        hashlib.sha256,
    ).digest()[:8]
    assert by_hand.hex() == c["tag"]


def test_reference_app_generator_reproduces_the_vectors() -> None:
    v = _vectors()
    app = tokens.AppTokenGenerator(bytes.fromhex(v["secret"]), v["store"])
    assert app.token(v["t"]).hex() == v["tokens"][str(v["interval"])]
    assert app.ios_service_uuid(v["t"]) == v["service_uuid"]
    assert app.manufacturer_data(v["t"]) == {0xFFFF: bytes.fromhex(v["manufacturer_payload"])}
    check = app.check_in(v["check_in"]["t_ms"] / 1000, bytes.fromhex(v["check_in"]["nonce"]))
    assert check.tag.hex() == v["check_in"]["tag"]
