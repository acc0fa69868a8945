"""Release files on disk under ``data_dir/releases/<model>/<version>/<name>``, written streaming.

An upload goes to a temporary file in the same directory, hashed and counted as it arrives, and is
renamed into place only when complete and matching the announced SHA-256: a broken upload leaves
nothing behind and never replaces a good file half way.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

from backend.errors import Invalid, TooLarge

CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class StoredFile:
    relative: str  # path under data_dir
    sha256: str
    size: int


def release_path(data_dir: Path, model: str, version: int, name: str) -> Path:
    return data_dir / "releases" / model / str(version) / name


async def receive_file(
    chunks: AsyncIterator[bytes],
    *,
    data_dir: Path,
    model: str,
    version: int,
    name: str,
    max_bytes: int,
    claimed_sha256: str | None,
) -> StoredFile:
    """Write the streamed upload to its place; refuses more than ``max_bytes`` or a SHA-256 mismatch."""
    final = release_path(data_dir, model, version, name)
    final.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", dir=final.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge(f"release file over {max_bytes} bytes")
                digest.update(chunk)
                fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        sha = digest.hexdigest()
        if claimed_sha256 and claimed_sha256 != sha:
            raise Invalid(f"upload damaged: sha256 {sha} but X-Sha256 says {claimed_sha256}")
        tmp.replace(final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return StoredFile(str(final.relative_to(data_dir)), sha, size)


def write_bytes(*, data_dir: Path, model: str, version: int, name: str, data: bytes) -> StoredFile:
    """Store a file given whole (CLI uploads and tests); same atomic rename as :func:`receive_file`."""
    final = release_path(data_dir, model, version, name)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(final)
    return StoredFile(str(final.relative_to(data_dir)), hashlib.sha256(data).hexdigest(), len(data))


def read_chunks(path: Path, start: int, stop: int | None = None) -> Iterator[bytes]:
    """Bytes ``start`` to ``stop`` (excluded; None: the end) in chunks: a download never holds the file."""
    with path.open("rb") as fh:
        fh.seek(start)
        left = None if stop is None else max(0, stop - start)
        while left is None or left > 0:
            chunk = fh.read(CHUNK if left is None else min(CHUNK, left))
            if not chunk:
                return
            if left is not None:
                left -= len(chunk)
            yield chunk
