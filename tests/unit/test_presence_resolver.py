"""TokenResolver: O(1) token lookup, window rolling, incremental keys, revocation, privacy."""

from __future__ import annotations

import pytest

from edge.events import Sighting
from edge.presence.resolver import EnrolledKey, TokenResolver
from edge.presence.tokens import INTERVAL_S, AppTokenGenerator, day_of, derive_day_key, interval_of

STORE = "store-001"
T0 = (interval_of(1_763_900_000.0) + 0.5) * INTERVAL_S  # mid-interval, far from midnight
DAY = day_of(T0)


def _secret(i: int) -> bytes:
    return i.to_bytes(4, "big") * 4


def _app(i: int) -> AppTokenGenerator:
    return AppTokenGenerator(_secret(i), STORE)


def _key(i: int, day: int = DAY) -> EnrolledKey:
    return EnrolledKey(f"sh-{i}", day, derive_day_key(_secret(i), STORE, day))


def _sighting(app: AppTokenGenerator, t: float, layout: str = "android") -> Sighting:
    if layout == "ios":
        return Sighting(t=t, receiver="rx-1", rssi=-60.0, service_uuids=(app.ios_service_uuid(t),))
    if layout == "service":
        return Sighting(t=t, receiver="rx-1", rssi=-60.0, service_data=tuple(app.service_data(t).items()))
    return Sighting(
        t=t, receiver="rx-1", rssi=-60.0, manufacturer_data=tuple(app.manufacturer_data(t).items())
    )


@pytest.fixture
def resolver() -> TokenResolver:
    r = TokenResolver()
    r.set_keys([_key(i) for i in range(300)])
    r.advance(T0)
    return r


@pytest.mark.parametrize("layout", ["android", "service", "ios"])
def test_enrolled_phone_resolves_in_every_layout(resolver: TokenResolver, layout: str) -> None:
    got = resolver.resolve(_sighting(_app(17), T0, layout))
    assert got is not None
    assert (got.shopper, got.receiver, got.rssi, got.t) == ("sh-17", "rx-1", -60.0, T0)


def test_non_enrolled_phone_is_dropped_and_counted_only(resolver: TokenResolver) -> None:
    before = resolver.table_nbytes()
    assert resolver.resolve(_sighting(_app(9999), T0)) is None
    assert resolver.dropped == 1 and resolver.resolved == 0
    assert resolver.table_nbytes() == before


def test_neighbouring_intervals_are_accepted_for_clock_skew(resolver: TokenResolver) -> None:
    app = _app(3)
    assert resolver.resolve(_sighting(app, T0 - INTERVAL_S)) is not None
    assert resolver.resolve(_sighting(app, T0 + INTERVAL_S)) is not None
    assert resolver.resolve(_sighting(app, T0 + 2 * INTERVAL_S)) is None


def test_rotation_keeps_the_same_shopper_as_the_window_rolls(resolver: TokenResolver) -> None:
    app = _app(42)
    seen = set()
    for k in range(5):
        t = T0 + k * INTERVAL_S
        resolver.advance(t)
        got = resolver.resolve(_sighting(app, t))
        assert got is not None
        seen.add(got.shopper)
    assert seen == {"sh-42"}
    assert sorted(resolver._slots) == [interval_of(T0) + 3, interval_of(T0) + 4, interval_of(T0) + 5]


def test_advance_never_moves_back(resolver: TokenResolver) -> None:
    resolver.advance(T0 + INTERVAL_S)
    resolver.advance(T0 - 5 * INTERVAL_S)
    assert resolver.current_interval == interval_of(T0) + 1


def test_keys_arriving_later_are_resolvable_at_once(resolver: TokenResolver) -> None:
    assert resolver.resolve(_sighting(_app(5000), T0)) is None
    resolver.add_keys([_key(i) for i in range(5000, 6200)])  # grows every slot's hash table
    for i in (5000, 5600, 6199):
        got = resolver.resolve(_sighting(_app(i), T0 + INTERVAL_S))
        assert got is not None and got.shopper == f"sh-{i}"
    assert resolver.resolve(_sighting(_app(17), T0)) is not None
    assert resolver.enrolled == 1500


