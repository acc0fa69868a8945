"""Presence resolver at a million enrolled customers: lookups per second, table build/roll time, memory.

Figures (one core; times are CPU seconds of this single-threaded process, so that other work on a
shared machine does not distort them; ``wall_clock_value`` gives the lookup rate in wall time too):
- presence.adverts_per_s: ``TokenResolver.resolve`` on a stream of sightings (90 % enrolled phones
  in the three layouts, 10 % strangers); baseline: the O(N) alternative that tries every key for
  each advert (vectorised numpy AES of all N keys, then compare), measured on a small sample.
- presence.table_build_s: ``set_keys`` + first ``advance`` (key rows + 3 interval slots);
  baseline: building the same three slots with one ``cryptography`` AES context per key, on a
  sample, extrapolated to N.
- presence.table_roll_s: one ``advance`` to the next interval (one slot computed, one dropped);
  baseline: a full build. ``blocking_with_prepare_s``: the same roll when the slot was prepared
  ahead (``TokenResolver.prepare``, as PresenceService does in a worker thread).
- presence.table_mb: resident memory added by the resolver (RSS after build minus before, input
  list freed and the heap trimmed as the daemon does); baseline: the numpy buffers the resolver
  reports (``table_nbytes``); ``rss_before_trim_mb`` is the same figure without the trim.
"""

from __future__ import annotations

import gc
import os
import time

import numpy as np

from edge.events import Sighting
from edge.presence.aesbatch import tokens_for_keys
from edge.presence.keys import trim_heap
from edge.presence.resolver import EnrolledKey, TokenResolver
from edge.presence.tokens import (
    INTERVAL_S,
    interval_of,
    manufacturer_payload,
    rolling_tokens,
    service_uuid,
)

N = int(os.environ.get("BENCH_PRESENCE_N", "1000000"))
ADVERTS = 200_000
BASELINE_ADVERTS = 3


def _cpu() -> float:
    """CPU seconds of this process: throughput of one core, whatever else the machine runs."""
    return time.process_time()


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _sightings(day_keys: np.ndarray, t: float, rng: np.random.Generator) -> list[Sighting]:
    interval = interval_of(t)
    idx = rng.integers(0, len(day_keys), size=2000)
    toks = tokens_for_keys(np.ascontiguousarray(day_keys[idx, :16]), interval)
    pool: list[Sighting] = []
    for k in range(len(idx)):
        token = toks[k].tobytes()
        layout = k % 3
        if layout == 0:
            pool.append(
                Sighting(t, "rx-1", -60.0, manufacturer_data=((0xFFFF, manufacturer_payload(token)),))
            )
        elif layout == 1:
            pool.append(Sighting(t, "rx-1", -60.0, service_uuids=(service_uuid(token),)))
        else:
            pool.append(
                Sighting(
                    t,
                    "rx-1",
                    -60.0,
                    service_data=(("0000ffff-0000-1000-8000-00805f9b34fb", manufacturer_payload(token)),),
                )
            )
    strangers = [
        Sighting(t, "rx-1", -70.0, manufacturer_data=((0xFFFF, manufacturer_payload(rng.bytes(16))),))
        for _ in range(200)
    ] + [Sighting(t, "rx-1", -70.0, manufacturer_data=((0x004C, rng.bytes(23)),)) for _ in range(100)]
    out = []
    for i in range(ADVERTS):
        out.append(strangers[i % len(strangers)] if i % 10 == 9 else pool[i % len(pool)])
    return out


def main() -> list[dict[str, object]]:
    rng = np.random.default_rng(2026)
    t0 = (interval_of(1_763_900_000.0) + 0.5) * INTERVAL_S
    day = int(t0 // 86400)
    rss0 = _rss_mb()
    day_keys = rng.integers(0, 256, size=(N, 32), dtype=np.uint8)
    raw = day_keys.tobytes()
    keys = [EnrolledKey(f"sh-{i:08x}", day, raw[32 * i : 32 * i + 32]) for i in range(N)]
    del raw

    gc.collect()
    start = _cpu()
    resolver = TokenResolver()
    resolver.set_keys(keys)
    resolver.advance(t0)
    build_s = _cpu() - start
    del keys
    gc.collect()
    rss_untrimmed = _rss_mb()
    trim_heap()  # what the daemon does after loading keys (edge.presence.keys.trim_heap)
    rss_after = _rss_mb()
    # the input list is freed; besides the resolver only ``day_keys`` (kept for the baseline) remains
    table_rss_mb = rss_after - rss0 - day_keys.nbytes / 2**20

    sample = 2000
    start = _cpu()
    for i in range(sample):
        rolling_tokens(day_keys[i].tobytes(), [interval_of(t0) - 1, interval_of(t0), interval_of(t0) + 1])
    per_key_build = (_cpu() - start) / sample

    start = _cpu()
    resolver.advance(t0 + INTERVAL_S)
    roll_s = _cpu() - start
    # as the daemon does it: the next interval prepared ahead (worker thread), then the roll installs it
    upcoming = resolver.next_interval()
    assert upcoming is not None
    resolver.prepare(upcoming)
    start = _cpu()
    resolver.advance(t0 + 2 * INTERVAL_S)
    roll_prepared_s = _cpu() - start

    t1 = t0 + INTERVAL_S
    sightings = _sightings(day_keys, t1, rng)
    start = _cpu()
    wall_start = time.perf_counter()
    hits = 0
    for s in sightings:
        if resolver.resolve(s) is not None:
            hits += 1
    resolve_s = _cpu() - start
    resolve_wall_s = time.perf_counter() - wall_start
    assert hits == ADVERTS - ADVERTS // 10, hits

    # O(N) baseline: for each advert, compute the token of every key for the interval and compare
    token_keys = np.ascontiguousarray(day_keys[:, :16])
    start = _cpu()
    found = 0
    for s in sightings[:BASELINE_ADVERTS]:
        wanted = np.frombuffer(s.manufacturer_data[0][1][2:] if s.manufacturer_data else b"\0" * 16, np.uint8)
        all_tokens = tokens_for_keys(token_keys, interval_of(s.t))
        found += int(np.any(np.all(all_tokens == wanted, axis=1)))
    baseline_per_s = BASELINE_ADVERTS / (_cpu() - start)

    return [
        {
            "bench": "presence.adverts_per_s",
            "value": round(ADVERTS / resolve_s),
            "unit": "adverts/s",
            "baseline": round(baseline_per_s, 3),
            "wall_clock_value": round(ADVERTS / resolve_wall_s),
            "n_keys": N,
        },
        {
            "bench": "presence.table_build_s",
            "value": round(build_s, 2),
            "unit": "s",
            "baseline": round(per_key_build * N, 2),
            "n_keys": N,
        },
        {
            "bench": "presence.table_roll_s",
            "value": round(roll_s, 2),
            "unit": "s",
            "baseline": round(build_s, 2),
            "blocking_with_prepare_s": round(roll_prepared_s, 4),
            "n_keys": N,
        },
        {
            "bench": "presence.table_mb",
            "value": round(table_rss_mb, 1),
            "unit": "MB",
            "baseline": round(resolver.table_nbytes() / 2**20, 1),
            "rss_before_trim_mb": round(rss_untrimmed - rss0 - day_keys.nbytes / 2**20, 1),
            "n_keys": N,
        },
    ]


if __name__ == "__main__":
    for row in main():
        print(row)
