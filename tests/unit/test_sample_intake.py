"""The sample door's decisions (topic identity, clock window, NaN) and its rate-limited log lines."""

from __future__ import annotations

import json
import logging

import pytest

from edge.events import ShelfId
from edge.mqtt.refusals import RefusalLog
from edge.mqtt.sample_intake import SampleIntake, clock_refusal
from edge.mqtt.topics import Topics
from edge.telemetry import SAMPLES_REFUSED, value

NOW = 1_760_000_000.0
TOPIC = Topics("s").samples(3, 4)


def batch(t: list[float], gondola: int = 3, shelf: int = 4, reading: float = 1.0) -> bytes:
    return json.dumps(
        {
            "bridge": "b",
            "gondola": gondola,
            "shelf": shelf,
            "seq": 0,
            "plates": [1],
            "t": t,
            "readings": [[reading]] * len(t),
        }
    ).encode()


def test_clock_window() -> None:
    assert clock_refusal(NOW - 1, NOW + 4.9, NOW, 5, 60) is None
    assert clock_refusal(NOW, NOW + 5.1, NOW, 5, 60) == "ahead_of_clock"
    assert clock_refusal(NOW - 60.1, NOW, NOW, 5, 60) == "behind_clock"


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        (TOPIC, batch([NOW + 86_400]), "ahead_of_clock"),
        (TOPIC, batch([NOW - 3600]), "behind_clock"),
        (TOPIC, batch([NOW], gondola=9), "wrong_shelf"),
        (TOPIC, batch([NOW], reading=float("inf")), "malformed"),
        ("smartshelf/s/gateway/x/samples", batch([NOW]), "bad_topic"),
    ],
)
def test_refusals_are_counted_by_reason(topic: str, payload: bytes, reason: str) -> None:
    intake = SampleIntake(ahead_s=5, behind_s=60, clock=lambda: NOW)
    shelf = "?" if reason == "bad_topic" else "3/4"
    before = value(SAMPLES_REFUSED, shelf=shelf, reason=reason)
    assert intake.admit(topic, payload) is None
    assert value(SAMPLES_REFUSED, shelf=shelf, reason=reason) == before + 1 and intake.refused == 1


def test_a_batch_in_the_window_becomes_the_topics_shelfs_event() -> None:
    intake = SampleIntake(ahead_s=5, behind_s=60, clock=lambda: NOW)
    event = intake.admit(TOPIC, batch([NOW - 0.1, NOW]))
    assert event is not None and event.shelf == ShelfId(3, 4) and event.t == (NOW - 0.1, NOW)


def test_refusal_log_writes_one_line_per_source_and_reason_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    clock = [0.0]
    refusals = RefusalLog(logging.getLogger("test.refusals"), 60.0, monotonic=lambda: clock[0])
    with caplog.at_level(logging.WARNING, logger="test.refusals"):
        for _ in range(5):
            refusals.refused("1/1", "shelf 1/1: sample batch", "ahead_of_clock", "x" * 1000)
        refusals.refused("1/2", "shelf 1/2: sample batch", "ahead_of_clock", "y")
        clock[0] = 61.0
        refusals.refused("1/1", "shelf 1/1: sample batch", "ahead_of_clock", "z")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3 and len(lines[0]) < 250
    assert (
        lines[2]
        == "shelf 1/1: sample batch refused (ahead_of_clock): z (4 more refused since the last such line)"
    )
