"""Scale-out: the scheduler argument, streamed statistics, chunked resumable extraction, Dask.

The Dask tests run a real ``LocalCluster`` of 2 worker processes (``dask_local``, one cluster
per module, ~2 s to start) and compare with the in-process results: statistics to a relative error below
1e-9 (the quantile sample is the same set of clips, so quantiles are identical), extraction
bit for bit.
"""

from __future__ import annotations

import json
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import sndiag.io as sio
from sndiag.config import SpectrogramConfig
from sndiag.dataset import Dataset
from sndiag.distributed import (
    dask_client,
    extract_chunked,
    parse_scheduler,
    sample_indices,
    stats_file,
)
from sndiag.distributed import extract as extract_mod
from sndiag.errors import DataError, ParameterError
from sndiag.io import from_files, from_folder
from sndiag.stats import PixelStats, compute_stats
from tests.conftest import FSDD_REGEX

CFG = SpectrogramConfig(sr=8000)
STAT_FIELDS = ("mean", "std", "min", "max", "zero_fraction", "snr", "noise_gain", "row_mean",
               "row_std", "row_snr", "row_min", "row_max", "class_mean", "class_std", "fisher",
               "row_fisher", "median", "q25", "q75", "iqr", "mad")


def max_rel_err(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = np.maximum(np.abs(b), np.finfo(np.float64).tiny)
    return float(np.max(np.abs(a - b) / scale)) if a.size else 0.0


def assert_same_stats(got: PixelStats, ref: PixelStats, rtol: float = 1e-9) -> None:
    assert (got.n, got.shape, got.classes) == (ref.n, ref.shape, ref.classes)
    assert (got.quantiles_exact, got.n_quantile_clips) == (ref.quantiles_exact,
                                                           ref.n_quantile_clips)
    np.testing.assert_array_equal(got.zero_std, ref.zero_std)
    np.testing.assert_array_equal(got.class_count, ref.class_count)
    for name in STAT_FIELDS:
        a, b = getattr(got, name), getattr(ref, name)
        assert (a is None) == (b is None), name
        if a is not None:
            assert max_rel_err(a, b) < rtol, (name, max_rel_err(a, b))
    for name in ("global_min", "global_max", "global_mean", "global_std"):
        assert max_rel_err(getattr(got, name), getattr(ref, name)) < rtol, name


@pytest.fixture
def labelled_npz(tmp_path, rng) -> tuple[Path, np.ndarray, np.ndarray]:
    """A saved dataset of 300 clips, 3 classes, a silent row, and its X, y."""
    X = rng.gamma(0.7, 2.0, size=(300, 60, 130)).astype(np.float32)
    X[:, 5, :] = 0.0
    y = np.array(["a", "b", "c"])[rng.integers(0, 3, 300)]
    X[y == "b", 10] += 2.0
    path = sio.save(Dataset(X, y=y, provenance={"source": "synthetic"}), tmp_path / "d.npz")
    return path, X, y


def write_clips(root: Path, n_per_class: int = 20, *, broken: bool = True) -> Path:
    rng = np.random.default_rng(0)
    for label, f0 in (("low", 300.0), ("high", 2500.0)):
        (root / label).mkdir(parents=True)
        for i in range(n_per_class):
            n = int(rng.integers(2000, 30000))
            t = np.arange(n) / 8000
            y = 0.3 * np.sin(2 * np.pi * f0 * t) + 0.05 * rng.standard_normal(n)
            sf.write(root / label / f"{i:03d}.wav", y, 8000)
    if broken:
        (root / "low" / "broken.wav").write_bytes(b"RIFF....garbage")
        (root / "readme.txt").write_text("not audio")
    return root


# -- the scheduler argument -----------------------------------------------------------------------
@pytest.mark.parametrize(("given", "kind", "n", "address"), [
    (None, "none", 0, ""), ("none", "none", 0, ""), ("", "none", 0, ""),
    ("local:3", "local", 3, ""), ("tcp://10.0.0.5:8786", "address", 0, "tcp://10.0.0.5:8786"),
])
def test_parse_scheduler_accepts(given, kind, n, address):
    spec = parse_scheduler(given)
    assert (spec.kind, spec.n_workers, spec.address) == (kind, n, address)


@pytest.mark.parametrize("given", ["lokal", "local:0", "local:x", "10.0.0.5:8786", 3])
def test_parse_scheduler_refuses(given):
    with pytest.raises(ParameterError, match="tcp://host:8786|local:N"):
        parse_scheduler(given)


def test_missing_dask_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "dask", None)
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    with pytest.raises(ParameterError, match=r"pip install 'sndiag\[dask\]'"):
        with dask_client("local:2"):
            pass
    np.save(tmp_path / "x.npy", np.ones((4, 60, 130), np.float32))
    with pytest.raises(ParameterError, match=r"sndiag\[dask\]"):
        stats_file(tmp_path / "x.npy", scheduler="local:2")
    assert stats_file(tmp_path / "x.npy").stats.n == 4  # in-process needs no Dask


