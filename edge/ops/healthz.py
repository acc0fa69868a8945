"""The daemon's ``/healthz`` verdict: 200 only when it is connected to the broker AND its database takes
writes; otherwise 503 with every problem named and its fix. ``shelf-edge doctor`` reads the same answer
(:func:`edge.ops.doctor_core.judge_daemon`), so the two never disagree.

Body::

    {"status": "ok" | "degraded", "mqtt_connected": true,
     "store": {"ok": false, "reason": "disk_full", "detail": "...", "fix": "...", "held": 37, "dropped": 0, ...},
     "problems": ["database disk_full: 37 events held in memory, 0 dropped (database or disk is full)"]}
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("edge.web")


def healthz(
    mqtt_connected: bool, components: Callable[[], dict[str, Any]] | None
) -> tuple[int, dict[str, Any]]:
    """(HTTP status, body) from the broker connection and the daemon's component health (``store`` ...)."""
    problems: list[str] = []
    if not mqtt_connected:
        problems.append("not connected to the MQTT broker")
    body: dict[str, Any] = {"mqtt_connected": mqtt_connected}
    if components is not None:
        try:
            extra = components()
        except Exception:  # a failing provider is itself a problem, never a 200
            log.exception("healthz: component health failed")
            extra = {}
            problems.append("component health could not be read (see the daemon's log)")
        body.update(extra)
        store = extra.get("store")
        if isinstance(store, dict) and not store.get("ok", True):
            problems.append(
                f"database {store.get('reason')}: {store.get('held', 0)} events held in memory, "
                f"{store.get('dropped', 0)} dropped ({store.get('detail')})"
            )
    body["status"] = "degraded" if problems else "ok"
    body["problems"] = problems
    return (503 if problems else 200), body
