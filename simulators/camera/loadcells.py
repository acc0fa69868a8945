"""Load-cell samples of the shelf a camera scenario shows, for scoring weight alone against fused.

Per plate at 60 Hz (REFERENCE.md section 1): the weight of the units on it, each product's real
unit weight off its catalogue weight by a fixed N(0, 2 %) error and each unit off that by N(0, 1.5 %), a swing of 20-120 g while a hand
handles the shelf that dies out ~0.35 s after it leaves, white noise of 0.63 g (the median plate)
and 0.241 g quantisation. Two lanes may share one plate (the similar-weight scenario).
"""

from __future__ import annotations

import math
import random

import numpy as np

from edge.events import SampleBatch, ShelfId
from edge.sensing.planogram import Placement, Planogram, Product
from simulators.camera.scenario import CameraScenario

SHELF = ShelfId(1, 1)


def planogram_of(scenario: CameraScenario) -> Planogram:
    return Planogram(
        Placement(Product(pid, pid, w, 1.0), SHELF, plate)
        for pid, w, plate in zip(scenario.products, scenario.weights_g, scenario.plates, strict=True)
    )


def plate_samples(
    scenario: CameraScenario, hz: float = 60.0, batch: int = 6, seed: int = 0
) -> list[SampleBatch]:
    rng = random.Random(f"loadcells/{scenario.name}/{scenario.seed}/{seed}")
    nrng = np.random.default_rng(rng.randrange(2**32))
    plates = tuple(sorted(set(scenario.plates)))
    col = {p: i for i, p in enumerate(plates)}
    t = np.arange(0.0, scenario.duration_s + 3.0, 1.0 / hz)
    w = np.zeros((t.size, len(plates)))
    real = {
        pid: wt * (1.0 + rng.gauss(0.0, 0.02))
        for pid, wt in zip(scenario.products, scenario.weights_g, strict=True)
    }
    for lane, (pid, plate) in enumerate(zip(scenario.products, scenario.plates, strict=True)):
        w[:, col[plate]] += scenario.facings[lane] * real[pid] + 150.0 * lane  # the units + the tray
    for r in scenario.reaches:
        c = col[scenario.plates[r.lane]]
        if r.kind != "touch":
            sign = -1.0 if r.kind == "pick" else 1.0
            unit = real[r.product_id] * (1.0 + rng.gauss(0.0, 0.015))  # units of one product differ too
            w[t >= r.t_swap, c] += sign * r.quantity * unit
        t_in, t_out = r.t0 + r.reach_s, r.t0 + r.reach_s + r.dwell_s
        amp = rng.uniform(20.0, 120.0)
        handled = (t >= t_in) & (t < t_out)
        phase = t[handled] - t_in
        w[handled, c] += -amp * (1 - np.exp(-phase / 0.1)) * np.cos(2 * math.pi * 3 * phase)
        after = (t >= t_out) & (t < t_out + 2.0)
        tail = t[after] - t_out
        w[after, c] += -amp * np.exp(-tail / 0.35) * np.cos(2 * math.pi * 3 * tail)
    w += nrng.normal(0.0, 0.63, w.shape)
    w = np.round(w / 0.241) * 0.241 + 1000.0  # quantised, not zeroed
    out = []
    for k, start in enumerate(range(0, t.size, batch)):
        sl = slice(start, start + batch)
        out.append(
            SampleBatch(
                SHELF,
                plates,
                tuple(float(x) for x in t[sl]),
                tuple(tuple(float(v) for v in row) for row in w[sl]),
                k,
            )
        )
    return out
