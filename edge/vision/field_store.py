"""Where field labels are kept: crops files in one directory on the gateway, under a retention limit.

Labelled lane crops (edge/vision/field_labels.py) are gathered in memory and written as a crops file
(edge/vision/crops_file.py) of ``batch`` crops, ``field-<camera>-<unix time>-<n>.npz``, mode 0600, in
a directory of mode 0700. They are never sent anywhere: central IT copies the directory by hand (or
runs ``shelf-models train-picks --from-field DIR`` on the gateway) when it wants to fine-tune.

Retention: after each write, files older than ``retention_days`` go, then the oldest files until the
directory holds at most ``max_mb`` megabytes. A 64x64 crop is 12 KB raw, about 10 KB compressed (a
simulated store's 3,345 crops took 33 MB): the default 200 MB keeps some 20,000 crops.
"""

from __future__ import annotations

import logging
import time
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
    #: Crops labelled (kept), written to files, and files deleted by the retention limit.
    labelled: int = 0
    written: int = 0
    removed: int = 0
    _pending: list[Labelled] = field(default_factory=list)
    _count: int = 0
    _seq: int = 0

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.directory.chmod(0o700)

    def add(self, labelled: Labelled) -> Path | None:
        """Keep ``labelled``; writes a file (and returns its path) once ``batch`` crops are gathered."""
        if labelled.size == 0:
            return None
        self._pending.append(labelled)
        self._count += labelled.size
        self.labelled += labelled.size
        return self.flush() if self._count >= self.batch else None

    def flush(self) -> Path | None:
        """Write the gathered crops now (e.g. when the daemon stops)."""
        if not self._pending:
            return None
        crops = CropSet(
            np.concatenate([p.crops for p in self._pending]),
            np.concatenate([p.hand for p in self._pending]),
            np.concatenate([p.product for p in self._pending]),
        )
        self._pending, self._count = [], 0
        now = time.time()
        self._seq += 1
        path = self.directory / f"field-{self.camera}-{int(now)}-{self._seq}.npz"
        save_crops(path, crops, self.catalogue, mode=0o600)
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
