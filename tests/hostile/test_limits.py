"""The documented limits (README "Limits and safety"), each enforced before the work it guards.

* ``SNDIAG_MAX_CLIPS``: counted from the file list, the archive's directory or the array's shape;
  too many is refused before a single clip is decoded.
* ``SNDIAG_MAX_UPLOAD_MB``: an archive (or one file) above it is refused from its size, before it
  is opened or decoded.
* ``SNDIAG_MAX_CLIP_SECONDS``: a clip above it is skipped (with the reason) from its header; its
  samples are never read.

Each through the Python API (with a spy proving the heavy step never ran) and the CLI (one
``error:`` line naming the variable to raise, exit 2, nothing written). The dashboard's side is
in test_ui_errors.py (the same limits, shown with st.error).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

import sndiag.io as sio
from sndiag.config import Limits
from sndiag.errors import DataError, LimitError
from sndiag.io import audio
from tests.hostile.conftest import (
    CliJob,
    Sandbox,
    assert_one_line_error,
    assert_wrote_only,
    good_wav,
    npy,
    run_cli_many,
    spectrograms,
    tone,
    wav,
    zip_of,
)

N_FILES = 6
LIMIT = 5


@pytest.fixture
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make decoding a clip fail the test; returns the names it was (wrongly) called with."""
    calls: list[str] = []

    def spy(*args: object, name: str | None = None, **kw: object) -> np.ndarray:
        calls.append(str(name))
        raise AssertionError(f"{name} was decoded although a limit refuses the input")

    monkeypatch.setattr(audio, "decode", spy)
    monkeypatch.setattr(audio, "decode_window", spy)
    return calls


def _clips(n: int = N_FILES) -> list[tuple[str, bytes]]:
    return [(f"set/c{i % 2}/{i}.wav", good_wav(300.0 + 100 * i)) for i in range(n)]


# -- clip count ----------------------------------------------------------------------------------
def test_clip_count_of_a_folder_is_checked_before_decoding(sandbox: Sandbox, no_decoding,
                                                           monkeypatch) -> None:
    for name, data in _clips():
        sandbox.write(name, data)
    with sandbox.inside(monkeypatch), pytest.raises(LimitError) as info:
        sio.from_folder(sandbox.inputs, limits=Limits(max_clips=LIMIT))
    assert str(info.value) == (f"{N_FILES} audio files exceed the limit of {LIMIT} clips; split "
                               "the data or raise SNDIAG_MAX_CLIPS")
    assert not no_decoding


def test_clip_count_of_a_zip_is_checked_before_decoding(no_decoding) -> None:
    with pytest.raises(LimitError, match=f"{N_FILES} audio files exceed the limit of {LIMIT}"):
        sio.from_zip(zip_of(_clips()), limits=Limits(max_clips=LIMIT))
    assert not no_decoding


