"""``shelf-edge replay``: AiFi-layout weight logs to JSON lines of events."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import numpy as np
import pytest

from edge.cli import main as shelf_edge
from edge.sensing.replay import WeightsFileError, read_weights, run
from simulators.shelves.physics import ShelfPhysics

T0 = 1_580_000_000.0
PLANOGRAM = """product_id,name,gondola,shelf,plate,unit_weight_g,price
tea,Tea,2,1,3,105.5,2.5
jam,Jam,2,2,5,340,2.2
jam,Jam,2,2,6,340,2.2
"""


def write_log(path: Path) -> None:
    """Two shelves of 6 plates; each plate reports at its own slightly shifted instant, rows shuffled."""
    rng = np.random.default_rng(3)
    rows = []
    for shelf, schedule in ((1, ("pick", 5.0, (3,), 105.5)), (2, ("return", 9.0, (5, 6), 340.0))):
        ph = ShelfPhysics(plates=6, seed=shelf)
        kind, at, plates, grams = schedule
        ph.schedule(kind, T0 + at, plates, grams, 1.2)  # type: ignore[arg-type]
        t = T0 + np.arange(20 * 60) / 60.0
        x = np.vstack([ph.render(t[k : k + 60]) for k in range(0, len(t), 60)])
        for p in range(6):
            jitter = t + p * 0.0007
            rows.append(
                np.column_stack(
                    [
                        jitter,
                        np.round(x[:, p] / 0.241) * 0.241,
                        np.full(len(t), 2),
                        np.full(len(t), shelf),
                        np.full(len(t), p + 1),
                    ]
                )
            )
    data = np.vstack(rows)
    data = data[rng.permutation(len(data))]
    with path.open("w") as fh:
        fh.write("timestamp,reading,gondola,shelf,plate\n")
        np.savetxt(fh, data, fmt=["%.4f", "%.3f", "%d", "%d", "%d"], delimiter=",")


def test_replay_prints_one_json_line_per_event(tmp_path: Path) -> None:
    write_log(tmp_path / "w.csv")
    (tmp_path / "p.csv").write_text(PLANOGRAM)
    out = io.StringIO()
    assert run(argparse.Namespace(weights=tmp_path / "w.csv", planogram=tmp_path / "p.csv"), out) == 0
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(e["gondola"], e["shelf"], e["kind"], e["product_id"], e["quantity"]) for e in events] == [
        (2, 1, "pick", "tea", 1),
        (2, 2, "return", "jam", 1),
    ]
    first = events[0]
    assert set(first) == {
        "t_start",
        "t_end",
        "gondola",
        "shelf",
        "plates",
        "delta_g",
        "kind",
        "product_id",
        "quantity",
        "confidence",
    }
    assert T0 + 4.5 < first["t_start"] < first["t_end"] < T0 + 10
    assert first["plates"] == [3] and -110 < first["delta_g"] < -95


def test_bad_files_give_clear_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("time,reading,gondola,shelf,plate\n1,2,3,4,5\n")
    with pytest.raises(WeightsFileError, match="header must be timestamp,reading,gondola,shelf,plate"):
        read_weights(bad)
    bad.write_text("timestamp,reading,gondola,shelf,plate\n1,2,3,4,x\n")
    (tmp_path / "p.csv").write_text(PLANOGRAM)
    assert run(argparse.Namespace(weights=bad, planogram=tmp_path / "p.csv")) == 2
    assert capsys.readouterr().err == f"error: {bad}:2: plate 'x' is not a number\n"


def replay_cli(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    (tmp_path / "w.csv").write_text(text)
    (tmp_path / "p.csv").write_text(PLANOGRAM)
    code = shelf_edge(["replay", str(tmp_path / "w.csv"), "--planogram", str(tmp_path / "p.csv")])
    out, err = capsys.readouterr()
    return code, out, err


def test_technician_errors_are_one_line_naming_the_file_line_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "w.csv"
    header = "timestamp,reading,gondola,shelf,plate\n"
    # a bad value on file line 3 (numpy calls it "row 1")
    code, out, err = replay_cli(tmp_path, header + "1,2,2,1,3\n1.1,abc,2,1,3\n", capsys)
    assert (code, out, err) == (2, "", f"error: {path}:3: reading 'abc' is not a number\n")
    # a header-only file: no numpy warning, no success
    code, out, err = replay_cli(tmp_path, header, capsys)
    assert (code, out, err) == (2, "", f"error: {path}: no readings after the header line\n")
    # a wrong header: the path once
    code, out, err = replay_cli(tmp_path, "time,reading\n1,2\n", capsys)
    assert code == 2 and err.count(str(path)) == 1 and err.startswith(f"error: {path}:1: header must be")
    code, out, err = replay_cli(tmp_path, header + "1,2,2,1\n", capsys)
    assert (code, err) == (
        2,
        f"error: {path}:2: expected 5 values (timestamp,reading,gondola,shelf,plate), got 4\n",
    )


def test_a_shelf_with_two_plates_replays(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Fewer plates than the detector's neighbour kernel is wide used to crash (shapes (2,) (3,))."""
    ph = ShelfPhysics(plates=2, seed=1)
    ph.schedule("pick", T0 + 5.0, (1,), 105.5, 1.2)
    t = T0 + np.arange(20 * 60) / 60.0
    x = np.vstack([ph.render(t[k : k + 60]) for k in range(0, len(t), 60)])
    lines = [f"{t[i] + p * 0.0007:.4f},{x[i, p]:.3f},2,1,{p + 1}" for i in range(len(t)) for p in range(2)]
    planogram = "product_id,name,gondola,shelf,plate,unit_weight_g,price\ntea,Tea,2,1,1,105.5,2.5\n"
    (tmp_path / "w.csv").write_text("timestamp,reading,gondola,shelf,plate\n" + "\n".join(lines) + "\n")
    (tmp_path / "p.csv").write_text(planogram)
    assert shelf_edge(["replay", str(tmp_path / "w.csv"), "--planogram", str(tmp_path / "p.csv")]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(e["plates"], e["kind"], e["product_id"]) for e in events] == [([1], "pick", "tea")]
