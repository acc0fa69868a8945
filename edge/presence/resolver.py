"""Resolve advertised rolling tokens to enrolled shoppers in O(1). Pure: no I/O, no clock.

The resolver keeps, for every enrolled day key, the tokens of a sliding window of intervals
(``before`` .. current .. ``after``, default 1-1-1 = ~10 minutes of accepted clock skew either side).
Each interval of the window is one *slot*: flat numpy arrays of token halves and the key row they
belong to, plus an open-addressing hash table (linear probing, int32 entries, load <= 0.5) keyed by
the first 8 token bytes. A lookup probes at most the window's slots, a handful of array reads.

Incremental maintenance:
- :meth:`TokenResolver.advance` moves the window: only the interval that enters is computed
  (one AES per key), the one that leaves is dropped.
- :meth:`TokenResolver.add_keys` appends rows and inserts their tokens into every slot.
- :meth:`TokenResolver.revoke` wipes the rows (key bytes zeroed, tokens zeroed in every slot).
- :meth:`TokenResolver.set_keys` replaces the whole set by diffing: new keys added, missing revoked.

Privacy: a sighting whose tokens match no live row returns None and nothing about it is kept.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from edge.events import ShopperSighting, Sighting
from edge.presence.aesbatch import tokens_for_keys
from edge.presence.tokens import (
    DAY_KEY_LEN,
    TOKEN_LEN,
    CheckIn,
    candidate_tokens,
    day_of_interval,
    interval_of,
    verify_tag,
)

#: Longest pseudonymous shopper id, bytes (ASCII).
SHOPPER_ID_MAX = 32
#: Shopper ids of recently resolved rows kept as Python strings (bounded).
NAME_CACHE = 4096
#: First 8 token bytes (hash key) and next 4 (check), little-endian.
_HALVES = struct.Struct("<QI").unpack_from

U8 = npt.NDArray[np.uint8]
I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]
U32 = npt.NDArray[np.uint32]


@dataclass(frozen=True, slots=True)
class EnrolledKey:
    """One enrolled customer's key for one store and one UTC day, as the backend sends it.

    ``shopper`` is the pseudonymous id the gateway uses everywhere (never the loyalty number);
    ``key`` the 32-byte day key (:func:`edge.presence.tokens.derive_day_key`).
    """

    shopper: str
    day: int
    key: bytes

    def __post_init__(self) -> None:
        if not self.shopper or len(self.shopper) > SHOPPER_ID_MAX or not self.shopper.isascii():
            raise ValueError(f"shopper id must be 1..{SHOPPER_ID_MAX} ASCII characters: {self.shopper!r}")
        if len(self.key) != DAY_KEY_LEN:
            raise ValueError(f"day key of {self.shopper!r} must be {DAY_KEY_LEN} bytes, got {len(self.key)}")
        if not 0 <= self.day < 2**31:
            raise ValueError(f"day of {self.shopper!r} out of range: {self.day}")


@dataclass(frozen=True, slots=True)
class ResolverParams:
    """Window of intervals kept resolvable, and check-in acceptance."""

    before: int = 1
    after: int = 1
    #: Largest accepted difference between a check-in's time and the gateway's time, seconds.
    check_in_skew_s: float = 120.0


@dataclass(slots=True)
class _Slot:
    """One interval: token halves per entry (first 8 bytes, next 4 bytes), key row, hash table."""

    interval: int
    rows: I32
    hi: U64
    lo: U32
    table: I32
    mask: int
    # memoryviews of the arrays above: scalar reads from them are ~5x cheaper than numpy indexing
    rows_mv: memoryview = field(init=False)
    hi_mv: memoryview = field(init=False)
    lo_mv: memoryview = field(init=False)
    table_mv: memoryview = field(init=False)

    def __post_init__(self) -> None:
        self.refresh()

    def refresh(self) -> None:
        self.rows_mv = self.rows.data
        self.hi_mv = self.hi.data
        self.lo_mv = self.lo.data
        self.table_mv = self.table.data

    @property
    def nbytes(self) -> int:
        return int(self.rows.nbytes + self.hi.nbytes + self.lo.nbytes + self.table.nbytes)


def _table_size(n: int) -> int:
    size = 1024
    while size < 2 * n:
        size *= 2
    return size


def _insert(table: I32, mask: int, hi: U64, entries: I64) -> None:
    """Vectorised linear-probing insert of ``entries`` (indexes into ``hi``) into ``table``."""
    pending = entries
    pos = (hi[pending] & np.uint64(mask)).astype(np.int64)
    while pending.size:
        free = table[pos] == -1
        cand_pos = pos[free]
        cand = pending[free]
        uniq, first = np.unique(cand_pos, return_index=True)
        table[uniq] = cand[first].astype(np.int32)
        placed = np.zeros(pending.size, dtype=bool)
        placed[np.flatnonzero(free)[first]] = True
        pending = pending[~placed]
        pos = (pos[~placed] + 1) & mask


def _halves(tokens: U8) -> tuple[U64, U32]:
    """(n, 16) uint8 tokens -> (bytes 0..7 as little-endian uint64, bytes 8..11 as uint32).

    96 bits are compared on lookup: a random stranger's token matches a live entry with
    probability ~ entries / 2**96, i.e. never.
    """
    contiguous = np.ascontiguousarray(tokens)
    hi = contiguous[:, :8].copy().view("<u8").reshape(-1).astype(np.uint64)
    lo = contiguous[:, 8:12].copy().view("<u4").reshape(-1).astype(np.uint32)
    return hi, lo


class TokenResolver:
    """Enrolled day keys -> O(1) token lookup over a sliding window of intervals."""

    def __init__(self, params: ResolverParams | None = None) -> None:
        self.params = params or ResolverParams()
        self._n = 0
        self._keys: U8 = np.zeros((0, DAY_KEY_LEN), dtype=np.uint8)
        self._day = np.zeros(0, dtype=np.int32)
        self._alive = np.zeros(0, dtype=bool)
        self._alive_mv = self._alive.data
        self._order: list[_Slot] = []
        self._probe: list[tuple[memoryview, memoryview, memoryview, int, memoryview, int]] = []
        #: row -> shopper id of recently resolved rows (shoppers in the store); cleared when rows change
        self._names: dict[int, str] = {}
        self._shopper = np.zeros(0, dtype=f"S{SHOPPER_ID_MAX}")
        self._slots: dict[int, _Slot] = {}
        self._current: int | None = None
        self._seen_nonces: dict[bytes, float] = {}
        #: Bumped by every change of the key rows; a slot prepared under another generation is stale.
        self._generation = 0
        self._prepared: dict[int, tuple[int, _Slot]] = {}
        #: Sightings resolved / dropped since start (counts only, nothing about dropped devices).
        self.resolved = 0
        self.dropped = 0

    # ------------------------------------------------------------------ keys
    @property
    def enrolled(self) -> int:
        """Live key rows (a shopper has one per day held)."""
        return int(np.count_nonzero(self._alive[: self._n]))

    @property
    def current_interval(self) -> int | None:
        return self._current

    def set_keys(self, keys: Sequence[EnrolledKey]) -> None:
        """Make ``keys`` the whole enrolled set: add the new ones, revoke rows no longer present."""
        n = self._n
        if n:
            incoming = np.array([_row_id(k) for k in keys], dtype="S80") if keys else np.zeros(0, "S80")
            live = np.flatnonzero(self._alive[:n])
            current = self._row_ids(live)
            gone = live[~np.isin(current, incoming)]
            self._wipe(gone)
            keep_mask = ~np.isin(incoming, current)
        else:
            keep_mask = np.ones(len(keys), dtype=bool)
        self.add_keys([k for k, new in zip(keys, keep_mask.tolist(), strict=True) if new])
        if self._n and np.count_nonzero(self._alive[: self._n]) < self._n // 2:
            self._compact()

    def add_keys(self, keys: Sequence[EnrolledKey]) -> None:
        """Append keys (duplicates of a live (shopper, day) are replaced) and insert their tokens."""
        if not keys:
            return
        if self._n:
            ids = np.array([_row_id(k) for k in keys], dtype="S80")
            live = np.flatnonzero(self._alive[: self._n])
            self._wipe(live[np.isin(self._row_ids(live), ids)])
        m = len(keys)
        self._generation += 1
        self._grow(self._n + m)
        rows = np.arange(self._n, self._n + m, dtype=np.int64)
        self._keys[rows] = np.frombuffer(b"".join(k.key for k in keys), dtype=np.uint8).reshape(m, -1)
        self._day[rows] = [k.day for k in keys]
        self._shopper[rows] = [k.shopper.encode("ascii") for k in keys]
        self._alive[rows] = True
        self._n += m
        for slot in self._slots.values():
            self._extend_slot(slot, rows)
        self._reorder()

    def revoke(self, shopper_ids: Iterable[str]) -> int:
        """Remove every key of these shoppers (all days); return how many key rows were wiped."""
        ids = np.array([s.encode("ascii", "replace") for s in shopper_ids], dtype=f"S{SHOPPER_ID_MAX}")
        if not ids.size or not self._n:
            return 0
        rows = np.flatnonzero(self._alive[: self._n] & np.isin(self._shopper[: self._n], ids))
        self._wipe(rows)
        return int(rows.size)

    # ------------------------------------------------------------------ window
    def advance(self, t: float) -> None:
        """Move the window so that it is centred on the interval of ``t`` (never moves backwards)."""
        cur = interval_of(t)
        if self._current is not None and cur <= self._current:
            return
        self._current = cur
        wanted = set(range(cur - self.params.before, cur + self.params.after + 1))
        for interval in [i for i in self._slots if i not in wanted]:
            del self._slots[interval]
        for interval in sorted(wanted - self._slots.keys()):
            ready = self._prepared.pop(interval, None)
            if ready is not None and ready[0] == self._generation:
                self._slots[interval] = ready[1]
            else:
                self._slots[interval] = self._build_slot(interval)
        self._prepared = {i: p for i, p in self._prepared.items() if i > cur}
        self._reorder()

    def next_interval(self) -> int | None:
        """The interval the window will take in at its next roll (what :meth:`prepare` should compute)."""
        return None if self._current is None else self._current + self.params.after + 1

    def prepare(self, interval: int) -> None:
        """Compute an interval's slot ahead of the roll, e.g. in a worker thread (numpy releases the GIL).

        Only reads the key rows; if keys change meanwhile the prepared slot is discarded at
        :meth:`advance` (generation check) and computed there instead, so it is never stale.
        """
        generation = self._generation
        slot = self._build_slot(interval)
        self._prepared[interval] = (generation, slot)

    # ------------------------------------------------------------------ lookups
    def lookup(self, token: bytes) -> tuple[str, int] | None:
        """(shopper, interval) of a 16-byte token within the window, or None."""
        row, interval = self._find(token)
        if row < 0:
            return None
        return self._name(row), interval

    def resolve(self, s: Sighting) -> ShopperSighting | None:
        """The shopper behind a sighting, or None (and nothing kept) when no enrolled key matches."""
        for token in candidate_tokens(s.manufacturer_data, s.service_data, s.service_uuids):
            row, _ = self._find(token)
            if row >= 0:
                self.resolved += 1
                return ShopperSighting(t=s.t, receiver=s.receiver, shopper=self._name(row), rssi=s.rssi)
        self.dropped += 1
        return None

    def resolve_check_in(self, c: CheckIn, now: float) -> str | None:
        """The shopper of an iOS check-in, if its token is live, its tag valid, fresh and not replayed."""
        if abs(c.t_ms / 1000.0 - now) > self.params.check_in_skew_s:
            return None
        row, _ = self._find(c.token)
        if row < 0:
            return None
        if not verify_tag(self._keys[row].tobytes(), c.token, c.t_ms, c.nonce, c.tag):
            return None
        horizon = now - 2 * self.params.check_in_skew_s
        if len(self._seen_nonces) > 4096:
            self._seen_nonces = {k: v for k, v in self._seen_nonces.items() if v >= horizon}
        replay_key = c.token + c.nonce
        if replay_key in self._seen_nonces:
            return None
        self._seen_nonces[replay_key] = now
        return self._name(row)

    def enrolled_shoppers(self) -> set[str]:
        """Pseudonymous ids with a live key (for audits: nobody else is in the table)."""
        live = np.flatnonzero(self._alive[: self._n])
        return {self._name(int(r)) for r in live}

    def table_nbytes(self) -> int:
        """Bytes held by key rows and slots (numpy buffers)."""
        n = self._keys.nbytes + self._day.nbytes + self._alive.nbytes + self._shopper.nbytes
        return int(n + sum(s.nbytes for s in self._slots.values()))

    # ------------------------------------------------------------------ internals
    def _find(self, token: bytes) -> tuple[int, int]:
        if len(token) != TOKEN_LEN:
            return -1, 0
        hi, lo = _HALVES(token)
        alive = self._alive_mv
        for table, his, los, mask, rows, interval in self._probe:
            pos = hi & mask
            while True:
                e = table[pos]
                if e < 0:
                    break
                if his[e] == hi and los[e] == lo:
                    row: int = rows[e]
                    if alive[row]:
                        return row, interval
                pos = (pos + 1) & mask
        return -1, 0

    def _reorder(self) -> None:
        cur = self._current if self._current is not None else 0
        self._order = [self._slots[i] for i in sorted(self._slots, key=lambda i: (abs(i - cur), -i))]
        self._probe = [(s.table_mv, s.hi_mv, s.lo_mv, s.mask, s.rows_mv, s.interval) for s in self._order]

    def _name(self, row: int) -> str:
        name = self._names.get(row)
        if name is None:
            name = str(self._shopper[row].decode("ascii"))
            if len(self._names) >= NAME_CACHE:
                self._names.clear()
            self._names[row] = name
        return name

    def _row_ids(self, rows: I64) -> npt.NDArray[np.bytes_]:
        return np.array(
            [
                s + b"|" + str(int(d)).encode()
                for s, d in zip(self._shopper[rows], self._day[rows], strict=True)
            ],
            dtype="S80",
        )

    def _grow(self, need: int) -> None:
        cap = len(self._alive)
        if need <= cap:
            return
        new_cap = max(need, cap * 2, 1024)
        keys = np.zeros((new_cap, DAY_KEY_LEN), dtype=np.uint8)
        keys[:cap] = self._keys
        day = np.zeros(new_cap, dtype=np.int32)
        day[:cap] = self._day
        alive = np.zeros(new_cap, dtype=bool)
        alive[:cap] = self._alive
        shopper = np.zeros(new_cap, dtype=f"S{SHOPPER_ID_MAX}")
        shopper[:cap] = self._shopper
        self._keys, self._day, self._alive, self._shopper = keys, day, alive, shopper
        self._alive_mv = self._alive.data

    def _wipe(self, rows: I64) -> None:
        if not rows.size:
            return
        self._generation += 1
        self._names.clear()
        self._alive[rows] = False
        self._keys[rows] = 0
        self._shopper[rows] = b""
        for slot in self._slots.values():
            hit = np.isin(slot.rows, rows)
            slot.hi[hit] = 0
            slot.lo[hit] = 0

    def _compact(self) -> None:
        self._generation += 1
        self._names.clear()
        live = np.flatnonzero(self._alive[: self._n])
        self._keys = self._keys[live].copy()
        self._day = self._day[live].copy()
        self._alive = np.ones(live.size, dtype=bool)
        self._alive_mv = self._alive.data
        self._shopper = self._shopper[live].copy()
        self._n = int(live.size)
        for interval in list(self._slots):
            self._slots[interval] = self._build_slot(interval)
        self._reorder()

    def _rows_for(self, interval: int, rows: I64 | None = None) -> I64:
        day = day_of_interval(interval)
        if rows is None:
            mask = self._alive[: self._n] & (self._day[: self._n] == day)
            return np.flatnonzero(mask).astype(np.int64)
        picked: I64 = rows[self._alive[rows] & (self._day[rows] == day)]
        return picked

    def _build_slot(self, interval: int) -> _Slot:
        rows = self._rows_for(interval)
        tokens = tokens_for_keys(self._keys[rows, :16], interval)
        hi, lo = _halves(tokens)
        size = _table_size(rows.size)
        table = np.full(size, -1, dtype=np.int32)
        _insert(table, size - 1, hi, np.arange(rows.size, dtype=np.int64))
        return _Slot(interval, rows.astype(np.int32), hi, lo, table, size - 1)

    def _extend_slot(self, slot: _Slot, new_rows: I64) -> None:
        rows = self._rows_for(slot.interval, new_rows)
        if not rows.size:
            return
        tokens = tokens_for_keys(self._keys[rows, :16], slot.interval)
        hi, lo = _halves(tokens)
        start = slot.rows.size
        slot.rows = np.concatenate([slot.rows, rows.astype(np.int32)])
        slot.hi = np.concatenate([slot.hi, hi])
        slot.lo = np.concatenate([slot.lo, lo])
        if _table_size(slot.rows.size) > slot.table.size:
            size = _table_size(slot.rows.size)
            slot.table = np.full(size, -1, dtype=np.int32)
            slot.mask = size - 1
            _insert(slot.table, slot.mask, slot.hi, np.arange(slot.rows.size, dtype=np.int64))
        else:
            _insert(slot.table, slot.mask, slot.hi, np.arange(start, slot.rows.size, dtype=np.int64))
        slot.refresh()


def _row_id(k: EnrolledKey) -> bytes:
    return k.shopper.encode("ascii") + b"|" + str(k.day).encode()
