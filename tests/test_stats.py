"""Tests of sndiag.stats: Moments, StatsAccumulator, compute_stats and PixelStats export."""

from __future__ import annotations

import csv
import io
import json
import pickle
import tracemalloc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sndiag.errors import DataError, ParameterError, ShapeError
from sndiag.stats import (
    FISHER_MAX,
    Moments,
    PixelStats,
    StatsAccumulator,
    compute_stats,
    compute_stats_chunks,
    is_constant,
    stats_from_moments,
)

RTOL = 1e-9
TINY = float(np.float32(1e-30))


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = np.maximum(np.abs(b), 1e-300)
    return float(np.max(np.abs(a - b) / scale)) if a.size else 0.0


def assert_moments_equal_numpy(m: Moments, X: np.ndarray, *, rtol: float = RTOL) -> None:
    X64 = np.asarray(X, dtype=np.float64)
    mean, var = X64.mean(axis=0), X64.var(axis=0)
    assert m.count == X.shape[0]
    # Absolute slack of a few ulps of the data's magnitude for values that cancel to ~0.
    mag = float(np.max(np.abs(X64))) if X64.size else 0.0
    np.testing.assert_allclose(m.mean, mean, rtol=rtol, atol=1e-13 * mag)
    np.testing.assert_allclose(m.var, var, rtol=rtol, atol=1e-13 * mag * mag)
    np.testing.assert_array_equal(m.min, X64.min(axis=0))
    np.testing.assert_array_equal(m.max, X64.max(axis=0))
    np.testing.assert_array_equal(m.n_zero, (X64 == 0).sum(axis=0))


def gamma_X(rng: np.random.Generator, n: int, shape: tuple[int, int] = (6, 5)) -> np.ndarray:
    return rng.gamma(0.5, 2.0, size=(n, *shape)).astype(np.float32)


# -- Moments ----------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16])
@pytest.mark.parametrize("n", [1, 2, 33, 400])
def test_moments_update_matches_numpy_two_pass(rng, dtype, n):
    X = (rng.gamma(0.5, 20.0, size=(n, 7, 3)) + 5).astype(dtype)
    assert_moments_equal_numpy(Moments((7, 3)).update(X), X)


def test_moments_offset_data_keeps_precision(rng):
    # Large mean, small spread: the naive sum-of-squares formula loses every digit here.
    X = 1e6 + rng.standard_normal((5000, 4))
    m = Moments((4,))
    for s in range(0, 5000, 333):
        m.update(X[s:s + 333])
    assert rel_err(m.var, X.var(axis=0)) < 1e-9


