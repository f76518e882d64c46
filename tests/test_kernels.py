"""Tests of sndiag._kernels: the compiled moments kernel against the numpy float64 reference."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sndiag import _kernels, stats
from sndiag._kernels import BLOCK, chunk_moments
from sndiag.errors import DataError, ParameterError
from sndiag.stats import Moments, compute_stats
from tests.conftest import FSDD_REGEX, REPO

TINY = float(np.float32(1e-30))


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = np.maximum(np.abs(b), 1e-300)
    return float(np.max(np.abs(a - b) / scale))


def reference(x: np.ndarray) -> dict[str, np.ndarray]:
    """numpy float64 two-pass moments of the rows of ``x``."""
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=0)
    return {"mean": mean, "m2": np.square(x64 - mean).sum(axis=0), "min": x64.min(axis=0),
            "max": x64.max(axis=0), "n_zero": (x64 == 0).sum(axis=0)}


def assert_matches_reference(got: tuple[np.ndarray, ...], x: np.ndarray, *,
                             rtol: float = 1e-12) -> None:
    ref = reference(x)
    mean, m2, mn, mx, nz = got
    mag = float(np.abs(x).max())
    np.testing.assert_allclose(mean, ref["mean"], rtol=rtol, atol=1e-15 * mag)
    np.testing.assert_allclose(m2, ref["m2"], rtol=rtol, atol=1e-13 * mag * mag)
    np.testing.assert_array_equal(mn, ref["min"])
    np.testing.assert_array_equal(mx, ref["max"])
    np.testing.assert_array_equal(nz, ref["n_zero"])
    assert mn.dtype == x.dtype and nz.dtype == np.int64


# -- chunk_moments == numpy two-pass ------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [1, 3, 4, 5, 9, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + 7])
def test_chunk_moments_matches_numpy_two_pass(rng, dtype, k):
    x = rng.gamma(0.5, 2.0, size=(k, 37)).astype(dtype)
    x[:, 3] = 0.0
    x[::2, 5] = 0.0
    assert_matches_reference(chunk_moments(x), x)


@pytest.mark.parametrize("block", [1, 2, 4, 7, 64])
def test_chunk_moments_does_not_depend_on_block_size(rng, block):
    x = (rng.standard_normal((101, 11)) * 3 - 1).astype(np.float32)
    assert_matches_reference(chunk_moments(x, block=block), x)


def test_chunk_moments_rows_select_and_order(rng):
    x = rng.random((50, 8)).astype(np.float32)
    rows = rng.permutation(50)[:23]
    assert_matches_reference(chunk_moments(x, rows), x[rows])


def test_chunk_moments_accepts_memmaps_and_read_only_arrays(tmp_path, rng):
    x = rng.random((20, 6)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    assert_matches_reference(chunk_moments(np.load(tmp_path / "x.npy", mmap_mode="r")), x)
    ro = x.copy()
    ro.flags.writeable = False
    assert_matches_reference(chunk_moments(ro), x)
    assert_matches_reference(chunk_moments(np.asfortranarray(x)), x)


@given(x=hnp.arrays(np.float32, st.tuples(st.integers(1, 40), st.integers(1, 6)),
                   elements=st.one_of(st.just(0.0), st.floats(-3e4, 3e4, width=32),
                                      st.floats(-TINY, TINY, width=32))),
       block=st.integers(1, 9))
def test_chunk_moments_property_equals_numpy(x, block):
    assert_matches_reference(chunk_moments(x, block=block), x, rtol=1e-9)


@pytest.mark.parametrize("threads", [2, 3, 4])
def test_chunk_moments_split_over_threads_equals_one_thread(rng, threads):
    x = (rng.gamma(0.5, 2.0, size=(4 * BLOCK + 13, 50)) + 1e3).astype(np.float32)
    x[:, 7] = 0.0
    rows = rng.permutation(len(x))[: 3 * BLOCK + 5]
    got = chunk_moments(x, rows, threads=threads)
    assert_matches_reference(got, x[rows])
    one = chunk_moments(x, rows)
    for a, b in zip(got, one, strict=True):
        np.testing.assert_array_equal(a, b)  # bit for bit: blocks are merged in the same order


def test_chunk_moments_uses_no_more_threads_than_blocks(rng, monkeypatch):
    started = []
    real = _kernels.threading.Thread

    def spy(*args, **kwargs):
        started.append(kwargs.get("name"))
        return real(*args, **kwargs)

    monkeypatch.setattr(_kernels.threading, "Thread", spy)
    chunk_moments(rng.random((BLOCK, 4)).astype(np.float32), threads=4)      # one block
    assert started == []
    chunk_moments(rng.random((2 * BLOCK + 1, 4)).astype(np.float32), threads=4)  # three blocks
    assert len(started) == 2


def test_chunk_moments_bounds_its_block_buffers(rng, monkeypatch):
    # Huge chunks are reduced a group of blocks at a time; the result is the same.
    x = rng.random((9 * 7 + 3, 5)).astype(np.float32)
    ref = chunk_moments(x, block=7)
    monkeypatch.setattr(_kernels, "_GROUP", 2)
    for a, b in zip(chunk_moments(x, block=7, threads=2), ref, strict=True):
        np.testing.assert_array_equal(a, b)


def test_kernel_threads_policy(monkeypatch):
    import numba

    big = 1 << 24
    monkeypatch.delenv("SNDIAG_STATS_THREADS", raising=False)
    assert stats._kernel_threads(big) == 1                    # one thread unless asked
    monkeypatch.setenv("SNDIAG_STATS_THREADS", "8")
    monkeypatch.setattr(numba.config, "NUMBA_NUM_THREADS", 16)
    assert stats._kernel_threads(big) == stats._KERNEL_MAX_THREADS
    assert stats._kernel_threads(1000) == 1                   # small chunks stay on one
    monkeypatch.setattr(numba.config, "NUMBA_NUM_THREADS", 1)  # e.g. inside a joblib worker
    assert stats._kernel_threads(big) == 1
    monkeypatch.setenv("SNDIAG_STATS_THREADS", "two")
    with pytest.raises(ParameterError, match="positive integer"):
        stats._kernel_threads(big)


def test_compute_stats_with_threads_is_identical(rng, monkeypatch):
    x = rng.gamma(0.5, 2.0, size=(1100, 40, 60)).astype(np.float32)
    monkeypatch.setattr(stats, "_KERNEL_EAGER_VALUES", 1)
    monkeypatch.delenv("SNDIAG_STATS_THREADS", raising=False)
    one = compute_stats(x, quantiles="none", chunk_size=1024)
    monkeypatch.setenv("SNDIAG_STATS_THREADS", "2")
    two = compute_stats(x, quantiles="none", chunk_size=1024)
    np.testing.assert_array_equal(two.std, one.std)
    np.testing.assert_array_equal(two.row_std, one.row_std)


def test_chunk_moments_is_thread_safe(rng):
    # nogil kernel, no shared state: concurrent calls (Streamlit sessions, Dask threads) agree.
    xs = [rng.random((300, 500)).astype(np.float32) for _ in range(8)]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(chunk_moments, xs))
    for x, g in zip(xs, got, strict=True):
        assert_matches_reference(g, x)


@pytest.mark.parametrize("x", [np.zeros((3, 4, 2), np.float32), np.zeros((3, 4), np.int16)])
def test_chunk_moments_rejects_other_layouts(x):
    with pytest.raises(TypeError, match="2-D float32/float64"):
        chunk_moments(x)


# -- numerically hard cases -----------------------------------------------------------------
def _offset_small_variance(rng: np.random.Generator) -> np.ndarray:
    return (1e4 + rng.normal(0.0, 1e-2, size=(3000, 16))).astype(np.float32)


def _first_clip_outlier(rng: np.random.Generator) -> np.ndarray:
    x = (1e4 + rng.normal(0.0, 1e-2, size=(3000, 16))).astype(np.float32)
    x[0] = 0.0  # the shift of the first block is as far from the mean as it can be
    return x


def _sorted_shift(rng: np.random.Generator) -> np.ndarray:
    # Class-sorted data: the mean jumps by 1e6 between halves, each half with std 1.
    x = rng.normal(0.0, 1.0, size=(2000, 8))
    x[1000:] += 1e6
    return x


def _tiny(rng: np.random.Generator) -> np.ndarray:
    return (rng.random((500, 8)) * 1e-30).astype(np.float32)


@pytest.mark.parametrize("make", [_offset_small_variance, _first_clip_outlier, _sorted_shift,
                                  _tiny])
def test_chunk_moments_keeps_precision_on_hard_data(rng, make):
    x = make(rng)
    mean, m2, *_ = chunk_moments(x)
    ref = reference(x)
    assert rel_err(mean, ref["mean"]) < 1e-12
    assert rel_err(m2, ref["m2"]) < 1e-9  # well below the 1e-6 the statistics promise


def test_chunk_moments_naive_sums_would_fail_here(rng):
    # Guard the test above: without the shift, sum(x**2) - sum(x)**2 / n loses every digit.
    x = _offset_small_variance(rng).astype(np.float64)
    naive = (x * x).sum(0) - x.sum(0) ** 2 / len(x)
    assert rel_err(naive, reference(x)["m2"]) > 1e-3


@pytest.mark.parametrize("value", [0.0, 1.0, -3.5, 1e4, 3.4e38])
def test_chunk_moments_constants_have_zero_m2(value):
    x = np.full((2 * BLOCK + 3, 5), value, dtype=np.float32)
    mean, m2, mn, mx, nz = chunk_moments(x)
    assert np.all(mean == np.float32(value)) and np.all(m2 == 0.0)
    assert np.all(mn == mx) and np.all(nz == (len(x) if value == 0 else 0))


def test_chunk_moments_signals_nan_and_overflow_as_non_finite():
    x = np.ones((9, 3), np.float32)
    x[6, 1] = np.nan
    mean, m2, *_ = chunk_moments(x)
    assert not np.isfinite(mean[1]) and np.isfinite(mean[[0, 2]]).all()
    big = np.array([[1e300], [-1e300]])
    assert not np.isfinite(chunk_moments(big)[1]).all()


# -- Moments: kernel engine == numpy engine ---------------------------------------------------
def _moments(x: np.ndarray, engine: str, *, chunk: int, rows: np.ndarray | None = None) -> Moments:
    m = Moments(x.shape[1:])
    for s in range(0, len(x), chunk):
        part = x[s:s + chunk]
        sel = None if rows is None else rows[(rows >= s) & (rows < s + chunk)] - s
        m._update(part, rows=sel, engine=engine)  # type: ignore[arg-type]
    return m


@pytest.mark.parametrize("chunk", [5, 512, 3000])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_moments_kernel_equals_numpy_engine(rng, chunk, dtype):
    x = rng.gamma(0.5, 2.0, size=(1200, 6, 13)).astype(dtype)
    x[:, 0] = 0.0
    a, b = _moments(x, "numba", chunk=chunk), _moments(x, "numpy", chunk=chunk)
    assert a.count == b.count == 1200
    np.testing.assert_allclose(a.mean, b.mean, rtol=1e-13)
    np.testing.assert_allclose(a.m2, b.m2, rtol=1e-12)
    for key in ("min", "max", "n_zero"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
        assert getattr(a, key).dtype == getattr(b, key).dtype


def test_moments_kernel_equals_numpy_engine_on_class_rows(rng):
    x = rng.random((700, 4, 5)).astype(np.float32)
    rows = np.flatnonzero(rng.integers(0, 3, 700) == 1)
    a, b = _moments(x, "numba", chunk=256, rows=rows), _moments(x, "numpy", chunk=256, rows=rows)
    assert a.count == b.count == len(rows)
    np.testing.assert_allclose(a.m2, b.m2, rtol=1e-12)
    np.testing.assert_allclose(a.mean, x[rows].astype(np.float64).mean(0), rtol=1e-13)


def test_moments_kernel_errors_name_the_clip(rng):
    x = rng.random((40, 3, 2)).astype(np.float32)
    x[33, 2, 1] = np.inf
    with pytest.raises(DataError, match=r"clip 33 \(first at pixel \(2, 1\)\)"):
        Moments((3, 2))._update(x, engine="numba")
    with pytest.raises(DataError, match="overflow"):
        Moments((1,))._update(np.array([[1e300], [-1e300]]), engine="numba")


def test_moments_other_dtypes_fall_back_to_numpy(rng):
    x = rng.integers(-50, 50, size=(30, 2, 2)).astype(np.int16)
    m = Moments((2, 2))
    m._update(x, engine="numba")
    np.testing.assert_allclose(m.var, x.astype(np.float64).var(0), rtol=1e-12)


def test_use_kernel_policy(monkeypatch):
    f32, p = np.dtype(np.float32), 7800
    monkeypatch.setitem(sys.modules, "numba", sys.modules.get("numba", object()))
    assert stats._use_kernel(f32, 512, p, 0)
    assert not stats._use_kernel(np.dtype(np.int16), 512, p, 0)      # no compiled variant
    assert not stats._use_kernel(f32, 1, 10, 0)                      # too small to matter
    monkeypatch.delitem(sys.modules, "numba")
    assert not stats._use_kernel(f32, 512, p, 0)                     # not worth numba's start-up
    assert stats._use_kernel(f32, 512, p, stats._KERNEL_EAGER_VALUES)  # ... on a long stream


# -- compute_stats with the kernel ------------------------------------------------------------
def test_compute_stats_kernel_and_numpy_paths_agree(rng, monkeypatch):
    x = rng.gamma(0.5, 2.0, size=(900, 12, 10)).astype(np.float32)
    y = rng.integers(0, 4, 900)
    monkeypatch.setattr(stats, "_KERNEL_MIN_VALUES", 1 << 62)  # numpy everywhere
    ref = compute_stats(x, y, quantiles="none", chunk_size=128)
    monkeypatch.setattr(stats, "_KERNEL_MIN_VALUES", 1)
    monkeypatch.setattr(stats, "_KERNEL_EAGER_VALUES", 1)     # kernel everywhere
    got = compute_stats(x, y, quantiles="none", chunk_size=128)
    for name, value in vars(ref).items():
        if isinstance(value, np.ndarray):
            np.testing.assert_allclose(getattr(got, name), value, rtol=1e-11, atol=1e-14,
                                       err_msg=name)


@pytest.mark.parametrize("mode", ["r+", "c"])
def test_compute_stats_keeps_writes_to_memmaps(tmp_path, rng, mode):
    # Dropping the pages of a processed chunk must never lose data: shared mappings keep
    # writes in the file, copy-on-write ones (mode "c") are not released at all.
    np.save(tmp_path / "x.npy", rng.random((300, 4, 5)).astype(np.float32))
    xm = np.load(tmp_path / "x.npy", mmap_mode=mode)
    xm[17, 1, 2] = 1234.5
    st = compute_stats(xm, quantiles="none", chunk_size=16)
    assert xm[17, 1, 2] == np.float32(1234.5) and st.max[1, 2] == 1234.5


def test_compute_stats_on_a_memmap_stays_at_about_one_chunk_of_memory(tmp_path):
    # Resident pages of a memmap count in RSS; compute_stats releases them chunk by chunk.
    n = 8000  # 250 MB of float32 60 x 130
    path = tmp_path / "big.npy"
    xm = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, 60, 130))
    for s in range(0, n, 1000):
        xm[s:s + 1000] = np.float32(s)
    xm.flush()
    del xm
    if not Path("/proc/self/status").exists():
        pytest.skip("needs /proc/self/status (VmHWM) to read a child's own peak memory")
    # VmHWM, not ru_maxrss: on Linux ru_maxrss survives exec, so a child of this (large) pytest
    # process would report pytest's peak and the test would pass whatever happened.
    code = (
        "import json, numpy as np\n"
        "from sndiag.stats import compute_stats\n"
        "def hwm():\n"
        "    with open('/proc/self/status') as fh:\n"
        "        return next(int(l.split()[1]) for l in fh if l.startswith('VmHWM:')) / 1024\n"
        "base = hwm()\n"
        f"st = compute_stats(np.load({str(path)!r}, mmap_mode='r'), quantiles='none')\n"
        "print(json.dumps({'grow_mb': hwm() - base, 'max': float(st.global_max)}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, check=True, timeout=300)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["max"] == 7000.0
    assert res["grow_mb"] < 100, res  # the file is 250 MB; one chunk is 16 MB


# -- real data ----------------------------------------------------------------------------------
@pytest.mark.fsdd
def test_kernel_matches_numpy_on_fsdd(fsdd_dir):
    from sndiag.io import from_files

    files = sorted(fsdd_dir.glob("*.wav"))[::10]
    ds = from_files(files, label_regex=FSDD_REGEX)
    x = np.ascontiguousarray(ds.X, dtype=np.float32).reshape(len(ds.X), -1)
    got = chunk_moments(x)
    ref = reference(x)
    assert rel_err(got[0], ref["mean"]) < 1e-6
    ok = ref["m2"] > 0
    assert rel_err(got[1][ok], ref["m2"][ok]) < 1e-6
    np.testing.assert_array_equal(got[2], ref["min"])
    np.testing.assert_array_equal(got[3], ref["max"])
    m_kernel = Moments(ds.X.shape[1:])
    m_kernel._update(ds.X, engine="numba")
    m_numpy = Moments(ds.X.shape[1:])
    m_numpy._update(ds.X, engine="numpy")
    assert rel_err(np.sqrt(m_kernel.var), np.sqrt(m_numpy.var)) < 1e-6


def test_kernels_module_is_not_imported_by_sndiag_stats():
    code = "import sys, sndiag.stats; print('sndiag._kernels' in sys.modules, 'numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                         check=True, timeout=120)
    assert out.stdout.split() == ["False", "False"]
    assert _kernels.KERNEL_DTYPES == (np.dtype(np.float32), np.dtype(np.float64))
