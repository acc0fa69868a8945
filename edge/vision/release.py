"""The lane model as a signed release, like the offer model (edge/sync/releases.py does the work).

Central IT trains (``shelf-models train-picks``, also ``--from-field``), which writes ``picks.onnx``,
``manifest.json`` and ``golden.json`` (one lane crop and the model's answers to it), then publishes
the directory with ``shelf-models publish DIR --model picks``. The gateway's release manager for the
model family ``picks`` verifies the signed metadata, each file's size and SHA-256, the golden case,
and that the model follows a lane-model contract (:func:`load_release`); anything wrong refuses the
release with one error naming the reason (e.g. ``release picks v3 refused (hash): picks.onnx: sha256
... differs``) and the cameras keep the model they run. A good release goes to every camera at the
next frame (:class:`LaneModelHolder`); its inference calls are the health window's decisions.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from edge.vision.model import LaneModel, load_lane_model
from edge.vision.stage import CameraStage

MODEL_FAMILY = "picks"
MODEL_FILE = "picks.onnx"


def load_release(directory: Path) -> LaneModel:
    """The lane model of a release directory, checked against the lane-model contracts."""
    return load_lane_model(directory / MODEL_FILE)


class LaneModelHolder:
    """What the release manager swaps: the model every camera stage runs."""

    def __init__(self, stages: Sequence[CameraStage]) -> None:
        self.stages = list(stages)

    @property
    def current(self) -> LaneModel | None:
        return self.stages[0].model if self.stages else None

    def swap(self, new: LaneModel) -> LaneModel | None:
        old = self.current
        for stage in self.stages:
            stage.use_model(new)
        return old
