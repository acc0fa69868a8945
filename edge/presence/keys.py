"""The enrolled-keys file: today's (customer, store, day) keys, loaded by the gateway at start.

Until backend sync delivers keys, ``presence.keys_file`` points at a JSON file of this form::

    {
      "format": "smartshelf-presence-keys",
      "version": 1,
      "store": "store-001",
      "keys": [
        {"shopper": "sh-3f9a0c1d", "day": 20415, "key": "<64 hex chars>"},
        ...
      ]
    }

``shopper`` is the pseudonymous id used everywhere on the gateway, ``day`` the UTC day number
(days since 1970-01-01) the key is valid for, ``key`` the 32-byte day key in hex
(see TOKENS.md). A shopper may have keys for two days (around midnight). The file holds keys of
opted-in customers only; a customer absent from a newer file is revoked when it is loaded.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError

from edge.atomic_file import write_atomic
from edge.errors import EdgeError
from edge.presence.resolver import SHOPPER_ID_MAX, EnrolledKey
from edge.presence.tokens import DAY_KEY_LEN
from edge.settings_base import Section

FORMAT = "smartshelf-presence-keys"


class KeysFileError(EdgeError):
    """The keys file cannot be read or is malformed; ``where`` names the entry or field."""

    def __init__(self, path: str, where: str, reason: str) -> None:
        self.path = path
        self.where = where
        self.reason = reason
        super().__init__(f"keys file {path}: {where}: {reason}")


class KeyEntry(Section):
    """One enrolled day key."""

    shopper: str = Field(
        min_length=1,
        max_length=SHOPPER_ID_MAX,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="Pseudonymous shopper id (never the loyalty number).",
    )
    day: int = Field(ge=0, lt=2**31, description="UTC day number the key is valid for.")
    key: str = Field(
        pattern=rf"^[0-9a-fA-F]{{{2 * DAY_KEY_LEN}}}$",
        description="32-byte day key, hex (token key || check-in key).",
    )


class KeysFile(Section):
    """The whole keys file."""

    format: Literal["smartshelf-presence-keys"] = Field(description="File type marker.")
    version: Literal[1] = Field(description="File format version.")
    store: str = Field(min_length=1, description="Store the keys were derived for.")
    keys: list[KeyEntry] = Field(description="Enrolled day keys.")


def load_keys_file(path: str | Path, store: str | None = None) -> list[EnrolledKey]:
    """Read and validate a keys file; with ``store`` given, refuse a file made for another store."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise KeysFileError(str(path), "<file>", f"cannot read: {exc.strerror}") from None
    try:
        parsed = KeysFile.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "<root>"
        raise KeysFileError(str(path), where, f"{first['msg']} ({exc.error_count()} error(s))") from None
    if store is not None and parsed.store != store:
        raise KeysFileError(str(path), "store", f"keys are for store {parsed.store!r}, this is {store!r}")
    return [EnrolledKey(e.shopper, e.day, bytes.fromhex(e.key)) for e in parsed.keys]


def write_keys_file(path: str | Path, store: str, keys: Iterable[EnrolledKey]) -> Path:
    """Write a keys file atomically (temp file + rename), readable by the gateway only (0600)."""
    path = Path(path)
    doc = {
        "format": FORMAT,
        "version": 1,
        "store": store,
        "keys": [{"shopper": k.shopper, "day": k.day, "key": k.key.hex()} for k in keys],
    }
    return write_atomic(path, json.dumps(doc, separators=(",", ":")), 0o600)


def trim_heap() -> bool:
    """Give freed heap memory back to the OS (glibc ``malloc_trim``); call after loading a keys file.

    Parsing a million keys leaves ~100 MB of freed-but-resident Python objects behind; the table
    itself is numpy buffers. Returns False where glibc is not available (nothing done).
    """
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        return bool(libc.malloc_trim(0))
    except (OSError, AttributeError):
        return False
