"""A small TOML writer for configuration documents (tables, arrays of tables, scalars, arrays).

The standard library reads TOML (tomllib) but does not write it; this covers what a gateway config
holds. ``tomllib.loads(dumps(d)) == d`` for such documents (tested).
"""

from __future__ import annotations

import math
import re
from pathlib import PurePath
from typing import Any

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def _string(text: str) -> str:
    """A TOML basic string: escapes only what TOML requires (never surrogate pairs)."""
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _key(key: str) -> str:
    return key if _BARE.match(key) else _string(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"TOML config values must be finite, got {value}")
        return repr(value)
    if isinstance(value, str | PurePath):
        return _string(str(value))
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _table(path: list[str], data: dict[str, Any], out: list[str]) -> None:
    scalars = {
        k: v for k, v in data.items() if v is not None and not isinstance(v, dict) and not _is_table_array(v)
    }
    if path and (scalars or not data):
        out.append(f"\n[{'.'.join(_key(p) for p in path)}]")
    for key, value in scalars.items():
        out.append(f"{_key(key)} = {_value(value)}")
    for key, value in data.items():
        if isinstance(value, dict):
            _table([*path, key], value, out)
        elif _is_table_array(value):
            for item in value:
                out.append(f"\n[[{'.'.join(_key(p) for p in [*path, key])}]]")
                nested = {k: v for k, v in item.items() if isinstance(v, dict) or _is_table_array(v)}
                for k, v in item.items():
                    if k not in nested and v is not None:
                        out.append(f"{_key(k)} = {_value(v)}")
                for k, v in nested.items():
                    # sub-tables of an array element keep the inline form: unambiguous and valid
                    out.append(f"{_key(k)} = {_value(v)}")


def dumps(data: dict[str, Any], header: str = "") -> str:
    """TOML text of ``data`` (None values are left out: TOML has no null)."""
    out: list[str] = [f"# {line}" if line else "#" for line in header.splitlines()]
    _table([], data, out)
    return "\n".join(out).lstrip("\n") + "\n"
