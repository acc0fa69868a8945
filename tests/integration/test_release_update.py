"""Signed model releases end to end: publish -> reference backend -> gateway slots, with attacks."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from edge.offers.holder import ModelHolder
from edge.store.db import open_database
from edge.sync.client import BackendClient
from edge.sync.release_meta import ReleaseSigned, file_entry, load_private_key, sign, write_keypair
from edge.sync.releases import HealthMonitor, HealthPolicy, ReleaseManager
from edge.sync.validate import OnnxModel, write_golden
from models.release import publish
from simulators.backend.server import BackendServer
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

FEED = {"features": np.array([[0.5, -1.0, 2.0, 0.25]], dtype=np.float32)}


def build_release(directory: Path, scale: float) -> Path:
    """A real ONNX model scores = features @ W * scale + b, with golden cases recorded from it."""
    directory.mkdir(parents=True, exist_ok=True)
    w = helper.make_tensor("W", TensorProto.FLOAT, [4, 2], (np.arange(8, dtype=np.float32) * scale).tolist())
    b = helper.make_tensor("b", TensorProto.FLOAT, [2], [0.1, -0.1])
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["features", "W"], ["mm"]),
            helper.make_node("Add", ["mm", "b"], ["scores"]),
        ],
        "offers",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, 4])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [None, 2])],
        [w, b],
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, directory / "offer_model.onnx")
    (directory / "manifest.json").write_text(json.dumps({"scale": scale, "notes": "x" * 200_000}))
    write_golden(directory, "offer_model.onnx", [FEED, {"features": np.ones((3, 4), dtype=np.float32)}])
    return directory


class Decisions(threading.Thread):
    """Decides continuously with whatever model the holder has, like the offer stage does."""

    def __init__(self, holder: ModelHolder, health: HealthMonitor) -> None:
        super().__init__(daemon=True)
        self.holder, self.health = holder, health
        self.ok = 0
        self.failed: list[str] = []
        self.seen: set[float] = set()
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            model = self.holder.current
            if model is None:
                time.sleep(0.001)
                continue
            t0 = time.perf_counter()
            try:
                scores = model.run(FEED)["scores"]
                self.seen.add(round(float(scores[0, 1]), 3))
                self.ok += 1
                self.health.record(True, time.perf_counter() - t0)
            except Exception as exc:
                self.failed.append(repr(exc))
                self.health.record(False, time.perf_counter() - t0)


@pytest.fixture
def rig(tmp_path: Path):
    key_path, pub_path = tmp_path / "keys" / "k.pem", tmp_path / "keys" / "k.pub.pem"
    key = write_keypair(key_path, pub_path)
    with BackendServer(tmp_path / "backend.db") as backend:
        backend.add_token("admin", "admin")
        backend.add_token("gw", "gateway", "store-1")
        admin = BackendClient(backend.url, "-", "admin")
        gw = BackendClient(backend.url, "store-1", "gw")
        health = HealthMonitor()
        holder = ModelHolder(None)
        clock = [time.time()]
        manager = ReleaseManager(
            db=open_database(tmp_path / "edge.db"),
            data_dir=tmp_path / "gw",
            model="offers",
            public_key=key.public_key(),
            holder=holder,
            loader=OnnxModel.load,
            health=health,
            policy=HealthPolicy(window_s=30, max_error_rate=0.01, max_p99_ms=500),
            clock=lambda: clock[0],
        )
        yield backend, admin, gw, manager, holder, health, key_path, clock, tmp_path


def outcomes(backend: BackendServer) -> list[tuple[int, str]]:
    return [(r["version"], r["outcome"]) for r in backend.store.reports("store-1")]


def test_good_release_activates_without_a_failed_decision_and_attacks_are_refused(rig) -> None:
    backend, admin, gw, manager, holder, health, key_path, clock, tmp = rig
    publish(build_release(tmp / "r1", 1.0), "offers", None, key_path, admin, 30)
    assert manager.check(gw) == "activated"
    clock[0] += 31
    assert manager.tick(gw) == "kept"
    decisions = Decisions(holder, health)
    decisions.start()
    try:
        # v2 goes live while decisions flow
        publish(build_release(tmp / "r2", 2.0), "offers", None, key_path, admin, 30)
        n_before = decisions.ok
        assert manager.check(gw) == "activated"
        assert manager.current_version() == 2 and manager.active_dir() == tmp / "gw/models/offers/slot-b"
        wait_until(lambda: decisions.ok >= n_before + 200, 5, what="200 decisions on the new model")
        clock[0] += 31
        assert manager.tick(gw) == "kept"
        v2 = holder.current

        # tampered artifact: v3's file on the backend is replaced after signing
        publish(build_release(tmp / "r3", 3.0), "offers", None, key_path, admin, 30)
        backend.store.put_release_file(
            "offers", 3, "offer_model.onnx", (tmp / "r1/offer_model.onnx").read_bytes()
        )
        assert manager.check(gw) == "refused"
        assert holder.current is v2 and manager.current_version() == 2

        # tampered metadata: the version number edited after signing
        good = json.loads(backend.store.latest_release("offers") or b"")
        good["signed"]["version"] = 4
        assert manager.install(json.dumps(good).encode(), gw) == "refused"

        # rollback: a validly signed old release (v1) offered again
        old = ReleaseSigned(
            model="offers",
            version=1,
            created_at=clock[0],
            expires_at=clock[0] + 999,
            files=[file_entry(tmp / "r1/offer_model.onnx")],
        )
        assert manager.install(sign(old, load_private_key(key_path)), gw) == "refused"

        # expired metadata (freeze attack)
        stale = ReleaseSigned(
            model="offers",
            version=5,
            created_at=clock[0] - 999,
            expires_at=clock[0] - 1,
            files=[file_entry(tmp / "r1/offer_model.onnx")],
        )
        assert manager.install(sign(stale, load_private_key(key_path)), gw) == "refused"

        # a model that fails its golden inputs: signed and uploaded without the publish-time check
        r6 = build_release(tmp / "r6", 6.0)
        golden = json.loads((r6 / "golden.json").read_text())
        golden["cases"][0]["outputs"]["scores"][0][0] += 1.0
        (r6 / "golden.json").write_text(json.dumps(golden))
        files = sorted(p for p in r6.iterdir())
        for p in files:
            admin.upload_release_file("offers", 6, p.name, p.read_bytes())
        signed6 = ReleaseSigned(
            model="offers",
            version=6,
            created_at=clock[0],
            expires_at=clock[0] + 999,
            files=[file_entry(p) for p in files],
        )
        admin.publish_release("offers", 6, sign(signed6, load_private_key(key_path)))
        assert manager.check(gw) == "refused"
        assert holder.current is v2 and manager.current_version() == 2
    finally:
        decisions.stop.set()
        decisions.join(5)
    assert decisions.failed == [] and decisions.ok > 200
    expected = {round(float(OnnxModel.load(tmp / r).run(FEED)["scores"][0, 1]), 3) for r in ("r1", "r2")}
    assert decisions.seen == expected  # decisions ran on v1, then on v2, and on nothing else
    reasons = dict(
        manager.db.execute("SELECT version, detail FROM model_releases WHERE status = 'refused'").fetchall()
    )
    assert reasons[3].startswith("hash") and reasons[4] == "signature" and reasons[5] == "expired"
    assert reasons[6].startswith("golden")
    assert outcomes(backend) == [
        (1, "activated"),
        (1, "kept"),
        (2, "activated"),
        (2, "kept"),
        (3, "refused"),
        (4, "refused"),
        (1, "refused"),
        (5, "refused"),
        (6, "refused"),
    ]


def test_unhealthy_release_is_reverted_and_download_resumes(rig) -> None:
    backend, admin, gw, manager, holder, health, key_path, clock, tmp = rig
    publish(build_release(tmp / "r1", 1.0), "offers", None, key_path, admin, 30)
    assert manager.check(gw) == "activated"
    clock[0] += 31
    manager.tick(gw)
    v1 = holder.current
    publish(build_release(tmp / "r2", 2.0), "offers", None, key_path, admin, 30)
    size = (tmp / "r2/manifest.json").stat().st_size
    backend.download_limit = ("manifest.json", size // 2)  # the first download breaks half way
    assert manager.check(gw) == "failed"
    part = tmp / "gw/models/offers/slot-b/manifest.json.part"
    assert 0 < part.stat().st_size < size
    assert manager.check(gw) == "activated"  # resumed with a Range request
    assert holder.current is not v1
    for _ in range(10):
        health.record(False, 0.001)  # the new model fails in production
    assert manager.tick(gw) == "reverted"
    assert holder.current is v1 and manager.current_version() == 1
    assert manager.check(gw) is None  # a reverted version is not installed again
    assert outcomes(backend)[-2:] == [(2, "activated"), (2, "reverted")]


def test_publish_and_keygen_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from models.cli import main

    assert main(["keygen", "--out", str(tmp_path / "k")]) == 0
    assert main(["keygen", "--out", str(tmp_path / "k")]) == 1  # never overwrites a signing key
    release = build_release(tmp_path / "r", 1.5)
    with BackendServer(tmp_path / "backend.db") as backend:
        backend.add_token("admin", "admin")
        argv = [
            "publish",
            str(release),
            "--key",
            str(tmp_path / "k/release-signing.pem"),
            "--backend",
            backend.url,
            "--token",
            "admin",
        ]
        assert main(argv) == 0
        assert "published offers v1: 3 files" in capsys.readouterr().out
        assert main(argv) == 0  # --version auto: v2
        (release / "golden.json").write_text("{}")
        assert main(argv) == 1
        assert "refused (contract)" in capsys.readouterr().err
        good = build_release(tmp_path / "r2", 2.5)
        assert main(["publish", str(good), *argv[2:-2], "--token", "wrong"]) == 1
        assert "401" in capsys.readouterr().err
        meta = json.loads(backend.store.latest_release("offers") or b"")
        assert meta["signed"]["version"] == 2
