"""Model updates: verify signed metadata, download into the inactive slot, validate, switch, watch, revert.

Layout under ``{data_dir}/models/{model}/``::

    slot-a/  slot-b/      the two install slots (one active, one free for the next release)
    active.json           {"version": 7, "slot": "b", "previous": {"version": 6, "slot": "a"}}

``active.json`` is replaced atomically (write + fsync + rename): a power cut leaves either the old or
the new pointer. In memory the switch is ``holder.swap(new_model)``: decisions in flight finish on
the model they started with, the next one uses the new model, none fails.

After activation a health window watches the decisions recorded in :class:`HealthMonitor`
(failure rate, p99 latency). A model that misbehaves is reverted (previous model back in the
holder, pointer back to the previous slot) and never installed again. Every outcome is reported to
the backend (``POST /v1/stores/{store}/releases/report``), retried until it gets through.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import sqlite_utils
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edge.atomic_file import write_atomic
from edge.sync.client import BackendClient, BackendError
from edge.sync.release_meta import ReleaseRejected, ReleaseSigned, Trust, check_file, verify
from edge.sync.validate import validate_slot

log = logging.getLogger("edge.sync.releases")

M = TypeVar("M")


class Holder(Protocol[M]):
    """What the decision path reads the model from (edge.offers.holder.ModelHolder)."""

    @property
    def current(self) -> M | None: ...

    def swap(self, new: M) -> Any: ...


@dataclass(frozen=True, slots=True)
class HealthSnapshot:
    decisions: int
    errors: int
    p99_ms: float

    @property
    def error_rate(self) -> float:
        return self.errors / self.decisions if self.decisions else 0.0


class HealthMonitor:
    """Counts decisions since the last model switch; the daemon calls :meth:`record` for each one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latencies: list[float] = []
        self._errors = 0

    def record(self, ok: bool, latency_s: float) -> None:
        with self._lock:
            self._latencies.append(latency_s)
            if not ok:
                self._errors += 1

    def reset(self) -> None:
        with self._lock:
            self._latencies = []
            self._errors = 0

    def snapshot(self) -> HealthSnapshot:
        with self._lock:
            lat = sorted(self._latencies)
            errors = self._errors
        p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))] * 1000 if lat else 0.0
        return HealthSnapshot(len(lat), errors, p99)


@dataclass(frozen=True, slots=True)
class HealthPolicy:
    window_s: float = 60.0
    max_error_rate: float = 0.01
    max_p99_ms: float = 50.0
    early_errors: int = 5  # revert before the window ends once this many decisions failed (and rate too high)


def progress_printer(label: str) -> Callable[[int, int], None]:
    """A progress bar on a terminal (rich), log lines at each quarter otherwise."""
    if sys.stderr.isatty():
        from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

        bar = Progress(
            "[progress.description]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn()
        )
        task = bar.add_task(label, total=None)
        bar.start()

        def show(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)
            if done >= total:
                bar.stop()

        return show
    marks = [0]

    def log_it(done: int, total: int) -> None:
        quarter = 4 * done // max(total, 1)
        if quarter > marks[0]:
            marks[0] = quarter
            log.info("%s: %d/%d bytes (%d %%)", label, done, total, 25 * quarter)

    return log_it


@dataclass
class _Active:
    version: int
    slot: str
    activated_at: float
    previous_model: Any
    previous: dict[str, Any] | None


