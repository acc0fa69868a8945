"""run_sync, as the daemon runs it: drains the outbox and pulls store data on an asyncio loop."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import requests

from edge.config import parse_config
from edge.store.db import open_database
from edge.store.events_repo import EventStore
from edge.sync.service import run_sync
from simulators.backend.server import BackendServer

pytestmark = pytest.mark.integration


def test_run_sync_delivers_and_pulls(tmp_path: Path) -> None:
    with BackendServer(tmp_path / "backend.db") as backend:
        requests.put(f"{backend.url}/v1/stores/store-9/catalogue", data=json.dumps([{"p": 1}]), timeout=5)
        config = parse_config(
            {
                "gateway": {"store_id": "store-9", "gateway_id": "gw-1", "data_dir": str(tmp_path / "gw")},
                "backend": {
                    "url": backend.url,
                    "push_interval_s": 0.05,
                    "retry_min_s": 0.05,
                    "retry_max_s": 0.2,
                },
            }
        )
        db = open_database(tmp_path / "gw" / "edge.db")
        store = EventStore(db)
        updates: list[str] = []

        async def main() -> None:
            stop = asyncio.Event()
            task = asyncio.create_task(
                run_sync(config, stop, on_update=lambda kind, _p: updates.append(kind))
            )
            for i in range(300):
                store.append("basket", "pick", f"e{i}", float(i), {"i": i})
                if i == 100:
                    await asyncio.sleep(0)
            for _ in range(500):
                if backend.store.event_count("store-9") == 300 and updates:
                    break
                await asyncio.sleep(0.02)
            stop.set()
            await asyncio.wait_for(task, 5)

        asyncio.run(main())
        assert backend.store.event_count("store-9") == 300
        assert updates == ["catalogue"]
        assert (tmp_path / "gw" / "sync" / "catalogue.json").exists()
        assert store.pending_outbox() == 0
