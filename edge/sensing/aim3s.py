"""Re-implementation of the AIM3S weight-event detector (BuildSys 2019), the baseline we score against.

As described in REFERENCE.md section 1: a 60-sample moving mean of the shelf's total weight; the
shelf is "active" while the variance of that moving mean (over the last 60 samples) exceeds
500 g^2; an event needs more than 30 active samples followed by more than 30 stable ones; it is kept
when the shelf's change exceeds 10 g, and a plate contributes when its own change exceeds 5 g. The
product is the one, among those on the contributing plates, whose unit-weight multiple is closest
to the change (weight-only identification). Pure; same ``feed`` interface as
:class:`edge.sensing.detector.ShelfDetector`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from edge.events import EventKind, SampleBatch, ShelfId, WeightEvent
from edge.sensing.planogram import Planogram

F64 = npt.NDArray[np.float64]
WINDOW = 60
VAR_THRESHOLD = 500.0
MIN_ACTIVE = 30
MIN_STABLE = 30
SHELF_MIN_G = 10.0
PLATE_MIN_G = 5.0


class Aim3sDetector:
    def __init__(self, shelf: ShelfId, planogram: Planogram) -> None:
        self.shelf = shelf
        self.planogram = planogram
        self.plates: tuple[int, ...] = ()
        self._hist: F64 = np.zeros((0, 0))
        self._hist_t: F64 = np.zeros(0)
        self._active_n = 0
        self._stable_n = 0
        self._in_event = False
        self._before: F64 = np.zeros(0)
        self._t_start = 0.0

    def feed(self, batch: SampleBatch) -> list[WeightEvent]:
        if batch.plates != self.plates:
            self.__init__(self.shelf, self.planogram)  # type: ignore[misc]
            self.plates = batch.plates
            self._hist = np.zeros((0, len(batch.plates)))
        x: F64 = np.asarray(batch.readings, dtype=np.float64).reshape(len(batch.t), len(self.plates))
        t: F64 = np.asarray(batch.t, dtype=np.float64)
        h = len(self._hist)
        buf = np.concatenate([self._hist, x])
        buf_t = np.concatenate([self._hist_t, t])
        keep = 2 * WINDOW
        events: list[WeightEvent] = []
        if len(buf) >= 2 * WINDOW - 1:
            c = np.cumsum(np.vstack([np.zeros((1, buf.shape[1])), buf]), axis=0)
            plate_mean = (c[WINDOW:] - c[:-WINDOW]) / WINDOW  # mean ending at row WINDOW-1 ..
            shelf_mean = plate_mean.sum(axis=1)
            c1 = np.cumsum(np.concatenate([[0.0], shelf_mean]))
            c2 = np.cumsum(np.concatenate([[0.0], shelf_mean**2]))
            m = (c1[WINDOW:] - c1[:-WINDOW]) / WINDOW
            var = (c2[WINDOW:] - c2[:-WINDOW]) / WINDOW - m**2
            # var[j] covers moving means ending at rows j+WINDOW-1 .. j+2*WINDOW-2 of buf
            offset = 2 * WINDOW - 2
            for j in range(max(0, h - offset), len(var)):
                row = j + offset
                active = var[j] > VAR_THRESHOLD
                pm = plate_mean[row - (WINDOW - 1)]
                if active:
                    if not self._in_event and self._active_n == 0:
                        self._before = plate_mean[max(0, row - (WINDOW - 1) - 1)].copy()
                        self._t_start = float(buf_t[row])
                    self._active_n += 1
                    self._stable_n = 0
                    if self._active_n > MIN_ACTIVE:
                        self._in_event = True
                else:
                    if self._in_event:
                        self._stable_n += 1
                        if self._stable_n > MIN_STABLE:
                            events.extend(self._emit(pm, float(buf_t[row])))
                            self._in_event = False
                            self._active_n = 0
                            self._stable_n = 0
                    else:
                        self._active_n = 0
        self._hist, self._hist_t = buf[-keep:], buf_t[-keep:]
        return events

    def _emit(self, after: F64, t: float) -> list[WeightEvent]:
        delta = after - self._before
        total = float(delta.sum())
        if abs(total) <= SHELF_MIN_G:
            return []
        plates = tuple(self.plates[i] for i in range(len(delta)) if abs(delta[i]) > PLATE_MIN_G)
        if not plates:
            return []
        best: tuple[float, str | None, int] = (float("inf"), None, 0)
        for plate in plates:
            for product in self.planogram.at(self.shelf, plate):
                q = max(1, round(abs(total) / product.unit_weight_g))
                err = abs(abs(total) - q * product.unit_weight_g)
                if err < best[0]:
                    best = (err, product.product_id, q)
        err, product_id, quantity = best
        kind: EventKind = "pick" if total < 0 else "return"
        confidence = 0.0 if product_id is None else round(1.0 / (1.0 + err / 10.0), 3)
        return [
            WeightEvent(
                t_start=self._t_start,
                t_end=t,
                shelf=self.shelf,
                plates=plates,
                delta_g=round(total, 2),
                kind=kind,
                product_id=product_id,
                quantity=quantity if product_id else 0,
                confidence=confidence,
            )
        ]
