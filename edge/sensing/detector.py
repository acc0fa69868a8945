"""Pick and return detection on one shelf's plate streams. Pure: time comes only from the samples.

How it works (constants in :class:`edge.sensing.detector_params.DetectorParams`, each derived from REFERENCE.md section 1):

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
   leave no event. A jump that is over within the 3-sample activity test, with no swing or
   ringing after it (a tare, a recalibration), is no physical pick and only moves the baseline. A data gap counts as activity from the last sample before it.
5. :func:`edge.sensing.identify.identify` names the product(s) and quantity from the planogram.
6. Samples older than the last one are dropped (counted in ``stats["out_of_order"]``). A run of
   batches far behind it (``clock_step_s``) that keeps coming in order for ``clock_step_confirm_s``
   is a clock step back (or the aftermath of one batch stamped in the future): the timeline restarts
   on it (``stats["clock_steps"]``), so one bad timestamp never blinds a shelf.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge.events import SampleBatch, ShelfId, WeightEvent
from edge.sensing.detector_params import DetectorParams
from edge.sensing.identify import identify, weight_events
from edge.sensing.planogram import Planogram
from edge.sensing.windows import neighbour_runs, onset_time, window_stats

F64 = npt.NDArray[np.float64]
DEFAULT_PARAMS = DetectorParams()  # frozen: one shared default


@dataclass(slots=True)
class _Episode:
    plates: set[int]  # column indices
    t_start: float
    forced: bool = False
    pending_until: float | None = None


class ShelfDetector:
    """Feed sample batches of one shelf in time order; get the weight events they complete."""

    def __init__(self, shelf: ShelfId, planogram: Planogram, params: DetectorParams = DEFAULT_PARAMS) -> None:
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
            "clock_steps": 0,
        }
        self._reset_state(())

    def _reset_state(self, plates: tuple[int, ...]) -> None:
        n = len(plates)
        self.plates = plates
        self._base: F64 = np.zeros(n)
        self._var: F64 = np.full(n, self.params.initial_noise_g**2)
        self._band_cache: F64 | None = None
        self._before: F64 = np.zeros(n)
        self._onset: F64 = np.zeros(n)
        self._min_std: F64 = np.full(n, np.inf)
        self._active = np.zeros(n, dtype=bool)
        self._owner: list[_Episode | None] = [None] * n
        self._episodes: list[_Episode] = []
        self._hist_t: F64 = np.zeros(0)
        self._hist: F64 = np.zeros((0, n))
        self._last_t: float | None = None
        self._dt = 1.0 / 60.0
        self._warm_until: float | None = None
        self._behind: tuple[float, float] | None = None  # first and last time of samples far behind
        self._moving_last: npt.NDArray[np.bool_] | None = None  # plates moving at the last row
        self._pending_t: list[float] = []  # in-order batches not processed yet
        self._pending_x: list[tuple[float, ...]] = []

    # ------------------------------------------------------------------ API
    def feed(self, batch: SampleBatch) -> list[WeightEvent]:
        if batch.plates != self.plates:
            self._reset_state(batch.plates)
        t_in = batch.t
        if not t_in:
            return []
        last = self._pending_t[-1] if self._pending_t else self._last_t
        if last is not None and t_in[0] > last and (len(t_in) == 1 or t_in[-1] > t_in[0]):
            # in order: gather batches for process_every_s of sample time, then process them at once
            self._pending_t.extend(t_in)
            self._pending_x.extend(batch.readings)
            if t_in[-1] - self._pending_t[0] < self.params.process_every_s:
                return []
            return self._flush()
        events = self._flush()
        t: F64 = np.asarray(t_in, dtype=np.float64)
        x: F64 = np.asarray(batch.readings, dtype=np.float64).reshape(len(t), len(self.plates))
        return events + self._process(t, x)

    def _flush(self) -> list[WeightEvent]:
        if not self._pending_t:
            return []
        t: F64 = np.array(self._pending_t, dtype=np.float64)
        x: F64 = np.array(self._pending_x, dtype=np.float64).reshape(len(t), len(self.plates))
        self._pending_t, self._pending_x = [], []
        return self._process(t, x)

    def _process(self, t: F64, x: F64) -> list[WeightEvent]:
        p = self.params
        last = self._last_t
        if last is not None and float(t[-1]) <= last - p.clock_step_s:
            if not self._clock_stepped(float(t[0]), float(t[-1])):
                self.stats["out_of_order"] += len(t)
                return []
            last = None
        else:
            self._behind = None
        if last is not None and (t[0] <= last or (len(t) > 1 and t[-1] <= t[0])):
            keep = t > np.maximum.accumulate(np.concatenate([[last], t]))[:-1]
            self.stats["out_of_order"] += int((~keep).sum())
            t, x = t[keep], x[keep]
            if len(t) == 0:
                return []
        n = len(t)
        if last is None:
            self._base = x[0].copy()
        self.stats["samples"] += n
        first_t, last_t = float(t[0]), float(t[-1])
        span = last_t - (last if last is not None else first_t)
        steps = n if last is not None else n - 1
        maybe_gap = span > p.max_gap_s
        measured: float | None = None
        if steps and not maybe_gap:
            measured = span / steps
        elif steps:
            diffs = np.diff(t) if last is None else np.diff(t, prepend=last)
            diffs = diffs[diffs <= p.max_gap_s]
            measured = float(np.median(diffs)) if len(diffs) else None
        if measured is not None:
            self._dt = measured if last is None else 0.9 * self._dt + 0.1 * measured
        if last is None:  # learn the noise for 1 s, and for at least 30 samples at low rates
            self._warm_until = first_t + max(1.0, 30 * self._dt)
        buf_t = np.concatenate([self._hist_t, t])
        buf = np.concatenate([self._hist, x])
        h = len(self._hist_t)
        events: list[WeightEvent] = []
        if not self._episodes and not (maybe_gap and self._has_gap(t)) and self._quiet(x, buf, h):
            self._update_quiet(x, n)
        else:
            events = self._slow(buf_t, buf, h)
        self._last_t = last_t
        hist_n = max(p.short_n, self._window_n()) + 1
        self._hist_t, self._hist = buf_t[-hist_n:], buf[-hist_n:]
        return events

    def finish(self) -> list[WeightEvent]:
        """End of a recording: close open episodes on the last samples (confidence halved).

        The daemon never calls this (its stream does not end); ``shelf-edge replay`` does, so an
        event in the last second of a log is not lost.
        """
        flushed = self._flush()
        if not self._episodes or len(self._hist_t) == 0:
            return flushed
        n = min(len(self._hist_t), self._window_n())
        after = self._hist[-n:].mean(axis=0)
        t = float(self._hist_t[-1])
        events: list[WeightEvent] = []
        for episode in list(self._episodes):
            cols = sorted(episode.plates)
            episode.forced = True
            found, step = self._evaluate(episode, cols, after, float(self._hist_t[-n]), t)
            self._finish(episode, cols, after, found, step)
            events.extend(found)
        return flushed + events

    # ------------------------------------------------------------------ internals
    def _clock_stepped(self, first: float, last: float) -> bool:
        """Track a run of batches far behind the timeline; once it holds, restart the timeline on
        it (the plates' baseline is learned again, their noise estimate is kept; an episode open
        across the step cannot be measured and is dropped)."""
        run = self._behind
        start = first if run is None or first <= run[1] else run[0]
        self._behind = (start, last)
        if last - start < self.params.clock_step_confirm_s:
            return False
        var = self._var
        self._reset_state(self.plates)
        self._set_var(var)
        self.stats["clock_steps"] += 1
        return True

    def _window_n(self) -> int:
        return max(3, round(self.params.settle_window_s / self._dt))

    def _band(self) -> F64:
        if self._band_cache is None:
            p = self.params
            self._band_cache = np.maximum(p.active_floor_g, p.active_k * np.sqrt(self._var))
        return self._band_cache

    def _has_gap(self, t: F64) -> bool:
        prev = self._last_t if self._last_t is not None else float(t[0])
        return bool(
            float(t[0]) - prev > self.params.max_gap_s
            or (len(t) > 1 and np.diff(t).max() > self.params.max_gap_s)
        )

    def _short_means(self, buf: F64, h: int) -> F64:
        k = self.params.short_n
        if h >= k - 1:  # every new row has k samples behind it
            c = np.cumsum(buf[h - k + 1 :], axis=0)
            out: F64 = c[k - 1 :].copy()
            out[1:] -= c[:-k]
            out *= 1.0 / k
            return out
        start = max(0, h - k + 1)
        c = np.cumsum(np.concatenate([np.zeros((1, buf.shape[1])), buf[start:]]), axis=0)
        n = c.shape[0] - 1
        w = np.minimum(np.arange(h - start + 1, n + 1), k)
        idx = np.arange(h - start + 1, n + 1)
        result: F64 = (c[idx] - c[idx - w]) / w[:, None]
        return result

    def _quiet(self, x: F64, buf: F64, h: int) -> bool:
        if self._warm_until is not None and self._hist_t.size == 0:
            return True
        band = self._band()
        if not np.count_nonzero(np.abs(x - self._base) > band):
            return True  # every sample inside the band: so are their short means
        return not np.count_nonzero(np.abs(self._short_means(buf, h) - self._base) > band)

    def _update_quiet(self, x: F64, n: int) -> None:
        p = self.params
        warm = self._warm_until is not None and self._last_t is not None and self._last_t < self._warm_until
        a = 1.0 - math.exp(-n * self._dt / p.base_tau_s)
        b = 1.0 - math.exp(-n * self._dt / p.noise_tau_s)
        if warm:
            a, b = max(a, 0.5), max(b, 0.3)
        dev = x - self._base
        self._base = self._base + (a / n) * dev.sum(axis=0)
        band = self._band()
        sq = np.minimum(dev * dev, band * band).sum(axis=0) * (1.0 / n)
        self._set_var(self._var + b * (sq - self._var))

    def _set_var(self, var: F64) -> None:
        self._var = np.minimum(np.maximum(var, 0.05), self.params.max_noise_g**2)
        self._band_cache = None

    def _slow(self, buf_t: F64, buf: F64, h: int) -> list[WeightEvent]:
        """Process the batch rows ``buf[h:]`` while something moves: vectorised per batch, with a
        short loop over rows only for activations and settling."""
        p = self.params
        m = len(buf_t) - h
        t_new = buf_t[h:]
        prev_t = (
            float(buf_t[h - 1]) if h > 0 else (self._last_t if self._last_t is not None else float(t_new[0]))
        )
        has_gap = float(t_new[-1]) - prev_t > p.max_gap_s and bool(
            (np.diff(t_new, prepend=prev_t) > p.max_gap_s).any()
        )
        gap_rows = np.diff(t_new, prepend=prev_t) > p.max_gap_s if has_gap else np.zeros(m, dtype=bool)
        self.stats["gaps"] += int(gap_rows.sum()) if has_gap else 0
        short = self._short_means(buf, h)
        if has_gap:  # right after a gap the short mean must not reach back across it
            recent = np.convolve(gap_rows, np.ones(p.short_n), "full")[:m] > 0
            short[recent] = buf[h:][recent]
        warm = self._warm_until is not None and float(t_new[0]) < self._warm_until
        exceed = np.abs(short - self._base) > self._band()
        exceed &= ~self._active
        if self._warm_until is not None and float(t_new[0]) < self._warm_until:
            exceed[t_new < self._warm_until] = False
        triggers: dict[int, list[int]] = {}
        if np.count_nonzero(exceed):
            hit = exceed.any(axis=0)
            first = exceed.argmax(axis=0)
            for plate_col in np.flatnonzero(hit).tolist():
                triggers.setdefault(int(first[plate_col]), []).append(plate_col)
        touched = np.zeros(len(self.plates), dtype=bool)
        events: list[WeightEvent] = []
        if not triggers and not has_gap and self._cannot_settle(buf_t, buf, h):
            for episode in self._episodes:  # still moving: nothing to decide in this batch
                episode.pending_until = None
            from_row = m
        else:
            self._moving_last = None
            from_row = 0
        stats = self._window_stats(buf_t, buf, h) if from_row == 0 else None
        if stats is not None:  # rows where some plates are still, to skip the others cheaply
            limit = np.maximum(p.settle_floor_g, p.settle_k * np.sqrt(self._var))
            still_rows: list[list[bool]] = (stats[1] <= limit).tolist()
            usable: list[bool] = stats[2].tolist()
            t_rows: list[float] = t_new.tolist()
            young = min(p.relearn_after_s, p.max_episode_s)
        for r in range(from_row, m):
            assert stats is not None
            for col in triggers.pop(r, ()):
                touched[col] = True
                self._activate(col, self._onset_time(buf_t, h, r, gap_rows))
            if self._episodes and usable[r]:
                row = still_rows[r]
                if all(
                    t_rows[r] - e.t_start <= young and not all(row[c] for c in e.plates)
                    for e in self._episodes
                ):
                    for e in self._episodes:  # none can settle at this row
                        e.pending_until = None
                    continue
                closed = self._settle_row(buf_t, h, r, stats, events)
                for done in closed:
                    touched[done] = True
                    later = np.abs(short[r + 1 :, done] - self._base[done]) > self._band()[done]
                    if self._warm_until is not None:
                        later &= t_new[r + 1 :] >= self._warm_until
                    if later.any():
                        triggers.setdefault(r + 1 + int(later.argmax()), []).append(done)
            elif not self._episodes and not triggers:
                break
        # quiet plates follow the batch (drift, creep); calm ones also refine their noise estimate
        busy = self._active | touched
        if np.count_nonzero(busy) < len(busy):
            dev = buf[h:] - self._base
            a = 1.0 - math.exp(-m * self._dt / p.base_tau_s)
            if warm:
                a = max(a, 0.5)
            self._base = self._base + dev.sum(axis=0) * np.where(busy, 0.0, a / m)
            near = busy.copy()
            for d in range(1, p.join_reach + 1):
                near[d:] |= busy[:-d]
                near[:-d] |= busy[d:]
            if np.count_nonzero(near) < len(near):
                b = 1.0 - math.exp(-m * self._dt / p.noise_tau_s)
                if warm:
                    b = max(b, 0.3)
                band = self._band()
                sq = np.minimum(dev * dev, band * band).sum(axis=0) * (1.0 / m)
                self._set_var(self._var + (sq - self._var) * np.where(near, 0.0, b))
        return events

    def _cannot_settle(self, buf_t: F64, buf: F64, h: int) -> bool:
        """Whether no episode can settle at any new row: in the settle windows ending at the first
        and at the last new row, every episode has a plate moving twice as much as "still" allows
        (the windows overlap by all but a few rows, so none in between is still). Episodes that may
        be forced or relearn their noise are always checked row by row."""
        p = self.params
        w = self._window_n()
        m = len(buf_t) - h
        if h + 1 < w or m > w // 2:
            return False
        t = float(buf_t[-1])
        if any(t - e.t_start > min(p.max_episode_s, p.relearn_after_s) for e in self._episodes):
            return False
        limit2 = 4.0 * np.maximum(p.settle_floor_g**2, p.settle_k**2 * self._var)
        # the window at the first new row is the last one of the batch before, one sample on
        before = self._moving_last
        moving = np.ones(len(self.plates), dtype=bool)
        for end in (len(buf_t),) if before is not None else (h + 1, len(buf_t)):
            d = buf[end - w : end] - buf[end - 1]
            mean = d.sum(axis=0) * (1.0 / w)
            moving &= (d * d).sum(axis=0) * (1.0 / w) - mean * mean > limit2
        self._moving_last = moving
        if before is not None:
            moving = moving & before
        return all(any(moving[c] for c in e.plates) for e in self._episodes)

    def _onset_time(self, buf_t: F64, h: int, r: int, gap_rows: npt.NDArray[np.bool_]) -> float:
        """When the change began: the first sample of the short mean, or the last one before a gap."""
        return onset_time(buf_t, h, r, gap_rows, self.params.short_n)

    def _window_stats(self, buf_t: F64, buf: F64, h: int) -> tuple[F64, F64, npt.NDArray[np.bool_]]:
        """Mean and std over the settle window ending at each new row, and whether it is usable."""
        p = self.params
        return window_stats(buf_t, buf, h, self._window_n(), p.settle_window_s, p.max_gap_s)

    def _settle_row(
        self,
        buf_t: F64,
        h: int,
        r: int,
        stats: tuple[F64, F64, npt.NDArray[np.bool_]],
        events: list[WeightEvent],
    ) -> list[int]:
        p = self.params
        mean, std, _ = stats
        t = float(buf_t[h + r])
        window_start = float(buf_t[max(0, h + r - self._window_n() + 1)])
        limit = np.maximum(p.settle_floor_g, p.settle_k * np.sqrt(self._var))
        still = std[r] <= limit
        closed: list[int] = []
        for episode in list(self._episodes):
            cols = sorted(episode.plates)
            if t - episode.t_start > p.relearn_after_s:
                self._relearn_noise(cols, std[r], still)
            forced = t - episode.t_start > p.max_episode_s
            settled = all(still[c] and self._onset[c] <= window_start for c in cols)
            if not (forced or settled):
                episode.pending_until = None
                continue
            episode.forced = forced
            after = mean[r]
            found, step = self._evaluate(episode, cols, after, window_start, t)
            if any(e.product_id is None for e in found) and not forced:
                if episode.pending_until is None:
                    episode.pending_until = t + p.confirm_unknown_s
                if t < episode.pending_until:
                    continue  # wait: a lean or a resting hand comes off again
            self._finish(episode, cols, after, found, step)
            events.extend(found)
            closed.extend(cols)
        return closed

    def _activate(self, col: int, onset: float) -> None:
        self._active[col] = True
        self._min_std[col] = np.inf
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

    def _relearn_noise(self, cols: list[int], std: F64, still: npt.NDArray[np.bool_]) -> None:
        """A plate active for long and never still enough may have a noise estimate that is too low
        (vibration that started while it was busy): the stillest window it has shown since is its
        noise floor at worst, so the estimate is raised to let that much through."""
        p = self.params
        idx = np.asarray(cols)
        self._min_std[idx] = np.minimum(self._min_std[idx], std[idx])
        stuck = idx[~still[idx]]
        if len(stuck):
            var = self._var.copy()
            var[stuck] = np.maximum(var[stuck], (1.1 * self._min_std[stuck] / p.settle_k) ** 2)
            self._set_var(var)

    def _evaluate(
        self, episode: _Episode, cols: list[int], after: F64, settled_from: float, t: float
    ) -> tuple[list[WeightEvent], bool]:
        """The events an episode would give if it ended now, and whether it was a step (tare)."""
        p = self.params
        if settled_from - episode.t_start < max(p.min_transition_s, (p.short_n + 0.5) * self._dt):
            return [], True
        delta = after - self._before
        sigma = np.sqrt(self._var)
        involved = [c for c in cols if abs(delta[c]) > max(p.plate_min_g, p.plate_k * sigma[c])]
        # neighbouring plates that changed, whatever their sign (load nudged across a boundary):
        # identification says which of them carry which product
        clusters = neighbour_runs(involved)
        events: list[WeightEvent] = []
        taken = set(involved)
        for cluster in clusters:
            if max(abs(float(delta[cluster].sum())), float(np.abs(delta[cluster]).max())) < p.min_event_g:
                continue
            # the episode's quiet plates next to the cluster count too: load nudged onto them
            edge = [c for c in (cluster[0] - 1, cluster[-1] + 1) if c in episode.plates and c not in taken]
            deltas = {self.plates[c]: float(delta[c]) for c in sorted((*cluster, *edge))}
            events.extend(self._events_for(deltas, episode, t))
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

    def _events_for(self, deltas: dict[int, float], episode: _Episode, t: float) -> list[WeightEvent]:
        parts = identify(deltas, self.shelf, self.planogram, self.params.identify)
        penalty = 0.5 if episode.forced else 1.0
        return weight_events(parts, self.shelf, episode.t_start, t, penalty, self.params.min_event_g)
