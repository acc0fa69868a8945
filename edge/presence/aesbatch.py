"""AES-128 of ONE block under MANY keys at once, vectorised with numpy (T-table implementation).

The resolver must encrypt the same interval block under every enrolled key when the window rolls:
a million keys, a million key schedules. ``cryptography`` does AES very well but one key at a time
(~10 us per key including the key schedule from Python); this batch form does all keys together in
a few numpy passes (~1 us per key). It is checked against ``cryptography`` by the unit tests
(tests/unit/test_tokens.py) on random keys, so it cannot silently drift from the standard.
Pure: no I/O, no clock.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from edge.presence.tokens import TOKEN_LEN, token_plaintext

U8 = npt.NDArray[np.uint8]
U32 = npt.NDArray[np.uint32]

_CHUNK = 1 << 16


def _xtime(a: int) -> int:
    a <<= 1
    return (a ^ 0x11B) if a & 0x100 else a


def _gmul(a: int, b: int) -> int:
    out = 0
    while b:
        if b & 1:
            out ^= a
        a = _xtime(a)
        b >>= 1
    return out


def _make_sbox() -> list[int]:
    sbox = [0] * 256
    for x in range(256):
        inv = 0 if x == 0 else next(y for y in range(1, 256) if _gmul(x, y) == 1)
        s = inv
        for shift in range(1, 5):
            s ^= ((inv << shift) | (inv >> (8 - shift))) & 0xFF
        sbox[x] = s ^ 0x63
    return sbox


_SBOX_LIST = _make_sbox()
SBOX: U32 = np.array(_SBOX_LIST, dtype=np.uint32)


def _ror(w: int, n: int) -> int:
    return ((w >> n) | (w << (32 - n))) & 0xFFFFFFFF


_TE0_LIST = [(_gmul(s, 2) << 24) | (s << 16) | (s << 8) | _gmul(s, 3) for s in _SBOX_LIST]
TE: tuple[U32, U32, U32, U32] = (
    np.array(_TE0_LIST, dtype=np.uint32),
    np.array([_ror(w, 8) for w in _TE0_LIST], dtype=np.uint32),
    np.array([_ror(w, 16) for w in _TE0_LIST], dtype=np.uint32),
    np.array([_ror(w, 24) for w in _TE0_LIST], dtype=np.uint32),
)
_RCON = [0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x1B, 0x36]
_FF = np.uint32(0xFF)


def _sub_word(w: U32) -> U32:
    word = (SBOX[w >> 24] << 24) | (SBOX[(w >> 16) & _FF] << 16) | (SBOX[(w >> 8) & _FF] << 8) | SBOX[w & _FF]
    return np.asarray(word, dtype=np.uint32)


def _words(block: U8) -> list[U32]:
    """(n, 16) bytes -> 4 big-endian column words of shape (n,)."""
    be = block.reshape(-1, 4, 4).astype(np.uint32)
    return [
        np.asarray(
            (be[:, c, 0] << 24) | (be[:, c, 1] << 16) | (be[:, c, 2] << 8) | be[:, c, 3], dtype=np.uint32
        )
        for c in range(4)
    ]


def _encrypt_chunk(keys: U8, block: bytes) -> U8:
    n = keys.shape[0]
    w = _words(keys)
    pt = np.frombuffer(block, dtype=np.uint8).reshape(1, 16)
    p = _words(pt)
    s = [w[c] ^ p[c][0] for c in range(4)]
    te0, te1, te2, te3 = TE
    for rnd in range(1, 11):
        # next round key, from the previous four words
        temp = w[3]
        rot: U32 = ((temp << np.uint32(8)) | (temp >> np.uint32(24))).astype(np.uint32)
        k0 = w[0] ^ _sub_word(rot) ^ np.uint32(_RCON[rnd - 1] << 24)
        k1 = w[1] ^ k0
        k2 = w[2] ^ k1
        k3 = w[3] ^ k2
        w = [k0, k1, k2, k3]
        if rnd < 10:
            s = [
                te0[s[c] >> 24]
                ^ te1[(s[(c + 1) % 4] >> 16) & _FF]
                ^ te2[(s[(c + 2) % 4] >> 8) & _FF]
                ^ te3[s[(c + 3) % 4] & _FF]
                ^ w[c]
                for c in range(4)
            ]
        else:
            s = [
                (SBOX[s[c] >> 24] << 24)
                ^ (SBOX[(s[(c + 1) % 4] >> 16) & _FF] << 16)
                ^ (SBOX[(s[(c + 2) % 4] >> 8) & _FF] << 8)
                ^ SBOX[s[(c + 3) % 4] & _FF]
                ^ w[c]
                for c in range(4)
            ]
    out = np.empty((n, 4), dtype=">u4")
    for c in range(4):
        out[:, c] = s[c]
    return out.view(np.uint8).reshape(n, TOKEN_LEN)


def encrypt_block(keys: U8, block: bytes) -> U8:
    """AES-128-ECB of the 16-byte ``block`` under each row of ``keys`` ((n, 16) uint8) -> (n, 16)."""
    if keys.ndim != 2 or keys.shape[1] != 16:
        raise ValueError(f"keys must have shape (n, 16), got {keys.shape}")
    if len(block) != 16:
        raise ValueError(f"block must be 16 bytes, got {len(block)}")
    n = keys.shape[0]
    out = np.empty((n, TOKEN_LEN), dtype=np.uint8)
    for start in range(0, n, _CHUNK):
        out[start : start + _CHUNK] = _encrypt_chunk(
            np.ascontiguousarray(keys[start : start + _CHUNK]), block
        )
    return out


def tokens_for_keys(token_keys: U8, interval: int) -> U8:
    """Rolling tokens of ``interval`` for each 16-byte token key row -> (n, 16) uint8."""
    return encrypt_block(token_keys, token_plaintext(interval))
