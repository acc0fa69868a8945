"""Per-lane interaction tracker (pure core): model answers over time -> LaneInteraction.

A lane goes active when a hand is seen in ``enter_frames`` consecutive observations and closes
when it has been gone for ``exit_frames``. The hand's state in the first third of the visit against
the last third tells a pick (P(holding) rises by ``min_change`` to a holding level), a return (it
falls from one) and a touch (no such change). Comparing the two thirds, rather than each with a fixed
threshold, keeps a model that sees an empty hand over the product's own facings as "half holding"
from turning picks into touches. The product is the one the model saw most, weighted by how sure it was
that the hand held something, in the half of the visit where the hand held it.

Visits always close (issue 17: on real cameras a lane model that had only seen the simulator said
"hand" on almost every crop, so a visit opened by motion never ended):

- a visit is capped at ``max_visit_s``; after a capped visit the lane opens again only once the model
  has let go of it (``exit_frames`` below ``exit_p``) or the lane has been still for ``still_s``;
- a visit also ends when the lane has shown no motion for ``still_s``: a hand in a lane moves, a
  model that sees one in a motionless lane is not believed;
- a visit whose motion never reached ``reach_depth`` into the lane from its aisle edge is dropped:
  a hand taking or touching a product goes deep, a shopper passing in the aisle only grazes the
  lane's aisle edge;
- at the end, "something changed in the lane" (the stage compares the lane with its learned picture
  of the lane without a hand) is a signal of its own: a pick or return in a lane where nothing
  changed is reported as a touch.

No clock: time comes with each observation (the frame's capture time).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edge.events import LaneInteraction, ShelfId


@dataclass(frozen=True, slots=True)
class LaneObservation:
    """What the model said about one lane of one frame."""

    t: float
    p_empty: float
    p_holding: float
    product_id: str | None
    product_p: float
    #: Whether the motion gate saw movement in the lane in this frame.
    moving: bool = True
    #: How deep into the lane (0 aisle edge - 1 back of the shelf) that movement reached.
    depth: float = 1.0

    @property
    def p_hand(self) -> float:
        return self.p_empty + self.p_holding


@dataclass(frozen=True, slots=True)
class TrackerParams:
    enter_p: float = 0.6
    exit_p: float = 0.4
    enter_frames: int = 2
    exit_frames: int = 3
    #: Interactions with fewer hand frames than this are dropped as flicker.
    min_frames: int = 3
    #: Mean P(holding) in the first or last third above which the hand counts as holding there.
    holding_p: float = 0.5
    #: Rise (pick) or fall (return) of mean P(holding) between the first and last third that counts.
    min_change: float = 0.25
    #: Longest visit; a longer one is closed there (the model may be seeing hands everywhere).
    max_visit_s: float = 20.0
    #: A visit ends, and a capped lane re-arms, after this long without motion in the lane.
    still_s: float = 3.0
    #: A visit is reported only if motion in it reached this deep into the lane (share of the lane
    #: from its aisle edge): a hand reaching for a product does, a shopper passing in the aisle not.
    reach_depth: float = 0.35


@dataclass(slots=True)
class _Visit:
    frames: list[LaneObservation] = field(default_factory=list)
    gone: int = 0
    last_motion: float = 0.0


@dataclass(slots=True)
class LaneTracker:
    """Tracks one lane of one camera."""

    camera: str
    shelf: ShelfId
    plate: int
    params: TrackerParams = field(default_factory=TrackerParams)
    _pending: list[LaneObservation] = field(default_factory=list)
    _visit: _Visit | None = None
    _capped: bool = False  # the last visit hit the cap: wait for the model to let go or stillness
    _last_motion: float = float("-inf")
    #: Visits closed by the cap or by stillness (counted for the operator).
    capped: int = 0
    stilled: int = 0
    #: Visits dropped because motion never reached ``reach_depth`` into the lane.
    shallow: int = 0

    @property
    def active(self) -> bool:
        """A visit is open or starting: the stage must keep running the model on this lane."""
        return self._visit is not None or bool(self._pending) or self._capped

    def observe(self, obs: LaneObservation) -> LaneInteraction | None:
        """Feed one observation; returns the interaction when a visit ends with this frame."""
        return self.observe_changed(obs, None)

    def observe_changed(self, obs: LaneObservation, changed: bool | None) -> LaneInteraction | None:
        """:meth:`observe`, with whether the lane differs from its picture without a hand (None:
        not known); it is only used when this frame ends a visit."""
        p = self.params
        if obs.moving:
            self._last_motion = obs.t
        if self._capped:
            if obs.p_hand < p.exit_p or obs.t - self._last_motion >= p.still_s:
                self._capped = False
            return None
        if self._visit is None:
            if obs.p_hand >= p.enter_p and obs.t - self._last_motion < p.still_s:
                self._pending.append(obs)
                if len(self._pending) >= p.enter_frames:
                    self._visit = _Visit(frames=list(self._pending), last_motion=self._last_motion)
                    self._pending.clear()
            else:
                self._pending.clear()
            return None
        visit = self._visit
        if obs.t - visit.frames[0].t >= p.max_visit_s:
            self._visit, self._capped = None, True
            self.capped += 1
            return self._close(visit.frames, changed)
        if obs.t - self._last_motion >= p.still_s:
            self._visit = None
            self.stilled += 1
            return self._close(visit.frames, changed)
        if obs.p_hand >= p.exit_p:
            visit.frames.append(obs)
            visit.gone = 0
            return None
        visit.gone += 1
        if visit.gone < p.exit_frames:
            return None
        self._visit = None
        return self._close(visit.frames, changed)

    def flush(self) -> LaneInteraction | None:
        """Close an open visit (end of stream)."""
        visit, self._visit = self._visit, None
        self._pending.clear()
        return self._close(visit.frames, None) if visit is not None else None

    def _close(self, frames: list[LaneObservation], changed: bool | None) -> LaneInteraction | None:
        p = self.params
        if len(frames) < p.min_frames:
            return None
        if max(f.depth for f in frames) < p.reach_depth:  # nothing reached into the shelf
            self.shallow += 1
            return None
        third = max(1, len(frames) // 3)
        first, last = frames[:third], frames[-third:]
        hold_in = sum(f.p_holding for f in first) / len(first)
        hold_out = sum(f.p_holding for f in last) / len(last)
        change = hold_out - hold_in
        if change >= p.min_change and hold_out >= p.holding_p:
            kind: str = "pick"
            evidence = frames[len(frames) // 2 :]
            sure = min(1.0, hold_out * (0.5 + change))
        elif -change >= p.min_change and hold_in >= p.holding_p:
            kind = "return"
            evidence = frames[: len(frames) // 2]
            sure = min(1.0, hold_in * (0.5 - change))
        else:
            kind = "touch"
            evidence = []
            sure = 1.0 - abs(hold_out - hold_in)
        if kind != "touch" and changed is False:  # the lane looks as it did: nothing left or came
            kind, evidence, sure = "touch", [], 1.0 - abs(hold_out - hold_in)
        votes: dict[str, float] = {}
        for f in evidence:
            if f.product_id is not None:
                votes[f.product_id] = votes.get(f.product_id, 0.0) + f.p_holding * f.product_p
        product: str | None = None
        if votes:
            product = max(votes, key=lambda k: votes[k])
            sure *= votes[product] / max(1e-9, sum(f.p_holding for f in evidence))
        return LaneInteraction(
            t_start=frames[0].t,
            t_end=frames[-1].t,
            camera=self.camera,
            shelf=self.shelf,
            plate=self.plate,
            kind="pick" if kind == "pick" else "return" if kind == "return" else "touch",
            product_id=product,
            confidence=round(min(1.0, max(0.0, sure)), 4),
        )
