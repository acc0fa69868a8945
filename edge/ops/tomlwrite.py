"""TOML documents through tomlkit: new ones written from data, a technician's file edited in place.

- :func:`dumps` writes a new document (install's broker options, generated configs);
  ``tomllib.loads(dumps(d)) == d`` (tested).
- :func:`update_document` turns a parsed document (``tomlkit.parse``) into the given data while
  keeping everything a person wrote that still applies: comments, blank lines, key order, the
  layout of unchanged values. ``shelf-edge provision`` edits /etc/smartshelf/edge.toml with it, so
  a technician's notes survive a provisioning.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, MutableMapping
from pathlib import PurePath
from typing import Any

import tomlkit


def plain(value: Any) -> Any:
    """``value`` with only what TOML can hold: None left out (TOML has no null), paths as strings;
    NaN/infinity and other types refused (a config value must be finite and plain)."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"TOML config values must be finite, got {value}")
        return value
    if isinstance(value, PurePath):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def dumps(data: Mapping[str, Any], header: str = "") -> str:
    """TOML text of ``data``, after a ``# header`` comment block when given."""
    doc = tomlkit.document()
    for line in header.splitlines():
        doc.add(tomlkit.comment(line))
    if header:
        doc.add(tomlkit.nl())
    for key, value in plain(data).items():
        doc[key] = value
    return tomlkit.dumps(doc)


def update_document(doc: MutableMapping[str, Any], data: Mapping[str, Any]) -> None:
    """Make ``doc`` (a tomlkit document or table) equal to ``data``, touching only what differs:
    keys absent from ``data`` go, tables are updated key by key, other values replaced."""
    wanted = plain(data)
    for key in [k for k in doc if k not in wanted]:
        del doc[key]
    for key, value in wanted.items():
        current = doc.get(key)
        if isinstance(value, dict) and isinstance(current, MutableMapping):
            update_document(current, value)
        elif current is None or _unwrap(current) != value:
            doc[key] = value


def _unwrap(item: Any) -> Any:
    return item.unwrap() if hasattr(item, "unwrap") else item
