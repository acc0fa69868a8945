"""The lane model as a signed release: published like the offer model, swapped into the cameras,
and a tampered one refused with one clear error while the cameras keep the model they run."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from edge.store.db import open_database
from edge.sync.client import BackendClient
from edge.sync.release_meta import write_keypair
from edge.sync.releases import HealthMonitor, HealthPolicy, ReleaseManager
from edge.vision.capture import OpenCvCapture
from edge.vision.lanes import CROP_SIZE
from edge.vision.model import LaneModel
from edge.vision.release import MODEL_FAMILY, MODEL_FILE, LaneModelHolder, load_release
from edge.vision.stage import DEFAULT_MODEL, CameraStage
from models.picks.train_cli import write_lane_golden
from models.release import publish
from simulators.backend.server import BackendServer
from simulators.camera.scenario import build_scenario
from simulators.camera.score import camera_section

pytestmark = pytest.mark.integration


def lane_release(directory: Path) -> Path:
    """A release directory of the bundled lane model with its golden case."""
    directory.mkdir(parents=True)
    shutil.copy(DEFAULT_MODEL, directory / MODEL_FILE)
    shutil.copy(DEFAULT_MODEL.parent / "manifest.json", directory / "manifest.json")
    crop = np.random.default_rng(3).integers(0, 256, (CROP_SIZE, CROP_SIZE, 3), dtype=np.uint8)
    write_lane_golden(directory, crop)
    return directory


def test_a_lane_model_release_reaches_the_cameras_and_a_tampered_one_is_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key_path, pub_path = tmp_path / "k.pem", tmp_path / "k.pub.pem"
    key = write_keypair(key_path, pub_path)
    scenario = build_scenario("basic", ["85123A", "22423", "47566", "20725", "21212", "22469"], seed=1)
    section = camera_section(scenario, str(tmp_path / "not-read.avi"))
    stage = CameraStage(section, DEFAULT_MODEL, source=OpenCvCapture("cam-1", str(tmp_path / "x.avi")))
    bundled = stage.model
    health = HealthMonitor()
    stage.health = health
    with BackendServer(tmp_path / "backend.db") as backend:
        backend.add_token("admin", "admin")
        backend.add_token("gw", "gateway", "store-1")
        admin = BackendClient(backend.url, "-", "admin")
        gw = BackendClient(backend.url, "store-1", "gw")
        manager = ReleaseManager[LaneModel](
            db=open_database(tmp_path / "edge.db"),
            data_dir=tmp_path / "gw",
            model=MODEL_FAMILY,
            public_key=key.public_key(),
            holder=LaneModelHolder([stage]),
            loader=load_release,
            health=health,
            policy=HealthPolicy(window_s=0.0),
        )
        publish(lane_release(tmp_path / "r1"), MODEL_FAMILY, None, key_path, admin, 30)
        assert manager.check(gw) == "activated"
        v1 = stage.model
        assert v1 is not bundled and v1.products == bundled.products
        assert getattr(v1, "path", None) == tmp_path / "gw/models/picks/slot-a/picks.onnx"
        assert manager.tick(gw) == "kept"

        publish(lane_release(tmp_path / "r2"), MODEL_FAMILY, None, key_path, admin, 30)
        tampered = bytearray((tmp_path / "r2" / MODEL_FILE).read_bytes())
        tampered[-100] ^= 0xFF  # one weight changed after signing
        backend.store.put_release_file(MODEL_FAMILY, 2, MODEL_FILE, bytes(tampered))
        with caplog.at_level(logging.ERROR, logger="edge.sync.releases"):
            assert manager.check(gw) == "refused"
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1, errors
        assert errors[0].startswith(f"release picks v2 refused (hash): {MODEL_FILE}: sha256 ")
        assert errors[0].endswith("differs; keeping version 1")
        assert stage.model is v1 and manager.current_version() == 1
        assert not (tmp_path / "gw/models/picks/slot-b" / MODEL_FILE).exists()  # never kept
