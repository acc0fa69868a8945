"""``shelf-edge replay WEIGHTS.csv --planogram PLANOGRAM.csv``: detect weight events in a recorded log.

WEIGHTS.csv uses the public AiFi layout, header ``timestamp,reading,gondola,shelf,plate`` (unix
seconds, grams), one reading per row, rows in any order. Readings of one shelf are put on a common
time grid: rows of the same shelf taken within half a sample period of each other form one sample,
and a plate that did not report in a sample keeps its last value. Each shelf then runs through the
same :class:`~edge.sensing.detector.ShelfDetector` as the daemon, and every event is printed as one
JSON line (sorted by ``t_end``).
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import numpy as np
import numpy.typing as npt

from edge.events import SampleBatch, ShelfId, WeightEvent
from edge.sensing.detector import ShelfDetector
from edge.sensing.planogram import Planogram, PlanogramError

HEADER = ("timestamp", "reading", "gondola", "shelf", "plate")
BATCH = 60


class WeightsFileError(ValueError):
    """A weights file that cannot be replayed; ``line`` is the 1-based file line (0: the whole file)."""

    def __init__(self, path: str, reason: str, line: int = 0) -> None:
        self.path, self.reason, self.line = path, reason, line
        super().__init__(f"{path}:{line}: {reason}" if line else f"{path}: {reason}")


def _first_bad_line(path: Path) -> WeightsFileError:
    """Find the line numpy refused, reading the file again as text (only after a failure)."""
    with path.open("r", encoding="utf-8-sig") as fh:
        for number, text in enumerate(fh, start=1):
            if number == 1 or not text.strip() or text.lstrip().startswith("#"):
                continue
            fields = [f.strip() for f in text.rstrip("\r\n").split(",")]
            if len(fields) != len(HEADER):
                return WeightsFileError(
                    str(path),
                    f"expected {len(HEADER)} values ({','.join(HEADER)}), got {len(fields)}",
                    number,
                )
            for name, value in zip(HEADER, fields, strict=True):
                try:
                    float(value)
                except ValueError:
                    return WeightsFileError(str(path), f"{name} {value!r} is not a number", number)
    return WeightsFileError(str(path), "unreadable rows")


def read_weights(path: str | Path) -> npt.NDArray[np.float64]:
    """The rows of a weights CSV as an (n, 5) float array in header order; at least one row."""
    path = Path(path)
    try:
        with path.open("r", encoding="utf-8-sig") as fh:
            header = tuple(h.strip() for h in fh.readline().split(","))
            if header != HEADER:
                raise WeightsFileError(
                    str(path), f"header must be {','.join(HEADER)}, got {','.join(header)}", 1
                )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "input contained no data": checked below
                data = np.loadtxt(fh, delimiter=",", dtype=np.float64, ndmin=2)
    except OSError as exc:
        raise WeightsFileError(str(path), f"cannot read: {exc.strerror}") from None
    except WeightsFileError:
        raise
    except ValueError:
        raise _first_bad_line(path) from None
    if data.size == 0:
        raise WeightsFileError(str(path), "no readings after the header line")
    if data.shape[1] != len(HEADER):
        raise _first_bad_line(path)
    return data


def shelf_samples(
    rows: npt.NDArray[np.float64],
) -> Iterator[tuple[ShelfId, tuple[int, ...], npt.NDArray[np.float64], npt.NDArray[np.float64]]]:
    """Per shelf: (shelf, plates, t[n], grams[n, plates]) on a common time grid."""
    if len(rows) == 0:
        return
    keys = rows[:, 2].astype(np.int64) * 1_000_000 + rows[:, 3].astype(np.int64)
    order = np.lexsort((rows[:, 0], keys))
    rows, keys = rows[order], keys[order]
    bounds = np.flatnonzero(np.diff(keys)) + 1
    for part in np.split(rows, bounds):
        shelf = ShelfId(int(part[0, 2]), int(part[0, 3]))
        plate_ids, col = np.unique(part[:, 4].astype(np.int64), return_inverse=True)
        t = part[:, 0]
        # sample period from one plate's own cadence; rows closer than half of it are one sample
        first = t[col == 0]
        period = float(np.median(np.diff(first))) if len(first) > 1 else 1.0 / 60.0
        new_sample = np.concatenate([[True], np.diff(t) > period / 2])
        sample = np.cumsum(new_sample) - 1
        n = int(sample[-1]) + 1
        grid = np.full((n, len(plate_ids)), np.nan)
        grid[sample, col] = part[:, 1]
        times = t[new_sample]
        # forward-fill plates that did not report in a sample; drop the start before all reported
        idx = np.where(np.isnan(grid), 0, np.arange(n)[:, None])
        np.maximum.accumulate(idx, axis=0, out=idx)
        filled = grid[idx, np.arange(len(plate_ids))]
        complete = ~np.isnan(filled).any(axis=1)
        yield shelf, tuple(int(p) for p in plate_ids), times[complete], filled[complete]


def detect(rows: npt.NDArray[np.float64], planogram: Planogram) -> list[WeightEvent]:
    events: list[WeightEvent] = []
    for shelf, plates, t, grams in shelf_samples(rows):
        detector = ShelfDetector(shelf, planogram)
        for k in range(0, len(t), BATCH):
            batch = SampleBatch(
                shelf,
                plates,
                tuple(t[k : k + BATCH].tolist()),
                tuple(map(tuple, grams[k : k + BATCH].tolist())),
            )
            events.extend(detector.feed(batch))
        events.extend(detector.finish())
    events.sort(key=lambda e: (e.t_end, e.shelf, e.plates))
    return events


def event_json(e: WeightEvent) -> str:
    return json.dumps(
        {
            "t_start": round(e.t_start, 3),
            "t_end": round(e.t_end, 3),
            "gondola": e.shelf.gondola,
            "shelf": e.shelf.shelf,
            "plates": list(e.plates),
            "delta_g": e.delta_g,
            "kind": e.kind,
            "product_id": e.product_id,
            "quantity": e.quantity,
            "confidence": e.confidence,
        }
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("weights", type=Path, help="WEIGHTS.csv: timestamp,reading,gondola,shelf,plate")
    parser.add_argument(
        "--planogram",
        type=Path,
        required=True,
        help="PLANOGRAM.csv: product_id,name,gondola,shelf,plate,unit_weight_g,price",
    )


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        planogram = Planogram.load_csv(args.planogram)
        rows = read_weights(args.weights)
    except (PlanogramError, WeightsFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)  # each names its file (and line) once
        return 2
    for event in detect(rows, planogram):
        out.write(event_json(event) + "\n")
    return 0
