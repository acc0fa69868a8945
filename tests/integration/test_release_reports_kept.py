"""A release outcome the gateway could not deliver survives a gateway restart and reaches the service."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from edge.offers.holder import ModelHolder
from edge.store.db import open_database
from edge.sync.client import BackendClient
from edge.sync.release_meta import load_public_key, write_keypair
from edge.sync.releases import HealthMonitor, ReleaseManager
from edge.sync.validate import OnnxModel
from simulators.backend.server import BackendServer

pytestmark = pytest.mark.integration


def manager(tmp_path: Path, pub: Path) -> ReleaseManager[OnnxModel]:
    return ReleaseManager(
        db=open_database(tmp_path / "edge.db"),
        data_dir=tmp_path / "gw",
        model="offers",
        public_key=load_public_key(pub),
        holder=ModelHolder(None),
        loader=OnnxModel.load,
        health=HealthMonitor(),
    )


def test_undelivered_outcome_survives_a_restart(tmp_path: Path) -> None:
    pub = tmp_path / "k.pub.pem"
    write_keypair(tmp_path / "k.pem", pub)
    with BackendServer(tmp_path / "backend.db") as backend:
        backend.add_token("gw", "gateway", "store-1")
        client = BackendClient(backend.url, "store-1", "gw", timeout_s=2)
        backend.stop()  # the service is down when the gateway refuses a tampered release
        now = time.time()
        signed = {
            "model": "offers",
            "version": 3,
            "created_at": now,
            "expires_at": now + 3600,
            "files": [{"name": "m.onnx", "sha256": "0" * 64, "size": 1}],
        }
        unsigned = {"signed": signed, "signatures": [{"keyid": "0" * 16, "sig": "AAAA"}]}
        assert manager(tmp_path, pub).install(json.dumps(unsigned).encode(), client) == "refused"
        assert backend.store.reports("store-1") == []

        restarted = manager(tmp_path, pub)  # the gateway restarts before the service is back
        backend.start()
        restarted.tick(client)
        assert [(r["version"], r["outcome"]) for r in backend.store.reports("store-1")] == [(3, "refused")]
        manager(tmp_path, pub).tick(client)  # delivered once: nothing left to resend
        assert len(backend.store.reports("store-1")) == 1