@dataclass
class ReleaseManager(Generic[M]):
    """Keeps one model family up to date on one gateway."""

    db: sqlite_utils.Database
    data_dir: Path
    model: str
    public_key: Ed25519PublicKey
    holder: Holder[M]
    loader: Callable[[Path], M]
    health: HealthMonitor
    policy: HealthPolicy = field(default_factory=HealthPolicy)
    clock: Callable[[], float] = time.time
    progress: Callable[[str], Callable[[int, int], None]] = progress_printer
    watching: _Active | None = None
    _reports: list[dict[str, Any]] = field(default_factory=list)
    _refused: set[tuple[int | None, str]] = field(default_factory=set)

    def __post_init__(self) -> None:
        # Reports not yet delivered survive a restart (central IT's fleet page shows every outcome).
        try:
            pending = json.loads(self._reports_path.read_text())
        except FileNotFoundError:
            pending = []
        except (OSError, ValueError) as exc:
            log.error("ignoring unreadable %s: %s", self._reports_path, exc)
            pending = []
        if isinstance(pending, list):
            self._reports = [r for r in pending if isinstance(r, dict)] + self._reports

    @property
    def root(self) -> Path:
        return self.data_dir / "models" / self.model

    @property
    def _reports_path(self) -> Path:
        return self.root / "reports-pending.json"

    def _save_reports(self) -> None:
        if self._reports or self._reports_path.exists():
            write_atomic(self._reports_path, json.dumps(self._reports), 0o600)

    # ------------------------------------------------------------------ state
    def pointer(self) -> dict[str, Any] | None:
        path = self.root / "active.json"
        if not path.exists():
            return None
        data: dict[str, Any] = json.loads(path.read_text())
        return data

    def active_dir(self) -> Path | None:
        """The directory the daemon should load at start (None before the first release)."""
        p = self.pointer()
        return None if p is None else self.root / f"slot-{p['slot']}"

    def current_version(self) -> int:
        p = self.pointer()
        return int(p["version"]) if p else 0

    def _status(self, version: int) -> str | None:
        row = self.db.execute(
            "SELECT status FROM model_releases WHERE model = ? AND version = ?", (self.model, version)
        ).fetchone()
        return None if row is None else str(row[0])

    def _set_status(self, version: int, slot: str, status: str, detail: str = "") -> None:
        self.db.execute(
            "INSERT INTO model_releases (model, version, slot, status, detail, updated_at) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (model, version) DO UPDATE SET slot = excluded.slot, status = excluded.status, "
            "detail = excluded.detail, updated_at = excluded.updated_at",
            (self.model, version, slot, status, detail[:2000], self.clock()),
        )

    # ------------------------------------------------------------------ the cycle
    def check(self, client: BackendClient) -> str | None:
        """Look for a newer release and install it. Returns the outcome ('activated', 'refused', ...) or None."""
        self.tick(client)
        if self.watching is not None:
            return None  # one change at a time: finish the health window first
        raw = client.latest_release(self.model)
        if raw is None:
            return None
        return self.install(raw, client)

    def install(self, raw: bytes, client: BackendClient) -> str | None:
        trust = Trust(self.public_key, self.current_version())
        try:
            signed = verify(raw, trust, self.clock(), self.model)
        except ReleaseRejected as exc:
            seen = (exc.version, exc.reason)
            if exc.version is not None and seen not in self._refused:
                self._refused.add(seen)
                if self._status(exc.version) is None:
                    self._set_status(exc.version, "-", "refused", exc.reason)
                self._report(client, exc.version, "refused", str(exc))
            log.error("%s; keeping version %d", exc, trust.current_version)
            return "refused"
        if signed.version == trust.current_version or self._status(signed.version) in ("refused", "reverted"):
            return None
        slot = "b" if (self.pointer() or {}).get("slot") == "a" else "a"
        try:
            directory = self._download(signed, slot, client)
            validate_slot(directory, self.model, signed.version)
            try:
                new_model = self.loader(directory)
            except Exception as exc:
                raise ReleaseRejected(
                    self.model, signed.version, "load", f"{type(exc).__name__}: {exc}"
                ) from None
        except ReleaseRejected as exc:
            transient = exc.reason == "download"
            self._set_status(
                signed.version, slot, "failed" if transient else "refused", f"{exc.reason}: {exc.detail}"
            )
            if not transient:
                self._report(client, signed.version, "refused", str(exc))
            log.error("%s; keeping version %d", exc, trust.current_version)
            return "failed" if transient else "refused"
        self._activate(signed, slot, new_model)
        self._report(client, signed.version, "activated", f"slot {slot}")
        return "activated"

    def _download(self, signed: ReleaseSigned, slot: str, client: BackendClient) -> Path:
        directory = self.root / f"slot-{slot}"
        marker = directory / ".version"
        if not marker.exists() or marker.read_text() != str(signed.version):
            shutil.rmtree(directory, ignore_errors=True)  # a different release's leftovers
            directory.mkdir(parents=True)
            marker.write_text(str(signed.version))
        for entry in signed.files:
            dest = directory / entry.name
            if not dest.exists():
                try:
                    client.download(
                        self.model,
                        signed.version,
                        entry.name,
                        dest,
                        entry.size,
                        self.progress(f"{self.model} v{signed.version} {entry.name}"),
                    )
                except BackendError as exc:
                    raise ReleaseRejected(self.model, signed.version, "download", str(exc)) from None
            try:
                check_file(self.model, signed.version, entry, dest)
            except ReleaseRejected:
                dest.unlink()  # never keep a file that does not match its signed hash
                raise
        return directory

    def _activate(self, signed: ReleaseSigned, slot: str, new_model: M) -> None:
        previous = self.pointer()
        prev = None if previous is None else {"version": previous["version"], "slot": previous["slot"]}
        pointer = {"version": signed.version, "slot": slot, "previous": prev}
        old_model = self.holder.current
        self.health.reset()
        self.holder.swap(new_model)  # the atomic switch for decisions
        self._write_pointer(pointer)
        self._set_status(signed.version, slot, "active")
        self.watching = _Active(signed.version, slot, self.clock(), old_model, prev)
        log.info(
            "model %s v%d active from slot %s; watching it for %.0f s",
            self.model,
            signed.version,
            slot,
            self.policy.window_s,
        )

    def tick(self, client: BackendClient | None = None) -> str | None:
        """Judge the health window; revert or keep. Call often (cheap). Returns 'kept', 'reverted' or None."""
        if client is not None:
            self._flush_reports(client)
        w = self.watching
        if w is None:
            return None
        snap = self.health.snapshot()
        elapsed = self.clock() - w.activated_at
        too_many_errors = snap.error_rate > self.policy.max_error_rate
        early = too_many_errors and snap.errors >= self.policy.early_errors
        if elapsed < self.policy.window_s and not early:
            return None
        problems = []
        if too_many_errors:
            problems.append(f"{snap.errors}/{snap.decisions} decisions failed")
        if snap.p99_ms > self.policy.max_p99_ms:
            problems.append(f"p99 {snap.p99_ms:.1f} ms > {self.policy.max_p99_ms:g} ms")
        self.watching = None
        if not problems:
            self._set_status(
                w.version, w.slot, "kept", f"{snap.decisions} decisions, p99 {snap.p99_ms:.1f} ms"
            )
            self._report(client, w.version, "kept", f"{snap.decisions} decisions, p99 {snap.p99_ms:.1f} ms")
            return "kept"
        detail = "; ".join(problems)
        if w.previous is None or w.previous_model is None:
            self._set_status(w.version, w.slot, "kept", f"unhealthy ({detail}) but no previous model")
            self._report(
                client, w.version, "kept", f"unhealthy ({detail}) but no previous model to revert to"
            )
            return "kept"
        self.holder.swap(w.previous_model)
        self._write_pointer({"version": w.previous["version"], "slot": w.previous["slot"], "previous": None})
        self._set_status(w.version, w.slot, "reverted", detail)
        self.health.reset()
        log.error("model %s v%d reverted to v%d: %s", self.model, w.version, w.previous["version"], detail)
        self._report(client, w.version, "reverted", detail)
        return "reverted"

    # ------------------------------------------------------------------ helpers
    def _write_pointer(self, pointer: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / "active.json.tmp"
        with tmp.open("w") as fh:
            json.dump(pointer, fh)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(self.root / "active.json")
        fd = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _report(self, client: BackendClient | None, version: int, outcome: str, detail: str) -> None:
        self._reports.append({"version": version, "outcome": outcome, "detail": detail, "at": self.clock()})
        self._save_reports()
        if client is not None:
            self._flush_reports(client)

    def _flush_reports(self, client: BackendClient) -> None:
        while self._reports:
            r = self._reports[0]
            try:
                client.report_release(self.model, r["version"], r["outcome"], r["detail"], r["at"])
            except BackendError as exc:
                log.warning("release report not delivered yet: %s", exc)
                return
            self._reports.pop(0)
            self._save_reports()


@dataclass
class ReleaseManagers:
    """Several model families kept up to date side by side (the offer model, the lane model)."""

    managers: list[ReleaseManager[Any]]

    def check(self, client: BackendClient) -> str | None:
        outcomes = [m.check(client) for m in self.managers]
        return ", ".join(f"{m.model} {o}" for m, o in zip(self.managers, outcomes, strict=True) if o) or None

    def tick(self, client: BackendClient | None = None) -> str | None:
        outcomes = [m.tick(client) for m in self.managers]
        return ", ".join(f"{m.model} {o}" for m, o in zip(self.managers, outcomes, strict=True) if o) or None
