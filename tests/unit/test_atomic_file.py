import os
import stat

import pytest

from edge.atomic_file import write_atomic


def test_writes_content_and_mode_and_leaves_no_temporary_file(tmp_path):
    path = write_atomic(tmp_path / "sub" / "key.pem", b"secret", 0o600)
    assert path.read_bytes() == b"secret"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    write_atomic(path, "new text", 0o640)
    assert path.read_text() == "new text"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert sorted(p.name for p in path.parent.iterdir()) == ["key.pem"]


def test_a_failed_write_keeps_the_old_content(tmp_path):
    path = write_atomic(tmp_path / "config.toml", "old")
    with pytest.raises(TypeError):
        write_atomic(path, 12345)  # type: ignore[arg-type]
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]
