"""What can go wrong with the database file while the daemon runs, in words a technician can act on.

A fault is noticed either by a failed write (SQLite's error code says which: a full disk, an I/O
error, a read-only file) or by the file check done before writes and every tick (the path no longer
leads to the file the daemon has open: deleted, or replaced by another file). While a fault lasts the
store holds events in memory (:class:`edge.store.events_repo.EventStore`), /healthz and
``shelf-edge doctor`` are red with the reason and the fix below.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

#: A file's identity on its file system: (device, inode). None when the path leads nowhere.
FileIdentity = tuple[int, int]

# SQLite primary result codes (https://sqlite.org/rescode.html), low byte of the extended code.
_SQLITE_READONLY = 8
_SQLITE_IOERR = 10
_SQLITE_CORRUPT = 11
_SQLITE_FULL = 13
_SQLITE_CANTOPEN = 14
_SQLITE_NOTADB = 26
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6

_BY_CODE = {
    _SQLITE_FULL: "disk_full",
    _SQLITE_IOERR: "io_error",
    _SQLITE_READONLY: "read_only",
    _SQLITE_CANTOPEN: "cannot_open",
    _SQLITE_CORRUPT: "corrupt",
    _SQLITE_NOTADB: "corrupt",
    _SQLITE_BUSY: "busy",
    _SQLITE_LOCKED: "busy",
}

#: Reason word -> what a technician does about it (shown by /healthz and doctor).
FIXES = {
    "disk_full": "free space on the data directory's disk (`df -h DATA_DIR`; `sudo journalctl "
    "--vacuum-size=100M`; remove files that are not the daemon's); held events are written by themselves "
    "as soon as there is room",
    "deleted": "the database file was deleted while the daemon ran; it is being recreated from the open "
    "copy: check that the data directory is writable and nothing cleans it (tmpfiles, scripts)",
    "replaced": "the database file was replaced while the daemon ran; the daemon moves its events into "
    "the new file: do not swap the file under a running daemon (stop it first)",
    "io_error": "the disk reports I/O errors: check `dmesg` and the SD card/SSD; replace it if errors persist",
    "read_only": "the data directory or its file system became read-only: check `mount` and `dmesg` "
    "(a file system remounted read-only after errors)",
    "cannot_open": "the database file cannot be opened: check the data directory exists and belongs to "
    "the smartshelf user",
    "corrupt": "the database file is damaged: stop the daemon, move the file aside and restart; tell "
    "central IT (unsent events are in the old file)",
    "busy": "another process keeps the database locked: find it with `fuser DATA_DIR/edge.db` and stop it",
    "error": "see the daemon's journal: `journalctl -u smartshelf-edge -n 50`",
}


@dataclass(frozen=True, slots=True)
class StoreFault:
    """Why the database cannot take writes now, since when (gateway clock)."""

    reason: str
    detail: str
    since: float

    @property
    def fix(self) -> str:
        return FIXES.get(self.reason, FIXES["error"])


def classify(exc: sqlite3.Error) -> str:
    """The reason word of a failed SQLite call (its error code; the message as a fallback)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int) and (code & 0xFF) in _BY_CODE:
        return _BY_CODE[code & 0xFF]
    text = str(exc).lower()
    if "full" in text:
        return "disk_full"
    if "i/o" in text:
        return "io_error"
    if "readonly" in text or "read-only" in text:
        return "read_only"
    if "malformed" in text or "not a database" in text:
        return "corrupt"
    return "error"


def file_identity(path: str | Path) -> FileIdentity | None:
    """(device, inode) of the file at ``path``; None when there is none."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):  # the file, or a directory on its path, is gone
        return None
    return (st.st_dev, st.st_ino)


def moved(path: str | Path, opened: FileIdentity | None) -> str | None:
    """'deleted' or 'replaced' when ``path`` no longer leads to the file opened as ``opened``."""
    if opened is None:
        return None
    now = file_identity(path)
    if now is None:
        return "deleted"
    return None if now == opened else "replaced"
