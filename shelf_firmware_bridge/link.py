"""One shelf controller's serial link: pyserial, reconnect, decoding, clock mapping, calibration.

A :class:`ShelfLink` runs one thread. It opens the port, asks the controller for its info, and
turns every SAMPLES frame into calibrated rows with unix timestamps, handed to ``on_rows``. When the
port vanishes (USB unplugged) it closes it and tries again every ``reopen_s`` until it comes back.
Commands are sent with :meth:`ShelfLink.request`, which waits for the matching reply.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import serial

from shelf_firmware_bridge import protocol as P
from shelf_firmware_bridge.calibration import CalibrationStore
from shelf_firmware_bridge.clock import ClockMap

log = logging.getLogger("shelf_bridge.link")


@dataclass(frozen=True, slots=True)
class Rows:
    """Calibrated samples of one frame: ``grams[i, p]`` of ``plates[p]`` at unix ``t[i]``."""

    seq: int
    plates: tuple[int, ...]
    t: npt.NDArray[np.float64]
    grams: npt.NDArray[np.float64]


@dataclass(slots=True)
class LinkStats:
    frames: int = 0
    crc_errors: int = 0
    gaps: int = 0
    reconnects: int = 0
    opens: int = 0
    samples: int = 0
    protocol_mismatch: int = 0
    #: Failed attempts to open the port (it is missing, busy or not permitted); retried every reopen_s.
    open_failures: int = 0


@dataclass(slots=True)
class _Pending:
    done: threading.Event = field(default_factory=threading.Event)
    answer: P.Reply | P.Hello | None = None


class ShelfLink:
    def __init__(
        self,
        port: str,
        gondola: int,
        shelf: int,
        calibration: CalibrationStore,
        on_rows: Callable[[ShelfLink, Rows], None],
        on_state: Callable[[ShelfLink], None] = lambda link: None,
        baudrate: int = 921600,
        reopen_s: float = 0.5,
        clock: Callable[[], float] = time.time,
        stale_s: float = 5.0,
    ) -> None:
        self.port, self.gondola, self.shelf = port, gondola, shelf
        self.calibration = calibration
        self.on_rows, self.on_state = on_rows, on_state
        self.baudrate, self.reopen_s, self.clock, self.stale_s = baudrate, reopen_s, clock, stale_s
        self.stats = LinkStats()
        self.hello: P.Hello | None = None
        self.connected = False
        self.decoder = P.FrameDecoder()
        self.sequence = P.SequenceTracker()
        self.clock_map = ClockMap()
        self._serial: serial.Serial | None = None
        self._write_lock = threading.Lock()
        self._seq = 0
        self._pending: dict[int, _Pending] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"shelf-link-g{gondola}-s{shelf}", daemon=True)
        self._cal_version = -1
        self._cal_key: tuple[tuple[int, ...], float] | None = None
        self._zero: npt.NDArray[np.float64] = np.zeros(0)
        self._gain: npt.NDArray[np.float64] = np.zeros(0)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def alive(self) -> bool:
        """Whether the reader thread runs (it reopens a vanished port by itself; it never ends while started)."""
        return self._thread.is_alive()

    @property
    def crc_errors(self) -> int:
        return self.decoder.stats.bad_frames + self.decoder.stats.oversized

    # ------------------------------------------------------------------ commands
    def request(self, command: P.Command, timeout: float = 3.0) -> P.Reply | P.Hello | None:
        """Send ``command``; return the controller's reply (None on timeout or when not connected)."""
        pending = _Pending()
        with self._write_lock:
            ser = self._serial
            if ser is None:
                return None
            seq = self._seq
            self._seq = (self._seq + 1) & 0xFFFF
            self._pending[seq] = pending
            try:
                ser.write(P.encode_frame(command, seq))
            except (serial.SerialException, OSError) as exc:
                log.warning("%s: write failed: %s", self.port, exc)
                self._pending.pop(seq, None)
                return None
        pending.done.wait(timeout)
        with self._write_lock:
            self._pending.pop(seq, None)
        return pending.answer

    # ------------------------------------------------------------------ the thread
    def _open_failed(self, exc: Exception) -> str:
        """Why the port cannot be opened, in the technician's words."""
        if not os.path.exists(self.port):
            return "does not exist (is the shelf controller plugged in? `ls /dev/serial/by-id/`)"
        reason = getattr(exc, "strerror", None) or str(exc)
        return f"cannot be opened: {reason}"

    def _run(self) -> None:
        failing = ""  # the reason told for the current run of failed opens: each reason once
        while not self._stop.is_set():
            try:
                ser = serial.Serial(self.port, self.baudrate, timeout=0.05, write_timeout=1.0)
            except (serial.SerialException, OSError, ValueError) as exc:
                self.stats.open_failures += 1
                reason = self._open_failed(exc)
                if reason != failing:
                    log.warning(
                        "shelf g%d/s%d: serial port %s %s; retrying every %g s until it appears",
                        self.gondola,
                        self.shelf,
                        self.port,
                        reason,
                        self.reopen_s,
                    )
                    failing = reason
                self._stop.wait(self.reopen_s)
                continue
            failing = ""
            self.stats.opens += 1
            if self.stats.opens > 1:
                self.stats.reconnects += 1
                log.info("%s: port is back (reconnect %d)", self.port, self.stats.reconnects)
            else:
                log.info("%s: opened for shelf g%d/s%d", self.port, self.gondola, self.shelf)
            ser.reset_input_buffer()
            self.decoder.reset()
            with self._write_lock:
                self._serial = ser
            self.connected = True
            self.on_state(self)
            self.hello = None
            try:
                self._read_loop(ser)
            finally:
                with self._write_lock:
                    self._serial = None
                self.connected = False
                with contextlib.suppress(serial.SerialException, OSError):
                    ser.close()
                self.on_state(self)

    def _send_nowait(self, command: P.Command) -> None:
        with self._write_lock:
            if self._serial is None:
                return
            seq = self._seq
            self._seq = (self._seq + 1) & 0xFFFF
            try:
                self._serial.write(P.encode_frame(command, seq))
            except (serial.SerialException, OSError) as exc:
                log.warning("%s: write failed: %s", self.port, exc)

    def _read_loop(self, ser: serial.Serial) -> None:
        asked = 0.0
        last_frame = time.monotonic()
        while not self._stop.is_set():
            now_mono = time.monotonic()
            if self.hello is None and now_mono - asked > 1.0:
                self._send_nowait(P.GetInfo())  # until the controller has told us who it is
                asked = now_mono
            if now_mono - last_frame > self.stale_s:
                log.warning("%s: no frame for %.0f s; reopening the port", self.port, self.stale_s)
                return
            try:
                data = ser.read(4096)
            except (serial.SerialException, OSError) as exc:
                log.warning("%s: port lost: %s", self.port, exc)
                return
            if not data:
                continue
            now = self.clock()
            frames = self.decoder.feed(data)
            if frames:
                last_frame = time.monotonic()
            for frame in frames:
                self._handle(frame, now)
            self.stats.crc_errors = self.crc_errors

    def _handle(self, frame: P.Frame, now: float) -> None:
        msg = frame.message
        self.stats.frames += 1
        if isinstance(msg, P.Samples):
            self.stats.gaps += self.sequence.see(frame.seq)
            if self.hello is None:
                return  # no nominal gain known yet; the info request is on its way
            self.clock_map.observe(msg.last_us, now)
            self._emit(frame.seq, msg)
            return
        if isinstance(msg, P.Hello):
            if msg.protocol_version != P.PROTOCOL_VERSION:
                self.stats.protocol_mismatch += 1
                log.error(
                    "%s: controller speaks protocol %d, this bridge %d: ignoring it",
                    self.port,
                    msg.protocol_version,
                    P.PROTOCOL_VERSION,
                )
                return
            if msg.request_seq is None or self.hello is None or msg.fw_time_us < (self.hello.fw_time_us or 0):
                self.sequence.reset()
                self.clock_map.reset()
            self.sequence.see(frame.seq)
            self.hello = msg
            self.clock_map.observe(msg.fw_time_us, now)
            log.info(
                "%s: controller %s firmware %s, %d plates at %.1f Hz",
                self.port,
                msg.serial,
                msg.firmware,
                msg.plates,
                msg.rate_hz,
            )
            self.on_state(self)
        else:
            self.stats.gaps += self.sequence.see(frame.seq)
        request = (
            msg.request_seq
            if isinstance(msg, P.Hello)
            else msg.request_seq
            if isinstance(msg, P.Reply)
            else None
        )
        if request is not None:
            with self._write_lock:
                pending = self._pending.get(request)
            if pending is not None and isinstance(msg, P.Reply | P.Hello):
                pending.answer = msg
                pending.done.set()

    def _emit(self, seq: int, msg: P.Samples) -> None:
        assert self.hello is not None
        plates = tuple(range(msg.first_plate, msg.first_plate + msg.n_plates))
        nominal = self.hello.ug_per_count / 1e6
        if self._cal_version != self.calibration.version or self._cal_key != (plates, nominal):
            self._zero, self._gain = self.calibration.arrays(self.gondola, self.shelf, plates, nominal)
            self._cal_version, self._cal_key = self.calibration.version, (plates, nominal)
        grams = (msg.raw - self._zero) * self._gain
        fw = msg.t0_us + np.arange(msg.n_samples, dtype=np.float64) * msg.period_us
        offset = self.clock_map.offset
        assert offset is not None
        t = offset + fw / 1e6
        self.stats.samples += msg.n_samples
        self.on_rows(self, Rows(seq, plates, t, grams))
