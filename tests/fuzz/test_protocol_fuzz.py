"""Fuzzing the shelf protocol decoder with hypothesis: no crash, no hang, good frames always recovered."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from shelf_firmware_bridge import protocol as P

samples = st.builds(
    lambda n, p, first, t0, seed: P.Samples(
        t0,
        16_667,
        first,
        np.random.default_rng(seed).integers(-(2**31), 2**31 - 1, (n, p), dtype=np.int64).astype(np.int32),
    ),
    st.integers(1, 8),
    st.integers(1, 16),
    st.integers(0, 200),
    st.integers(0, 2**63),
    st.integers(0, 2**32),
)
commands = st.one_of(
    st.builds(P.Tare, st.integers(0, 255), st.integers(0, 65535)),
    st.builds(P.Span, st.integers(0, 255), st.integers(0, 2**32 - 1), st.integers(0, 65535)),
    st.builds(P.Identify, st.integers(0, 65535)),
    st.just(P.GetInfo()),
    st.builds(
        P.DisplayText, st.integers(0, 255), st.lists(st.text(max_size=40), min_size=1, max_size=4).map(tuple)
    ),
)
messages = st.one_of(samples, commands)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000), st.integers(1, 64))
def test_random_bytes_never_crash(data: bytes, chunk: int) -> None:
    decoder = P.FrameDecoder()
    for k in range(0, len(data), chunk):
        decoder.feed(data[k : k + chunk])
    assert decoder.stats.bytes_in == len(data)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.binary(max_size=200), messages), min_size=1, max_size=8), st.integers(1, 97))
def test_every_good_frame_after_garbage_is_recovered(
    parts: list[tuple[bytes, P.Message]], chunk: int
) -> None:
    stream = b""
    expected = []
    for seq, (garbage, message) in enumerate(parts):
        stream += garbage + P.encode_frame(message, seq)
        expected.append(seq)
    decoder = P.FrameDecoder()
    got = [f.seq for k in range(0, len(stream), chunk) for f in decoder.feed(stream[k : k + chunk])]
    # garbage may (with probability ~2^-32 per chunk) form a valid frame; every real frame must be there
    real = [s for s in got if s in expected]
    assert real == expected


@settings(max_examples=200, deadline=None)
@given(messages, st.integers(0, 65535))
def test_round_trip(message: P.Message, seq: int) -> None:
    (frame,) = P.FrameDecoder().feed(P.encode_frame(message, seq))
    assert frame.seq == seq
    if isinstance(message, P.Samples):
        assert isinstance(frame.message, P.Samples)
        np.testing.assert_array_equal(frame.message.raw, message.raw)
    elif isinstance(message, P.DisplayText):
        assert isinstance(frame.message, P.DisplayText)
        assert len(frame.message.lines) == len(message.lines)
    else:
        assert frame.message == message
