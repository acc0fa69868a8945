"""The doctor's judgements: thresholds and wording, without any I/O."""

from __future__ import annotations

from edge.ops.doctor_core import (
    CheckResult,
    Status,
    exit_code,
    judge_certificate,
    judge_clock,
    judge_disk,
    judge_shelf,
)

GiB = 2**30


def test_clock_thresholds_and_direction() -> None:
    assert judge_clock(0.4, "ref").status is Status.OK
    assert judge_clock(-10, "ref").status is Status.WARN
    skewed = judge_clock(600, "the backend's Date header")
    assert skewed.status is Status.FAIL
    assert skewed.detail == "clock is 600 s ahead of the backend's Date header"
    assert "behind" in judge_clock(-600, "x").detail


def test_disk_thresholds() -> None:
    assert judge_disk("/d", 50 * GiB, 100 * GiB).status is Status.OK
    assert judge_disk("/d", GiB * 9 // 10, 10 * GiB).status is Status.WARN
    assert judge_disk("/d", 100 * 2**20, 100 * GiB).status is Status.FAIL
    assert judge_disk("/d", 2 * GiB, 100 * GiB).status is Status.FAIL  # under 3 %


def test_certificate_expiry() -> None:
    assert judge_certificate("CA", "x", 400) is None
    warn = judge_certificate("CA", "x", 10)
    assert warn is not None and warn.status is Status.WARN
    expired = judge_certificate("gateway certificate", "gw-1", -2)
    assert expired is not None and expired.status is Status.FAIL and "expired 2 days ago" in expired.detail


def test_shelf_verdicts() -> None:
    status: dict[str, object] = {"connected": True, "firmware": "1.4.2", "crc_errors": 0, "reconnects": 0}
    info: dict[str, object] = {"status": "ok", "firmware": "1.4.3", "serial": "SIM-1"}
    ok = judge_shelf("shelf 1/2", "/dev/ttyUSB0", status, info, True, True, 2)
    assert ok.status is Status.OK and "firmware 1.4.3 (serial SIM-1)" in ok.detail
    from_status = judge_shelf("shelf 1/2", "/dev/ttyUSB0", status, None, True, True, 2)
    assert from_status.status is Status.OK and "firmware 1.4.2" in from_status.detail
    unplugged = {**status, "connected": False, "reconnects": 3}
    closed = judge_shelf("shelf 1/2", "/dev/ttyUSB0", unplugged, None, False, True, 2)
    assert closed.status is Status.FAIL and "serial port /dev/ttyUSB0 closed" in closed.detail
    refused = judge_shelf("shelf 1/2", "/dev/ttyUSB0", status, {"status": "not-connected"}, False, True, 2)
    assert refused.status is Status.FAIL and "closed" in refused.detail
    silent = judge_shelf("shelf 1/2", "/dev/ttyUSB0", status, info, False, True, 2)
    assert silent.status is Status.FAIL and "no samples" in silent.detail
    offline = judge_shelf("shelf 1/2", "/dev/ttyUSB0", None, None, False, False, 2)
    assert offline.detail == "bridge is offline"


def test_exit_code_ignores_warnings() -> None:
    results = [
        CheckResult("a", Status.OK, ""),
        CheckResult("b", Status.WARN, ""),
        CheckResult("c", Status.SKIP, ""),
    ]
    assert exit_code(results) == 0
    assert exit_code([*results, CheckResult("d", Status.FAIL, "")]) == 1


def test_health_report_names_problems_without_shoppers() -> None:
    from edge.ops.health_report import build_report

    state = {
        "gateway": {
            "mqtt_connected": False,
            "sync_backlog": 5000,
            "disk_free_bytes": 50 * GiB,
            "disk_total_bytes": 100 * GiB,
        },
        "shelves": [{"shelf": "1/2", "connected": False, "firmware": None, "crc_errors": 3, "shoppers": 2}],
        "availability": {"bridge/bridge-1": "offline"},
        "counters": {"picks": 4},
        "plates": [],
        "events": [],
        "offers": [],
    }
    report = build_report(state, 1000.0)
    assert report["problems"] == [
        "gateway not connected to the store broker",
        "shelf 1/2: serial link down",
        "bridge/bridge-1 is offline",
        "5000 events waiting to be sent to the backend",
    ]
    assert report["shelves"][0]["shoppers"] == 2  # a count, never an id
    assert "events" not in report and "offers" not in report