def test_clip_count_of_uploaded_files_is_checked_before_decoding(no_decoding) -> None:
    with pytest.raises(LimitError, match="SNDIAG_MAX_CLIPS"):
        sio.from_files(_clips(), limits=Limits(max_clips=LIMIT))
    assert not no_decoding


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_clip_count_of_an_array_file(how: str, sandbox: Sandbox,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Given or from SNDIAG_MAX_CLIPS (what the CLI and the dashboard use)."""
    path = sandbox.write("six.npy", npy(spectrograms(N_FILES)))
    with sandbox.inside(monkeypatch), pytest.raises(LimitError) as info:
        if how == "argument":
            sio.load(path, limits=Limits(max_clips=LIMIT))
        else:
            monkeypatch.setenv("SNDIAG_MAX_CLIPS", str(LIMIT))
            sio.load(path)
    assert f"six.npy: {N_FILES} clips exceed the limit of {LIMIT}" in str(info.value)
    assert "SNDIAG_MAX_CLIPS" in str(info.value)


# -- upload size ---------------------------------------------------------------------------------
def test_archive_size_is_checked_before_the_zip_is_opened(monkeypatch: pytest.MonkeyPatch,
                                                          no_decoding) -> None:
    data = zip_of(_clips(2), compression=zipfile.ZIP_STORED)  # ~16 kB

    def never(*args: object, **kw: object) -> None:
        raise AssertionError("the archive was opened although it is above the size limit")

    monkeypatch.setattr(zipfile, "ZipFile", never)
    with pytest.raises(LimitError) as info:
        sio.from_zip(data, name="set.zip", limits=Limits(max_upload_mb=0.01))
    assert "above the limit of 0.01 MB" in str(info.value)
    assert "SNDIAG_MAX_UPLOAD_MB" in str(info.value)


def test_file_size_is_checked_before_decoding(no_decoding) -> None:
    """One file above the size limit is skipped with its reason, never decoded; alone, the run
    is refused with that reason."""
    with pytest.raises(DataError) as info:
        sio.from_files([("big.wav", good_wav())], limits=Limits(max_upload_mb=0.001))
    assert "big.wav" in str(info.value) and "above the limit of 0.001 MB" in str(info.value)
    assert not no_decoding


# -- clip duration -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ten_minutes() -> bytes:
    return wav(tone(600.0, 8000, dtype=np.float32), 8000, subtype="PCM_U8")  # 4.8 MB


def test_clip_duration_is_read_from_the_header(ten_minutes: bytes,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A 10-minute clip above the limit is skipped from its header: its 4.8 M samples are never
    read (a spy on libsndfile's reader); without the limit they are (the spy works)."""
    import soundfile as sf

    frames_read: list[int] = []
    real_read = sf.SoundFile.read

    def spy(self: sf.SoundFile, *args: object, **kw: object) -> object:
        frames_read.append(int(self.frames))
        return real_read(self, *args, **kw)

    monkeypatch.setattr(sf.SoundFile, "read", spy)
    files = [("good.wav", good_wav()), ("long.wav", ten_minutes)]
    ds = sio.from_files(files, labels="none", limits=Limits(max_clip_seconds=60), n_jobs=1)
    assert ds.n_clips == 1 and [s.name for s in ds.skipped] == ["long.wav"]
    assert "lasts 600.0 s, above the limit of 60 s" in ds.skipped[0].reason
    assert "SNDIAG_MAX_CLIP_SECONDS" in ds.skipped[0].reason
    assert max(frames_read) == 4000, frames_read  # only the good clip (0.5 s at 8 kHz)
    frames_read.clear()
    assert sio.from_files(files, labels="none", n_jobs=1).n_clips == 2
    assert max(frames_read) == 600 * 8000, frames_read


# -- the CLI -------------------------------------------------------------------------------------
def _folder_job(box: Sandbox) -> list[str]:
    for name, data in _clips():
        box.write(name, data)
    return ["extract", str(box.inputs), "-o", str(box.out / "x.npz")]


def _zip_job(box: Sandbox) -> list[str]:
    return ["extract", str(box.write("set.zip", zip_of(_clips(), compression=zipfile.ZIP_STORED))),
            "-o", str(box.out / "x.npz")]


def _npy_job(box: Sandbox) -> list[str]:
    # `scale` reads the whole array (load_arrays); `stats` streams it in bounded memory
    return ["scale", str(box.write("six.npy", npy(spectrograms(N_FILES)))), "--scaler",
            "standard", "-o", str(box.out / "p.npz")]


def _long_job(box: Sandbox) -> list[str]:
    box.write("long.wav", wav(tone(3.0, 8000), 8000))
    box.write("good.wav", good_wav())
    return ["extract", str(box.inputs), "--no-labels", "-o", str(box.out / "x.npz")]


CLI = {
    "clips_folder": (_folder_job, {"SNDIAG_MAX_CLIPS": str(LIMIT)},
                     f"{N_FILES} audio files exceed the limit of {LIMIT} clips"),
    "clips_zip": (_zip_job, {"SNDIAG_MAX_CLIPS": str(LIMIT)},
                  f"{N_FILES} audio files exceed the limit of {LIMIT} clips"),
    "clips_npy": (_npy_job, {"SNDIAG_MAX_CLIPS": str(LIMIT)},
                  f"{N_FILES} clips exceed the limit of {LIMIT}; raise SNDIAG_MAX_CLIPS"),
    "size_zip": (_zip_job, {"SNDIAG_MAX_UPLOAD_MB": "0.01"},
                 "above the limit of 0.01 MB; split it or raise SNDIAG_MAX_UPLOAD_MB"),
}


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    jobs = [CliJob(key, prep, env=env) for key, (prep, env, _) in CLI.items()]
    jobs.append(CliJob("duration", _long_job, env={"SNDIAG_MAX_CLIP_SECONDS": "1"}))
    return run_cli_many(tmp_path_factory.mktemp("cli-limits"), jobs)


@pytest.mark.parametrize("key", list(CLI))
def test_cli_refuses_above_a_limit_in_one_line(key: str, cli_runs: dict) -> None:
    assert_one_line_error(cli_runs[key][1], CLI[key][2])


def test_cli_skips_a_clip_above_the_duration_limit_and_says_so(cli_runs: dict) -> None:
    box, res = cli_runs["duration"]
    assert_wrote_only(res, "out/x.npz")
    assert [ln for ln in res.stderr_lines if ln.startswith("skipped ")] == [
        "skipped long.wav: lasts 3.0 s, above the limit of 1 s; trim the clip or "
        "raise SNDIAG_MAX_CLIP_SECONDS"], res.describe()
    assert "1 skipped" in res.stdout
    with np.load(Path(box.out) / "x.npz", allow_pickle=False) as z:
        assert z["X"].shape[0] == 1
