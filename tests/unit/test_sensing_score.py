"""``shelf-sim score-sensing``: matching, scoring, and our detector against the AIM3S baseline."""

from __future__ import annotations

import argparse
import json

import pytest

from edge.events import ShelfId, WeightEvent
from simulators.shelves.physics import Interaction
from simulators.shelves.score import match, run, score


def gt(kind: str, touch: float, plates: tuple[int, ...], product: str = "A") -> Interaction:
    return Interaction(kind=kind, touch=touch, hold_s=1.0, plates=plates, grams=100.0, product_id=product)  # type: ignore[arg-type]


def ev(kind: str, t0: float, t1: float, plates: tuple[int, ...], product: str | None = "A") -> WeightEvent:
    return WeightEvent(t0, t1, ShelfId(1, 1), plates, -100.0, kind, product, 1, 0.9)  # type: ignore[arg-type]


def test_matching_is_one_to_one_by_kind_place_and_time() -> None:
    truth = [gt("pick", 10.0, (3,)), gt("pick", 20.0, (8, 9)), gt("return", 30.0, (1,))]
    events = [
        ev("pick", 10.1, 12.5, (4,)),  # one plate of slack
        ev("pick", 10.2, 12.6, (3,)),  # a duplicate: a false positive
        ev("return", 20.1, 22.4, (8,)),  # wrong kind
        ev("return", 30.0, 32.2, (1,), product="B"),  # found, wrong product
    ]
    pairs = match(truth, events)
    assert [(g.touch, e.t_start) for g, e in pairs] == [(10.0, 10.2), (30.0, 30.0)]
    s = score("t", "ours", truth, events, 0.0)
    assert (s.tp, s.precision, s.recall, s.product_accuracy) == (2, 0.5, pytest.approx(0.6667), 0.5)
    assert s.delay_median_s == pytest.approx(-0.6, abs=0.01)  # t_end - (release + 2 s): -0.4 and -0.8


def test_score_command_prints_both_detectors(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(argparse.Namespace(scenario=["two-hands"], seed=2, duration=90.0, json=True)) == 0
    rows = {r["detector"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert set(rows) == {"ours", "aim3s"}
    assert rows["ours"]["truth"] > 10
    assert rows["ours"]["f1"] >= rows["aim3s"]["f1"]


def test_real_shelf_scenario_straddles_and_look_alikes_are_named_right(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(argparse.Namespace(scenario=["real-shelf"], seed=2, duration=180.0, json=True)) == 0
    rows = {r["detector"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert rows["ours"]["truth"] > 15
    assert rows["ours"]["product_accuracy"] >= 0.95 > rows["aim3s"]["product_accuracy"]
