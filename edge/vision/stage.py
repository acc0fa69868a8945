"""The camera stage the daemon runs: frames -> motion gating -> lane model -> LaneInteraction.

    stage = CameraStage(section)                   # edge.config.CameraSection; model from section.model
    await stage.run(on_interaction)                 # until the source ends or stage.stop() is called

``on_interaction(LaneInteraction)`` is called on the event loop that awaits ``run``. Reading and
inference run in a worker thread (``asyncio.to_thread``), one frame at a time, so the loop is never
blocked. ``process(t, frame)`` is the same work synchronously (replay, scorer, benchmark).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from edge.config_camera import CameraSection
from edge.events import LaneInteraction, ShelfId, WeightEvent
from edge.vision.capture import CaptureStats, FrameSource, OpenCvCapture
from edge.vision.field_labels import CropRing, LabelParams, label_event
from edge.vision.field_store import FieldLabelStore
from edge.vision.lanes import Lane, LaneLayout
from edge.vision.model import LaneModel, load_lane_model
from edge.vision.motion import MotionGate
from edge.vision.privacy import SnapshotWriter
from edge.vision.tracker import LaneObservation, LaneTracker, TrackerParams

log = logging.getLogger(__name__)

DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "models" / "picks" / "picks.onnx"


class HealthRecorder(Protocol):
    """edge.sync.releases.HealthMonitor: each model call's outcome, watched after a model switch."""

    def record(self, ok: bool, latency_s: float) -> None: ...


@dataclass(slots=True)
class StageStats:
    frames: int = 0
    lanes_seen: int = 0
    lanes_gated_in: int = 0
    lanes_inferred: int = 0
    interactions: int = 0
    wide_motion: int = 0  # frames whose motion covered half the lanes or more (ignored)


def layout_of(section: CameraSection) -> LaneLayout:
    lanes = tuple(
        Lane(
            name=f"{section.camera_id}/g{ln.gondola}/s{ln.shelf}/p{ln.plate}",
            shelf=ShelfId(ln.gondola, ln.shelf),
            plate=ln.plate,
            polygon=tuple((int(x), int(y)) for x, y in ln.polygon),
        )
        for ln in section.lanes
    )
    return LaneLayout(lanes, section.width, section.height)