def test_unreachable_scheduler_is_one_clear_error(monkeypatch):
    monkeypatch.setattr("sndiag.distributed.client.CONNECT_TIMEOUT", 1)
    with pytest.raises(ParameterError, match="cannot reach the Dask scheduler"):
        with dask_client("tcp://127.0.0.1:9"):
            pass


# -- streamed statistics, in-process ------------------------------------------------------------
def test_sample_indices_match_the_accumulators_sample(rng):
    """The quantiles of the up-front sample equal those of StatsAccumulator's reservoir."""
    X = rng.random((500, 3, 4)).astype(np.float32)
    ref = compute_stats(X, quantiles="sample", sample_size=37, random_state=5)
    idx = sample_indices(500, 37, random_state=5)
    got = compute_stats(X[idx], quantiles="exact")
    np.testing.assert_array_equal(got.median, ref.median)
    np.testing.assert_array_equal(got.mad, ref.mad)


@pytest.mark.parametrize("sample_size", [0, 100, 1000])
def test_stats_file_equals_compute_stats_on_a_memmap(labelled_npz, tmp_path, sample_size):
    path, X, y = labelled_npz
    np.save(tmp_path / "X.npy", X)
    ref = compute_stats(np.load(tmp_path / "X.npy", mmap_mode="r"), y, chunk_size=64,
                        quantiles="none" if sample_size == 0 else "sample",
                        sample_size=max(sample_size, 1))
    res = stats_file(path, chunk_size=64, sample_size=sample_size)
    assert_same_stats(res.stats, ref, rtol=1e-12)
    assert res.content_hash == sio.load_arrays(path).content_hash
    assert res.summary()["classes"] == {"a": int((y == "a").sum()), "b": int((y == "b").sum()),
                                        "c": int((y == "c").sum())}


def test_stats_file_exact_quantiles_when_the_sample_holds_every_clip(labelled_npz):
    path, X, y = labelled_npz
    res = stats_file(path, sample_size=300)
    assert res.stats.quantiles_exact
    assert_same_stats(res.stats, compute_stats(X, y), rtol=1e-12)


def test_stats_file_memory_stays_bounded(tmp_path):
    """A 94 MB .npy is never loaded: the peak of traced allocations stays a few MB."""
    n = 3000
    out = np.lib.format.open_memmap(tmp_path / "big.npy", mode="w+", dtype=np.float32,
                                    shape=(n, 60, 130))
    rng = np.random.default_rng(0)
    for s in range(0, n, 500):
        out[s:s + 500] = rng.random((500, 60, 130), dtype=np.float32)
    out.flush()
    del out
    size = n * 60 * 130 * 4
    tracemalloc.start()
    try:
        res = stats_file(tmp_path / "big.npy", chunk_size=64, sample_size=50)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert res.stats.n == n
    assert peak < size / 8, f"peak {peak / 1e6:.1f} MB for a {size / 1e6:.0f} MB array"


def test_stats_file_streams_a_compressed_npz_in_process_only(tmp_path, rng):
    X = rng.random((20, 60, 130)).astype(np.float32)
    np.savez_compressed(tmp_path / "c.npz", X=X)
    assert_same_stats(stats_file(tmp_path / "c.npz", chunk_size=7).stats, compute_stats(X),
                      rtol=1e-12)
    with pytest.raises(ParameterError, match="compressed"):
        stats_file(tmp_path / "c.npz", scheduler="local:2")


def test_stats_file_reports_nan_with_the_clip(tmp_path):
    X = np.ones((40, 60, 130), np.float32)
    X[33, 2, 3] = np.nan
    np.save(tmp_path / "n.npy", X)
    with pytest.raises(DataError, match=r"n.npy: X has 1 NaN/Inf values \(first at \[\(33, 2, 3\)\]\)"
                       r"; fix the source file: a file read in chunks is used as it is") as err:
        stats_file(tmp_path / "n.npy", chunk_size=16)
    assert "or load with nan_policy" not in str(err.value)  # no fix this path cannot apply