@given(
    X=hnp.arrays(np.float64, st.tuples(st.integers(1, 40), st.integers(1, 3), st.integers(1, 3)),
                 elements=st.floats(-1e6, 1e6, allow_nan=False, width=32)),
    data=st.data(),
)
def test_moments_merge_invariant_to_chunking_and_order(X, data):
    n = X.shape[0]
    cuts = sorted(data.draw(st.lists(st.integers(0, n), max_size=6)))
    bounds = [0, *cuts, n]
    parts = [Moments(X.shape[1:]).update(X[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    order = data.draw(st.permutations(range(len(parts))))
    # Merge in a random order and a random tree shape.
    pool = [parts[i] for i in order]
    while len(pool) > 1:
        i = data.draw(st.integers(0, len(pool) - 2))
        pool[i:i + 2] = [pool[i] + pool[i + 1]]
    assert_moments_equal_numpy(pool[0], X)


@given(X=hnp.arrays(np.float32, st.tuples(st.integers(1, 30), st.just(2), st.just(3)),
                    elements=st.floats(0, 1e4, width=32)),
       step=st.integers(1, 31))
def test_moments_sequential_updates_equal_one_update(X, step):
    a = Moments((2, 3)).update(X)
    b = Moments((2, 3))
    for s in range(0, X.shape[0], step):
        b.update(X[s:s + step])
    np.testing.assert_allclose(b.mean, a.mean, rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(b.m2, a.m2, rtol=RTOL, atol=1e-6)


def test_moments_pickle_and_dict_roundtrip(rng):
    m = Moments((3, 2)).update(gamma_X(rng, 10, (3, 2)))
    for back in (pickle.loads(pickle.dumps(m)), Moments.from_dict(m.to_dict())):
        assert back.count == m.count and back.shape == m.shape
        for key in ("mean", "m2", "min", "max", "n_zero"):
            np.testing.assert_array_equal(getattr(back, key), getattr(m, key))
    d = m.to_dict()
    assert all(isinstance(v, np.ndarray) for v in d.values())
    d["mean"][0, 0] = 99.0  # a copy: the accumulator is unchanged
    assert m.mean[0, 0] != 99.0


def test_moments_add_leaves_operands_unchanged(rng):
    a = Moments((2,)).update(rng.random((5, 2)))
    b = Moments((2,)).update(rng.random((3, 2)))
    before = a.mean.copy()
    c = a + b
    assert (a.count, b.count, c.count) == (5, 3, 8)
    np.testing.assert_array_equal(a.mean, before)


def test_moments_merge_with_empty_is_identity(rng):
    a = Moments((2,)).update(rng.random((5, 2)))
    np.testing.assert_array_equal((a + Moments((2,))).mean, a.mean)
    np.testing.assert_array_equal((Moments((2,)) + a).m2, a.m2)


@pytest.mark.parametrize(("chunk", "error", "match"), [
    (np.zeros((2, 3)), ShapeError, "expected"),
    (np.array([[np.nan, 1.0]]), DataError, "NaN/Inf"),
    (np.array([[np.inf, 1.0]]), DataError, "NaN/Inf"),
    (np.array([[1e300, 1.0], [-1e300, 1.0]]), DataError, "overflow"),
    (np.array([["a", "b"]]), DataError, "dtype"),
])
def test_moments_update_rejects_bad_chunks(chunk, error, match):
    with pytest.raises(error, match=match):
        Moments((2,)).update(chunk)


def test_moments_merge_rejects_other_shape():
    with pytest.raises(ShapeError, match="same shape"):
        Moments((2,)).merge(Moments((3,)))


def test_moments_from_dict_rejects_bad_state():
    d = Moments((2,)).to_dict()
    d["mean"] = np.zeros(3)
    with pytest.raises(DataError, match="shape"):
        Moments.from_dict(d)
    with pytest.raises(DataError, match="lacks"):
        Moments.from_dict({"shape": [2]})


# -- compute_stats agrees with numpy ----------------------------------------------------------
def numpy_reference(X: np.ndarray, y: np.ndarray | None = None) -> dict[str, np.ndarray]:
    X64 = X.astype(np.float64)
    ref = {
        "mean": X64.mean(0), "std": X64.std(0), "min": X64.min(0), "max": X64.max(0),
        "zero_fraction": (X64 == 0).mean(0),
        "row_mean": X64.mean(axis=(0, 2)), "row_std": X64.std(axis=(0, 2)),
        "row_min": X64.min(axis=(0, 2)), "row_max": X64.max(axis=(0, 2)),
        "median": np.median(X64, 0), "q25": np.percentile(X64, 25, 0),
        "q75": np.percentile(X64, 75, 0),
    }
    ref["mad"] = np.median(np.abs(X64 - ref["median"]), 0)
    if y is not None:
        classes = np.unique(y)
        cm = np.stack([X64[y == c].mean(0) for c in classes])
        cn = np.array([(y == c).sum() for c in classes])
        between = (cn[:, None, None] * (cm - ref["mean"]) ** 2).sum(0) / len(X)
        within = sum(((X64[y == c] - cm[i]) ** 2).sum(0) for i, c in enumerate(classes)) / len(X)
        ref["class_mean"] = cm
        ref["class_std"] = np.stack([X64[y == c].std(0) for c in classes])
        ref["fisher"] = np.divide(between, within, out=np.zeros_like(within), where=within > 0)
    return ref


@pytest.mark.parametrize("chunk_size", [1, 7, 512])
@pytest.mark.parametrize("labelled", [False, True])
def test_compute_stats_matches_numpy(rng, chunk_size, labelled):
    X = gamma_X(rng, 60, (5, 4))
    X[:, 1, 2] = 0.0
    y = rng.integers(0, 3, 60) if labelled else None
    st = compute_stats(X, y, chunk_size=chunk_size)
    ref = numpy_reference(X, None if y is None else y.astype(str))
    for key, want in ref.items():
        got = getattr(st, key)
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12, err_msg=key)
    assert st.quantiles_exact and st.n_quantile_clips == 60
    assert st.global_mean == pytest.approx(X.astype(np.float64).mean(), rel=1e-12)
    assert st.global_std == pytest.approx(X.astype(np.float64).std(), rel=1e-12)
    assert (st.global_min, st.global_max) == (float(X.min()), float(X.max()))


def test_compute_stats_fsdd_sized_random_data_agrees_with_numpy(rng):
    X = rng.gamma(0.5, 2.0, size=(3000, 60, 130)).astype(np.float32)
    st = compute_stats(X, quantiles="none")
    X64 = X.astype(np.float64)
    assert rel_err(st.mean, X64.mean(0)) < 1e-6
    assert rel_err(st.std, X64.std(0)) < 1e-6
    assert rel_err(st.row_std, X64.std(axis=(0, 2))) < 1e-6
    assert st.median is None and not st.quantiles_exact


def test_compute_stats_exact_quantiles_on_large_data_agree_with_numpy(rng):
    X = rng.gamma(0.5, 2.0, size=(1001, 8, 130)).astype(np.float32)
    st = compute_stats(X)
    X64 = X.astype(np.float64)
    med = np.median(X64, 0)
    np.testing.assert_allclose(st.median, med, rtol=1e-6)
    np.testing.assert_allclose(st.iqr, np.subtract(*np.percentile(X64, [75, 25], 0)), rtol=1e-6)
    np.testing.assert_allclose(st.mad, np.median(np.abs(X64 - med), 0), rtol=1e-6)


@given(X=hnp.arrays(np.float32, st.tuples(st.integers(1, 12), st.integers(1, 3), st.integers(1, 3)),
                    elements=st.one_of(st.just(0.0), st.floats(-3e4, 3e4, width=32),
                                       st.floats(-TINY, TINY, width=32))),
       labels=st.lists(st.sampled_from("abc"), min_size=12, max_size=12))
def test_compute_stats_is_finite_everywhere(X, labels):
    st = compute_stats(X, np.array(labels[: X.shape[0]]))
    for name, value in vars(st).items():
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            assert np.isfinite(value).all(), name
    assert np.all(st.noise_gain[st.zero_std] == 1.0)
    assert np.all(st.snr[st.zero_std] == 0.0)
    assert np.all((st.fisher >= 0) & (st.fisher <= FISHER_MAX))


@given(X=hnp.arrays(np.float64, st.tuples(st.integers(2, 30), st.just(3), st.just(2)),
                    elements=st.floats(-1e3, 1e3, allow_nan=False)))
def test_compute_stats_mean_and_std_equal_numpy_property(X):
    st = compute_stats(X, chunk_size=4)
    np.testing.assert_allclose(st.mean, X.mean(0), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(st.std, X.std(0), rtol=1e-9, atol=1e-6)


# -- edge cases -------------------------------------------------------------------------------
def test_compute_stats_zero_variance_pixels(small_X):
    small_X[:, 5, 7] = 3.25  # constant but non-zero
    st = compute_stats(small_X)
    assert st.zero_std[0].all() and st.zero_std[5, 7]
    assert st.n_zero_std == small_X.shape[2] + 1
    assert np.all(st.snr[st.zero_std] == 0.0) and np.all(st.noise_gain[st.zero_std] == 1.0)
    assert st.row_zero_std[0] and st.row_snr[0] == 0.0 and st.row_zero_fraction[0] == 1.0
    ok = ~st.zero_std
    np.testing.assert_allclose(st.noise_gain[ok], 1 / st.std[ok])
    np.testing.assert_allclose(st.snr[ok], st.mean[ok] / st.std[ok])
    assert st.mad[0].max() == 0.0 and st.iqr[5, 7] == 0.0


@pytest.mark.parametrize(("var", "mean", "n", "expected"), [
    (0.0, 0.0, 10, True),
    (0.0, 5.0, 10, True),
    (1e-30, 100.0, 3000, True),     # std 1e-15 on a mean of 100: rounding noise
    (1e-20, 1e-9, 3000, False),     # tiny but real variation of a quiet power pixel
    (1.0, 1.0, 2, False),
])
def test_is_constant_is_relative_to_magnitude(var, mean, n, expected):
    assert bool(is_constant(np.array(var), np.array(mean), n)) is expected


def test_compute_stats_tiny_magnitudes_are_not_flagged(rng):
    X = rng.random((50, 2, 2)) * 1e-12
    st = compute_stats(X)
    assert not st.zero_std.any()
    assert np.isfinite(st.noise_gain).all() and st.noise_gain.min() > 1e11


def test_compute_stats_single_clip(rng):
    st = compute_stats(gamma_X(rng, 1), y=["a"])
    assert st.zero_std.all() and np.all(st.fisher == 0.0) and st.class_count.tolist() == [1]


# -- Fisher -----------------------------------------------------------------------------------
def test_fisher_ranks_the_signal_rows_highest(rng):
    n, classes = 300, 3
    y = rng.integers(0, classes, n)
    X = rng.gamma(2.0, 1.0, size=(n, 10, 8)).astype(np.float32)
    signal_rows = [2, 7]
    for r in signal_rows:
        X[:, r, :] += 2.0 * y[:, None]
    st = compute_stats(X, y)
    assert sorted(np.argsort(st.row_fisher)[-2:].tolist()) == signal_rows
    assert st.row_fisher[signal_rows].min() > 10 * np.delete(st.row_fisher, signal_rows).max()


@pytest.mark.parametrize(("a", "b", "expected"), [
    (0.0, 0.0, 0.0),            # constant pixel: 0 / 0 -> 0
    (1.0, 2.0, FISHER_MAX),     # classes constant at different values: perfect separation
])
def test_fisher_degenerate_pixels_are_finite(a, b, expected):
    X = np.array([a, a, b, b], dtype=np.float32).reshape(4, 1, 1)
    st = compute_stats(X, ["x", "x", "y", "y"])
    assert st.fisher[0, 0] == expected


def test_fisher_single_class_is_zero(rng):
    st = compute_stats(gamma_X(rng, 20), y=["a"] * 20)
    assert st.classes == ("a",) and np.all(st.fisher == 0.0)


def test_unlabelled_stats_have_no_class_fields(rng):
    st = compute_stats(gamma_X(rng, 20))
    assert st.classes == () and st.fisher is None and st.row_fisher is None and not st.has_labels
    assert st.class_mean.shape == (0, 6, 5) and st.class_count.shape == (0,)


# -- streaming, memmaps, workers --------------------------------------------------------------
def test_compute_stats_memmap_streams_and_equals_in_memory(tmp_path, rng):
    X = rng.gamma(0.5, 2.0, size=(2000, 60, 130)).astype(np.float32)
    y = rng.integers(0, 10, 2000)
    np.save(tmp_path / "X.npy", X)
    Xm = np.load(tmp_path / "X.npy", mmap_mode="r")
    mem = compute_stats(X, y)
    tracemalloc.start()
    compute_stats(Xm, y, chunk_size=100, quantiles="none")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 0.25 * X.nbytes  # streamed: not even a float32 copy, let alone float64
    mapped = compute_stats(Xm, y, chunk_size=100)
    assert mapped.quantiles_exact and mapped.n_quantile_clips == 2000  # the sample holds all clips
    for name, value in vars(mem).items():
        if isinstance(value, np.ndarray):
            np.testing.assert_allclose(getattr(mapped, name), value, rtol=1e-12, atol=1e-12,
                                       err_msg=name)
        elif isinstance(value, float):
            assert getattr(mapped, name) == pytest.approx(value, rel=1e-12), name
        else:
            assert getattr(mapped, name) == value, name


def test_compute_stats_detects_views_of_memmaps(tmp_path, rng):
    np.save(tmp_path / "X.npy", gamma_X(rng, 30))
    Xm = np.asarray(np.load(tmp_path / "X.npy", mmap_mode="r"))  # plain ndarray view of a mmap
    st = compute_stats(Xm, sample_size=10)
    assert not st.quantiles_exact and st.n_quantile_clips == 10


@pytest.mark.parametrize("chunk_size", [3, 17, 500])
def test_sampled_quantiles_do_not_depend_on_chunking(rng, chunk_size):
    X = gamma_X(rng, 100)
    ref = compute_stats(X, quantiles="sample", sample_size=20, chunk_size=100)
    got = compute_stats(X, quantiles="sample", sample_size=20, chunk_size=chunk_size)
    assert not got.quantiles_exact and got.n_quantile_clips == 20
    np.testing.assert_array_equal(got.median, ref.median)
    np.testing.assert_array_equal(got.mad, ref.mad)


def test_sampled_quantiles_are_a_uniform_sample(rng):
    # Clip i is the constant i: the sampled median is the median of the chosen clip indices.
    n, k = 2000, 200
    X = np.arange(n, dtype=np.float32)[:, None, None] * np.ones((1, 1, 1), np.float32)
    medians = [float(compute_stats(X, quantiles="sample", sample_size=k, random_state=s).median[0, 0])
               for s in range(30)]
    assert abs(np.mean(medians) - (n - 1) / 2) < 60  # unbiased (sd of one median ~ 70)
    assert len(set(medians)) > 20                     # the seed matters
    again = compute_stats(X, quantiles="sample", sample_size=k, random_state=3).median[0, 0]
    assert float(again) == medians[3]                 # deterministic


def test_compute_stats_chunks_equals_compute_stats(rng):
    X, y = gamma_X(rng, 50), rng.integers(0, 4, 50)
    ref = compute_stats(X, y)
    got = compute_stats_chunks((X[s:s + 8], y[s:s + 8]) for s in range(0, 50, 8))
    np.testing.assert_allclose(got.std, ref.std, rtol=1e-12)
    np.testing.assert_allclose(got.fisher, ref.fisher, rtol=1e-10)
    np.testing.assert_array_equal(got.median, ref.median)
    assert got.quantiles_exact


def test_compute_stats_chunks_accepts_bare_arrays_and_reused_buffers(rng):
    X = gamma_X(rng, 30)
    buf = np.empty((10, *X.shape[1:]), np.float32)

    def reused():
        for s in range(0, 30, 10):
            buf[:] = X[s:s + 10]
            yield buf

    got = compute_stats_chunks(reused(), sample_size=1000)
    np.testing.assert_allclose(got.median, np.median(X.astype(np.float64), 0), rtol=1e-7)


@pytest.mark.parametrize("sample_size", [25, 1000])
def test_workers_merge_into_the_same_stats(rng, sample_size):
    X, y = gamma_X(rng, 90), rng.integers(0, 3, 90).astype(str)
    ref = compute_stats(X, y, quantiles="sample", sample_size=sample_size)
    workers = []
    for s in (60, 0, 30):  # any order, each worker knows its global offset
        acc = StatsAccumulator(X.shape[1:], sample_size=sample_size)
        acc.update(X[s:s + 30], y[s:s + 30], start=s)
        workers.append(pickle.loads(pickle.dumps(acc)))
    merged = workers[0].merge(workers[1]).merge(workers[2]).result()
    assert merged.quantiles_exact is ref.quantiles_exact is (sample_size >= 90)
    np.testing.assert_allclose(merged.mean, ref.mean, rtol=1e-12)
    np.testing.assert_allclose(merged.fisher, ref.fisher, rtol=1e-10)
    np.testing.assert_array_equal(merged.median, ref.median)


def test_stats_from_moments_with_total_and_classes(rng):
    X, y = gamma_X(rng, 40), np.repeat(["a", "b"], 20)
    total = [Moments(X.shape[1:]).update(X[:25]), Moments(X.shape[1:]).update(X[25:])]
    classes = {c: Moments(X.shape[1:]).update(X[y == c]) for c in "ab"}
    st = stats_from_moments(total, class_moments=classes, quantile_sample=X, quantiles_exact=True)
    ref = compute_stats(X, y)
    np.testing.assert_allclose(st.std, ref.std, rtol=1e-12)
    np.testing.assert_allclose(st.fisher, ref.fisher, rtol=1e-10)
    np.testing.assert_array_equal(st.median, ref.median)
    with pytest.raises(ParameterError, match="same clips"):
        stats_from_moments(total[0], class_moments=classes)
    with pytest.raises(ParameterError, match="give moments"):
        stats_from_moments()


# -- validation -------------------------------------------------------------------------------
@pytest.mark.parametrize(("X", "kwargs", "error", "match"), [
    (np.zeros((3, 4)), {}, ShapeError, "expected"),
    (np.zeros((0, 2, 2)), {}, DataError, "no clips"),
    (np.array([[["a"]]]), {}, DataError, "dtype"),
    (np.full((2, 2, 2), np.nan), {}, DataError, "NaN"),
    (np.zeros((2, 2, 2)), {"y": [1, 2, 3]}, ShapeError, "one label per clip"),
    (np.zeros((2, 2, 2)), {"chunk_size": 0}, ParameterError, "chunk_size"),
    (np.zeros((2, 2, 2)), {"quantiles": "approx"}, ParameterError, "quantiles"),
    (np.zeros((2, 2, 2)), {"sample_size": -1}, ParameterError, "sample_size"),
    (np.zeros((2, 2, 2)), {"random_state": "x"}, ParameterError, "random_state"),
])
def test_compute_stats_rejects_bad_input(X, kwargs, error, match):
    with pytest.raises(error, match=match):
        compute_stats(X, **kwargs)


def test_nan_error_names_the_global_clip(rng):
    X = gamma_X(rng, 40)
    X[33, 2, 1] = np.nan
    with pytest.raises(DataError, match=r"clip 33 \(first at pixel \(2, 1\)\)"):
        compute_stats(X, chunk_size=8)


def test_compute_stats_chunks_rejects_empty_and_mixed_labels(rng):
    with pytest.raises(DataError, match="no clips"):
        compute_stats_chunks(iter([]))
    X = gamma_X(rng, 4)
    with pytest.raises(ParameterError, match="every chunk"):
        compute_stats_chunks([(X[:2], ["a", "b"]), (X[2:], None)])


# -- PixelStats export ------------------------------------------------------------------------
@pytest.mark.parametrize("labelled", [False, True])
@pytest.mark.parametrize("quantiles", ["exact", "none"])
def test_pixel_stats_npz_roundtrip(tmp_path, rng, labelled, quantiles):
    X = gamma_X(rng, 20)
    st = compute_stats(X, rng.integers(0, 2, 20) if labelled else None, quantiles=quantiles)
    back = PixelStats.from_npz(st.to_npz(tmp_path / "s"))
    assert (tmp_path / "s").exists()
    for name, value in vars(st).items():
        other = getattr(back, name)
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(other, value, err_msg=name)
            assert other.dtype == value.dtype
        else:
            assert other == value, name


def test_pixel_stats_from_npz_rejects_other_files(tmp_path):
    np.savez(tmp_path / "x.npz", a=np.zeros(2))
    with pytest.raises(DataError, match="meta"):
        PixelStats.from_npz(tmp_path / "x.npz")
    (tmp_path / "g.npz").write_bytes(b"garbage")
    with pytest.raises(DataError, match="not a readable"):
        PixelStats.from_npz(tmp_path / "g.npz")


def test_pixel_stats_arrays_are_read_only(rng):
    st = compute_stats(gamma_X(rng, 5))
    with pytest.raises(ValueError, match="read-only"):
        st.mean[0, 0] = 1.0


def test_pixel_stats_json_summary_is_plain_json(small_X):
    st = compute_stats(small_X, y=np.arange(40) % 2)
    s = st.to_json_summary()
    assert json.loads(json.dumps(s)) == s
    assert s["n"] == 40 and s["shape"] == [60, 130] and len(s["row_snr"]) == 60
    assert s["n_zero_std"] == 130 and s["classes"] == ["0", "1"] and s["quantiles_exact"] is True
    assert all(type(v) is float for v in s["row_snr"])


def test_pixel_stats_csv_has_one_line_per_pixel(rng):
    X = gamma_X(rng, 12, (3, 4))
    st = compute_stats(X, y=np.arange(12) % 3)
    rows = list(csv.DictReader(io.StringIO(st.to_csv())))
    assert len(rows) == 12
    assert list(rows[0]) == ["row", "frame", "mean", "std", "snr", "median", "iqr", "mad", "min",
                             "max", "zero_fraction", "fisher"]
    r = rows[4 * 2 + 3]
    assert (int(r["row"]), int(r["frame"])) == (2, 3)
    assert float(r["std"]) == pytest.approx(st.std[2, 3], rel=1e-9)
    assert float(r["fisher"]) == pytest.approx(st.fisher[2, 3], rel=1e-9)
