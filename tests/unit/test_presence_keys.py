"""The keys file: round trip, atomic 0600 write, clear errors."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from edge.presence.keys import KeysFileError, load_keys_file, write_keys_file
from edge.presence.resolver import EnrolledKey


def test_round_trip_and_permissions(tmp_path: Path) -> None:
    keys = [EnrolledKey("sh-1", 20415, bytes(range(32))), EnrolledKey("sh-2", 20416, bytes(32))]
    path = write_keys_file(tmp_path / "sub" / "keys.json", "store-001", keys)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_keys_file(path, store="store-001") == keys
    assert [p.name for p in path.parent.iterdir()] == ["keys.json"]  # no temp file left


def test_other_store_is_refused(tmp_path: Path) -> None:
    path = write_keys_file(tmp_path / "keys.json", "store-002", [])
    with pytest.raises(KeysFileError, match="keys are for store 'store-002', this is 'store-001'"):
        load_keys_file(path, store="store-001")


@pytest.mark.parametrize(
    ("doc", "where"),
    [
        ({"format": "x", "version": 1, "store": "s", "keys": []}, "format"),
        (
            {
                "format": "smartshelf-presence-keys",
                "version": 1,
                "store": "s",
                "keys": [{"shopper": "a b", "day": 1, "key": "00" * 32}],
            },
            "keys.0.shopper",
        ),
        (
            {
                "format": "smartshelf-presence-keys",
                "version": 1,
                "store": "s",
                "keys": [{"shopper": "a", "day": 1, "key": "00"}],
            },
            "keys.0.key",
        ),
        (
            {
                "format": "smartshelf-presence-keys",
                "version": 1,
                "store": "s",
                "keys": [{"shopper": "a", "day": -1, "key": "00" * 32}],
            },
            "keys.0.day",
        ),
    ],
)
def test_malformed_entries_are_named(tmp_path: Path, doc: dict, where: str) -> None:  # type: ignore[type-arg]
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(KeysFileError) as info:
        load_keys_file(path)
    assert info.value.where == where


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(KeysFileError, match="cannot read: No such file"):
        load_keys_file(tmp_path / "nope.json")


def test_purposes_version_2_and_version_1_implies_all(tmp_path: Path) -> None:
    from edge.presence.keys import PURPOSES, load_key_set

    keys = [EnrolledKey("sh-1", 20415, bytes(32)), EnrolledKey("sh-2", 20415, bytes(32))]
    path = write_keys_file(
        tmp_path / "keys.json", "s", keys, {"sh-1": ["analytics", "recognition"], "sh-2": ["offers"]}
    )
    doc = json.loads(path.read_text())
    assert doc["version"] == 2 and doc["keys"][0]["purposes"] == ["recognition", "analytics"]
    key_set = load_key_set(path)
    assert key_set.keys == keys[:1]  # no recognition consent: never reaches the resolver
    assert key_set.purposes == {"sh-1": {"recognition", "analytics"}, "sh-2": {"offers"}}

    v1 = {"format": "smartshelf-presence-keys", "version": 1, "store": "s",
          "keys": [{"shopper": "a", "day": 1, "key": "00" * 32}]}  # fmt: skip
    path.write_text(json.dumps(v1))
    assert load_key_set(path).purposes == {"a": frozenset(PURPOSES)}
    v1["version"] = 2
    path.write_text(json.dumps(v1))
    with pytest.raises(KeysFileError, match=r"keys\.0\.purposes: required in version 2"):
        load_key_set(path)


def test_analytics_view_strips_or_drops() -> None:
    from edge.presence.consent import analytics_view

    def allowed(shopper: str) -> bool:
        return shopper == "yes"

    assert analytics_view("basket", {"shopper": "yes", "p": 1}, allowed) == {"shopper": "yes", "p": 1}
    assert analytics_view("basket", {"shopper": "no", "p": 1}, allowed) == {"shopper": None, "p": 1}
    assert analytics_view("presence", {"shopper": "no"}, allowed) is None
    assert analytics_view("presence", {"shopper": None}, allowed) == {"shopper": None}
