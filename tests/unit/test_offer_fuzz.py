"""Outside data for the offer engine, fuzzed: every input is either accepted or refused with our error."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
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
    assert all(0 < p.price < math.inf and 0 <= p.margin <= 1 for p in catalogue.products.values())


@pytest.mark.parametrize("price", ["inf", "nan", "-1", "0"])
def test_a_catalogue_price_that_is_not_a_finite_positive_number_is_refused(price: str) -> None:
    row = {"product_id": "p1", "name": "Tea", "price": price, "margin": "0.3", "category": "tea", "new": "0"}
    with pytest.raises(CatalogueError) as error:
        Catalogue.from_rows([{k: row.get(k, "") for k in HEADER}])
    assert "p1: price must be" in str(error.value.problems)


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
    assert all(math.isfinite(b.t) and math.isfinite(b.spend) for b in baskets)


@pytest.mark.parametrize("field", ["nan", "inf", "-inf"])
@pytest.mark.parametrize("column", ["timestamp", "quantity", "price"])
def test_a_non_finite_number_is_refused_naming_its_line(tmp_path: Path, column: str, field: str) -> None:
    good = {"timestamp": "1700000000", "quantity": "1", "price": "2.5"}
    bad = {**good, column: field}
    path = tmp_path / "tx.csv"
    path.write_text(
        "basket_id,customer_id,product_id,timestamp,quantity,price\n"
        f"b1,c1,p1,{good['timestamp']},{good['quantity']},{good['price']}\n"
        f"b2,c1,p2,{bad['timestamp']},{bad['quantity']},{bad['price']}\n"
    )
    with pytest.raises(TransactionsError, match="not finite") as error:
        read_transactions(path)
    assert error.value.line == 3


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
