"""Per-plate calibration, kept in the bridge's own SQLite file (survives restarts).

``grams = (raw - zero_raw) * g_per_count``. A plate never calibrated uses zero 0 and the
controller's nominal gain from its HELLO frame (readings are then offset, which the sensing core
tolerates: it only trusts changes).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from edge.store.db import open_database
from edge.store.migrations import Migration

BRIDGE_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        10,
        "plate calibration",
        (
            """CREATE TABLE plate_calibration (
                gondola INTEGER NOT NULL,
                shelf INTEGER NOT NULL,
                plate INTEGER NOT NULL,
                zero_raw REAL,
                g_per_count REAL,
                updated_at REAL NOT NULL,
                PRIMARY KEY (gondola, shelf, plate)
            )""",
        ),
    ),
)


@dataclass(frozen=True, slots=True)
class PlateCalibration:
    zero_raw: float | None
    g_per_count: float | None


class CalibrationError(ValueError):
    def __init__(self, gondola: int, shelf: int, plate: int, reason: str) -> None:
        self.gondola, self.shelf, self.plate, self.reason = gondola, shelf, plate, reason
        super().__init__(f"g{gondola}/s{shelf} plate {plate}: {reason}")


class CalibrationStore:
    """Thread-safe access to the calibration table, with an in-memory copy for the hot path."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db = open_database(self.path, BRIDGE_MIGRATIONS)
        self._lock = threading.Lock()
        self._cache: dict[tuple[int, int, int], PlateCalibration] = {}
        for row in self._db.execute(
            "SELECT gondola, shelf, plate, zero_raw, g_per_count FROM plate_calibration"
        ).fetchall():
            self._cache[(row[0], row[1], row[2])] = PlateCalibration(row[3], row[4])
        self.version = 0

    def get(self, gondola: int, shelf: int, plate: int) -> PlateCalibration:
        return self._cache.get((gondola, shelf, plate), PlateCalibration(None, None))

    def _put(self, gondola: int, shelf: int, plate: int, cal: PlateCalibration) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO plate_calibration (gondola, shelf, plate, zero_raw, g_per_count, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (gondola, shelf, plate) DO UPDATE SET "
                "zero_raw = excluded.zero_raw, g_per_count = excluded.g_per_count, updated_at = excluded.updated_at",
                (gondola, shelf, plate, cal.zero_raw, cal.g_per_count, time.time()),
            )
            self._cache[(gondola, shelf, plate)] = cal
            self.version += 1

    def set_zero(self, gondola: int, shelf: int, plate: int, zero_raw: float) -> PlateCalibration:
        cal = PlateCalibration(zero_raw, self.get(gondola, shelf, plate).g_per_count)
        self._put(gondola, shelf, plate, cal)
        return cal

    def set_span(
        self, gondola: int, shelf: int, plate: int, raw_with_known: float, known_g: float
    ) -> PlateCalibration:
        current = self.get(gondola, shelf, plate)
        if current.zero_raw is None:
            raise CalibrationError(gondola, shelf, plate, "tare the plate before calibrating its span")
        counts = raw_with_known - current.zero_raw
        if abs(counts) < 10:
            raise CalibrationError(
                gondola, shelf, plate, f"the known weight moved the reading by only {counts:.1f} counts"
            )
        cal = PlateCalibration(current.zero_raw, known_g / counts)
        self._put(gondola, shelf, plate, cal)
        return cal

    def arrays(
        self, gondola: int, shelf: int, plates: tuple[int, ...], nominal_g_per_count: float
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """(zero_raw, g_per_count) per plate, defaults filled in, for vectorised conversion."""
        zero = np.zeros(len(plates))
        gain = np.full(len(plates), nominal_g_per_count)
        for i, plate in enumerate(plates):
            cal = self.get(gondola, shelf, plate)
            if cal.zero_raw is not None:
                zero[i] = cal.zero_raw
            if cal.g_per_count is not None:
                gain[i] = cal.g_per_count
        return zero, gain

    def close(self) -> None:
        self._db.conn.close()
