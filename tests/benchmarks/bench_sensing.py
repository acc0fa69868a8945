"""Benchmarks of the shelf path: frame decoding (``bridge.frames_per_s``) and decode + detection
(``sensing.samples_per_s``, plate readings per second on one core).

Data: the "busy" simulator scenario (an interaction every 2-6 s on a 12-plate shelf, 60 Hz), its
samples encoded as shelf-protocol frames of 6 samples, the way a controller sends them. Baselines,
measured in the same run: for sensing, the AIM3S re-implementation behind the same decoder; for the
bridge, a byte-at-a-time SLIP decoder in Python (what a straightforward port of firmware code does).
"""

from __future__ import annotations

import time
import zlib

import numpy as np

from edge.events import SampleBatch
from edge.sensing.aim3s import Aim3sDetector
from edge.sensing.detector import ShelfDetector
from shelf_firmware_bridge import protocol as P
from simulators.shelves.scenarios import G_PER_COUNT, RATE, SHELF, T0, build

SECONDS = 300.0
PER_FRAME = 6


def wire_of(seconds: float) -> tuple[bytes, int, object]:
    scenario = build("busy", seed=3, duration_s=seconds)
    n = int(seconds * RATE)
    chunks = []
    seq = 0
    for k in range(0, n, PER_FRAME):
        t = T0 + np.arange(k, min(n, k + PER_FRAME), dtype=np.float64) / RATE
        raw = np.round(scenario.physics.render(t) / G_PER_COUNT).astype(np.int32)
        chunks.append(P.encode_frame(P.Samples(round((t[0] - T0) * 1e6), round(1e6 / RATE), 1, raw), seq))
        seq = (seq + 1) & 0xFFFF
    return b"".join(chunks), n, scenario.planogram


def decode_and_detect(wire: bytes, detector: ShelfDetector | Aim3sDetector) -> int:
    decoder = P.FrameDecoder()
    plates = tuple(range(1, 13))
    events = 0
    for k in range(0, len(wire), 4096):
        for frame in decoder.feed(wire[k : k + 4096]):
            msg = frame.message
            assert isinstance(msg, P.Samples)
            t = T0 + (msg.t0_us + np.arange(msg.n_samples) * msg.period_us) / 1e6
            grams = msg.raw * G_PER_COUNT
            batch = SampleBatch(SHELF, plates, tuple(t.tolist()), tuple(map(tuple, grams.tolist())))
            events += len(detector.feed(batch))
    return events


def naive_slip_frames(wire: bytes) -> int:
    frames, buf, esc = 0, bytearray(), False
    for b in wire:
        if b == P.END:
            if len(buf) > 7 and zlib.crc32(bytes(buf[:-4])) == int.from_bytes(buf[-4:], "little"):
                frames += 1
            buf.clear()
        elif esc:
            buf.append(P.END if b == P.ESC_END else P.ESC)
            esc = False
        elif b == P.ESC:
            esc = True
        else:
            buf.append(b)
    return frames


def timed(fn, *args):  # type: ignore[no-untyped-def]
    start = time.process_time()
    result = fn(*args)
    return result, time.process_time() - start


def main() -> list[dict[str, object]]:
    wire, samples, planogram = wire_of(SECONDS)
    readings = samples * 12
    _, ours_s = timed(decode_and_detect, wire, ShelfDetector(SHELF, planogram))  # type: ignore[arg-type]
    _, aim_s = timed(decode_and_detect, wire, Aim3sDetector(SHELF, planogram))  # type: ignore[arg-type]
    frames = samples // PER_FRAME

    def decode_all() -> int:
        decoder = P.FrameDecoder()
        return sum(len(decoder.feed(wire[k : k + 4096])) for k in range(0, len(wire), 4096))

    got, dec_s = timed(decode_all)
    assert got == frames, (got, frames)
    naive_frames, naive_s = timed(naive_slip_frames, wire[: len(wire) // 5])
    return [
        {
            "bench": "sensing.samples_per_s",
            "value": round(readings / ours_s),
            "unit": "plate readings/s (decode + detection, busy shelf, one core)",
            "baseline": round(readings / aim_s),
        },
        {
            "bench": "bridge.frames_per_s",
            "value": round(frames / dec_s),
            "unit": f"frames/s ({PER_FRAME} samples x 12 plates per frame)",
            "baseline": round(naive_frames / naive_s),
        },
    ]


if __name__ == "__main__":
    for row in main():
        print(row)
