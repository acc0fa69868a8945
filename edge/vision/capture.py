"""Camera capture on OpenCV: video files, RTSP / HTTP MJPEG URLs and local devices, with reconnect.

``OpenCvCapture.read()`` blocks until the next frame and returns ``(t, frame)``; ``frame`` is a
preallocated buffer at the configured resolution, overwritten by the next read (copy to keep it).
When a live stream drops, ``read()`` reconnects with exponential backoff and carries on; only a
video file that ends (and does not loop) or ``close()`` makes it return ``None``.

Time: live frames are stamped with the wall clock at the boundary (this is an adapter); file
frames with ``time_origin`` + the frame's position in the file, so a recorded file replays to the
same interactions.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numpy as np

log = logging.getLogger(__name__)


@dataclass(slots=True)
class CaptureStats:
    """What a technician needs to judge a camera link."""

    #: Frames delivered.
    frames: int = 0
    #: Frames missing between delivered ones (gaps in capture time at the nominal rate, outages included).
    dropped: int = 0
    #: Times the stream was opened again after it was lost.
    reconnects: int = 0
    #: Failed reads and failed open attempts.
    failures: int = 0
    fps: float = 0.0
    connected: bool = False
    last_error: str = ""


class FrameSource(Protocol):
    """What the camera stage reads frames from."""

    name: str
    stats: CaptureStats

    def read(self) -> tuple[float, np.ndarray] | None: ...

    def close(self) -> None: ...


def parse_source(source: str) -> str | int:
    """A device index ('0' -> 0), a device path ('/dev/video0'), a file path or a URL."""
    return int(source) if source.isdigit() else source


@dataclass(slots=True)
class OpenCvCapture:
    """One camera read with cv2.VideoCapture (FFMPEG backend for files and URLs, V4L2 for devices)."""

    name: str
    source: str
    width: int = 320
    height: int = 240
    fps: float = 15.0
    loop: bool = False
    time_origin: float | None = None
    reconnect_min_s: float = 0.2
    reconnect_max_s: float = 5.0
    open_timeout_s: float = 3.0
    stats: CaptureStats = field(default_factory=CaptureStats)
    _cap: cv2.VideoCapture | None = None
    _buffer: np.ndarray = field(init=False)
    _raw: np.ndarray | None = None
    _closed: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _last_t: float | None = None
    _rate_t0: float = 0.0
    _rate_n: int = 0
    _is_file: bool = False
    _ever_opened: bool = False

    def __post_init__(self) -> None:
        self._buffer = np.zeros((self.height, self.width, 3), np.uint8)
        src = parse_source(self.source)
        self._is_file = isinstance(src, str) and "://" not in src and not src.startswith("/dev/")

    def _open(self) -> bool:
        src = parse_source(self.source)
        timeout = int(self.open_timeout_s * 1000)
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout, cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout]
        if isinstance(src, int) or src.startswith("/dev/"):
            cap = cv2.VideoCapture(src, cv2.CAP_V4L2 if isinstance(src, str) else cv2.CAP_ANY)
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
            cap.set(cv2.CAP_PROP_FPS, self.fps)
        else:
            cap = cv2.VideoCapture(src, cv2.CAP_FFMPEG, params)
        if not cap.isOpened():
            cap.release()
            self.stats.last_error = f"cannot open {self.source}"
            return False
        self._cap = cap
        self.stats.connected = True
        if self._ever_opened:
            self.stats.reconnects += 1
            log.info("camera %s: reconnected to %s", self.name, self.source)
        else:
            log.info("camera %s: opened %s", self.name, self.source)
        self._ever_opened = True
        return True

    def _drop_connection(self, reason: str) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        if self.stats.connected and not self._is_file:
            log.warning("camera %s: stream lost (%s); reconnecting", self.name, reason)
        self.stats.connected = False
        self.stats.last_error = reason

    def read(self) -> tuple[float, np.ndarray] | None:
        with self._lock:
            result = self._read()
            if self._closed.is_set():
                self._release()
                return None
            return result

    def _release(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        self.stats.connected = False

    def _read(self) -> tuple[float, np.ndarray] | None:
        delay = self.reconnect_min_s
        while not self._closed.is_set():
            if self._cap is None:
                if self._open():
                    delay = self.reconnect_min_s
                else:
                    if self._is_file:
                        log.error("camera %s: %s", self.name, self.stats.last_error)
                        return None
                    self.stats.failures += 1
                    if self._closed.wait(delay):
                        return None
                    delay = min(self.reconnect_max_s, delay * 2)
                    continue
            assert self._cap is not None
            ok, raw = self._cap.read(self._raw)
            if not ok or raw is None:
                if self._is_file:
                    if self.loop and self.stats.frames > 0:
                        self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                        if self.time_origin is not None:
                            self.time_origin += self.stats.frames / self.fps
                        continue
                    self._drop_connection("end of file")
                    return None
                self._drop_connection("read failed")
                self.stats.failures += 1
                continue
            self._raw = raw
            return self._stamp(raw)
        return None

    def _stamp(self, raw: np.ndarray) -> tuple[float, np.ndarray]:
        if raw.shape[0] == self.height and raw.shape[1] == self.width:
            np.copyto(self._buffer, raw)
        else:
            cv2.resize(raw, (self.width, self.height), dst=self._buffer, interpolation=cv2.INTER_AREA)
        now = time.time()
        if self._is_file and self._cap is not None:
            origin = self.time_origin if self.time_origin is not None else 0.0
            t = origin + self._cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
        else:
            t = now
        if self._last_t is not None and self.fps > 0:
            gap = t - self._last_t
            missed = round(gap * self.fps) - 1
            if missed > 0 and gap > 1.5 / self.fps:
                self.stats.dropped += missed
        self._last_t = t
        self.stats.frames += 1
        self._rate_n += 1
        if now - self._rate_t0 >= 1.0:
            if self._rate_t0 > 0:
                self.stats.fps = round(self._rate_n / (now - self._rate_t0), 2)
            self._rate_t0, self._rate_n = now, 0
        return t, self._buffer

    def close(self) -> None:
        """Stop reading without blocking: a ``read()`` in progress returns ``None`` within the read
        timeout and releases the stream itself; otherwise the stream is released here."""
        self._closed.set()
        if self._lock.acquire(blocking=False):
            try:
                self._release()
            finally:
                self._lock.release()
