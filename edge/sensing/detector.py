"""Pick and return detection on one shelf's plate streams. Pure: time comes only from the samples.

How it works (constants in :class:`DetectorParams`, each derived from REFERENCE.md section 1):

1. Quiet plates follow a baseline (exponential mean, 2 s) that absorbs drift and creep, and an
   estimate of their own noise. Absolute readings are never trusted, only changes.
2. A plate becomes *active* when the mean of its last 3 samples leaves the baseline by more than
   max(3 g, 4 sigma). Its "before" level is the baseline frozen at that moment, taken from the
   quiet samples before the hand arrived - not from a window that may already hold the swing
   (the known weakness of window detectors).
3. Active plates that are neighbours (an item across a plate boundary, the swing of a hand) form
   one *episode*. The episode closes when every one of its plates has been still for 0.5 s
   (window std under max(1.5 g, 2.5 sigma)): REFERENCE.md says the shelf is within 5 g std after
   about 1 s and 1 g after about 2 s. A second hand on the same plates before that simply extends
   the episode, a long hold keeps it open.
4. Per plate: delta = settled mean - before. Plates whose delta exceeds max(4 g, 3 sigma) are
   involved (AIM3S uses 5 g); neighbouring involved plates form clusters, each cluster with a total
   of at least 10 g (AIM3S) is an event. Changes that no plate holds (a shopper leaning, a touch)
   leave no event. A step faster than 0.25 s (a tare, a recalibration) is no physical pick and
   only moves the baseline. A data gap counts as activity from the last sample before it.
5. :func:`edge.sensing.identify.identify` names the product(s) and quantity from the planogram.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from edge.events import EventKind, SampleBatch, ShelfId, WeightEvent
from edge.sensing.identify import IdentifyParams, identify
from edge.sensing.planogram import Planogram

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class DetectorParams:
    short_n: int = 3  # samples averaged for the activity test
    active_floor_g: float = 3.0  # ~5x the median plate noise (0.63 g)
    active_k: float = 4.0
    settle_window_s: float = 0.8
    settle_floor_g: float = 1.5  # between the 5 g (1 s) and 1 g (2 s) figures
    settle_k: float = 2.5
    min_transition_s: float = 0.25  # a hand takes longer; a tare is a step
    plate_min_g: float = 4.0
    plate_k: float = 3.0
    min_event_g: float = 10.0  # AIM3S
    base_tau_s: float = 2.0
    noise_tau_s: float = 10.0
    initial_noise_g: float = 0.63  # median plate noise
    max_noise_g: float = 11.3  # worst plate seen
    max_gap_s: float = 0.5
    confirm_unknown_s: float = 3.0  # an unexplained change must hold this long (leaning comes off)
    max_episode_s: float = 300.0
    join_reach: int = 1
    identify: IdentifyParams = field(default_factory=IdentifyParams)


@dataclass(slots=True)
class _Episode:
    plates: set[int]  # column indices
    t_start: float
    forced: bool = False
    pending_until: float | None = None


class ShelfDetector:
    """Feed sample batches of one shelf in time order; get the weight events they complete."""

    def __init__(
        self, shelf: ShelfId, planogram: Planogram, params: DetectorParams = DetectorParams()
    ) -> None:
        self.shelf = shelf
        self.planogram = planogram
        self.params = params
        self.plates: tuple[int, ...] = ()
        self.stats = {
            "samples": 0,
            "out_of_order": 0,
            "gaps": 0,
            "steps": 0,
            "episodes": 0,
            "quiet_episodes": 0,
        }
        self._reset_state(())

    def _reset_state(self, plates: tuple[int, ...]) -> None:
        n = len(plates)
        self.plates = plates
        self._base: F64 = np.zeros(n)
        self._var: F64 = np.full(n, self.params.initial_noise_g**2)
        self._before: F64 = np.zeros(n)
        self._onset: F64 = np.zeros(n)
        self._active = np.zeros(n, dtype=bool)
        self._owner: list[_Episode | None] = [None] * n
        self._episodes: list[_Episode] = []
        self._hist_t: F64 = np.zeros(0)
        self._hist: F64 = np.zeros((0, n))
        self._last_t: float | None = None
        self._dt = 1.0 / 60.0
        self._warm_until: float | None = None

    # ------------------------------------------------------------------ API
    def feed(self, batch: SampleBatch) -> list[WeightEvent]:
        if batch.plates != self.plates:
            self._reset_state(batch.plates)
        if not batch.t:
            return []
        t: F64 = np.asarray(batch.t, dtype=np.float64)
        x: F64 = np.asarray(batch.readings, dtype=np.float64).reshape(len(t), len(self.plates))
        if self._last_t is not None:
            keep = t > self._last_t
            if not keep.all():
                self.stats["out_of_order"] += int((~keep).sum())
                t, x = t[keep], x[keep]
                if len(t) == 0:
                    return []
        if self._last_t is None:
            self._base = x[0].copy()
            self._warm_until = float(t[0]) + 1.0
        self.stats["samples"] += len(t)
        steps = np.diff(t) if self._last_t is None else np.diff(t, prepend=self._last_t)
        steps = steps[steps <= self.params.max_gap_s]
        if len(steps):
            self._dt = 0.9 * self._dt + 0.1 * float(np.median(steps))
        p = self.params
        hist_n = max(p.short_n, self._window_n()) + 1
        buf_t = np.concatenate([self._hist_t, t])
        buf = np.concatenate([self._hist, x])
        h = len(self._hist_t)
        events: list[WeightEvent] = []
        if not self._episodes and not self._has_gap(t) and self._quiet(buf, h):
            self._update_quiet(x, len(t))
        else:
            for i in range(len(t)):
                events.extend(self._step(buf_t, buf, h + i))
        self._last_t = float(t[-1])
        self._hist_t, self._hist = buf_t[-hist_n:], buf[-hist_n:]
        return events

    # ------------------------------------------------------------------ internals
    def _window_n(self) -> int:
        return max(3, round(self.params.settle_window_s / self._dt))

    def _band(self) -> F64:
        p = self.params
        return np.maximum(p.active_floor_g, p.active_k * np.sqrt(self._var))

    def _has_gap(self, t: F64) -> bool:
        prev = self._last_t if self._last_t is not None else float(t[0])
        return bool(
            float(t[0]) - prev > self.params.max_gap_s
            or (len(t) > 1 and np.diff(t).max() > self.params.max_gap_s)
        )

    def _short_means(self, buf: F64, h: int) -> F64:
        k = self.params.short_n
        start = max(0, h - k + 1)
        c = np.cumsum(np.concatenate([np.zeros((1, buf.shape[1])), buf[start:]]), axis=0)
        n = c.shape[0] - 1
        w = np.minimum(np.arange(h - start + 1, n + 1), k)
        idx = np.arange(h - start + 1, n + 1)
        result: F64 = (c[idx] - c[idx - w]) / w[:, None]
        return result

    def _quiet(self, buf: F64, h: int) -> bool:
        if self._warm_until is not None and self._hist_t.size == 0:
            return True
        means = self._short_means(buf, h)
        return bool((np.abs(means - self._base) <= self._band()).all())

    def _update_quiet(self, x: F64, n: int) -> None:
        p = self.params
        a = 1.0 - float(np.exp(-n * self._dt / p.base_tau_s))
        if self._warm_until is not None and self._last_t is not None and self._last_t < self._warm_until:
            a = max(a, 0.5)
        dev = x - self._base
        self._base = self._base + a * dev.mean(axis=0)
        b = 1.0 - float(np.exp(-n * self._dt / p.noise_tau_s))
        if self._warm_until is not None and self._last_t is not None and self._last_t < self._warm_until:
            b = max(b, 0.3)
        band = self._band()
        sq = np.minimum(dev * dev, band * band).mean(axis=0)
        self._var = np.clip(self._var + b * (sq - self._var), 0.05, p.max_noise_g**2)

    def _step(self, buf_t: F64, buf: F64, i: int) -> list[WeightEvent]:
        p = self.params
        t = float(buf_t[i])
        prev_t = float(buf_t[i - 1]) if i > 0 else (self._last_t if self._last_t is not None else t)
        gap = t - prev_t > p.max_gap_s
        if gap:
            self.stats["gaps"] += 1
        k = min(p.short_n, i + 1)
        if gap:
            k = 1
        short = buf[i - k + 1 : i + 1].mean(axis=0)
        warm = self._warm_until is not None and t < self._warm_until
        dev = short - self._base
        trigger = (~self._active) & (np.abs(dev) > self._band()) & (not warm)
        quiet = ~self._active & ~trigger
        if quiet.any():
            a = 1.0 - float(np.exp(-self._dt / p.base_tau_s))
            if warm:
                a = max(a, 0.2)
            d = buf[i] - self._base
            self._base = np.where(quiet, self._base + a * d, self._base)
            # noise: only plates away from any activity, each squared deviation capped at the band
            calm = quiet & ~np.convolve(self._active | trigger, np.ones(2 * p.join_reach + 1), "same").astype(
                bool
            )
            if calm.any():
                b = 1.0 - float(np.exp(-self._dt / p.noise_tau_s))
                if warm:
                    b = max(b, 0.05)
                band = self._band()
                var = np.clip(
                    self._var + b * (np.minimum(d * d, band * band) - self._var), 0.05, p.max_noise_g**2
                )
                self._var = np.where(calm, var, self._var)
        for col in np.flatnonzero(trigger):
            onset = prev_t if gap else float(buf_t[max(0, i - k + 1)])
            self._activate(int(col), onset)
        if not self._episodes:
            return []
        return self._check_settled(buf_t, buf, i)

    def _activate(self, col: int, onset: float) -> None:
        self._active[col] = True
        self._before[col] = self._base[col]
        self._onset[col] = onset
        reach = self.params.join_reach
        joined = {
            id(e): e
            for other, e in enumerate(self._owner)
            if e is not None and abs(other - col) <= reach and self._active[other]
        }
        episodes = list(joined.values())
        if not episodes:
            episode = _Episode({col}, onset)
            self._episodes.append(episode)
            self.stats["episodes"] += 1
        else:
            episode = episodes[0]
            for other in episodes[1:]:
                episode.plates |= other.plates
                episode.t_start = min(episode.t_start, other.t_start)
                self._episodes.remove(other)
            episode.plates.add(col)
            episode.t_start = min(episode.t_start, onset)
        for c in episode.plates:
            self._owner[c] = episode

    def _check_settled(self, buf_t: F64, buf: F64, i: int) -> list[WeightEvent]:
        p = self.params
        t = float(buf_t[i])
        j = int(np.searchsorted(buf_t[: i + 1], t - p.settle_window_s, side="right"))
        if i + 1 - j < max(3, 0.4 * p.settle_window_s / self._dt) or (
            j == 0 and i + 1 - j < self._window_n()
        ):
            return []  # too few samples in the window (lost frames, a gap, the very start)
        window_t = buf_t[j : i + 1]
        if len(window_t) > 1 and float(np.diff(window_t).max()) > p.max_gap_s:
            return []
        window = buf[j : i + 1]
        std = window.std(axis=0)
        limit = np.maximum(p.settle_floor_g, p.settle_k * np.sqrt(self._var))
        still = std <= limit
        events: list[WeightEvent] = []
        for episode in list(self._episodes):
            cols = sorted(episode.plates)
            forced = t - episode.t_start > p.max_episode_s
            settled = all(still[c] for c in cols) and not any(
                self._onset[c] > float(window_t[0]) for c in cols
            )
            if not (forced or settled):
                episode.pending_until = None
                continue
            episode.forced = forced
            after = window.mean(axis=0)
            found, step = self._evaluate(episode, cols, after, float(window_t[0]), t)
            unexplained = any(e.product_id is None for e in found)
            if unexplained and not forced:
                if episode.pending_until is None:
                    episode.pending_until = t + p.confirm_unknown_s
                if t < episode.pending_until:
                    continue  # wait: a lean or a resting hand comes off again
            self._finish(episode, cols, after, found, step)
            events.extend(found)
        return events

    def _evaluate(
        self, episode: _Episode, cols: list[int], after: F64, settled_from: float, t: float
    ) -> tuple[list[WeightEvent], bool]:
        """The events an episode would give if it ended now, and whether it was a step (tare)."""
        p = self.params
        if settled_from - episode.t_start < p.min_transition_s:
            return [], True
        delta = after - self._before
        sigma = np.sqrt(self._var)
        involved = [c for c in cols if abs(delta[c]) > max(p.plate_min_g, p.plate_k * sigma[c])]
        clusters: list[list[int]] = []
        for c in involved:
            if (
                clusters
                and c - clusters[-1][-1] <= 1
                and np.sign(delta[c]) == np.sign(delta[clusters[-1][-1]])
            ):
                clusters[-1].append(c)
            else:
                clusters.append([c])
        events: list[WeightEvent] = []
        for cluster in clusters:
            total = float(delta[cluster].sum())
            if abs(total) >= p.min_event_g:
                events.extend(self._events_for(cluster, total, episode, t))
        return events, False

    def _finish(
        self, episode: _Episode, cols: list[int], after: F64, events: list[WeightEvent], step: bool
    ) -> None:
        self._episodes.remove(episode)
        for c in cols:
            self._active[c] = False
            self._owner[c] = None
            self._base[c] = after[c]
        if step:
            self.stats["steps"] += 1
        elif not events:
            self.stats["quiet_episodes"] += 1

    def _events_for(self, cluster: list[int], total: float, episode: _Episode, t: float) -> list[WeightEvent]:
        plates = tuple(self.plates[c] for c in cluster)
        kind: EventKind = "pick" if total < 0 else "return"
        parts = identify(total, self.shelf, plates, self.planogram, self.params.identify)
        penalty = 0.5 if episode.forced else 1.0
        events = []
        sign = -1.0 if total < 0 else 1.0
        scale = abs(total) / sum(a.grams for a in parts) if len(parts) > 1 else 1.0
        for part in parts:
            delta = total if len(parts) == 1 else sign * part.grams * scale
            events.append(
                WeightEvent(
                    t_start=episode.t_start,
                    t_end=t,
                    shelf=self.shelf,
                    plates=plates,
                    delta_g=round(delta, 2),
                    kind=kind,
                    product_id=part.product.product_id if part.product else None,
                    quantity=part.quantity,
                    confidence=round(part.confidence * penalty, 3),
                )
            )
        return events
