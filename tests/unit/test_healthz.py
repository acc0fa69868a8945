"""/healthz's verdict and doctor's reading of it agree: red with the reason and the fix while the
database cannot take writes or the broker is lost, green otherwise."""

from __future__ import annotations

from typing import Any

from edge.ops.doctor_core import Status, judge_daemon
from edge.ops.healthz import healthz

FULL = {
    "ok": False,
    "reason": "disk_full",
    "detail": "database or disk is full",
    "fix": "free space on the data directory's disk",
    "held": 37,
    "dropped": 0,
}


def store(state: dict[str, Any]) -> Any:
    return lambda: {"store": state}


def test_green_only_with_broker_and_database() -> None:
    assert healthz(True, store({"ok": True, "held": 0}))[0] == 200
    assert healthz(True, None) == (200, {"mqtt_connected": True, "status": "ok", "problems": []})
    status, body = healthz(False, store({"ok": True}))
    assert status == 503 and body["problems"] == ["not connected to the MQTT broker"]


def test_database_fault_is_red_with_reason_and_counts() -> None:
    status, body = healthz(True, store(FULL))
    assert status == 503 and body["status"] == "degraded"
    assert body["problems"] == [
        "database disk_full: 37 events held in memory, 0 dropped (database or disk is full)"
    ]
    result = judge_daemon("http://127.0.0.1:8080/healthz", status, body)
    assert result.status is Status.FAIL
    assert "disk_full" in result.detail and "37 events held in memory" in result.detail
    assert result.fix == FULL["fix"]


def test_a_failing_health_provider_is_never_green() -> None:
    def broken() -> dict[str, Any]:
        raise RuntimeError("boom")

    assert healthz(True, broken)[0] == 503


def test_doctor_reading_of_the_daemon() -> None:
    ok = judge_daemon("u", *healthz(True, store({"ok": True})))
    assert ok.status is Status.OK
    lost = judge_daemon("u", *healthz(False, store({"ok": True})))
    assert lost.status is Status.FAIL and "MQTT broker" in lost.detail
    down = judge_daemon("u", None, None, "ConnectionError")
    assert down.status is Status.WARN and "systemctl status smartshelf-edge" in down.fix


def test_health_report_to_the_backend_names_a_database_fault() -> None:
    from edge.ops.health_report import build_report

    gateway = {"mqtt_connected": True, "disk_free_bytes": 2**40, "disk_total_bytes": 2**41, "store": FULL}
    state = {"gateway": gateway, "shelves": [], "counters": {}}
    assert build_report(state, 0.0)["problems"] == [
        "database cannot take writes (disk_full): 37 events held in memory, 0 dropped"
    ]
