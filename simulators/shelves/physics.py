"""Physical model of one shelf of load-cell plates, from the real-data figures in REFERENCE.md section 1.

- Absolute readings are not zeroed: each plate carries a tray and stock of a few hundred grams to a
  few kilograms, and drifts slowly (a random rate of about 2 g/hour plus a slow thermal swing).
- Noise per plate: 1-second standard deviation log-normal with median 0.63 g and 90th percentile
  2.57 g (clipped at 6 g), 70 % white and 30 % low-frequency (AR(1), 0.3 s), plus a common-mode
  shelf vibration so the 12-plate sum has a median noise of about 5 g.
- A handled item makes the shelf swing: a damped oscillation and pressing while the hand is there
  (tens to about 170 g), then ringing that decays to under 5 g std after about 1 s and under 1 g
  after about 2 s, then creep of about 2 g over 15 s against the change.
- The weight measured differs from the catalogue weight by up to about 4 %; an item lying across a
  plate boundary spreads its weight over two or three neighbouring plates.
- Quantisation (0.241 g) is applied by the firmware's ADC model, not here.

What the real AiFi recording of issue 17 showed beyond those figures (all off by default, so the
older scenarios render the same samples; the ``real-shelf`` scenario turns them on):

- Straddling: an item of a facing that spans a plate boundary rests on either plate or on both
  (``shares`` given per unit); it may also overhang onto the plate next to its facing.
- A neighbour plate moves: the hand leans on the plate next to the item while it takes it
  (``lean_plate``, ``lean_g``: tens of grams, gone on release), and nudges an item lying there so
  that a few grams of load pass across the boundary for good (``nudge_g``, the sum unchanged).
- Long events over several plates: a hand rummaging for up to 19 s (the 538 g bottle of the
  recording: plates 9-12, 19 s) presses on the plates it touches (``touches``).
- Plates drift: the drift rate per plate is a parameter (``drift_g_per_h``, 2 g/h by default).

Everything is deterministic for a given seed and the same sequence of :meth:`ShelfPhysics.render` calls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

Kind = Literal["pick", "return", "lean"]
NOISE_MEDIAN_G = 0.63
NOISE_P90_G = 2.57
NOISE_MAX_G = 6.0
SETTLE_AFTER_RELEASE_S = 2.0  # within 1 g std (REFERENCE.md)
RING_TAU_S = 0.45
CREEP_TAU_S = 5.0


@dataclass(frozen=True, slots=True)
class Interaction:
    """One scheduled hand at the shelf; ``grams`` is the catalogue weight of everything moved."""

    kind: Kind
    touch: float
    hold_s: float
    plates: tuple[int, ...]  # plate numbers (1-based) the item lies on
    grams: float
    product_id: str | None = None
    quantity: int = 1
    # drawn at scheduling time
    shares: tuple[float, ...] = ()
    measured_factor: float = 1.0
    swing_g: float = 60.0
    swing_hz: float = 3.0
    ring_g: float = 20.0
    ring_hz: float = 3.5
    press_g: float = 10.0
    creep_g: float = 2.0
    phase: float = 0.0
    # the real-shelf effects (issue 17), none by default
    lean_plate: int = 0  # 1-based plate the hand leans on while holding (0: none)
    lean_g: float = 0.0  # grams pressed on it while the hand is there
    nudge_g: float = 0.0  # grams passed for good from lean_plate to the item's nearest plate
    touches: tuple[int, ...] = ()  # further plates a rummaging hand presses on

    @property
    def release(self) -> float:
        return self.touch + self.hold_s

    @property
    def step_time(self) -> float:
        """When the item's weight leaves (pick) or reaches (return) the plates."""
        lead = min(0.6, 0.4 * self.hold_s)
        return self.touch + lead if self.kind == "pick" else self.release - lead

    @property
    def settled(self) -> float:
        return self.release + SETTLE_AFTER_RELEASE_S

    @property
    def delta_g(self) -> float:
        """Signed weight change the shelf really sees."""
        if self.kind == "lean":
            return 0.0
        sign = -1.0 if self.kind == "pick" else 1.0
        return sign * self.grams * self.measured_factor


