"""The simulator's faults in front of the real service, as the gateway's client meets them."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.sync.client import BackendClient, BackendProtocolError, BackendUnavailable
from simulators.backend.server import BackendServer

pytestmark = pytest.mark.integration

EVENT = {"idempotency_key": "k1", "stream": "basket", "kind": "pick", "t": 1.0, "payload": {}}


def test_garbage_slow_and_lost_answers(tmp_path: Path) -> None:
    with BackendServer(tmp_path / "backend.db") as backend:
        backend.add_token("gw", "gateway", "store-1")
        client = BackendClient(backend.url, "store-1", "gw", timeout_s=0.5)
        backend.faults.garbage = 1
        with pytest.raises(BackendProtocolError, match="not JSON"):
            client.push_events("b1", [EVENT])
        backend.faults.slow_s = 1.0
        with pytest.raises(BackendUnavailable, match="no answer within"):
            client.push_events("b1", [EVENT])
        backend.faults.slow_s = 0.0
        backend.fault_after_commit = 1
        with pytest.raises(BackendUnavailable, match="HTTP 503"):
            client.push_events("b1", [{**EVENT, "idempotency_key": "k2"}])
        result = client.push_events("b1", [EVENT, {**EVENT, "idempotency_key": "k2"}])
        # the lost answer's batch was stored; the slow one was dropped (the client left before it was read)
        assert result.accepted == ("k1",) and result.duplicates == ("k2",)
        assert backend.store.event_count("store-1") == 2
