"""The enrolled-keys file: today's (customer, store, day) keys, loaded by the gateway at start.

The backend serves it as the ``customer-keys/{day}`` resource (or ``presence.keys_file`` points at
one)::

    {
      "format": "smartshelf-presence-keys",
      "version": 2,
      "store": "store-001",
      "keys": [
        {"shopper": "sh-3f9a0c1d", "day": 20415, "key": "<64 hex chars>",
         "purposes": ["recognition", "offers"]},
        ...
      ]
    }

``shopper`` is the pseudonymous id used everywhere on the gateway, ``day`` the UTC day number
(days since 1970-01-01) the key is valid for, ``key`` the 32-byte day key in hex
(see TOKENS.md), ``purposes`` what the customer consented to in the loyalty app:

- ``recognition``: the gateway may recognise the phone in this store. An entry without it is
  never loaded into the resolver (the backend does not send one; the gateway refuses it anyway).
- ``offers``: personalised offers on the shelf displays. Without it a recognised shopper gets no
  offer at all (the decision is ``no-consent``); there are no "non-personalised" offers, since
  every offer is chosen from the shopper's basket.
- ``analytics``: events about the shopper may be stored and sent to the central service. Without it
  presence events are not stored, and basket, offer and conversion events are stored without the
  shopper id (stock and offer counts still work); decision records are not logged.

Version 1 files (no ``purposes``) predate per-purpose consent: the app's single opt-in covered all
three purposes, so their entries get all three. A shopper may have keys for two days (around
midnight). The file holds keys of opted-in customers only; a customer absent from a newer file is
revoked when it is loaded.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Literal, NamedTuple

from pydantic import Field, ValidationError, model_validator

from edge.atomic_file import write_atomic
from edge.errors import EdgeError
from edge.presence.resolver import SHOPPER_ID_MAX, EnrolledKey
from edge.presence.tokens import DAY_KEY_LEN
from edge.settings_base import Section

FORMAT = "smartshelf-presence-keys"
#: Version written by :func:`write_keys_file` (1 is still read: see the module docstring).
VERSION = 2

Purpose = Literal["recognition", "offers", "analytics"]
#: Every consent purpose the loyalty app asks for, in the order the app shows them.
PURPOSES: tuple[Purpose, ...] = ("recognition", "offers", "analytics")


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
    purposes: tuple[Purpose, ...] | None = Field(
        None,
        description="Consented purposes (recognition, offers, analytics); required from version 2.",
    )


class KeysFile(Section):
    """The whole keys file."""

    format: Literal["smartshelf-presence-keys"] = Field(description="File type marker.")
    version: Literal[1, 2] = Field(description="File format version (1: no purposes, all implied).")
    store: str = Field(min_length=1, description="Store the keys were derived for.")
    keys: list[KeyEntry] = Field(description="Enrolled day keys.")

    @model_validator(mode="after")
    def _purposes_match_version(self) -> KeysFile:
        for n, entry in enumerate(self.keys):
            if self.version == 2 and entry.purposes is None:
                raise ValueError(f"keys.{n}.purposes: required in version 2")
            if self.version == 1 and entry.purposes is not None:
                raise ValueError(f"keys.{n}.purposes: not part of version 1 (write version 2)")
        return self


class KeySet(NamedTuple):
    """A loaded keys file: the keys the resolver may use and each shopper's consented purposes.

    ``keys`` holds only entries with recognition consent; ``purposes`` has every shopper of the
    file (the latest day's entry wins when a shopper has two).
    """

    keys: list[EnrolledKey]
    purposes: dict[str, frozenset[Purpose]]


def load_keys_file(path: str | Path, store: str | None = None) -> list[EnrolledKey]:
    """The keys with recognition consent of a keys file (see :func:`load_key_set`)."""
    return load_key_set(path, store).keys


def load_key_set(path: str | Path, store: str | None = None) -> KeySet:
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
    keys: list[EnrolledKey] = []
    purposes: dict[str, tuple[int, frozenset[Purpose]]] = {}
    for e in parsed.keys:
        granted = frozenset(PURPOSES if e.purposes is None else e.purposes)
        if e.day >= purposes.get(e.shopper, (-1, frozenset()))[0]:
            purposes[e.shopper] = (e.day, granted)
        if "recognition" in granted:
            keys.append(EnrolledKey(e.shopper, e.day, bytes.fromhex(e.key)))
    return KeySet(keys, {shopper: granted for shopper, (_, granted) in purposes.items()})


def keys_document(
    store: str, keys: Iterable[EnrolledKey], purposes: Mapping[str, Iterable[Purpose]] | None = None
) -> bytes:
    """The keys document (version 2) as the backend serves it; shoppers absent from ``purposes``
    consented to every purpose."""
    ordered = {s: [p for p in PURPOSES if p in set(g)] for s, g in (purposes or {}).items()}
    everything = list(PURPOSES)
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "store": store,
        "keys": [
            {
                "shopper": k.shopper,
                "day": k.day,
                "key": k.key.hex(),
                "purposes": ordered.get(k.shopper, everything),
            }
            for k in keys
        ],
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def write_keys_file(
    path: str | Path,
    store: str,
    keys: Iterable[EnrolledKey],
    purposes: Mapping[str, Iterable[Purpose]] | None = None,
) -> Path:
    """Write a keys file atomically (temp file + rename), readable by the gateway only (0600)."""
    return write_atomic(Path(path), keys_document(store, keys, purposes), 0o600)


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
