"""What a new gateway's installer or provisioning must do with the dashboard password."""

from __future__ import annotations

from pathlib import Path

from edge.web.passwords import is_hashed, verify


def assert_password_shown_once_and_only_its_hash_kept(output: str, root: Path, stored: str | None) -> None:
    """The new gateway's dashboard password is printed once, the config holds its scrypt hash, and
    no file written under ``root`` holds the password itself."""
    [line] = [line for line in output.splitlines() if line.startswith("dashboard password")]
    password = line.rsplit(" ", 1)[1]
    assert stored is not None and is_hashed(stored) and verify(stored, password)
    files = [p for p in root.rglob("*") if p.is_file()]
    assert files and not [p for p in files if password.encode() in p.read_bytes()]
