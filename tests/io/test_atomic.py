"""sndiag.io.atomic: a write is all or nothing, and a failed one leaves no temporary file."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest

from sndiag.errors import SndiagError, WriteError
from sndiag.io.atomic import atomic_file, atomic_write, is_temporary


def test_atomic_write_bytes_text_and_writer(tmp_path: Path) -> None:
    assert atomic_write(tmp_path / "a.bin", b"\x00\x01").read_bytes() == b"\x00\x01"
    assert atomic_write(tmp_path / "b.txt", "héllo").read_text(encoding="utf-8") == "héllo"
    atomic_write(tmp_path / "c.npy", lambda fh: np.save(fh, np.arange(3)))
    assert np.load(tmp_path / "c.npy").tolist() == [0, 1, 2]
    assert oct((tmp_path / "a.bin").stat().st_mode & 0o777) == oct(0o644)
    assert not [p for p in tmp_path.iterdir() if is_temporary(p)]


def test_a_failing_writer_keeps_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = atomic_write(tmp_path / "out.npz", b"old")

    def half(fh) -> None:
        fh.write(b"new but torn")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, half)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.npz"]


def test_a_full_disk_is_a_write_error_naming_the_file(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    target = atomic_write(tmp_path / "params.npz", b"old export")

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(WriteError, match="params.npz.*No space left") as info:
        atomic_write(target, b"new export")
    assert isinstance(info.value, SndiagError) and isinstance(info.value, OSError)
    assert target.read_bytes() == b"old export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.npz"]


def test_a_missing_folder_is_a_write_error(tmp_path: Path) -> None:
    with pytest.raises(WriteError, match="folder exists"):
        atomic_write(tmp_path / "nope" / "x.json", "{}")


def test_text_mode_and_bad_mode(tmp_path: Path) -> None:
    with atomic_file(tmp_path / "t.csv", "w") as fh:
        fh.write("a,b\n1,2\n")
    assert (tmp_path / "t.csv").read_text() == "a,b\n1,2\n"
    with pytest.raises(ValueError, match="mode"), atomic_file(tmp_path / "x", "a"):
        pass
