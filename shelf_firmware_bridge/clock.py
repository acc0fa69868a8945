"""Mapping firmware timestamps (microseconds since the controller booted) to unix seconds.

Pure: the host receive time is passed in. The offset ``unix - firmware`` is estimated as the lowest
``receive_time - firmware_time_of_last_sample`` seen over a sliding window: transmission and
scheduling only ever add delay, so the least-delayed frame is the best estimate. The window lets
the estimate follow the controller's crystal drift (tens of ppm). A firmware clock that goes back
(the controller rebooted) or a new hello starts the estimate afresh.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass(slots=True)
class ClockMap:
    window_s: float = 60.0
    _offsets: deque[tuple[float, float]] = field(default_factory=deque)  # (host time, offset)
    _last_fw_us: int = -1
    offset: float | None = None
    resets: int = 0

    def reset(self) -> None:
        self._offsets.clear()
        self._last_fw_us = -1
        self.offset = None
        self.resets += 1

    def observe(self, fw_us: int, host_time: float) -> float:
        """Record that firmware time ``fw_us`` was (at the latest) at unix ``host_time``."""
        if fw_us < self._last_fw_us:
            self.reset()
        self._last_fw_us = fw_us
        candidate = host_time - fw_us / 1e6
        window = self._offsets
        while window and window[-1][1] >= candidate:
            window.pop()  # monotonic deque: the minimum is at the left
        window.append((host_time, candidate))
        while window[0][0] < host_time - self.window_s and len(window) > 1:
            window.popleft()
        self.offset = window[0][1]
        return self.offset

    def to_unix(self, fw_us: int) -> float:
        if self.offset is None:
            raise ValueError("no firmware timestamp observed yet")
        return self.offset + fw_us / 1e6
