"""Every configured camera plus the weight join, ready for the daemon to wire in a few lines.

    vision = VisionService(config.cameras)                  # builds one CameraStage per camera
    task = asyncio.create_task(vision.run(on_interaction))   # optional callback per LaneInteraction
    ...
    event, also = vision.refine(weight_event, planogram)     # in the weight handler, before fusion
    basket = fusion.on_weight(event, shoppers, also=also)
    ...
    vision.stop(); await task

``refine`` joins the weight event with the camera interactions of its shelf seen so far
(edge.fusion.vision) and returns the decided event and ``("vision",)`` when a camera contributed.
With no camera configured it returns the event unchanged, so the daemon can call it always.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from edge.config_camera import CameraSection
from edge.events import LaneInteraction, WeightEvent
from edge.fusion.vision import VisionFusionParams, VisionJoin, candidates_near
from edge.sensing.planogram import Planogram
from edge.vision.stage import CameraStage

log = logging.getLogger(__name__)


class VisionService:
    def __init__(
        self,
        cameras: Sequence[CameraSection],
        params: VisionFusionParams | None = None,
        stages: Sequence[CameraStage] | None = None,
        model: Path | None = None,
    ) -> None:
        """``model``: a lane model for every camera instead of each one's configured model (the
        active signed release of the lane model, edge/vision/release.py)."""
        self.stages = (
            list(stages) if stages is not None else [CameraStage(section, model) for section in cameras]
        )
        self.join = VisionJoin(params or VisionFusionParams())
        self.interactions = 0
        self._callback: Callable[[LaneInteraction], None] | None = None

    def _on_interaction(self, interaction: LaneInteraction) -> None:
        self.interactions += 1
        self.join.add(interaction)
        log.info(
            "camera %s: %s at %s plate %d -> %s (confidence %.2f)",
            interaction.camera,
            interaction.kind,
            interaction.shelf,
            interaction.plate,
            interaction.product_id,
            interaction.confidence,
        )
        if self._callback is not None:
            self._callback(interaction)

    async def run(self, on_interaction: Callable[[LaneInteraction], None] | None = None) -> None:
        """Run every camera stage until ``stop()``; a failing camera is logged, the others go on."""
        self._callback = on_interaction
        results = await asyncio.gather(
            *(s.run(self._on_interaction) for s in self.stages), return_exceptions=True
        )
        for stage, result in zip(self.stages, results, strict=True):
            if isinstance(result, BaseException):
                log.error("camera %s stopped: %s", stage.camera, result)

    def refine(self, event: WeightEvent, planogram: Planogram) -> tuple[WeightEvent, tuple[str, ...]]:
        """The weight event decided with the cameras, and the extra source to credit ("vision")."""
        if not self.stages:
            return event, ()
        decided, used = self.join.refine(event, candidates_near(planogram, event.shelf, event.plates))
        for stage in self.stages:  # field labels: the event labels the lane crops around it
            stage.label(decided)
        return decided, (("vision",) if used else ())

    def expired(self, now: float) -> list[LaneInteraction]:
        """Camera picks/returns no weight event claimed (e.g. a shelf whose load cells are down)."""
        return self.join.expired(now)

    def stop(self) -> None:
        for stage in self.stages:
            stage.stop()
