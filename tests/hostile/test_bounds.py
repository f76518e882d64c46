"""Memory and time bounded before work starts, whatever the parameters and inputs.

* Absurd extraction parameters (``--hop 100000000``, ``--n-frames 100000000``,
  ``--n-fft 1000000000``, ``--n-frames 1``) are refused from the parameters alone: one line,
  exit 2, a small peak (before: MemoryError, one run at 22 GB; ``--n-frames 1`` wrote zeros).
* A long, high-rate clip is decoded only over the window the spectrogram keeps.
* A labels CSV that is not a regular file (``/dev/zero``, a FIFO nobody writes) is refused
  unopened; a large one, or one with an endless line, is refused with a bounded read.
* Arrays whose images (or whole) would not fit are refused from the header.
* A dataset that would not fit in memory (100 000 one-sample WAVs) is refused before any clip is
  decoded; the images are never held twice.
* A label pattern with catastrophic backtracking is matched in linear time.

Every assertion is on bytes, memory, counts or results, never on seconds.
"""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import numpy as np
import pytest

import sndiag.io as sio
from sndiag.config import MAX_SIZES, Limits, SpectrogramConfig
from sndiag.errors import LimitError, ParameterError
from sndiag.io import audio, uploads
from sndiag.io.labels import MAX_CSV_LINE
from sndiag.io.patterns import compile_pattern
from sndiag.memory import MAX_WINDOW_SAMPLES, batch_clips, check_window, dataset_bytes
from sndiag.spectrogram import fix_length
from tests.hostile.conftest import (
    CliJob,
    Sandbox,
    assert_one_line_error,
    good_wav,
    measure_memory,
    npy_lying_header,
    run_cli_many,
    wav,
)

MB = 1 << 20


# -- extraction parameters ----------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(MAX_SIZES))
def test_config_caps_every_size(name: str) -> None:
    with pytest.raises(ParameterError, match=f"{name}=.* is above the largest supported value"):
        SpectrogramConfig(**{name: MAX_SIZES[name] * 1000})


def test_one_frame_is_refused_not_zeros() -> None:
    with pytest.raises(ParameterError, match="n_frames=1 leaves no audio in the window"):
        SpectrogramConfig(n_frames=1)


def test_window_and_batch_are_bounded() -> None:
    cfg = SpectrogramConfig(hop_length=8192, n_frames=4000)
    with pytest.raises(ParameterError, match="above the largest supported"):
        check_window(cfg)
    big = SpectrogramConfig(hop_length=8192, n_frames=2000)
    check_window(big)
    assert big.n_samples <= MAX_WINDOW_SAMPLES
    assert batch_clips(big, 64) * big.n_samples * 4 <= 64 * MB
    assert batch_clips(SpectrogramConfig(), 64) == 64


ABSURD = [("--hop", "100000000"), ("--n-frames", "100000000"), ("--n-fft", "1000000000"),
          ("--n-frames", "1"), ("--hop", "65536", "--n-frames", "4000"),
          ("--n-mels", "1024", "--n-fft", "4096", "--n-frames", "4000")]
ABSURD_MATCH = ["hop_length=100000000 is above", "n_frames=100000000 is above",
                "n_fft=1000000000 is above", "n_frames=1 leaves no audio",
                "samples (11886 s at sr=22050) is above the largest supported",
                "4096000 pixels exceed the limit of 1048576 pixels"]


@pytest.mark.parametrize("i", range(len(ABSURD)))
def test_cli_absurd_parameters_refused_before_work(cli_runs: dict, i: int) -> None:
    """Before: MemoryError (22 GB resident for one of them), or an all-zero dataset."""
    _, res = cli_runs[f"param_{i}"]
    assert_one_line_error(res, ABSURD_MATCH[i])
    assert res.peak_rss_mb < cli_runs["small"][1].peak_rss_mb + 50, res.describe()


