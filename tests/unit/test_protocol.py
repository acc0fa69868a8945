"""Shelf serial protocol: encoding, decoding, framing, resynchronisation, sequence gaps, clock mapping."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from shelf_firmware_bridge import protocol as P
from shelf_firmware_bridge.clock import ClockMap

MESSAGES: list[P.Message] = [
    P.Hello(1, 12, 1, 60.0, 123_456_789, 241, "fw-1.0", "SN-1"),
    P.Hello(1, 12, 1, 59.5, 5, 241, "fw-1.0", "SN-1", request_seq=9),
    P.Reply(7, int(P.FrameType.TARE), P.Status.OK, 12345.5),
    P.Tare(3, 60),
    P.Span(4, 1_000_000, 120),
    P.SetRate(80.0),
    P.Identify(5000),
    P.GetInfo(),
    P.DisplayText(0, ("Oat biscuits", "1.99", "Goes with your tea")),
    P.DisplayClear(0),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_every_message_round_trips(message: P.Message) -> None:
    decoder = P.FrameDecoder()
    frames = decoder.feed(P.encode_frame(message, 513))
    assert [(f.seq, f.message) for f in frames] == [(513, message)]


def test_samples_round_trip_with_escaped_bytes() -> None:
    raw = np.array([[0xC0, 0xDB, -1], [0xDBC0, -0xC0C0C0, 2**31 - 1]], dtype=np.int32)
    wire = P.encode_frame(P.Samples(2**40, 16_667, 5, raw), 65535)
    body = wire[1:-1]
    assert P.END not in body  # END never appears inside a frame
    (frame,) = P.FrameDecoder().feed(wire)
    assert isinstance(frame.message, P.Samples)
    assert frame.seq == 65535
    assert (
        frame.message.t0_us == 2**40 and frame.message.period_us == 16_667 and frame.message.first_plate == 5
    )
    np.testing.assert_array_equal(frame.message.raw, raw)
    assert frame.message.last_us == 2**40 + 16_667


def test_wire_layout_matches_the_spec() -> None:
    wire = P.encode_frame(P.Samples(1_000_000, 16_667, 1, np.array([[100, -2]], dtype=np.int32)), 7)
    body = P.slip_decode(wire[1:-1])
    assert body[:3] == bytes([0x10, 0x07, 0x00])
    assert body[3:11] == (1_000_000).to_bytes(8, "little")
    assert body[-4:] == zlib.crc32(body[:-4]).to_bytes(4, "little")


def test_garbage_and_damage_cost_only_the_damaged_frame() -> None:
    good = [P.encode_frame(P.Identify(i), i) for i in range(5)]
    damaged = bytearray(good[2])
    damaged[4] ^= 0x10
    stream = (
        b"\x00\xff garbage \xdb\xc0" + good[0] + good[1] + bytes(damaged) + b"\xdb\x01" + good[3] + good[4]
    )
    decoder = P.FrameDecoder()
    frames = decoder.feed(stream)
    assert [f.seq for f in frames] == [0, 1, 3, 4]
    assert decoder.stats.bad_frames >= 2
    assert decoder.last_error is not None


def test_frames_split_across_reads_are_reassembled() -> None:
    wire = b"".join(P.encode_frame(P.Identify(i), i) for i in range(20))
    decoder = P.FrameDecoder()
    seqs = [f.seq for k in range(0, len(wire), 3) for f in decoder.feed(wire[k : k + 3])]
    assert seqs == list(range(20))


def test_endless_garbage_is_bounded() -> None:
    decoder = P.FrameDecoder()
    for _ in range(5):
        assert decoder.feed(b"\x01" * P.MAX_FRAME) == []
    assert decoder.stats.oversized >= 1
    assert [f.seq for f in decoder.feed(P.encode_frame(P.GetInfo(), 3))] == [3]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (bytes([0x10, 0, 0]) + b"\x00" * 5, "samples header too short"),
        (bytes([0x7F, 0, 0]), "unknown frame type 0x7f"),
        (bytes([0x84, 0, 0, 1]), "identify has the wrong length"),
        (bytes([0x20, 0, 0]) + b"\x00" * 3 + bytes([9]) + b"\x00" * 8, "unknown reply status 9"),
    ],
)
def test_malformed_payloads_give_specific_errors(payload: bytes, reason: str) -> None:
    wire = P.slip_encode(payload + zlib.crc32(payload).to_bytes(4, "little"))
    decoder = P.FrameDecoder()
    assert decoder.feed(wire) == []
    assert decoder.last_error is not None and reason in decoder.last_error.reason


def test_bad_escape_is_a_framing_error() -> None:
    with pytest.raises(P.ProtocolError, match="bad SLIP escape"):
        P.slip_decode(b"\x01\xdb\x02")


def test_sequence_gaps_and_restarts() -> None:
    seq = P.SequenceTracker()
    assert [seq.see(s) for s in (65533, 65534, 1, 2, 6)] == [0, 0, 2, 0, 3]
    assert seq.gaps == 5
    assert seq.see(0) == 0 and seq.restarts == 1  # controller rebooted: not counted as loss


def test_clock_map_takes_the_least_delayed_frame_and_restarts() -> None:
    clock = ClockMap(window_s=10)
    clock.observe(1_000_000, 1000.050)
    clock.observe(2_000_000, 1001.010)
    clock.observe(3_000_000, 1002.200)
    assert clock.offset == pytest.approx(999.010)
    assert clock.to_unix(2_500_000) == pytest.approx(1001.510)
    clock.observe(500_000, 1003.0)  # firmware clock went back: rebooted
    assert clock.resets == 1 and clock.offset == pytest.approx(1002.5)


def test_clock_map_window_follows_drift() -> None:
    clock = ClockMap(window_s=5)
    for k in range(100):
        clock.observe(k * 1_000_000, 1000.0 + k * 1.0001 + 0.01)
    assert clock.to_unix(99_000_000) == pytest.approx(1000.0 + 99 * 1.0001 + 0.01, abs=0.001)


def test_display_text_is_folded_to_ascii_and_cut_to_32_characters() -> None:
    wire = P.encode_frame(P.DisplayText(1, ("Crème brûlée façon grand-mère, très bonne", "2,50 €")), 4)
    (frame,) = P.FrameDecoder().feed(wire)
    assert frame.message == P.DisplayText(1, ("Creme brulee facon grand-mere, t", "2,50 ?"))
