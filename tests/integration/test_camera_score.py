"""The vision scorer on a similar-weight shelf: fused beats weight alone on product accuracy."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.vision.model import load_lane_model
from edge.vision.stage import DEFAULT_MODEL
from simulators.camera.scenario import build_scenario
from simulators.camera.score import score_scenario

pytestmark = pytest.mark.integration


def test_fused_is_ahead_of_weight_alone_on_similar_weights(tmp_path: Path) -> None:
    catalogue = list(load_lane_model(DEFAULT_MODEL).products)
    scenario = build_scenario("similar-weight", catalogue, seed=1, reaches=12)
    scores = {s.system: s for s in score_scenario(scenario, DEFAULT_MODEL, tmp_path)}
    assert set(scores) == {"weight", "camera", "fused"}
    assert scores["fused"].product_accuracy > scores["weight"].product_accuracy
    assert scores["fused"].f1 >= scores["weight"].f1
    assert scores["camera"].f1 > 0.5  # the camera alone finds most interactions
    assert all(s.truth == 11 for s in scores.values())
