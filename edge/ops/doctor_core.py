"""Doctor results and the pure judgements behind them (no I/O, no clock: values come in).

Each check yields one :class:`CheckResult`: a status, what was found and, when not OK, the fix a
technician should apply. The thresholds live here so tests and the health report share them.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

#: Clock skew (seconds) above which presence tokens and TLS start to fail.
CLOCK_FAIL_S = 30.0
CLOCK_WARN_S = 5.0
#: Free disk space thresholds for the data directory.
DISK_FAIL_BYTES = 200 * 1024 * 1024
DISK_WARN_BYTES = 1024 * 1024 * 1024
DISK_FAIL_RATIO = 0.03
#: Certificates expiring within this many days are flagged.
CERT_WARN_DAYS = 30.0


class Status(enum.Enum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One line of the doctor's report."""

    name: str
    status: Status
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status.value, "detail": self.detail, "fix": self.fix}


def exit_code(results: Sequence[CheckResult]) -> int:
    """0 when nothing failed (warnings allowed), 1 otherwise."""
    return 1 if any(r.status is Status.FAIL for r in results) else 0


def judge_clock(skew_s: float, reference: str) -> CheckResult:
    """``skew_s`` = local clock minus the reference (positive: we are ahead)."""
    ahead = "ahead of" if skew_s > 0 else "behind"
    detail = f"{abs(skew_s):.0f} s {ahead} {reference}"
    fix = (
        "enable time sync: `sudo timedatectl set-ntp true`, check `timedatectl timesync-status` "
        "(presence tokens and TLS certificates need the right time)"
    )
    if abs(skew_s) > CLOCK_FAIL_S:
        return CheckResult("clock", Status.FAIL, f"clock is {detail}", fix)
    if abs(skew_s) > CLOCK_WARN_S:
        return CheckResult("clock", Status.WARN, f"clock is {detail}", fix)
    return CheckResult("clock", Status.OK, f"synchronised ({detail})")


def judge_disk(path: str, free: int, total: int) -> CheckResult:
    ratio = free / total if total else 0.0
    detail = f"{path}: {free / 2**30:.1f} GiB free of {total / 2**30:.1f} GiB ({ratio:.0%})"
    fix = "free space: `sudo journalctl --vacuum-size=100M`, remove old files in the data directory"
    if free < DISK_FAIL_BYTES or ratio < DISK_FAIL_RATIO:
        return CheckResult("disk", Status.FAIL, detail, fix)
    if free < DISK_WARN_BYTES:
        return CheckResult("disk", Status.WARN, detail, fix)
    return CheckResult("disk", Status.OK, detail)


def judge_certificate(what: str, common_name: str, days_left: float) -> CheckResult | None:
    """A result only when the certificate needs attention."""
    fix = "renew: `sudo shelf-edge install --renew-certs` (then copy display certificates again)"
    if days_left < 0:
        return CheckResult(
            "certificates", Status.FAIL, f"{what} ({common_name}) expired {-days_left:.0f} days ago", fix
        )
    if days_left < CERT_WARN_DAYS:
        return CheckResult(
            "certificates", Status.WARN, f"{what} ({common_name}) expires in {days_left:.0f} days", fix
        )
    return None


def judge_shelf(
    name: str,
    port: str,
    status: dict[str, object] | None,
    info: dict[str, object] | None,
    samples_seen: bool,
    bridge_online: bool | None,
    window_s: float,
) -> CheckResult:
    """A configured shelf: the bridge's answer to ``info``, its retained status and live samples."""
    fix_link = (
        f"check the shelf controller's cable and power on {port}; "
        "`journalctl -u smartshelf-bridge -n 50` shows the bridge's view"
    )
    if bridge_online is False and info is None:
        return CheckResult(
            name,
            Status.FAIL,
            "bridge is offline",
            "`sudo systemctl restart smartshelf-bridge`; see its journal",
        )
    reconnects = (status or {}).get("reconnects", 0)
    if info is not None:
        answer = info.get("status")
        if answer == "not-connected" or (
            answer != "ok" and status is not None and not status.get("connected")
        ):
            return CheckResult(
                name,
                Status.FAIL,
                f"not answering: serial port {port} closed (bridge reconnects: {reconnects})",
                fix_link,
            )
        if answer != "ok":
            return CheckResult(
                name,
                Status.FAIL,
                f"controller did not answer 'info': {answer} {info.get('detail', '')}".rstrip(),
                fix_link,
            )
    elif status is None:
        return CheckResult(
            name,
            Status.FAIL,
            "no answer and no status from the bridge (is this shelf in the bridge's config?)",
            fix_link,
        )
    elif not status.get("connected"):
        return CheckResult(
            name,
            Status.FAIL,
            f"not answering: serial port {port} closed (bridge reconnects: {reconnects})",
            fix_link,
        )
    if not samples_seen:
        return CheckResult(name, Status.FAIL, f"answers but sent no samples within {window_s:g} s", fix_link)
    firmware = (info or {}).get("firmware") or (status or {}).get("firmware") or "unknown"
    serial = (info or {}).get("serial")
    detail = f"answering, firmware {firmware}" + (f" (serial {serial})" if serial else "") + f" on {port}"
    crc = (status or {}).get("crc_errors", 0)
    if isinstance(crc, int) and crc > 0:
        detail += f", {crc} CRC errors since start"
    return CheckResult(name, Status.OK, detail)


def judge_daemon(where: str, status: int | None, body: object, error: str | None = None) -> CheckResult:
    """The running daemon's own verdict (its ``/healthz`` answer at ``where``); red when its database
    cannot take writes (disk full, file deleted) or it lost the broker."""
    if error is not None:
        return CheckResult(
            "daemon",
            Status.WARN,
            f"no answer from {where} ({error})",
            "is it running? `systemctl status smartshelf-edge`; `journalctl -u smartshelf-edge -n 50`",
        )
    if not isinstance(body, dict):
        return CheckResult("daemon", Status.FAIL, f"{where} answered HTTP {status} without a health report")
    store = body.get("store")
    if isinstance(store, dict) and not store.get("ok", True):
        detail = (
            f"database cannot take writes ({store.get('reason')}: {store.get('detail')}); "
            f"{store.get('held', 0)} events held in memory, {store.get('dropped', 0)} dropped"
        )
        return CheckResult("daemon", Status.FAIL, detail, str(store.get("fix") or ""))
    problems = body.get("problems") or []
    if status != 200 or problems:
        text = "; ".join(str(p) for p in problems) or f"HTTP {status}"
        return CheckResult(
            "daemon", Status.FAIL, text, "`journalctl -u smartshelf-edge -n 50` shows what the daemon saw"
        )
    return CheckResult("daemon", Status.OK, "running, connected to the broker, database takes writes")