def test_revoke_removes_keys_and_tokens(resolver: TokenResolver) -> None:
    assert resolver.revoke(["sh-7", "sh-unknown"]) == 1
    assert resolver.resolve(_sighting(_app(7), T0)) is None
    assert resolver.enrolled == 299
    rows = [i for i in range(resolver._n) if not resolver._alive[i]]
    assert rows and all(not resolver._keys[r].any() and resolver._shopper[r] == b"" for r in rows)
    resolver.advance(T0 + INTERVAL_S)
    assert resolver.resolve(_sighting(_app(7), T0 + INTERVAL_S)) is None
    assert resolver.resolve(_sighting(_app(8), T0 + INTERVAL_S)) is not None


def test_set_keys_diffs_adds_and_revokes(resolver: TokenResolver) -> None:
    resolver.set_keys([_key(i) for i in range(100, 400)])
    assert resolver.resolve(_sighting(_app(5), T0)) is None
    assert resolver.resolve(_sighting(_app(350), T0)) is not None
    assert resolver.resolve(_sighting(_app(150), T0)) is not None
    assert resolver.enrolled == 300
    resolver.set_keys([_key(1)])  # most rows dead -> compaction
    assert resolver._n == 1
    assert resolver.resolve(_sighting(_app(1), T0)) is not None


def test_midnight_uses_the_next_days_key() -> None:
    midnight = (DAY + 1) * 86400.0
    r = TokenResolver()
    r.set_keys([_key(1, DAY), _key(1, DAY + 1)])
    r.advance(midnight - 60)
    app = _app(1)
    assert r.resolve(_sighting(app, midnight - 60)).shopper == "sh-1"  # type: ignore[union-attr]
    assert r.resolve(_sighting(app, midnight + 60)).shopper == "sh-1"  # type: ignore[union-attr]


def test_check_in_is_accepted_once_and_only_fresh(resolver: TokenResolver) -> None:
    app = _app(11)
    c = app.check_in(T0, nonce=b"0123456789ab")
    assert resolver.resolve_check_in(c, now=T0 + 1) == "sh-11"
    assert resolver.resolve_check_in(c, now=T0 + 2) is None  # replay
    late = app.check_in(T0, nonce=b"fresh-nonce!")
    assert resolver.resolve_check_in(late, now=T0 + 600) is None  # stale
    forged = app.check_in(T0, nonce=b"other-nonce!")
    bad = type(forged)(forged.store, forged.token, forged.t_ms, forged.nonce, bytes(8))
    assert resolver.resolve_check_in(bad, now=T0) is None


def test_enrolled_key_validation() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        EnrolledKey("sh-1", DAY, b"x")
    with pytest.raises(ValueError, match="ASCII"):
        EnrolledKey("", DAY, bytes(32))


def test_prepared_slot_is_installed_at_the_roll(resolver: TokenResolver) -> None:
    upcoming = resolver.next_interval()
    assert upcoming == interval_of(T0) + 2
    resolver.prepare(upcoming)
    prepared = resolver._prepared[upcoming][1]
    resolver.advance(T0 + INTERVAL_S)
    assert resolver._slots[upcoming] is prepared
    assert resolver.resolve(_sighting(_app(9), T0 + 2 * INTERVAL_S)) is not None


def test_prepared_slot_is_discarded_when_keys_changed_meanwhile(resolver: TokenResolver) -> None:
    upcoming = resolver.next_interval()
    assert upcoming is not None
    resolver.prepare(upcoming)
    stale = resolver._prepared[upcoming][1]
    resolver.revoke(["sh-9"])
    resolver.advance(T0 + INTERVAL_S)
    assert resolver._slots[upcoming] is not stale
    assert resolver.resolve(_sighting(_app(9), T0 + 2 * INTERVAL_S)) is None
    assert resolver.resolve(_sighting(_app(10), T0 + 2 * INTERVAL_S)) is not None


def test_roll_computes_only_the_entering_interval(resolver: TokenResolver) -> None:
    kept = {i: resolver._slots[i] for i in (interval_of(T0), interval_of(T0) + 1)}
    resolver.advance(T0 + INTERVAL_S)
    assert all(resolver._slots[i] is slot for i, slot in kept.items())
    assert interval_of(T0) - 1 not in resolver._slots
    resolver.advance(T0 + 10 * INTERVAL_S)  # a long gap: the whole window is rebuilt
    assert sorted(resolver._slots) == [interval_of(T0) + k for k in (9, 10, 11)]
    assert resolver.resolve(_sighting(_app(4), T0 + 10 * INTERVAL_S)) is not None
