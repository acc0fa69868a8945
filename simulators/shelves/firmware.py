"""Simulated shelf controller firmware speaking the shelf protocol on a pseudo-terminal.

    sim = SimulatedShelfFirmware(gondola=1, shelf=1, plates=12, rate_hz=60, seed=1)
    path = sim.start()          # a stable symlink to the pty's slave side; open it with pyserial
    sim.schedule_pick(time.time() + 2, plates=(3, 4), grams=250.0, hold_s=1.5, product_id="p1")
    ...
    sim.ground_truth            # every scheduled interaction (picks, returns, leans) with its times
    sim.stop()

Time: the controller counts microseconds since it booted (``fw_time_us``); sample ``k`` of the
current boot is taken at unix ``boot_unix + fw_time_us / 1e6`` and sent in a frame as soon as its
last sample is taken, so the bridge's lowest-delay mapping (shelf_firmware_bridge.clock) recovers
unix time to within the line delay. Unplugging reboots the controller (USB powered): the clock and
the sequence numbers start again from zero and a HELLO is sent.

The ADC model: ``raw = zero_counts + round(grams / g_per_count)``, with ``g_per_count`` 0.241 g
(REFERENCE.md) off by up to 1 % per plate until the bridge calibrates the span; the nominal value
is announced in the HELLO frame.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import tempfile
import threading
import time
import tty
from collections import deque
from pathlib import Path

import numpy as np

from shelf_firmware_bridge import protocol as P
from simulators.shelves.physics import Interaction, Kind, ShelfPhysics

NOMINAL_G_PER_COUNT = 0.241
FIRMWARE_VERSION = "shelfsim-1.4.2"


class SimulatedShelfFirmware:
    def __init__(
        self,
        gondola: int = 1,
        shelf: int = 1,
        plates: int = 12,
        rate_hz: float = 60.0,
        seed: int = 1,
        samples_per_frame: int | None = None,
        bit_flip_rate: float = 0.0,
        drop_rate: float = 0.0,
        noise_scale: float = 1.0,
        link_dir: str | Path | None = None,
    ) -> None:
        if not 10 <= rate_hz <= 80:
            raise ValueError(f"rate_hz must be 10..80, got {rate_hz}")
        self.gondola, self.shelf, self.plates = gondola, shelf, plates
        self.rate_hz = float(rate_hz)
        self.samples_per_frame = samples_per_frame
        self.bit_flip_rate = bit_flip_rate
        self.drop_rate = drop_rate
        self.physics = ShelfPhysics(plates=plates, seed=seed, noise_scale=noise_scale)
        rng = np.random.default_rng(seed + 1000)
        self._fault_rng = np.random.default_rng(seed + 2000)
        self.g_per_count = NOMINAL_G_PER_COUNT * rng.uniform(0.99, 1.01, plates)
        self.zero_counts = rng.integers(-40_000, 40_000, plates)
        self.serial = f"SIM-{gondola:02d}-{shelf:02d}-{seed:04d}"
        self.ground_truth: list[Interaction] = []
        self.commands: list[P.Command] = []
        self.display_text: dict[int, tuple[str, ...]] = {}
        self.identify_until = 0.0
        self.frames_sent = 0
        self.bytes_dropped = 0
        self.unplugged = False
        self._link_dir = Path(link_dir) if link_dir else None
        self._own_dir = False
        self._link: Path | None = None
        self._master: int | None = None
        self._slave: int | None = None
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._recent: deque[np.ndarray] = deque(maxlen=400)
        self._boot_unix = 0.0
        self._next_t = 0.0
        self._seq = 0

    # ------------------------------------------------------------------ public API
    def start(self) -> str:
        """Plug the controller in: open the pty, start sending; return the device path for pyserial."""
        if self._link_dir is None:
            self._link_dir = Path(tempfile.mkdtemp(prefix="shelf-sim-"))
            self._own_dir = True
        self._link = self._link_dir / f"shelf-g{self.gondola}-s{self.shelf}"
        self._plug()
        self._stop.clear()
        self._threads = [
            threading.Thread(target=self._writer, name=f"sim-fw-{self.gondola}-{self.shelf}-w", daemon=True),
            threading.Thread(target=self._reader, name=f"sim-fw-{self.gondola}-{self.shelf}-r", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return str(self._link)

    @property
    def path(self) -> str:
        if self._link is None:
            raise RuntimeError("not started")
        return str(self._link)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        with self._lock:
            self._unplug_locked()
        if self._own_dir and self._link_dir is not None:
            with contextlib.suppress(OSError):
                self._link_dir.rmdir()

    def schedule_pick(
        self,
        at: float,
        plates: tuple[int, ...],
        grams: float,
        hold_s: float = 1.5,
        product_id: str | None = None,
        quantity: int = 1,
    ) -> Interaction:
        return self._schedule("pick", at, plates, grams, hold_s, product_id, quantity)

    def schedule_return(
        self,
        at: float,
        plates: tuple[int, ...],
        grams: float,
        hold_s: float = 1.5,
        product_id: str | None = None,
        quantity: int = 1,
    ) -> Interaction:
        return self._schedule("return", at, plates, grams, hold_s, product_id, quantity)

    def schedule_lean(
        self, at: float, plates: tuple[int, ...], grams: float, duration_s: float = 4.0
    ) -> Interaction:
        """A shopper leaning on the shelf: load that comes and goes, not an event."""
        return self._schedule("lean", at, plates, grams, duration_s, None, 0)

    def unplug(self) -> None:
        """Pull the USB cable: the device path disappears until :meth:`replug`."""
        with self._lock:
            self._unplug_locked()
            self.unplugged = True

    def replug(self) -> None:
        """Plug back in: a new pty behind the same path; the controller reboots and says hello."""
        with self._lock:
            self.unplugged = False
            self._plug()

    # ------------------------------------------------------------------ internals
    def _schedule(
        self,
        kind: Kind,
        at: float,
        plates: tuple[int, ...],
        grams: float,
        hold_s: float,
        product_id: str | None,
        quantity: int,
    ) -> Interaction:
        with self._lock:
            it = self.physics.schedule(kind, at, plates, grams, hold_s, product_id, quantity)
            self.ground_truth.append(it)
            return it

    def _plug(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        assert self._link is not None
        tmp = self._link.with_suffix(".tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        tmp.symlink_to(os.ttyname(slave))
        tmp.replace(self._link)
        now = time.time()
        self._boot_unix = now
        self._next_t = now
        self._seq = 0
        self._send(self._hello(None))

    def _unplug_locked(self) -> None:
        if self._link is not None:
            with contextlib.suppress(FileNotFoundError):
                self._link.unlink()
        for fd in (self._master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = None

    def _hello(self, request_seq: int | None) -> P.Hello:
        return P.Hello(
            protocol_version=P.PROTOCOL_VERSION,
            plates=self.plates,
            first_plate=1,
            rate_hz=self.rate_hz,
            fw_time_us=self._fw_us(time.time()),
            ug_per_count=round(NOMINAL_G_PER_COUNT * 1e6),
            firmware=FIRMWARE_VERSION,
            serial=self.serial,
            request_seq=request_seq,
        )

    def _fw_us(self, unix: float) -> int:
        return max(0, round((unix - self._boot_unix) * 1e6))

    def _send(self, message: P.Message) -> None:
        if self._master is None:
            return
        data = P.encode_frame(message, self._seq)
        self._seq = (self._seq + 1) & 0xFFFF
        self.frames_sent += 1
        if self.bit_flip_rate or self.drop_rate:
            data = self._damage(data)
        try:
            os.write(self._master, data)
        except BlockingIOError:
            self.bytes_dropped += len(data)  # nobody reads: the UART sends into the void
        except OSError as exc:
            if exc.errno not in (errno.EIO, errno.EBADF):
                raise

    def _damage(self, data: bytes) -> bytes:
        r = self._fault_rng
        arr = np.frombuffer(data, dtype=np.uint8).copy()
        if self.bit_flip_rate:
            hits = np.nonzero(r.random(len(arr)) < self.bit_flip_rate)[0]
            arr[hits] ^= (1 << r.integers(0, 8, len(hits))).astype(np.uint8)
        if self.drop_rate:
            arr = arr[r.random(len(arr)) >= self.drop_rate]
        return arr.tobytes()

    def _frame_samples(self) -> int:
        if self.samples_per_frame:
            return self.samples_per_frame
        return max(1, round(self.rate_hz / 10.0))

    def _writer(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                n = self._frame_samples()
                period = 1.0 / self.rate_hz
                last_due = self._next_t + (n - 1) * period
            wait = last_due - time.time()
            if wait > 0:
                self._stop.wait(min(wait, 0.05))
                if wait > 0.05:
                    continue
            with self._lock:
                times = self._next_t + np.arange(n, dtype=np.float64) * period
                self._next_t = float(times[-1]) + period
                grams = self.physics.render(times)
                raw = (self.zero_counts + np.round(grams / self.g_per_count)).astype(np.int32)
                self._recent.extend(raw)
                if self.unplugged or self._master is None:
                    continue
                period_us = round(period * 1e6)
                self._send(P.Samples(self._fw_us(float(times[0])), period_us, 1, raw))
            if time.time() - self._next_t > 2.0:  # fell far behind (machine stalled): skip ahead
                with self._lock:
                    self._next_t = time.time()

    def _reader(self) -> None:
        decoder = P.FrameDecoder()
        while not self._stop.is_set():
            master = self._master
            if master is None:
                self._stop.wait(0.05)
                continue
            try:
                ready, _, _ = select.select([master], [], [], 0.05)
                if not ready:
                    continue
                data = os.read(master, 4096)
            except (OSError, ValueError):
                self._stop.wait(0.05)
                continue
            for frame in decoder.feed(data):
                self._handle(frame)

    def _handle(self, frame: P.Frame) -> None:
        msg = frame.message
        with self._lock:
            if not isinstance(
                msg, P.Tare | P.Span | P.SetRate | P.Identify | P.GetInfo | P.DisplayText | P.DisplayClear
            ):
                return
            self.commands.append(msg)
            ftype, _ = P.encode_payload(msg)
            status, value = P.Status.OK, 0.0
            if isinstance(msg, P.Tare | P.Span):
                if not 1 <= msg.plate <= self.plates or not 1 <= msg.samples <= 400:
                    status = P.Status.BAD_ARGUMENT
                else:
                    recent = list(self._recent)[-msg.samples :]
                    value = float(np.mean([row[msg.plate - 1] for row in recent])) if recent else 0.0
            elif isinstance(msg, P.SetRate):
                if 10 <= msg.rate_hz <= 80:
                    self.rate_hz = msg.rate_hz
                    value = msg.rate_hz
                else:
                    status = P.Status.BAD_ARGUMENT
            elif isinstance(msg, P.Identify):
                self.identify_until = time.time() + msg.duration_ms / 1000.0
            elif isinstance(msg, P.GetInfo):
                self._send(self._hello(frame.seq))
                return
            elif isinstance(msg, P.DisplayText):
                self.display_text[msg.display] = msg.lines
            elif isinstance(msg, P.DisplayClear):
                self.display_text.pop(msg.display, None)
            self._send(P.Reply(frame.seq, int(ftype), status, value))
