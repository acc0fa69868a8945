"""Bridge pieces without I/O: calibration store (persistence, span rules) and batching of rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shelf_firmware_bridge.calibration import CalibrationError, CalibrationStore
from shelf_firmware_bridge.link import Rows
from shelf_firmware_bridge.service import _Batcher


def test_calibration_survives_a_restart(tmp_path: Path) -> None:
    store = CalibrationStore(tmp_path / "bridge.db")
    with pytest.raises(CalibrationError, match="tare the plate before"):
        store.set_span(1, 1, 3, 5000.0, 1000.0)
    store.set_zero(1, 1, 3, 1000.0)
    cal = store.set_span(1, 1, 3, 1000.0 + 4149.4, 1000.0)
    assert cal.g_per_count == pytest.approx(0.241, rel=1e-4)
    with pytest.raises(CalibrationError, match="moved the reading by only"):
        store.set_span(1, 1, 3, 1003.0, 1000.0)
    store.close()
    again = CalibrationStore(tmp_path / "bridge.db")
    zero, gain = again.arrays(1, 1, (2, 3), nominal_g_per_count=0.25)
    assert zero.tolist() == [0.0, 1000.0]
    assert gain[0] == 0.25 and gain[1] == pytest.approx(0.241, rel=1e-4)
    again.close()


def test_batcher_cuts_fixed_batches_and_flushes_the_rest() -> None:
    batcher = _Batcher(4)
    rows = [Rows(seq, (1, 2), np.arange(3.0) + 3 * seq, np.ones((3, 2)) * seq) for seq in range(3)]
    out = [b for r in rows for b in batcher.add(r)]
    assert [(seq, t.tolist()) for seq, _, t, _ in out] == [
        (0, [0.0, 1.0, 2.0, 3.0]),
        (1, [4.0, 5.0, 6.0, 7.0]),
    ]
    ((seq, plates, t, grams),) = batcher.flush()
    assert seq == 2 and plates == (1, 2) and t.tolist() == [8.0] and grams.shape == (1, 2)
    assert batcher.flush() == []
