"""The daemon's door for shelf sample batches: decode, check against the topic and the clock, count.

A batch arrives on ``smartshelf/{store}/{gondola}/{shelf}/samples``. Before it reaches a shelf's
detector (which keeps its own time and drops samples older than the last it saw), the door refuses

- a payload over ``MAX_SAMPLES_BYTES`` (``too_large``), read no further;
- a payload that does not decode (``malformed``: bad JSON, a missing field, NaN or Infinity, more
  plates or samples than a shelf controller sends, a plate named twice, ...);
- a payload naming another shelf than its topic (``wrong_shelf``): the shelf identity is the topic's,
  which the broker's ACL ties to the bridge;
- a batch whose timestamps lie further ahead of the gateway's clock than
  ``sensing.max_samples_ahead_s`` (``ahead_of_clock``): one such batch would make the detector wait
  for that moment and drop everything before it, i.e. blind the shelf;
- a batch older than ``sensing.max_samples_behind_s`` (``behind_clock``): stale data from a bridge
  whose clock is wrong.

Each refusal is counted in :data:`edge.telemetry.SAMPLES_REFUSED` (``/metrics``), by shelf and
reason, and logged as one line per shelf and reason at most every ``log_interval_s``, with the
number refused since the last line. The check itself (:func:`clock_refusal`) is pure.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from edge.errors import PayloadError
from edge.events import SampleBatch, ShelfId
from edge.mqtt.payloads import MAX_SAMPLES_BYTES, SampleBatchMessage, decode
from edge.mqtt.refusals import RefusalLog
from edge.mqtt.topics import parse_shelf_topic
from edge.telemetry import SAMPLES_REFUSED

log = logging.getLogger("edge.mqtt.samples")

#: Distinct shelf labels on the refusal counter before further shelves count as "other".
MAX_SHELF_LABELS = 512


def clock_refusal(t_first: float, t_last: float, now: float, ahead_s: float, behind_s: float) -> str | None:
    """The reason a batch spanning ``t_first``..``t_last`` is refused at gateway time ``now``, or None."""
    if t_last > now + ahead_s:
        return "ahead_of_clock"
    if t_first < now - behind_s:
        return "behind_clock"
    return None


@dataclass(slots=True)
class SampleIntake:
    """Turns MQTT sample messages into :class:`SampleBatch` or a counted, logged refusal."""

    ahead_s: float
    behind_s: float
    clock: Callable[[], float] = time.time
    log_interval_s: float = 60.0
    refused: int = 0
    _log: RefusalLog = field(init=False)
    _labels: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._log = RefusalLog(log, self.log_interval_s)

    def admit(self, topic: str, payload: bytes) -> SampleBatch | None:
        """The batch to feed to the shelf's detector, or None when it is refused (counted and logged)."""
        try:
            _, gondola, shelf, _ = parse_shelf_topic(topic)
        except ValueError:
            self._refuse("?", "bad_topic", f"not a shelf samples topic: {topic[:120]!r}")
            return None
        label = f"{gondola}/{shelf}"
        if len(payload) > MAX_SAMPLES_BYTES:
            self._refuse(label, "too_large", f"{len(payload)} bytes (at most {MAX_SAMPLES_BYTES})")
            return None
        try:
            message = decode(SampleBatchMessage, topic, payload)
        except PayloadError as exc:
            self._refuse(label, "malformed", exc.reason[:200])
            return None
        if (message.gondola, message.shelf) != (gondola, shelf):
            self._refuse(
                label,
                "wrong_shelf",
                f"payload names shelf {message.gondola}/{message.shelf}; the topic's shelf is the one trusted",
            )
            return None
        now = self.clock()
        t_first, t_last = min(message.t), max(message.t)
        reason = clock_refusal(t_first, t_last, now, self.ahead_s, self.behind_s)
        if reason == "ahead_of_clock":
            self._refuse(
                label,
                reason,
                f"timestamps up to {t_last - now:.1f} s ahead of the gateway clock "
                f"(sensing.max_samples_ahead_s = {self.ahead_s:g})",
            )
            return None
        if reason == "behind_clock":
            self._refuse(
                label,
                reason,
                f"timestamps {now - t_first:.1f} s behind the gateway clock "
                f"(sensing.max_samples_behind_s = {self.behind_s:g})",
            )
            return None
        return message.to_event(ShelfId(gondola, shelf))

    def _refuse(self, shelf: str, reason: str, detail: str) -> None:
        self.refused += 1
        if shelf not in self._labels and len(self._labels) >= MAX_SHELF_LABELS:
            shelf = "other"
        self._labels.add(shelf)
        SAMPLES_REFUSED.labels(shelf=shelf, reason=reason).inc()
        self._log.refused(shelf, f"shelf {shelf}: sample batch", reason, detail)
