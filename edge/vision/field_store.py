"""Where field labels are kept: crops files in one directory on the gateway, under a retention limit.

Labelled lane crops (edge/vision/field_labels.py) are gathered in memory and written as a crops file
(edge/vision/crops_file.py) of ``batch`` crops, ``field-<camera>-<unix time>-<n>.npz``, mode 0600, in
a directory of mode 0700. They are never sent anywhere: central IT copies the directory by hand (or
runs ``shelf-models train-picks --from-field DIR`` on the gateway) when it wants to fine-tune.

Writing (2-3 MB per file) happens off the caller's thread: :meth:`FieldLabelStore.add` is called on
the daemon's event loop, so a full batch is handed to a writer (one thread of the store's own, or
the ``executor`` given) and ``add`` returns the write's future. When the camera stage stops it hands
over what is gathered (``flush``) and awaits every write still in flight (``in_flight``), so no crop
is lost; ``flush(wait=True)`` does both for a caller without an event loop. A write that fails is
logged with how many crops it lost.

Retention: after each write, files older than ``retention_days`` go, then the oldest files until the
directory holds at most ``max_mb`` megabytes. A 64x64 crop is 12 KB raw, about 10 KB compressed (a
simulated store's 3,345 crops took 33 MB): the default 200 MB keeps some 20,000 crops.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge.vision.crops_file import CropSet, save_crops
from edge.vision.field_labels import Labelled

log = logging.getLogger(__name__)
DAY_S = 86400.0


@dataclass(slots=True)
class FieldLabelStore:
    directory: Path
    camera: str
    catalogue: list[str]
    max_mb: float = 200.0
    retention_days: float = 30.0
    batch: int = 256
    #: Where files are written (one at a time); None: a writer thread of the store's own.
    executor: Executor | None = None
    #: Crops labelled (kept), written to files, and files deleted by the retention limit.
    labelled: int = 0
    written: int = 0
    removed: int = 0
    _pending: list[Labelled] = field(default_factory=list)
    _count: int = 0
    _seq: int = 0
    _writes: list[Future[Path]] = field(default_factory=list)  # handed to the writer (caller's side)
    _lock: threading.Lock = field(default_factory=threading.Lock)  # one write (and prune) at a time

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.directory.chmod(0o700)
        if self.executor is None:
            self.executor = ThreadPoolExecutor(1, thread_name_prefix=f"field-labels-{self.camera}")

    def add(self, labelled: Labelled) -> Future[Path] | None:
        """Keep ``labelled``; once ``batch`` crops are gathered, hands them to the writer and returns
        the write's future (its file's path)."""
        if labelled.size == 0:
            return None
        self._pending.append(labelled)
        self._count += labelled.size
        self.labelled += labelled.size
        return self.flush() if self._count >= self.batch else None

    def flush(self, wait: bool = False) -> Future[Path] | None:
        """Hand the gathered crops to the writer now (returns the write's future); with ``wait``,
        also wait until every write handed over is done, so no crop is lost."""
        written = None
        if self._pending:
            parts, self._pending, self._count = self._pending, [], 0
            self._seq += 1
            assert self.executor is not None
            written = self.executor.submit(self._write, parts, self._seq)
            self._writes.append(written)
        if wait:
            concurrent.futures.wait(self._writes)
        return written

    def in_flight(self) -> list[Future[Path]]:
        """The writes handed over and not done yet (the camera stage awaits them when it stops)."""
        self._writes = [f for f in self._writes if not f.done()]
        return list(self._writes)

    def _write(self, parts: list[Labelled], seq: int) -> Path:
        """(writer thread) One crops file of ``parts``, then the retention limit."""
        crops = CropSet(
            np.concatenate([p.crops for p in parts]),
            np.concatenate([p.hand for p in parts]),
            np.concatenate([p.product for p in parts]),
        )
        with self._lock:
            now = time.time()
            path = self.directory / f"field-{self.camera}-{int(now)}-{seq}.npz"
            try:
                save_crops(path, crops, self.catalogue, mode=0o600)
            except OSError as exc:
                log.error(
                    "camera %s: field labels not written, %d crops lost: %s",
                    self.camera,
                    len(crops.hand),
                    exc,
                )
                raise
            self.written += len(crops.hand)
            self.prune(now)
        return path

    def prune(self, now: float) -> int:
        """Apply the retention limit; returns how many files were deleted."""
        files = sorted(self.directory.glob("field-*.npz"), key=lambda p: p.stat().st_mtime)
        gone = 0
        total = sum(p.stat().st_size for p in files)
        for p in list(files):
            too_old = p.stat().st_mtime < now - self.retention_days * DAY_S
            if too_old or total > self.max_mb * 1e6:
                total -= p.stat().st_size
                p.unlink(missing_ok=True)
                files.remove(p)
                gone += 1
        if gone:
            log.info("camera %s: field labels over the retention limit: %d files deleted", self.camera, gone)
        self.removed += gone
        return gone
