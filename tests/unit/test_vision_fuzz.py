"""Fuzzing what comes from outside model files: YOLO class-name metadata and detector outputs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from edge.vision.model import decode_yolo, parse_names


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_names_text_parses_or_raises_value_error(raw: str) -> None:
    try:
        names = parse_names(raw)
    except ValueError:
        return
    assert all(isinstance(n, str) for n in names)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=8))
def test_ultralytics_and_json_forms_agree(names: list[str]) -> None:
    literal = repr(dict(enumerate(names)))
    assert parse_names(literal) == names
    assert parse_names(repr(names)) == names


def test_gapped_indices_are_refused() -> None:
    with pytest.raises(ValueError, match=r"0\.\.nc-1"):
        parse_names("{0: 'hand', 2: 'TEA'}")


@settings(max_examples=150, deadline=None)
@given(
    arrays(
        np.float32, st.tuples(st.integers(0, 40), st.integers(5, 9)), elements=st.floats(-1e4, 1e4, width=32)
    ),
    st.floats(0.05, 0.95),
)
def test_decode_yolo_never_fails_and_keeps_only_confident_boxes(rows: np.ndarray, threshold: float) -> None:
    found = decode_yolo(rows, scale=0.5, threshold=threshold)
    assert len(found) <= rows.shape[0]
    for cls, score, (x0, y0, x1, y1) in found:
        assert 0 <= cls < rows.shape[1] - 4
        assert score >= threshold
        assert x0 <= x1 and y0 <= y1