# -- chunked extraction and resuming ------------------------------------------------------------
def test_extract_chunked_equals_from_folder(tmp_path):
    src = write_clips(tmp_path / "src")
    ref = from_folder(src, config=CFG, batch_size=8)
    res = extract_chunked(src, tmp_path / "out", config=CFG, batch_size=8, chunk_files=16)
    got = res.load()
    assert res.n_chunks == 3 and res.n_computed == 3 and res.n_reused == 0
    assert got.content_hash == ref.content_hash == res.content_hash
    np.testing.assert_array_equal(got.X, ref.X)
    assert got.skipped == ref.skipped and [s.name for s in got.skipped] == ["low/broken.wav",
                                                                           "readme.txt"]
    assert got.provenance["labels"] == ref.provenance["labels"] == "folder"
    assert got.provenance["n_files"] == ref.provenance["n_files"]
    assert (res.n_classes, res.n_groups, res.n_skipped) == (2, 0, 2)


def test_extract_chunked_resumes_without_redoing_finished_chunks(tmp_path, monkeypatch):
    src = write_clips(tmp_path / "src", broken=False)
    whole = extract_chunked(src, tmp_path / "whole", config=CFG, batch_size=4, chunk_files=4)
    out = tmp_path / "out"
    calls: list[list[str]] = []
    real = extract_mod._extract_chunk

    def counting(paths, *args, **kw):
        calls.append(list(paths))
        return real(paths, *args, **kw)

    monkeypatch.setattr(extract_mod, "_extract_chunk", counting)

    def stop_after_3(done: int, total: int) -> None:
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        extract_chunked(src, out, config=CFG, batch_size=4, chunk_files=4, on_chunk=stop_after_3)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["done"] == [0, 1, 2] and not manifest["complete"]
    assert not (out / "dataset.npz").exists()
    mtimes = {p.name: p.stat().st_mtime_ns for p in (out / "chunks").glob("*.npz")}
    assert sorted(mtimes) == ["000000.npz", "000001.npz", "000002.npz"]
    calls.clear()

    res = extract_chunked(src, out, config=CFG, batch_size=4, chunk_files=4)
    assert (res.n_reused, res.n_computed, res.n_chunks) == (3, 7, 10)
    assert len(calls) == 7 and all(p not in sum(calls, []) for p in
                                   sorted(str(q) for q in src.rglob("*.wav"))[:12])
    for name, t in mtimes.items():
        assert (out / "chunks" / name).stat().st_mtime_ns == t
    assert res.content_hash == whole.content_hash
    np.testing.assert_array_equal(res.load().X, whole.load().X)

    calls.clear()
    again = extract_chunked(src, out, config=CFG, batch_size=4, chunk_files=4)
    assert (again.n_reused, again.n_computed, len(calls)) == (10, 0, 0)
    assert again.content_hash == whole.content_hash


def test_extract_chunked_interrupted_mid_chunk_redoes_only_that_chunk(tmp_path):
    src = write_clips(tmp_path / "src", n_per_class=6, broken=False)

    def boom(done: int, total: int) -> None:
        if done == 6:  # inside the second chunk of 4 files
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        extract_chunked(src, tmp_path / "out", config=CFG, chunk_files=4, progress=boom)
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["done"] == [0]
    res = extract_chunked(src, tmp_path / "out", config=CFG, chunk_files=4)
    assert (res.n_reused, res.n_computed) == (1, 2)


def test_extract_chunked_refuses_other_inputs_unless_told_to_start_over(tmp_path):
    src = write_clips(tmp_path / "src", n_per_class=4, broken=False)
    extract_chunked(src, tmp_path / "out", config=CFG, chunk_files=4)
    with pytest.raises(ParameterError, match="--no-resume"):
        extract_chunked(src, tmp_path / "out", config=SpectrogramConfig(sr=8000, n_mels=40),
                        chunk_files=4)
    sf.write(src / "low" / "000.wav", np.zeros(800), 8000)  # a changed file
    with pytest.raises(ParameterError, match="other files or settings"):
        extract_chunked(src, tmp_path / "out", config=CFG, chunk_files=4)
    res = extract_chunked(src, tmp_path / "out", config=CFG, chunk_files=4, resume=False)
    assert (res.n_reused, res.n_computed) == (0, 2)


