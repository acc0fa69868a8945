"""Release metadata verification: arbitrary bytes never crash it; each attack has its own reason."""

from __future__ import annotations

import json
import random

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.sync.outbox import Backoff
from edge.sync.release_meta import FileEntry, ReleaseRejected, ReleaseSigned, Trust, sign, verify

KEY = Ed25519PrivateKey.generate()
TRUST = Trust(KEY.public_key(), current_version=3)
NOW = 1_800_000_000.0


def signed(version: int = 4, expires: float = NOW + 100, model: str = "offers") -> ReleaseSigned:
    return ReleaseSigned(
        model=model,
        version=version,
        created_at=NOW - 10,
        expires_at=expires,
        files=[FileEntry(name="m.onnx", sha256="a" * 64, size=10)],
    )


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_arbitrary_bytes_are_refused_cleanly(raw: bytes) -> None:
    with pytest.raises(ReleaseRejected) as info:
        verify(raw, TRUST, NOW, "offers")
    assert info.value.reason in ("malformed", "signature")


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
        lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
    )
)
def test_arbitrary_json_is_refused_cleanly(doc: object) -> None:
    with pytest.raises(ReleaseRejected):
        verify(
            json.dumps({"signed": doc, "signatures": [{"keyid": "x", "sig": "eA=="}]}).encode(),
            TRUST,
            NOW,
            "offers",
        )


def test_reasons() -> None:
    assert verify(sign(signed(), KEY), TRUST, NOW, "offers").version == 4
    assert verify(sign(signed(3), KEY), TRUST, NOW, "offers").version == 3  # the running one: not a rollback
    cases = {
        "rollback": sign(signed(2), KEY),
        "expired": sign(signed(expires=NOW), KEY),
        "signature": sign(signed(), Ed25519PrivateKey.generate()),
        "malformed": sign(signed(model="picks"), KEY),
    }
    tampered = json.loads(sign(signed(), KEY))
    tampered["signed"]["files"][0]["size"] = 11
    cases["signature "] = json.dumps(tampered).encode()
    for reason, raw in cases.items():
        with pytest.raises(ReleaseRejected) as info:
            verify(raw, TRUST, NOW, "offers")
        assert info.value.reason == reason.strip()


def test_backoff_is_bounded_with_jitter() -> None:
    rng = random.Random(7)
    b = Backoff(0.5, 8.0)
    delays = [b.delay(n, rng) for n in range(12) for _ in range(20)]
    assert all(0.25 <= d <= 8.0 for d in delays)
    assert len({round(d, 3) for d in delays}) > 100  # jittered, not lock-step
    assert max(b.delay(20, rng) for _ in range(50)) > 4