# -- decoding only the window -------------------------------------------------------------------
@pytest.fixture(scope="module")
def long_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 s at 96 kHz, 16-bit (11 MB; decoded whole: 23 MB of float32, more to resample)."""
    path = tmp_path_factory.mktemp("long") / "long.wav"
    rng = np.random.default_rng(0)
    y = (0.1 * rng.standard_normal(96_000 * 60)).astype(np.float32)
    path.write_bytes(wav(y, 96_000, subtype="PCM_16"))
    return path


@pytest.mark.parametrize("align", ["start", "center"])
def test_long_clip_decodes_only_its_window(long_wav: Path, align: str) -> None:
    cfg = SpectrogramConfig(align=align)
    window, traced, _ = measure_memory(lambda: audio.decode_window(long_wav, config=cfg))
    whole = fix_length(audio.decode(long_wav, sr=cfg.sr), config=cfg)
    assert window.seconds == pytest.approx(60.0, abs=1e-4)
    if align == "start":
        np.testing.assert_array_equal(window.y, whole)
    else:
        np.testing.assert_allclose(window.y, whole, atol=1e-6)
    full_bytes = 96_000 * 60 * 4
    assert traced < full_bytes / 4, f"{traced:.1f} MB traced to keep a 3 s window of a 60 s clip"


# -- labels CSV ---------------------------------------------------------------------------------
def _one_clip(box: Sandbox) -> Path:
    box.write("src/a/good.wav", good_wav())
    return box.inputs / "src"


def _csv_jobs() -> list[CliJob]:
    def dev_zero(box: Sandbox) -> list[str]:
        return ["extract", str(_one_clip(box)), "--labels-csv", "/dev/zero", "-o",
                str(box.out / "d.npz")]

    def fifo(box: Sandbox) -> list[str]:
        path = box.inputs / "labels.csv"
        os.mkfifo(path)
        return ["extract", str(_one_clip(box)), "--labels-csv", str(path), "-o",
                str(box.out / "d.npz")]

    def one_line(box: Sandbox) -> list[str]:
        box.write("labels.csv", b"path,label\n" + b"a" * (40 * MB))
        return ["extract", str(_one_clip(box)), "--labels-csv", str(box.inputs / "labels.csv"),
                "-o", str(box.out / "d.npz")]

    def too_big(box: Sandbox) -> list[str]:
        box.write("labels.csv", b"path,label\n" + b"a.wav,x\n" * (MB // 4))
        return ["extract", str(_one_clip(box)), "--labels-csv", str(box.inputs / "labels.csv"),
                "-o", str(box.out / "d.npz")]

    def small(box: Sandbox) -> list[str]:
        box.write("labels.csv", b"path,label\na/good.wav,x\n")
        return ["extract", str(_one_clip(box)), "--labels-csv", str(box.inputs / "labels.csv"),
                "-o", str(box.out / "d.npz")]

    def params(*opts: str):  # noqa: ANN202
        return lambda box: ["extract", str(_one_clip(box)), "-o", str(box.out / "d.npz"), *opts]

    jobs = [CliJob(f"param_{i}", params(*opts)) for i, opts in enumerate(ABSURD)]
    jobs += [CliJob("one_line", one_line), CliJob("small", small),
            CliJob("too_big", too_big, env={"SNDIAG_MAX_LABELS_MB": "1"})]
    if os.path.exists("/dev/zero") and stat.S_ISCHR(os.stat("/dev/zero").st_mode):
        jobs.append(CliJob("dev_zero", dev_zero))
    if hasattr(os, "mkfifo"):
        jobs.append(CliJob("fifo", fifo))
    return jobs


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return run_cli_many(tmp_path_factory.mktemp("csv-bounds"), _csv_jobs())


@pytest.mark.parametrize("key", ["dev_zero", "fifo"])
def test_cli_labels_csv_not_a_regular_file(cli_runs: dict, key: str) -> None:
    if key not in cli_runs:
        pytest.skip(f"no {key} on this platform")
    _, res = cli_runs[key]
    assert_one_line_error(res, "is not a regular file")
    assert res.peak_rss_mb < cli_runs["small"][1].peak_rss_mb + 50, res.describe()


def test_cli_labels_csv_endless_line_read_with_a_bound(cli_runs: dict) -> None:
    """A 40 MB line: read once (40 MB), never decoded nor parsed (before: ~7 times its size)."""
    _, res = cli_runs["one_line"]
    assert_one_line_error(res, f"line 2 is longer than {MAX_CSV_LINE} bytes")
    assert res.peak_rss_mb < cli_runs["small"][1].peak_rss_mb + 80, res.describe()


def test_cli_labels_csv_above_the_limit(cli_runs: dict) -> None:
    _, res = cli_runs["too_big"]
    assert_one_line_error(res, "above the limit of 1 MB")
    assert "SNDIAG_MAX_LABELS_MB" in res.stderr
    _, ok = cli_runs["small"]
    assert ok.returncode == 0, ok.describe()


def test_labels_csv_bytes_above_the_limit() -> None:
    csv = b"path,label\n" + b"a.wav,x\n" * (MB // 4)
    with pytest.raises(LimitError, match="SNDIAG_MAX_LABELS_MB"):
        sio.from_files([("a/a.wav", good_wav())], labels_csv=csv, limits=Limits(max_labels_mb=1))


def test_labels_csv_rows_above_the_clip_limit() -> None:
    csv = b"path,label\n" + b"".join(b"%d.wav,x\n" % i for i in range(50))
    with pytest.raises(LimitError, match="more than the limit of 10 clips"):
        sio.from_files([("a/a.wav", good_wav())], labels_csv=csv, limits=Limits(max_clips=10))


# -- arrays -------------------------------------------------------------------------------------
def test_array_images_above_the_pixel_limit_refused_from_the_header() -> None:
    """2 x 3000 x 3000 (a 69 MB upload reached 3.8 GB in the statistics): refused from the
    header of a file that holds 1 kB, before anything is read."""
    data = npy_lying_header((2, 3000, 3000))
    result, traced, _ = measure_memory(lambda: uploads.load_array_upload("big.npy", data))
    assert isinstance(result, LimitError), result
    assert "9000000 pixels exceed the limit of 1048576" in str(result)
    assert traced < 1


def test_array_above_the_dataset_limit_refused_from_the_header() -> None:
    buf = io.BytesIO()
    np.savez(buf, X=np.zeros((40, 60, 130), np.float32))
    result, _, _ = measure_memory(lambda: sio.load_arrays(buf.getvalue(),
                                                          limits=Limits(max_dataset_mb=1)))
    assert isinstance(result, LimitError) and "SNDIAG_MAX_DATASET_MB" in str(result), result


def test_streamed_stats_refuse_huge_images(tmp_path: Path) -> None:
    from sndiag.io.streaming import open_array_file

    path = tmp_path / "big.npy"
    np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(2, 3000, 3000)).flush()
    result, traced, _ = measure_memory(lambda: open_array_file(path, expected_shape=None))
    assert isinstance(result, LimitError) and "SNDIAG_MAX_IMAGE_PIXELS" in str(result)
    assert traced < 1


# -- many tiny clips ----------------------------------------------------------------------------
def test_dataset_above_the_limit_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """100 000 one-sample WAVs are 6 MB of audio but 3 GB of images: counted, then refused."""
    calls: list[object] = []
    monkeypatch.setattr(audio, "decode_window", lambda *a, **k: calls.append(a))
    tiny = wav(np.array([0.5]), 8000)
    files = [(f"c/{i}.wav", tiny) for i in range(100)]
    with pytest.raises(LimitError, match=r"100 clips of 7800 pixels take 3 MB .*--out-dir"):
        sio.from_files(files, limits=Limits(max_dataset_mb=2))
    assert calls == []
    assert dataset_bytes(100_000, (60, 130)) > Limits().max_dataset_mb * MB


def test_extraction_holds_the_images_once() -> None:
    """2000 one-sample clips and a bad one: 60 MB of images, held once (before: copied again to
    drop the skipped clip, 2.1x)."""
    tiny = wav(np.array([0.5]), 8000)
    files = [("c0/bad.wav", b"junk")] + [(f"c{i % 2}/{i}.wav", tiny) for i in range(2000)]
    sio.from_files(files[:20], n_jobs=1, batch_size=8)  # warm caches (filterbank, pools)
    ds, traced, _ = measure_memory(lambda: sio.from_files(files, n_jobs=1, batch_size=8))
    x_mb = ds.X.nbytes / MB
    assert ds.n_clips == 2000 and [s.name for s in ds.skipped] == ["c0/bad.wav"]
    assert traced < 1.5 * x_mb + 16, f"{traced:.0f} MB traced for {x_mb:.0f} MB of images"
    _, traced, _ = measure_memory(lambda: ds.replace(provenance={}).content_hash)
    assert traced < 16, "the content hash reads the images in place (X is 60 MB)"


# -- label patterns -----------------------------------------------------------------------------
def test_catastrophic_pattern_is_linear() -> None:
    """``(a+)+b`` against 5000 ``a``: Python's re never finishes; RE2 says 'no match'."""
    name = "a" * 5000 + ".wav"
    ds = sio.from_files([(name, good_wav()), ("ab.wav", good_wav())],
                        label_regex=r"(?P<label>(a+)+)b")
    assert ds.y.tolist() == ["a"]
    assert [s.name for s in ds.skipped] == [name]


@pytest.mark.parametrize("pattern", [r"(?P<label>a)(?=b)", r"(?P<label>a)\1", r"(?P<label>a)(?<!b)"])
def test_patterns_needing_backtracking_are_refused(pattern: str) -> None:
    with pytest.raises(ParameterError, match="linear-time matching does not support"):
        compile_pattern(pattern)


def test_pattern_classes_keep_unicode_meaning() -> None:
    ds = sio.from_files([("niño_1.wav", good_wav()), ("café_٣.wav", good_wav())],
                        label_regex=r"(?P<label>\w+)_(?P<group>\d)\.wav")
    assert ds.y.tolist() == ["niño", "café"] and ds.groups.tolist() == ["1", "٣"]