@dataclass(slots=True)
class ShelfPhysics:
    plates: int = 12
    seed: int = 1
    noise_scale: float = 1.0
    drift_g_per_h: float = 2.0
    rng: np.random.Generator = field(init=False)
    interactions: list[Interaction] = field(default_factory=list)
    _base: npt.NDArray[np.float64] = field(init=False)
    _drift: npt.NDArray[np.float64] = field(init=False)
    _white: npt.NDArray[np.float64] = field(init=False)
    _lf: npt.NDArray[np.float64] = field(init=False)
    _lf_state: npt.NDArray[np.float64] = field(init=False)
    _cm_state: float = 0.0
    _t0: float | None = None

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)
        n = self.plates
        self._base = self.rng.uniform(300.0, 3000.0, n)
        self._drift = self.rng.normal(0.0, self.drift_g_per_h / 3600.0, n)  # g/s
        sigma_ln = math.log(NOISE_P90_G / NOISE_MEDIAN_G) / 1.2816
        noise = np.exp(self.rng.normal(math.log(NOISE_MEDIAN_G), sigma_ln, n))
        noise = np.clip(noise, 0.2, NOISE_MAX_G) * self.noise_scale
        self._white = noise * math.sqrt(0.7)
        self._lf = noise * math.sqrt(0.3)
        self._lf_state = np.zeros(n)

    @property
    def noise_g(self) -> npt.NDArray[np.float64]:
        return np.sqrt(self._white**2 + self._lf**2)

    def schedule(
        self,
        kind: Kind,
        at: float,
        plates: tuple[int, ...],
        grams: float,
        hold_s: float = 1.5,
        product_id: str | None = None,
        quantity: int = 1,
        shares: tuple[float, ...] | None = None,
        lean: tuple[int, float, float] | None = None,
        touches: tuple[int, ...] = (),
    ) -> Interaction:
        """Schedule a hand. ``shares`` of the weight per plate (drawn when None); ``lean`` is
        (plate, grams pressed while holding, grams passed for good to the item's plates)."""
        if not plates or any(not 1 <= p <= self.plates for p in (*plates, *touches)):
            raise ValueError(f"plates {plates} or touches {touches} outside 1..{self.plates}")
        if lean is not None and not 1 <= lean[0] <= self.plates:
            raise ValueError(f"lean plate {lean[0]} outside 1..{self.plates}")
        if shares is not None and (len(shares) != len(plates) or abs(sum(shares) - 1.0) > 1e-6):
            raise ValueError(f"shares {shares} must be one per plate and sum to 1")
        r = self.rng
        if shares is None and len(plates) == 1:
            shares = (1.0,)
        elif shares is None:
            raw = r.uniform(0.2, 1.0, len(plates))
            raw[r.integers(len(plates))] += 1.0
            shares = tuple(float(x) for x in raw / raw.sum())
        interaction = Interaction(
            kind=kind,
            touch=at,
            hold_s=max(0.3, hold_s),
            plates=tuple(plates),
            grams=grams,
            product_id=product_id,
            quantity=quantity,
            shares=shares,
            measured_factor=float(r.uniform(0.96, 1.01)) if kind != "lean" else 1.0,
            swing_g=float(r.uniform(15.0, 130.0)),
            swing_hz=float(r.uniform(1.5, 4.0)),
            ring_g=float(r.uniform(8.0, 30.0)),
            ring_hz=float(r.uniform(2.0, 5.0)),
            press_g=float(r.uniform(0.0, 30.0)),
            creep_g=float(r.uniform(1.0, 3.0)),
            phase=float(r.uniform(0, 2 * math.pi)),
            lean_plate=lean[0] if lean else 0,
            lean_g=lean[1] if lean else 0.0,
            nudge_g=lean[2] if lean else 0.0,
            touches=tuple(touches),
        )
        self.interactions.append(interaction)
        return interaction

    # ------------------------------------------------------------------ rendering
    def render(self, t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Grams on every plate at the (increasing) times ``t``: shape (len(t), plates)."""
        n, p = len(t), self.plates
        if self._t0 is None:
            self._t0 = float(t[0]) if n else 0.0
        out = np.empty((n, p))
        out[:] = self._base
        out += np.outer(t - self._t0, self._drift)
        out += 1.5 * np.sin(2 * math.pi * (t - self._t0) / 1800.0)[:, None]  # thermal, common
        out += self._noise(n)
        if n == 0:
            return out
        for it in self.interactions:
            if it.touch <= t[-1]:
                out += self._interaction(it, t)
        # fold interactions long settled into the static base load, so rendering stays O(active)
        horizon = 20.0 * CREEP_TAU_S
        for it in [i for i in self.interactions if i.settled + horizon < t[0]]:
            if it.kind != "lean":
                self._base += self._static(it, np.array([it.settled + horizon]))[0]
            self.interactions.remove(it)
        return out

    def _noise(self, n: int) -> npt.NDArray[np.float64]:
        r = self.rng
        white = r.normal(0.0, 1.0, (n, self.plates)) * self._white
        a = math.exp(-1.0 / (60.0 * 0.3))
        k = math.sqrt(1 - a * a)
        innov = r.normal(0.0, 1.0, (n, self.plates)) * (self._lf * k)
        cm_innov = r.normal(0.0, 0.35 * k, n)
        lf = np.empty((n, self.plates))
        cm = np.empty(n)
        state, cstate = self._lf_state, self._cm_state
        for i in range(n):
            state = a * state + innov[i]
            cstate = a * cstate + cm_innov[i]
            lf[i] = state
            cm[i] = cstate
        self._lf_state, self._cm_state = state, cstate
        return white + lf + cm[:, None]

    def _weights(self, it: Interaction) -> npt.NDArray[np.float64]:
        w = np.zeros(self.plates)
        for plate, share in zip(it.plates, it.shares, strict=True):
            w[plate - 1] += share
        return w

    def _static(self, it: Interaction, t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """The lasting part: the step of the item's weight, plus creep after release."""
        w = self._weights(it)
        step = (t >= it.step_time).astype(float) * it.delta_g
        since = np.clip(t - it.release, 0.0, None)
        creep = -math.copysign(it.creep_g, it.delta_g) * (1 - np.exp(-since / CREEP_TAU_S))
        out = np.outer(step + creep * (t >= it.release), w)
        if it.nudge_g and it.lean_plate:  # load passed across the boundary for good (sum unchanged)
            nearest = min(it.plates, key=lambda p: abs(p - it.lean_plate))
            moved = it.nudge_g * (t >= it.release)
            out[:, it.lean_plate - 1] -= moved
            out[:, nearest - 1] += moved
        return out

    def _interaction(self, it: Interaction, t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        w = self._weights(it)
        spread = w.copy()
        for plate in it.plates:  # the swing reaches the neighbouring plates, weaker
            for nb in (plate - 2, plate):
                if 0 <= nb < self.plates and spread[nb] == 0:
                    spread[nb] = 0.25
        for plate in it.touches:  # a rummaging hand presses on the plates it reaches
            spread[plate - 1] = max(spread[plate - 1], 0.6)
        dt = t - it.touch
        holding = (dt >= 0) & (t < it.release)
        rise = np.clip(dt / 0.15, 0, 1) * np.clip((it.release - t) / 0.15, 0, 1)
        swing = (
            holding
            * rise
            * (
                it.swing_g
                * np.sin(2 * math.pi * it.swing_hz * dt + it.phase)
                * np.exp(-dt / max(it.hold_s, 1.0))
                - it.press_g * (0.6 + 0.4 * np.sin(2 * math.pi * 0.7 * dt))
            )
        )
        if it.kind == "lean":
            lean = holding * rise * it.grams * (1 + 0.1 * np.sin(2 * math.pi * 0.5 * dt))
            return np.outer(swing * 0.3 + lean, w) + np.outer(swing * 0.7, spread - w)
        since = t - it.release
        ring = (
            (since >= 0)
            * it.ring_g
            * np.exp(-np.clip(since, 0, None) / RING_TAU_S)
            * np.sin(2 * math.pi * it.ring_hz * np.clip(since, 0, None) + it.phase)
        )
        out = np.outer(swing + ring, spread) + self._static(it, t)
        if it.lean_g and it.lean_plate:  # the hand leans on the neighbour plate while it holds
            out[:, it.lean_plate - 1] += (
                holding * rise * it.lean_g * (1 + 0.15 * np.sin(2 * math.pi * 0.6 * dt))
            )
        return out
