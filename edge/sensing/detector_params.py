"""The pick detector's constants (``[sensing]`` in the gateway's config; meanings in edge/sensing/README.md)."""

from __future__ import annotations

from dataclasses import dataclass, field

from edge.sensing.identify import IdentifyParams


@dataclass(frozen=True, slots=True)
class DetectorParams:
    short_n: int = 3  # samples averaged for the activity test
    active_floor_g: float = 3.0  # ~5x the median plate noise (0.63 g)
    active_k: float = 4.0
    settle_window_s: float = 0.8
    settle_floor_g: float = 1.5  # between the 5 g (1 s) and 1 g (2 s) figures
    settle_k: float = 2.5
    min_transition_s: float = 0.06  # a jump within the 3-sample activity test and no ringing: a tare
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
    relearn_after_s: float = 30.0  # longer than a long hold: the noise estimate may be too low
    # Samples this far behind the last one are a clock step (a controller's clock set back, or one
    # batch stamped in the future) once they have kept coming, in order, for the confirmation time;
    # a late duplicate (redelivery after a reconnect) is dropped and never restarts the timeline.
    clock_step_s: float = 60.0
    clock_step_confirm_s: float = 1.0
    join_reach: int = 1
    # in-order batches are gathered for this much sample time and processed at once: the numpy work
    # costs about the same for 6 rows as for 15, so it is shared; events are decided up to this later
    process_every_s: float = 0.3
    identify: IdentifyParams = field(default_factory=IdentifyParams)
