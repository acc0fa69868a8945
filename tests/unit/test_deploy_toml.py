"""The TOML writer used by install/provision: what it writes reads back identically."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.config import parse_config
from edge.ops.install import initial_config, new_dashboard_password
from edge.ops.tomlwrite import dumps
from edge.ops.units import Layout

keys = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=12)
scalars = st.one_of(
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4), max_leaves=8)
tables = st.dictionaries(keys, values, max_size=5)
documents = st.dictionaries(
    keys,
    st.one_of(tables, st.lists(tables, min_size=1, max_size=3), values),
    max_size=5,
)


@settings(max_examples=50, deadline=None)
@given(documents)
def test_round_trip(doc: dict[str, Any]) -> None:
    assert tomllib.loads(dumps(doc)) == doc


def test_gateway_config_round_trip() -> None:
    data = tomllib.loads(initial_config(Layout(), "store-042", "gw-1", 8883, new_dashboard_password()[1]))
    data["displays"] = [{"display_id": "d-1", "gondola": 1, "shelf": 2}]
    data["presence"] = {"source": "mqtt-receivers", "receivers": {"rx-1": "1/2"}}
    text = dumps(data, "header line")
    assert text.startswith("# header line\n")
    assert parse_config(tomllib.loads(text)).displays[0].display_id == "d-1"


def test_refuses_what_toml_cannot_hold() -> None:
    with pytest.raises(ValueError):
        dumps({"a": {"x": float("nan")}})
    with pytest.raises(TypeError):
        dumps({"a": {"x": object()}})
