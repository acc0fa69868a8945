"""Outside data for the offer engine, fuzzed: every input is either accepted or refused with our error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from edge.offers.catalogue import HEADER, Catalogue, CatalogueError
from edge.offers.profile import Profile, ProfileError
from edge.offers.rules import RulesError, parse_rules
from edge.offers.sources import ProfilesError, load_profiles
from models.offers.transactions import TransactionsError, read_transactions

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=80, deadline=None)
@given(st.dictionaries(st.sampled_from(["items", "weights", "n_baskets", "x"]), json_values, max_size=4))
def test_profile_documents(doc: dict[str, Any]) -> None:
    try:
        profile = Profile.from_dict(doc)
    except ProfileError:
        return
    assert len(profile.items) == len(profile.weights) and profile.n_baskets >= 0


@settings(max_examples=80, deadline=None)
@given(st.lists(st.fixed_dictionaries({k: st.text(max_size=12) for k in HEADER}), max_size=5))
def test_catalogue_rows(rows: list[dict[str, str]]) -> None:
    try:
        catalogue = Catalogue.from_rows(rows)
    except CatalogueError as exc:
        assert exc.problems
        return
    assert all(p.price > 0 and 0 <= p.margin <= 1 for p in catalogue.products.values())


@settings(max_examples=80, deadline=None)
@given(json_values)
def test_rules_documents(doc: Any) -> None:
    try:
        rules = parse_rules(doc)
    except RulesError as exc:
        assert exc.problems
        return
    assert abs(sum(v.share for v in rules.experiment.variants) - 1.0) < 1e-6


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=300))
def test_transactions_bytes(tmp_path_factory: Any, data: bytes) -> None:
    path = Path(tmp_path_factory.mktemp("tx")) / "tx.csv"
    path.write_bytes(b"basket_id,customer_id,product_id,timestamp,quantity,price\n" + data)
    try:
        baskets = read_transactions(path)
    except TransactionsError:
        return
    assert all(b.items for b in baskets)


@settings(max_examples=40, deadline=None)
@given(json_values)
def test_profiles_files(tmp_path_factory: Any, doc: Any) -> None:
    path = Path(tmp_path_factory.mktemp("pr")) / "profiles.json"
    path.write_text(json.dumps(doc))
    try:
        profiles = load_profiles(path)
    except ProfilesError as exc:
        assert exc.problems
        return
    assert all(isinstance(p, Profile) for p in profiles.values())