class CameraStage:
    """One camera: its capture, motion gate, model and one tracker per lane."""

    def __init__(
        self,
        section: CameraSection,
        model: LaneModel | Path | None = None,
        source: FrameSource | None = None,
        snapshot_dir: Path | None = None,
        params: TrackerParams | None = None,
        time_origin: float | None = None,
    ) -> None:
        self.section = section
        self.camera = section.camera_id
        self.layout = layout_of(section)
        if model is None or isinstance(model, Path):
            model = load_lane_model(model or section.model or DEFAULT_MODEL, max_lanes=len(self.layout.lanes))
        self.model: LaneModel = model
        self.source: FrameSource = source or OpenCvCapture(
            section.camera_id,
            section.source,
            section.width,
            section.height,
            section.fps,
            time_origin=time_origin,
        )
        self.gate = MotionGate(
            self.layout, section.motion_threshold, section.motion_min_fraction, aisle_side=section.aisle_side
        )
        self.params = params or TrackerParams(reach_depth=section.reach_depth)
        self.trackers = [
            LaneTracker(self.camera, lane.shelf, lane.plate, self.params) for lane in self.layout.lanes
        ]
        self.stats = StageStats()
        self.ring: CropRing | None = None
        self.labels: FieldLabelStore | None = None
        if section.field_labels_dir is not None:
            self.enable_field_labels(
                FieldLabelStore(
                    section.field_labels_dir,
                    self.camera,
                    list(self.model.products),
                    section.field_labels_max_mb,
                    section.field_labels_days,
                )
            )
        self._stopped = False
        self.snapshots: SnapshotWriter | None = None
        if section.debug_snapshots:
            directory = section.snapshot_dir or snapshot_dir or Path("var") / "snapshots"
            self.snapshots = SnapshotWriter(self.camera, directory, self.layout)
        products = self.model.products
        self._product_ids: tuple[str | None, ...] = tuple(products) if products else (None,)
        self.health: HealthRecorder | None = None  # set by the lane model's release manager
        log.info(
            "camera %s: %d lanes, %s model %s, %d products; frames are not stored%s",
            self.camera,
            len(self.layout.lanes),
            self.model.kind,
            getattr(self.model, "path", "?"),
            len(products),
            "" if self.snapshots is None else " (except blurred debug snapshots)",
        )

    def use_model(self, model: LaneModel) -> None:
        """Switch to another lane model (a signed release): the next frame runs on it."""
        self._product_ids = tuple(model.products) if model.products else (None,)
        self.model = model

    def enable_field_labels(self, store: FieldLabelStore, keep_s: float = 20.0, every: int = 3) -> None:
        """Keep the last ``keep_s`` seconds of lane crops (every ``every``-th frame) so weight events
        can label them (:meth:`label`) into ``store``."""
        slots = max(8, round(keep_s * self.section.fps / every))
        self.ring = CropRing(self.layout, slots, every)
        self.labels = store

    def label(self, event: WeightEvent) -> int:
        """Label the lane crops around a weight event (field labels); returns how many were kept."""
        if self.ring is None or self.labels is None:
            return 0
        labelled = label_event(
            self.ring, event, self.model.products, LabelParams(reach_depth=self.params.reach_depth)
        )
        self.labels.add(labelled)
        return labelled.size

    @property
    def capture_stats(self) -> CaptureStats:
        return self.source.stats

    def process(self, t: float, frame: np.ndarray) -> list[LaneInteraction]:
        """Gate, score and track one frame taken at ``t``; returns interactions that ended."""
        self.stats.frames += 1
        self.stats.lanes_seen += len(self.trackers)
        busy = {i for i, tr in enumerate(self.trackers) if tr.active}
        moving = self.gate.update(frame, busy)
        if len(moving) >= max(3, (len(self.trackers) + 1) // 2):
            # Half the lanes at once: a shopper passing in front, not hands; only lanes where the
            # motion reached deep into the lane (a hand reaching past the shopper) stay.
            moving = [i for i in moving if self.gate.depth[i] >= self.params.reach_depth]
            self.stats.wide_motion += 1
        self.stats.lanes_gated_in += len(moving)
        moved = set(moving)
        if self.ring is not None:
            self.ring.push(
                t, frame, [self.gate.depth[i] if i in moved else 0.0 for i in range(len(self.trackers))]
            )
        run = sorted(moved | busy)
        if not run:
            return []
        self.stats.lanes_inferred += len(run)
        started = time.perf_counter()
        try:
            scores = self.model.score(frame, self.layout, run)
        except Exception:
            if self.health is not None:
                self.health.record(False, time.perf_counter() - started)
            raise
        if self.health is not None:
            self.health.record(True, time.perf_counter() - started)
        best = scores.product.argmax(axis=1) if scores.product.shape[1] else np.zeros(len(run), np.int64)
        out = []
        for row, lane in enumerate(run):
            hand = scores.hand[row]
            k = int(best[row])
            obs = LaneObservation(
                t=t,
                p_empty=float(hand[1]),
                p_holding=float(hand[2]),
                product_id=self._product_ids[k] if k < len(self._product_ids) else None,
                product_p=float(scores.product[row, k]) if scores.product.shape[1] else 0.0,
                moving=lane in moved,
                depth=self.gate.depth[lane] if lane in moved else 0.0,
            )
            tracker = self.trackers[lane]
            ending = tracker.active and lane not in moved  # only then can this frame end a visit
            done = tracker.observe_changed(obs, self.gate.lane_changed(lane) if ending else None)
            if done is not None:
                out.append(done)
                self.stats.interactions += 1
                if self.snapshots is not None:
                    self.snapshots.write(frame, done)
        return out

    def flush(self) -> list[LaneInteraction]:
        """Close the visits still open (end of a file or of the stage)."""
        return [i for i in (tr.flush() for tr in self.trackers) if i is not None]

    def _step(self) -> list[LaneInteraction] | None:
        item = self.source.read()
        if item is None:
            return None
        t, frame = item
        return self.process(t, frame)

    async def run(self, on_interaction: Callable[[LaneInteraction], None]) -> None:
        """Read and process frames until the source ends or ``stop()``; report each interaction."""
        try:
            while not self._stopped:
                found = await asyncio.to_thread(self._step)
                if found is None:
                    break
                for interaction in found:
                    on_interaction(interaction)
            for interaction in self.flush():
                on_interaction(interaction)
        finally:
            self.source.close()
            if self.labels is not None:  # field labels: every gathered crop is written before the end
                self.labels.flush()
                writes = [asyncio.wrap_future(f) for f in self.labels.in_flight()]
                await asyncio.gather(*writes, return_exceptions=True)  # failures: logged by the store

    def stop(self) -> None:
        """Ask ``run`` to end after the current frame (a blocked read ends within its timeout); the
        field labels gathered so far go to their writer (off the event loop), ``run`` awaits them."""
        self._stopped = True
        self.source.close()
        if self.labels is not None:
            self.labels.flush()
