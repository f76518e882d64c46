"""Nothing lost, nothing half-written: every output with the disk full, and a damaged
``dataset.npz`` of a finished ``--out-dir`` run.

The full disk is simulated in-process: every file :mod:`sndiag.io.atomic` opens gets a proxy
whose ``write`` raises ``OSError(ENOSPC)`` once a few bytes are written (mid-file), or ``fsync``
raises it (after the whole file). Each CLI command is run through :func:`sndiag.cli.main`:

* the previous file at the output path is unchanged (``scale -o params.npz`` over an export);
* no file appears where there was none (``stats --csv``: no truncated CSV);
* no temporary file is left in the folder (``extract -o``);
* one ``error:`` line names the file, exit 2.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import sndiag.io.atomic as atomic
from sndiag.dataset import Dataset
from sndiag.io.arrays import load_arrays, save
from tests.hostile.conftest import good_wav, spectrograms


class _FullFile:
    """A file object whose writes fail with ENOSPC after ``room`` bytes."""

    def __init__(self, fh: Any, room: int) -> None:
        self._fh, self._room = fh, room

    def write(self, data: Any) -> int:
        if not isinstance(data, str):
            data = memoryview(data).cast("B")
        if len(data) > self._room:
            self._fh.write(data[:self._room])
            self._room = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._room -= len(data)
        return self._fh.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fh, name)

    def __enter__(self) -> _FullFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._fh.close()


@pytest.fixture(params=["mid_write", "fsync"])
def disk_full(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    real_fdopen = os.fdopen
    if request.param == "mid_write":
        monkeypatch.setattr(atomic.os, "fdopen",
                            lambda fd, *a, **k: _FullFile(real_fdopen(fd, *a, **k), 100))
    else:
        def fsync(fd: int) -> None:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(atomic.os, "fsync", fsync)
    yield request.param


def _cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
         *args: str | Path) -> tuple[int, str, str]:
    from sndiag.cli import main

    monkeypatch.setattr(sys, "argv", ["sndiag", *map(str, args)])
    with pytest.raises(SystemExit) as info:
        main()
        raise SystemExit(0)
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def _listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


@pytest.fixture
def dataset_file(tmp_path: Path) -> Path:
    (tmp_path / "in").mkdir()
    return save(Dataset(spectrograms(40), y=np.repeat(["a", "b"], 20)), tmp_path / "in" / "d.npz")


def _assert_failed_cleanly(code: int, out: str, err: str, target: Path,
                           before: dict[str, bytes]) -> None:
    lines = err.strip().splitlines()
    assert code == 2, (code, out, err)
    assert len(lines) == 1 and lines[0].startswith("error: cannot write "), err
    assert target.name in lines[0] and "No space left on device" in lines[0], err
    assert _listing(target.parent) == before, "the folder changed: a torn or temporary file"


def test_scale_over_an_existing_export_keeps_it(dataset_file: Path, disk_full: str,
                                                tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "params.npz").write_bytes(b"the previous export")
    before = _listing(out)
    code, stdout, err = _cli(monkeypatch, capsys, "scale", dataset_file, "--scaler", "band",
                             "-o", out / "params.npz")
    _assert_failed_cleanly(code, stdout, err, out / "params.npz", before)


@pytest.mark.parametrize("option", ["--csv", "-o"])
def test_stats_outputs_never_torn(dataset_file: Path, disk_full: str, tmp_path: Path,
                                  option: str, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    target = out / ("stats.csv" if option == "--csv" else "stats.npz")
    code, stdout, err = _cli(monkeypatch, capsys, "stats", dataset_file, option, target)
    _assert_failed_cleanly(code, stdout, err, target, {})


def test_extract_leaves_no_temporary_file(disk_full: str, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "src" / "a"
    src.mkdir(parents=True)
    (src / "1.wav").write_bytes(good_wav())
    out = tmp_path / "out"
    out.mkdir()
    code, stdout, err = _cli(monkeypatch, capsys, "extract", src.parent, "-o", out / "d.npz")
    _assert_failed_cleanly(code, stdout, err, out / "d.npz", {})


def test_compare_json_never_torn(dataset_file: Path, disk_full: str, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "r.json").write_text("{}")
    code, stdout, err = _cli(monkeypatch, capsys, "compare", dataset_file, "--scalers",
                             "none,standard", "--jobs", "1", "--json", out / "r.json")
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "r.json" in lines[0], err
    assert _listing(out) == {"r.json": b"{}"}


# -- a damaged dataset.npz after a finished --out-dir run ---------------------------------------
@pytest.fixture
def finished_run(tmp_path: Path) -> tuple[Path, Path, str]:
    from sndiag.distributed import extract_chunked

    src = tmp_path / "src"
    for label in ("yes", "no"):
        (src / label).mkdir(parents=True)
        for i in range(3):
            (src / label / f"{i}.wav").write_bytes(good_wav(300.0 + 100 * i))
    res = extract_chunked(src, tmp_path / "parts", chunk_files=2)
    return src, tmp_path / "parts", res.content_hash


@pytest.mark.parametrize("damage", ["truncate", "flip_a_byte", "delete"])
def test_out_dir_damaged_dataset_is_assembled_again(finished_run: tuple[Path, Path, str],
                                                    damage: str) -> None:
    from sndiag.distributed import extract_chunked

    src, parts, content_hash = finished_run
    path = parts / "dataset.npz"
    good = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(good[:len(good) // 2])
    elif damage == "flip_a_byte":
        path.write_bytes(good[:5000] + bytes([good[5000] ^ 0xFF]) + good[5001:])
    else:
        path.unlink()
    res = extract_chunked(src, parts, chunk_files=2)
    assert (res.n_reused, res.n_computed) == (3, 0)
    assert path.read_bytes() == good
    assert load_arrays(path).content_hash == res.content_hash == content_hash


def test_out_dir_intact_dataset_is_reused_unwritten(finished_run: tuple[Path, Path, str]) -> None:
    from sndiag.distributed import extract_chunked

    src, parts, _ = finished_run
    before = (parts / "dataset.npz").stat().st_mtime_ns
    extract_chunked(src, parts, chunk_files=2)
    assert (parts / "dataset.npz").stat().st_mtime_ns == before


def test_out_dir_stale_temporary_files_are_removed(finished_run: tuple[Path, Path, str]) -> None:
    from sndiag.distributed import extract_chunked

    src, parts, _ = finished_run
    stale = [parts / ".dataset.npz.k2j3.tmp", parts / ".manifest.json.x1.tmp",
             parts / "chunks" / ".000001.npz.q.tmp"]
    for p in stale:
        p.write_bytes(b"half")
    extract_chunked(src, parts, chunk_files=2)
    assert not [p for p in stale if p.exists()]