def test_extract_chunked_damaged_chunk_is_forgotten_then_recomputed(tmp_path):
    src = write_clips(tmp_path / "src", n_per_class=4, broken=False)
    first = extract_chunked(src, tmp_path / "out", config=CFG, chunk_files=3)
    (tmp_path / "out" / "chunks" / "000001.npz").write_bytes(b"PK garbage")
    with pytest.raises(DataError, match="000001.npz was missing or damaged"):
        extract_chunked(src, tmp_path / "out", config=CFG, chunk_files=3,
                        output=tmp_path / "other.npz")
    res = extract_chunked(src, tmp_path / "out", config=CFG, chunk_files=3,
                          output=tmp_path / "other.npz")
    assert (res.n_reused, res.n_computed) == (2, 1)
    assert res.content_hash == first.content_hash


def test_extract_chunked_all_files_of_a_chunk_broken_keeps_their_reasons(tmp_path):
    src = write_clips(tmp_path / "src", n_per_class=2, broken=False)
    for i in range(3):
        (src / "high" / f"zz{i}.wav").write_bytes(b"RIFF....garbage")
    # chunks of 2 sorted files: [000, 001], [zz0, zz1] (all broken), [zz2, low/000], [low/001]
    res = extract_chunked(src, tmp_path / "out", config=CFG, chunk_files=2, batch_size=2)
    got, ref = res.load(), from_folder(src, config=CFG, batch_size=2)
    assert got.n_clips == 4 and got.content_hash == ref.content_hash
    assert got.skipped == ref.skipped and len(got.skipped) == 3
    assert all(s.reason and not s.reason.startswith("no clip") for s in got.skipped)


# -- Dask: a LocalCluster of 2 worker processes -------------------------------------------------
def test_dask_stats_equal_in_process(labelled_npz, dask_local):
    path, X, y = labelled_npz
    ref = stats_file(path, sample_size=100)
    got = stats_file(path, scheduler=dask_local, sample_size=100, task_rows=64)
    assert got.n_tasks == 5 and got.scheduler == "client"
    assert_same_stats(got.stats, ref.stats)
    np.testing.assert_array_equal(got.stats.median, ref.stats.median)


def test_dask_stats_on_a_plain_npy_memmap(tmp_path, rng, dask_local):
    X = rng.gamma(0.5, 2.0, size=(257, 60, 130)).astype(np.float32)
    np.save(tmp_path / "x.npy", X)
    got = stats_file(tmp_path / "x.npy", scheduler=dask_local, chunk_size=32)
    assert got.n_tasks >= 2
    assert_same_stats(got.stats, compute_stats(np.load(tmp_path / "x.npy", mmap_mode="r")))


def test_dask_extraction_equals_in_process(tmp_path, dask_local):
    src = write_clips(tmp_path / "src")
    ref = from_folder(src, config=CFG, batch_size=8)
    res = extract_chunked(src, tmp_path / "out", config=CFG, batch_size=8, chunk_files=8,
                          scheduler=dask_local)
    got = res.load()
    assert res.n_chunks == 6 and res.n_computed == 6
    assert got.content_hash == ref.content_hash
    assert got.skipped == ref.skipped


def test_dask_local_scheduler_string_starts_and_stops_a_cluster(labelled_npz):
    path, _, _ = labelled_npz
    got = stats_file(path, scheduler="local:2", sample_size=50)
    assert got.scheduler == "local"
    assert_same_stats(got.stats, stats_file(path, sample_size=50).stats)


@pytest.mark.fsdd
@pytest.mark.slow
def test_dask_on_fsdd_equals_in_process(fsdd_dir, tmp_path, dask_local):
    """FSDD: extraction of 400 clips on 2 Dask workers, then their statistics, vs in-process."""
    files = sorted(fsdd_dir.glob("*.wav"))[::7][:400]
    ref = from_files(files, label_regex=FSDD_REGEX)
    res = extract_chunked(files, tmp_path / "out", label_regex=FSDD_REGEX, chunk_files=64,
                          scheduler=dask_local)
    got = res.load()
    assert res.n_chunks == 7 and got.n_clips == ref.n_clips == 400
    assert got.content_hash == ref.content_hash
    np.testing.assert_array_equal(got.X, ref.X)
    np.testing.assert_array_equal(got.groups, ref.groups)

    in_process = stats_file(res.dataset_path, sample_size=128)
    on_dask = stats_file(res.dataset_path, scheduler=dask_local, sample_size=128, task_rows=50)
    assert on_dask.n_tasks == 8
    assert_same_stats(on_dask.stats, in_process.stats)
    exact = compute_stats(ref.X, ref.y, quantiles="none")
    for name in ("mean", "std", "snr", "fisher", "class_mean"):
        assert max_rel_err(getattr(on_dask.stats, name), getattr(exact, name)) < 1e-9, name
