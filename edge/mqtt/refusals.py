"""One log line per source and reason at most every ``interval_s``, for messages refused at a door.

A hostile or broken client can send thousands of bad messages a second; each is counted on
``/metrics`` (the caller increments its counter), but the log gets the first one and then, at most
once per interval, one line saying how many more were refused since. Nothing of the payload is
written beyond what the caller puts in ``detail`` (keep it short: no payload echo).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

#: Longest detail written to the log, characters.
MAX_DETAIL = 160


@dataclass(slots=True)
class _Last:
    at: float
    suppressed: int = 0


@dataclass(slots=True)
class RefusalLog:
    """Writes ``"<what> refused (<reason>): <detail>"`` lines, rate-limited per (source, reason)."""

    logger: logging.Logger
    interval_s: float = 60.0
    monotonic: Callable[[], float] = time.monotonic
    max_keys: int = 4096
    _last: dict[tuple[str, str], _Last] = field(default_factory=dict)

    def refused(self, source: str, what: str, reason: str, detail: str) -> bool:
        """Log the refusal unless one of the same (source, reason) was logged lately; True if logged."""
        now = self.monotonic()
        key = (source, reason)
        last = self._last.get(key)
        if last is not None and now - last.at < self.interval_s:
            last.suppressed += 1
            return False
        if last is None and len(self._last) >= self.max_keys:
            self._last.clear()  # many distinct sources: forget the oldest rather than grow
        more = (
            f" ({last.suppressed} more refused since the last such line)" if last and last.suppressed else ""
        )
        self._last[key] = _Last(now)
        if len(detail) > MAX_DETAIL:
            detail = detail[: MAX_DETAIL - 3] + "..."
        self.logger.warning("%s refused (%s): %s%s", what, reason, detail, more)
        return True
