"""One-pass, mergeable per-pixel and per-row statistics of spectrogram images.

Standardizing every pixel divides it by its standard deviation over the clips, so a pixel (or a
whole mel band) whose signal-to-noise ratio ``SNR = mean / std`` is low has its noise multiplied
by ``1 / std``. This module measures exactly that: :func:`compute_stats` returns a
:class:`PixelStats` with, per pixel, the moments, SNR, noise gain, quantiles and the class
separability (Fisher ratio), and the same pooled per mel row.

Layers, bottom up:

:class:`Moments`
    Count, mean, M2 (sum of squared deviations), min, max and number of exact zeros of arrays of
    one fixed shape, updated chunk by chunk and merged with Chan et al.'s pairwise formulas.
    Picklable and convertible to a dict of arrays, so workers (Dask, joblib) can each reduce a
    part of the data.
:class:`StatsAccumulator`
    One :class:`Moments` per class (or one overall when unlabelled) plus a deterministic uniform
    sample of clips for the quantiles. Mergeable and picklable too; ``result()`` gives a
    :class:`PixelStats`.
:func:`compute_stats`, :func:`compute_stats_chunks`, :func:`stats_from_moments`
    Entry points for an array or memmap, for an iterable of chunks, and for moments that were
    reduced elsewhere.

Memory stays bounded: chunks are reduced a few clips at a time (never a float64 copy of ``X``),
the pages of a memory-mapped ``X`` are released once read, and exact quantiles sort one block of
pixels at a time.

Speed: float32/float64 chunks go through a fused numba kernel (:mod:`sndiag._kernels`: each
value read once, shifted sums per block of 256 clips, Chan merges) once numba is loaded in the
process or the input is large (see :func:`_use_kernel`); otherwise, and for other dtypes, through
the numpy two-pass code here, which is also the reference the kernel is tested against. Both
give the same moments to float64 rounding (relative differences ~1e-15).
"""

from __future__ import annotations

import io
import json
import mmap
import os
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

import numpy as np

from sndiag.clip_array import ClipArray
from sndiag.errors import DataError, ParameterError, ShapeError
from sndiag.io.atomic import atomic_write
from sndiag.settings import Settings

__all__ = [
    "FISHER_MAX",
    "SAMPLE_CLIPS",
    "Moments",
    "PixelStats",
    "StatsAccumulator",
    "compute_stats",
    "compute_stats_chunks",
    "is_constant",
    "sample_indices",
    "sample_positions",
    "stats_from_moments",
    "subsample_values",
]

Quantiles = Literal["exact", "sample", "none"]

#: Clips :func:`subsample_values` reads of a dataset streamed from a file (8 MB of 60 x 130
#: images, 2 million values), chosen by :func:`sample_indices`.
SAMPLE_CLIPS = 256
Engine = Literal["auto", "numba", "numpy"]

#: Upper bound of the Fisher ratio: a pixel whose classes are each constant at different values
#: (within-class variance 0, between-class variance > 0) is perfectly separating; it gets this
#: value instead of infinity so sums and plots stay finite.
FISHER_MAX = 1e6

_EPS = float(np.finfo(np.float64).eps)
#: float64 bytes per block converted at once by :meth:`Moments.update` (fits in L2/L3 cache).
_BLOCK_BYTES = 1 << 21
#: float64 bytes per block of pixels sorted at once for the quantiles.
_QUANTILE_BLOCK_BYTES = 1 << 24
_NPZ_FORMAT = 1
#: Smallest chunk (values) worth a call of the compiled kernel.
_KERNEL_MIN_VALUES = 1 << 15
#: Values after which a stream loads numba even if nothing else did (~0.3 s once per process,
#: repaid after ~2e8 values): 2**27 values = 17k clips of 60 x 130.
_KERNEL_EAGER_VALUES = 1 << 27
#: Chunks of at least this many values may be split over threads (``SNDIAG_STATS_THREADS``).
_KERNEL_THREAD_VALUES = 1 << 21
#: Most threads one kernel call uses (the reduction is memory-bound beyond a few).
_KERNEL_MAX_THREADS = 4


# -- helpers ----------------------------------------------------------------------------------
def is_constant(var: np.ndarray, mean: np.ndarray, n: int) -> np.ndarray:
    """Flag variances that are indistinguishable from zero at float64 precision.

    The test is scikit-learn's ``_is_constant_feature`` bound on the rounding error of a
    variance computed from ``n`` values::

        var <= n * eps * var + (n * |mean| * eps) ** 2      (eps = 2.2e-16, float64)

    It is relative to the magnitude of the mean (a pixel at 1e-9 with std 1e-10 is not
    constant; a pixel at 100 whose std is 1e-13 is), exact constants (``var == 0``) always
    qualify, and it guarantees that ``mean / std`` and ``1 / std`` are finite wherever it is
    False.

    Parameters
    ----------
    var : np.ndarray
        Population variances.
    mean : np.ndarray
        Means of the same values, broadcastable to ``var``.
    n : int
        Number of values each variance was computed from.

    Returns
    -------
    np.ndarray of bool

    Examples
    --------
    >>> is_constant(np.array([0.0, 1e-30, 1e-20, 1.0]), np.array([5.0, 100.0, 1e-9, 1.0]), 1000)
    array([ True,  True, False, False])
    """
    var = np.asarray(var, dtype=np.float64)
    mean = np.abs(np.asarray(mean, dtype=np.float64))
    with np.errstate(over="ignore"):
        bound = n * _EPS * var + (n * mean * _EPS) ** 2
    return (var <= bound) | ~np.isfinite(var)


def _safe_div(num: np.ndarray, den: np.ndarray, zero: np.ndarray, fill: float) -> np.ndarray:
    """``num / den`` where ``~zero``, ``fill`` where ``zero``; never inf or NaN."""
    out = np.full(np.broadcast(num, den).shape, fill, dtype=np.float64)
    ok = ~zero
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        np.divide(num, den, out=out, where=ok)
    big = np.finfo(np.float64).max
    return np.clip(np.nan_to_num(out, nan=fill, posinf=big, neginf=-big), -big, big)


def _check_shape(shape: Sequence[int], what: str = "shape") -> tuple[int, ...]:
    try:
        out = tuple(int(s) for s in shape)
    except TypeError:
        raise ParameterError(f"{what}={shape!r} must be a tuple of positive integers, "
                             "e.g. (60, 130)") from None
    if not out or any(s <= 0 for s in out):
        raise ParameterError(f"{what}={shape!r} must be a non-empty tuple of positive integers, "
                             "e.g. (60, 130)")
    return out


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise ParameterError(f"{name}={value!r} must be a positive integer")
    return int(value)


def _check_numeric(dtype: np.dtype, what: str = "X") -> None:
    if dtype.kind not in "biuf":
        raise DataError(f"{what} has dtype {dtype}; give real numbers (float32 preferred)")


def _labels(y: Any, n: int) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ShapeError(f"y has shape {arr.shape} but the chunk has {n} clips; give one label "
                         "per clip")
    if arr.dtype.kind not in "biuUSO":
        raise DataError(f"y has dtype {arr.dtype}; give integer or string labels")
    return arr.astype(str)


# -- compiled kernel selection ----------------------------------------------------------------
def _load_kernels() -> Any:
    """:mod:`sndiag._kernels`, imported on first use; None when numba is not installed."""
    try:
        from sndiag import _kernels
    except ImportError:  # pragma: no cover - numba is a dependency, but stay usable without it
        return None
    return _kernels


def _use_kernel(dtype: np.dtype, k: int, n_pixels: int, seen: int) -> bool:
    """Whether ``"auto"`` should reduce a chunk of ``k`` clips with the compiled kernel.

    The kernel reads each value once (~4-5x faster than the numpy path), but a process that has
    not used numba yet pays ~0.3 s to import and initialise it. So it is used for float32/float64
    chunks of at least :data:`_KERNEL_MIN_VALUES` values when numba is already loaded (audio
    ingestion through librosa loads it; :func:`compute_stats` loads it for large inputs), or once
    the accumulator has seen :data:`_KERNEL_EAGER_VALUES` values (a long stream).
    """
    if np.dtype(dtype) not in (np.dtype(np.float32), np.dtype(np.float64)):
        return False
    if k * n_pixels < _KERNEL_MIN_VALUES:
        return False
    return "numba" in sys.modules or (seen + k) * n_pixels >= _KERNEL_EAGER_VALUES


def _kernel_threads(n_values: int) -> int:
    """Threads for one kernel call over ``n_values`` values.

    1 by default: on a shared machine (other sessions, other processes) a fork-join split of
    each ~1 ms chunk waits for whichever thread the OS preempted and ends up slower than one
    thread. ``SNDIAG_STATS_THREADS=n`` opts in (chunks of at least :data:`_KERNEL_THREAD_VALUES`
    values), capped by numba's thread budget (``NUMBA_NUM_THREADS``, which joblib lowers in its
    workers) and :data:`_KERNEL_MAX_THREADS`. The statistics do not depend on it.
    """
    wanted = Settings.from_env().stats_threads
    if wanted == 1:
        return 1
    if n_values < _KERNEL_THREAD_VALUES:
        return 1
    import numba

    return max(1, min(wanted, int(numba.config.NUMBA_NUM_THREADS), _KERNEL_MAX_THREADS))


# -- Moments ----------------------------------------------------------------------------------
class Moments:
    """Mergeable count, mean, M2, min, max and zero count of arrays of one fixed shape.

    Each chunk is converted to float64 a few thousand values at a time, reduced to its own mean
    and M2 (two-pass within the block, so no cancellation), and combined with the running state
    by the pairwise update of Chan, Golub & LeVeque (1979)::

        n = n_a + n_b,  delta = mean_b - mean_a
        mean = mean_a + delta * n_b / n
        M2 = M2_a + M2_b + delta**2 * n_a * n_b / n

    The result does not depend (beyond float64 rounding, relative error ~1e-15) on how the data
    is split into chunks or in which order partial results are merged.

    Parameters
    ----------
    shape : tuple of int
        Shape of one sample, e.g. ``(n_mels, n_frames)``.

    Attributes
    ----------
    count : int
        Samples seen.
    mean, m2 : np.ndarray [shape=shape, dtype=float64]
        Running mean and sum of squared deviations from it.
    min, max : np.ndarray [shape=shape, dtype=float64]
        Running extremes (``+inf`` / ``-inf`` before any update).
    n_zero : np.ndarray [shape=shape, dtype=int64]
        Number of values exactly equal to 0.

    See Also
    --------
    StatsAccumulator : per-class moments and a quantile sample, for :class:`PixelStats`.

    Examples
    --------
    >>> X = np.arange(12, dtype=np.float32).reshape(6, 2)
    >>> a = Moments((2,)).update(X[:4])
    >>> b = Moments((2,)).update(X[4:])
    >>> m = a + b
    >>> m.count, m.mean, m.var
    (6, array([5., 6.]), array([11.66666667, 11.66666667]))
    >>> bool(np.allclose(m.var, X.astype(np.float64).var(axis=0)))
    True
    >>> Moments.from_dict(m.to_dict()).n_zero
    array([1, 0])
    """

    __slots__ = ("count", "m2", "max", "mean", "min", "n_zero", "shape")

    def __init__(self, shape: Sequence[int]) -> None:
        self.shape: tuple[int, ...] = _check_shape(shape)
        self.count: int = 0
        self.mean = np.zeros(self.shape, dtype=np.float64)
        self.m2 = np.zeros(self.shape, dtype=np.float64)
        self.min = np.full(self.shape, np.inf, dtype=np.float64)
        self.max = np.full(self.shape, -np.inf, dtype=np.float64)
        self.n_zero = np.zeros(self.shape, dtype=np.int64)

    # -- derived ------------------------------------------------------------------------------
    @property
    def var(self) -> np.ndarray:
        """Population variance ``M2 / count`` (ddof=0, like StandardScaler); zeros when empty."""
        return self.m2 / self.count if self.count else np.zeros(self.shape)

    @property
    def std(self) -> np.ndarray:
        """Population standard deviation ``sqrt(var)``."""
        return np.sqrt(self.var)

    def __repr__(self) -> str:
        return f"Moments(shape={self.shape}, count={self.count})"

    # -- updates ------------------------------------------------------------------------------
    def update(self, chunk: np.ndarray) -> Moments:
        """Add the samples of ``chunk`` [shape=(k, *shape)] in place; return ``self``.

        Raises
        ------
        ShapeError
            When ``chunk.shape[1:]`` differs from :attr:`shape`.
        DataError
            On a non-numeric dtype, NaN/Inf, or values so large that their square overflows.
        """
        self._update(chunk)
        return self

    def _update(self, chunk: Any, *, rows: np.ndarray | None = None, offset: int = 0,
                engine: Engine = "auto") -> None:
        """Add ``chunk[rows]`` (all rows when None); ``offset`` numbers clips in error messages.

        ``engine`` picks the implementation: ``"numba"`` the fused kernel of
        :mod:`sndiag._kernels`, ``"numpy"`` the two-pass reference, ``"auto"`` the kernel when
        :func:`_use_kernel` says it pays off. Both agree to float64 rounding (~1e-15).
        """
        a = chunk if hasattr(chunk, "shape") and hasattr(chunk, "dtype") else np.asarray(chunk)
        if tuple(a.shape[1:]) != self.shape:
            raise ShapeError(f"chunk has shape {tuple(a.shape)}; expected (k, *{self.shape}) "
                             "like every other chunk of this accumulator")
        _check_numeric(np.dtype(a.dtype), "chunk")
        k = a.shape[0] if rows is None else len(rows)
        if k == 0:
            return
        flat = np.asarray(a).reshape(a.shape[0], -1)
        if engine == "numba" or (engine == "auto" and _use_kernel(flat.dtype, k, flat.shape[1],
                                                                  self.count)):
            kernels = _load_kernels()
            if kernels is not None and np.dtype(flat.dtype) in kernels.KERNEL_DTYPES:
                mean, m2, mn, mx, nz = kernels.chunk_moments(
                    flat, rows, threads=_kernel_threads(k * flat.shape[1]))
                if np.isfinite(mean).all() and np.isfinite(m2).all():
                    sh = self.shape
                    self._combine(k, mean.reshape(sh), m2.reshape(sh),
                                  mn.astype(np.float64).reshape(sh),
                                  mx.astype(np.float64).reshape(sh), nz.reshape(sh))
                    return
                # NaN/Inf or overflow: the numpy path below finds the clip and raises (or, when
                # only the kernel's shifted squares overflowed, succeeds).
        step = max(1, _BLOCK_BYTES // (8 * flat.shape[1]))
        for s in range(0, k, step):
            if rows is None:
                blk = flat[s:s + step]
                where = np.arange(s, s + blk.shape[0])
            else:
                where = rows[s:s + step]
                blk = flat[where]
            self._update_block(blk, where + offset)

    def _update_block(self, blk: np.ndarray, where: np.ndarray) -> None:
        kb = blk.shape[0]
        d = blk.astype(np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            bmean = d.sum(axis=0) / kb
            d -= bmean
            np.square(d, out=d)
            bm2 = d.sum(axis=0)
        if not (np.isfinite(bmean).all() and np.isfinite(bm2).all()):
            self._raise_bad(blk, where)
        bmin = blk.min(axis=0).astype(np.float64)
        bmax = blk.max(axis=0).astype(np.float64)
        bzero = kb - np.count_nonzero(blk, axis=0)
        sh = self.shape
        self._combine(kb, bmean.reshape(sh), bm2.reshape(sh), bmin.reshape(sh), bmax.reshape(sh),
                      bzero.reshape(sh))

    def _raise_bad(self, blk: np.ndarray, where: np.ndarray) -> None:
        bad = ~np.isfinite(blk)
        if bad.any():
            first = np.argwhere(bad)[0]
            pixel = tuple(int(i) for i in np.unravel_index(int(first[1]), self.shape))
            raise DataError(f"X has {int(bad.sum())} NaN/Inf values near clip {int(where[first[0]])} "
                            f"(first at pixel {pixel}); fix the source or replace them "
                            "(np.nan_to_num) before computing statistics")
        big = float(np.max(np.abs(blk)))
        raise DataError(f"X holds values as large as {big:.3g} whose squares overflow float64; "
                        "rescale the data (e.g. divide by its maximum) before computing statistics")

    def _combine(self, nb: int, mean_b: np.ndarray, m2_b: np.ndarray, min_b: np.ndarray,
                 max_b: np.ndarray, zero_b: np.ndarray) -> None:
        if nb == 0:
            return
        na = self.count
        if na == 0:
            self.mean = np.array(mean_b, dtype=np.float64)
            self.m2 = np.array(m2_b, dtype=np.float64)
        else:
            n = na + nb
            delta = mean_b - self.mean
            self.mean += delta * (nb / n)
            self.m2 += m2_b + np.square(delta) * (na * nb / n)
        np.minimum(self.min, min_b, out=self.min)
        np.maximum(self.max, max_b, out=self.max)
        self.n_zero += zero_b
        self.count = na + nb

    def merge(self, other: Moments) -> Moments:
        """Fold ``other`` into ``self`` in place (Chan et al.); return ``self``.

        Use ``a + b`` for a new object that leaves both operands unchanged.

        Raises
        ------
        ShapeError
            When the two shapes differ.
        """
        if not isinstance(other, Moments):
            raise ParameterError(f"cannot merge {type(other).__name__} into Moments; give Moments")
        if other.shape != self.shape:
            raise ShapeError(f"cannot merge Moments of shape {other.shape} into shape {self.shape}; "
                             "compute both over images of the same shape")
        self._combine(other.count, other.mean, other.m2, other.min, other.max, other.n_zero)
        return self

    def copy(self) -> Moments:
        """An independent copy."""
        return Moments.from_dict(self.to_dict())

    def __add__(self, other: Moments) -> Moments:
        return self.copy().merge(other)

    # -- serialisation ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, np.ndarray]:
        """The state as a dict of arrays (copies): ``shape, count, mean, m2, min, max, n_zero``."""
        return {
            "shape": np.array(self.shape, dtype=np.int64),
            "count": np.array(self.count, dtype=np.int64),
            "mean": self.mean.copy(),
            "m2": self.m2.copy(),
            "min": self.min.copy(),
            "max": self.max.copy(),
            "n_zero": self.n_zero.copy(),
        }

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> Moments:
        """Rebuild from :meth:`to_dict` output (any mapping of array-likes).

        Raises
        ------
        DataError
            When a key is missing or an array has the wrong shape.
        """
        missing = sorted({"shape", "count", "mean", "m2", "min", "max", "n_zero"} - set(state))
        if missing:
            raise DataError(f"Moments state lacks {missing}; give the output of Moments.to_dict()")
        m = cls(tuple(int(s) for s in np.asarray(state["shape"]).ravel()))
        count = int(np.asarray(state["count"]))
        if count < 0:
            raise DataError(f"Moments state has count={count}; it must be >= 0")
        for key, dtype in (("mean", np.float64), ("m2", np.float64), ("min", np.float64),
                           ("max", np.float64), ("n_zero", np.int64)):
            arr = np.array(state[key], dtype=dtype)
            if arr.shape != m.shape:
                raise DataError(f"Moments state {key!r} has shape {arr.shape}; expected {m.shape}")
            setattr(m, key, arr)
        m.count = count
        return m

    def __reduce__(self) -> tuple[Any, ...]:
        return (Moments.from_dict, (self.to_dict(),))


# -- uniform clip sample for quantiles ----------------------------------------------------------
_MASK64 = (1 << 64) - 1


def _priorities(index: np.ndarray, seed: int) -> np.ndarray:
    """splitmix64 hash of (clip index, seed): i.i.d.-looking uint64 keys, one per clip."""
    base = np.uint64((int(seed) * 0xD1342543DE82EF95 + 0x9E3779B97F4A7C15) & _MASK64)
    z = np.asarray(index, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15) + base
    z ^= z >> np.uint64(30)
    z *= np.uint64(0xBF58476D1CE4E5B9)
    z ^= z >> np.uint64(27)
    z *= np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return z


#: Clip indices hashed per block by :func:`sample_indices` (bounds its memory).
_KEY_BLOCK = 1 << 20


def sample_indices(n: int, sample_size: int, random_state: int = 0) -> np.ndarray:
    """Sorted indices of the clips :class:`~sndiag.stats.StatsAccumulator` samples for quantiles.

    The ``sample_size`` clips with the smallest keys ``splitmix64(index, random_state)``; every
    clip when ``n <= sample_size``. Memory: ``sample_size`` keys plus one block of 1M keys.

    Examples
    --------
    >>> sample_indices(5, 10).tolist()
    [0, 1, 2, 3, 4]
    >>> idx = sample_indices(10_000, 3, random_state=1)
    >>> idx.shape, bool((np.diff(idx) > 0).all())
    ((3,), True)
    """
    if n <= sample_size:
        return np.arange(n, dtype=np.int64)
    if sample_size <= 0:
        return np.zeros(0, dtype=np.int64)
    best_keys = np.zeros(0, dtype=np.uint64)
    best_idx = np.zeros(0, dtype=np.int64)
    for s in range(0, n, _KEY_BLOCK):
        idx = np.arange(s, min(n, s + _KEY_BLOCK), dtype=np.int64)
        keys = np.concatenate([best_keys, _priorities(idx, random_state)])
        idx = np.concatenate([best_idx, idx])
        if len(keys) > sample_size:
            keep = np.argpartition(keys, sample_size - 1)[:sample_size]
            keys, idx = keys[keep], idx[keep]
        best_keys, best_idx = keys, idx
    return np.sort(best_idx)


def sample_positions(size: int, *, max_values: int = 200_000, rng_seed: int = 0) -> np.ndarray | None:
    """The flat positions :func:`subsample_values` reads from an array of ``size`` values.

    Lets a caller that produces an array piece by piece (or only at the sampled positions) take
    exactly the sample :func:`subsample_values` would take from the whole array.

    Parameters
    ----------
    size : int
        Number of values in the (flattened) array.
    max_values : int
        Upper bound of the sample size.
    rng_seed : int
        Seed of the random draw.

    Returns
    -------
    np.ndarray [shape=(max_values,), dtype=int64] or None
        Sorted positions, drawn with replacement; None when ``size <= max_values`` (every
        value is taken).

    Examples
    --------
    >>> pos = sample_positions(1000, max_values=5)
    >>> pos.shape, bool(np.all(np.diff(pos) >= 0))
    ((5,), True)
    >>> sample_positions(10, max_values=20) is None
    True
    """
    if isinstance(max_values, bool) or not isinstance(max_values, int) or max_values < 1:
        raise ParameterError(f"max_values={max_values!r} must be a positive integer")
    if size <= max_values:
        return None
    idx = np.random.default_rng(rng_seed).integers(0, size, size=max_values)
    idx.sort()  # sequential reads
    return idx


def subsample_values(values: np.ndarray, *, max_values: int = 200_000, rng_seed: int = 0) -> np.ndarray:
    """At most ``max_values`` finite values drawn at random (with replacement) from ``values``.

    The input is never copied as a whole, so this stays fast and light on 3000 x 7800 arrays.
    The positions drawn are :func:`sample_positions`.

    Parameters
    ----------
    values : np.ndarray or ClipArray
        Any shape; flattened. Of a :class:`~sndiag.clip_array.ClipArray` (clips read on
        demand) only :data:`SAMPLE_CLIPS` clips drawn at random are read, and the values drawn
        from them.
    max_values : int
        Upper bound of the returned size.
    rng_seed : int
        Seed of the random draw (the result is reproducible).

    Returns
    -------
    np.ndarray [shape=(<= max_values,), dtype=float64]
        All finite values when there are at most ``max_values`` of them, else a random sample.

    Examples
    --------
    >>> subsample_values(np.arange(10), max_values=4).shape
    (4,)
    >>> subsample_values(np.array([1.0, np.nan, 3.0])).tolist()
    [1.0, 3.0]
    """
    if isinstance(values, ClipArray):  # never read whole: a sample of its clips
        values = values.take(sample_indices(len(values), SAMPLE_CLIPS, rng_seed))
    flat = np.asarray(values).reshape(-1)
    idx = sample_positions(flat.size, max_values=max_values, rng_seed=rng_seed)
    if idx is not None:
        flat = flat[idx]
    out = flat.astype(np.float64)
    return out[np.isfinite(out)]


class _Reservoir:
    """Bottom-k sample: keeps the ``size`` clips with the smallest hashed priority.

    Every clip gets the key ``splitmix64(index, seed)``; keeping the ``size`` smallest keys is a
    uniform sample without replacement that does not depend on chunking or arrival order, and the
    union of two samples reduced to ``size`` is the sample of the union (mergeable).
    """

    def __init__(self, shape: tuple[int, ...], size: int, seed: int) -> None:
        self.shape, self.size, self.seed = shape, size, seed
        self.m = 0
        self.keys = np.zeros(0, dtype=np.uint64)
        self.items: np.ndarray | None = None

    def _reserve(self, dtype: np.dtype, need: int) -> np.ndarray:
        """Grow the buffers (geometrically, at most to ``size``) to hold ``need`` clips."""
        have = 0 if self.items is None else len(self.items)
        if self.items is None or have < need:
            cap = min(self.size, max(need, 2 * have))
            kind = np.result_type(dtype, np.float32) if self.items is None else self.items.dtype
            items = np.empty((cap, *self.shape), dtype=kind)
            keys = np.zeros(cap, dtype=np.uint64)
            if self.items is not None:
                items[:self.m] = self.items[:self.m]
                keys[:self.m] = self.keys[:self.m]
            self.items, self.keys = items, keys
        return self.items

    def update(self, chunk: Any, index: np.ndarray) -> None:
        k = len(index)
        if k == 0:
            return
        keys = _priorities(index, self.seed)
        items = self._reserve(np.dtype(chunk.dtype), min(self.size, self.m + k))
        if self.m + k <= self.size:
            items[self.m:self.m + k] = chunk
            self.keys[self.m:self.m + k] = keys
            self.m += k
            return
        self._offer(keys, lambda sel: np.asarray(chunk[sel]))

    def _offer(self, keys: np.ndarray, take: Any) -> None:
        """Keep the ``size`` smallest of the current and the offered keys (buffers full-size)."""
        items = self.items
        assert items is not None and len(items) == self.size
        cur = self.m
        allkeys = np.concatenate([self.keys[:cur], keys])
        keep = np.argpartition(allkeys, self.size - 1)[: self.size]
        keep_old = np.sort(keep[keep < cur])
        keep_new = np.sort(keep[keep >= cur] - cur)
        free = np.setdiff1d(np.arange(self.size), keep_old, assume_unique=True)
        if len(keep_new):
            items[free] = take(keep_new)
            self.keys[free] = keys[keep_new]
        self.m = self.size

    def merge(self, other: _Reservoir) -> None:
        if other.m == 0:
            return
        if other.size != self.size or other.seed != self.seed:
            raise ParameterError(f"cannot merge quantile samples with sample_size/random_state "
                                 f"{other.size}/{other.seed} into {self.size}/{self.seed}; "
                                 "use the same values in every worker")
        src = other.items
        assert src is not None
        items = self._reserve(src.dtype, min(self.size, self.m + other.m))
        if self.m + other.m <= self.size:
            items[self.m:self.m + other.m] = src[:other.m]
            self.keys[self.m:self.m + other.m] = other.keys[:other.m]
            self.m += other.m
            return
        self._offer(other.keys[:other.m].copy(), lambda sel: src[sel])

    def __getstate__(self) -> dict[str, Any]:
        # Pickle only the filled part of the buffers (workers send their sample home).
        state = dict(self.__dict__)
        if self.items is not None:
            state["items"] = self.items[: self.m].copy()
            state["keys"] = self.keys[: self.m].copy()
        return state

    def sample(self) -> np.ndarray | None:
        return None if self.items is None or self.m == 0 else self.items[: self.m]


def _pixel_quantiles(X2: np.ndarray) -> dict[str, np.ndarray]:
    """Exact q25, median, q75 and MAD over axis 0 of ``X2`` [shape=(m, n_pixels)].

    Sorts one block of pixels at a time (memory ~ 1.5 x ``_QUANTILE_BLOCK_BYTES``); interpolation is
    numpy's default ``"linear"`` method, done in float64.
    """
    m, p = X2.shape
    dtype = np.result_type(X2.dtype, np.float32)
    out = {k: np.empty(p, dtype=np.float64) for k in ("q25", "median", "q75", "mad")}
    block = max(1, _QUANTILE_BLOCK_BYTES // (8 * m))

    def lerp(s: np.ndarray, q: float) -> np.ndarray:
        h = (m - 1) * q
        lo = int(np.floor(h))
        hi = min(lo + 1, m - 1)
        a = s[:, lo].astype(np.float64)
        b = s[:, hi].astype(np.float64)
        return a + (b - a) * (h - lo)

    for j in range(0, p, block):
        blk = np.array(X2[:, j:j + block].T, dtype=dtype, order="C")
        blk.sort(axis=1)
        med = lerp(blk, 0.5)
        out["q25"][j:j + block] = lerp(blk, 0.25)
        out["median"][j:j + block] = med
        out["q75"][j:j + block] = lerp(blk, 0.75)
        dev = blk.astype(np.float64)
        dev -= med[:, None]
        np.abs(dev, out=dev)
        dev.sort(axis=1)
        out["mad"][j:j + block] = lerp(dev, 0.5)
    return out


# -- PixelStats -------------------------------------------------------------------------------
_QUANTILE_FIELDS = ("median", "q25", "q75", "iqr", "mad")
_META_FIELDS = ("n", "shape", "classes", "global_min", "global_max", "global_mean", "global_std",
                "quantiles_exact", "n_quantile_clips")


@dataclass(frozen=True, eq=False)
class PixelStats:
    """Per-pixel, per-row, per-class and global statistics of a spectrogram dataset.

    Build it with :func:`compute_stats`, :func:`compute_stats_chunks` or
    :func:`stats_from_moments`; every array is float64 (unless noted) and read-only, and no
    field ever holds NaN or Inf.

    Parameters
    ----------
    n : int
        Number of clips.
    shape : (int, int)
        ``(n_mels, n_frames)``.
    count : np.ndarray [shape=(n_mels, n_frames), dtype=int64]
        Clips per pixel (all equal to ``n``).
    mean, std, min, max : np.ndarray [shape=(n_mels, n_frames)]
        Per-pixel mean, population std (ddof=0, like ``StandardScaler``), minimum and maximum.
    zero_fraction : np.ndarray [shape=(n_mels, n_frames)]
        Share of clips whose value is exactly 0 (silence, padding).
    snr : np.ndarray [shape=(n_mels, n_frames)]
        ``mean / std``; 0.0 where ``zero_std``.
    zero_std : np.ndarray [shape=(n_mels, n_frames), dtype=bool]
        The std is 0 up to float64 rounding: ``var <= n*eps*var + (n*|mean|*eps)**2`` with
        ``eps = 2.2e-16`` (see :func:`is_constant`); exact constants always qualify.
    noise_gain : np.ndarray [shape=(n_mels, n_frames)]
        Factor by which per-pixel standardization multiplies deviations: ``1 / std``, and 1.0
        where ``zero_std`` (scikit-learn's ``_handle_zeros_in_scale``).
    median, q25, q75, iqr, mad : np.ndarray [shape=(n_mels, n_frames)] or None
        Per-pixel quartiles, ``iqr = q75 - q25`` and the raw median absolute deviation
        ``median(|x - median|)`` (not scaled by 1.4826); numpy's ``"linear"`` interpolation.
        None when computed with ``quantiles="none"``.
    row_mean, row_std, row_snr, row_min, row_max, row_zero_fraction : np.ndarray [shape=(n_mels,)]
        The same, pooled over all frames and clips of each mel row.
    row_zero_std : np.ndarray [shape=(n_mels,), dtype=bool]
        :func:`is_constant` of the pooled row variance.
    row_mean_snr : np.ndarray [shape=(n_mels,)]
        Mean over frames of the pixel ``snr``.
    classes : tuple of str
        Sorted class labels; empty when unlabelled.
    class_count : np.ndarray [shape=(n_classes,), dtype=int64]
    class_mean, class_std : np.ndarray [shape=(n_classes, n_mels, n_frames)]
        Per-class pixel mean and population std.
    fisher : np.ndarray [shape=(n_mels, n_frames)] or None
        Fisher ratio ``between / within``: ``between = sum_c n_c (mean_c - mean)**2 / n``,
        ``within = sum_c n_c var_c / n``. Where ``within`` is 0 up to rounding
        (:func:`is_constant`), the ratio is 0 if ``between`` is 0 too (0/0: a constant pixel
        separates nothing) and :data:`FISHER_MAX` otherwise (classes constant at different
        values); it is also capped at :data:`FISHER_MAX`. None when unlabelled.
    row_fisher : np.ndarray [shape=(n_mels,)] or None
        Mean of ``fisher`` over the frames of each row.
    global_min, global_max, global_mean, global_std : float
        Over every value of every clip.
    quantiles_exact : bool
        True when the quantiles use every clip, False when they come from a sample (or are
        absent).
    n_quantile_clips : int
        Number of clips the quantiles were computed from (0 when absent).

    See Also
    --------
    compute_stats, sndiag.masks.snr_mask

    Examples
    --------
    >>> st = compute_stats(np.arange(24, dtype=np.float32).reshape(4, 2, 3))
    >>> st.n, st.shape, st.mean[0].tolist(), st.snr.shape
    (4, (2, 3), [9.0, 10.0, 11.0], (2, 3))
    """

    n: int
    shape: tuple[int, int]
    count: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    min: np.ndarray
    max: np.ndarray
    zero_fraction: np.ndarray
    snr: np.ndarray
    zero_std: np.ndarray
    noise_gain: np.ndarray
    median: np.ndarray | None
    q25: np.ndarray | None
    q75: np.ndarray | None
    iqr: np.ndarray | None
    mad: np.ndarray | None
    row_mean: np.ndarray
    row_std: np.ndarray
    row_snr: np.ndarray
    row_min: np.ndarray
    row_max: np.ndarray
    row_zero_fraction: np.ndarray
    row_zero_std: np.ndarray
    row_mean_snr: np.ndarray
    classes: tuple[str, ...]
    class_count: np.ndarray
    class_mean: np.ndarray
    class_std: np.ndarray
    fisher: np.ndarray | None
    row_fisher: np.ndarray | None
    global_min: float
    global_max: float
    global_mean: float
    global_std: float
    quantiles_exact: bool
    n_quantile_clips: int

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                value = np.array(value)  # own, contiguous copy
                value.setflags(write=False)
                object.__setattr__(self, f.name, value)
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))
        object.__setattr__(self, "classes", tuple(str(c) for c in self.classes))

    # -- derived ------------------------------------------------------------------------------
    @property
    def n_mels(self) -> int:
        return self.shape[0]

    @property
    def n_frames(self) -> int:
        return self.shape[1]

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def has_labels(self) -> bool:
        """True when per-class statistics and Fisher ratios are present."""
        return self.fisher is not None

    @property
    def has_quantiles(self) -> bool:
        return self.median is not None

    @property
    def var(self) -> np.ndarray:
        """Per-pixel population variance ``std**2``."""
        return np.square(self.std)

    @property
    def n_zero_std(self) -> int:
        """Number of pixels flagged ``zero_std``."""
        return int(self.zero_std.sum())

    # -- export -------------------------------------------------------------------------------
    def _meta(self) -> dict[str, Any]:
        return {
            "format": _NPZ_FORMAT,
            "n": int(self.n),
            "shape": list(self.shape),
            "classes": list(self.classes),
            "global_min": float(self.global_min),
            "global_max": float(self.global_max),
            "global_mean": float(self.global_mean),
            "global_std": float(self.global_std),
            "quantiles_exact": bool(self.quantiles_exact),
            "n_quantile_clips": int(self.n_quantile_clips),
        }

    def to_npz(self, path: str | os.PathLike[str]) -> Path:
        """Write every array (and a JSON ``meta`` string) to ``path``; no pickled objects.

        Returns the path. Absent (None) fields are simply not stored.

        Examples
        --------
        >>> import tempfile, os
        >>> st = compute_stats(np.ones((3, 2, 2)), y=["a", "b", "a"])
        >>> p = st.to_npz(os.path.join(tempfile.mkdtemp(), "stats.npz"))
        >>> PixelStats.from_npz(p).classes
        ('a', 'b')
        """
        return atomic_write(path, self.to_npz_bytes())

    def to_npz_bytes(self) -> bytes:
        """The ``.npz`` :meth:`to_npz` writes, as bytes (a download button's content)."""
        arrays: dict[str, np.ndarray] = {"meta": np.array(json.dumps(self._meta()))}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                arrays[f.name] = value
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        return buf.getvalue()

    @classmethod
    def from_npz(cls, path: str | os.PathLike[str] | io.BytesIO) -> PixelStats:
        """Read a file written by :meth:`to_npz` (never unpickles).

        Raises
        ------
        DataError
            When the file is not a sndiag statistics file.
        """
        try:
            with np.load(path, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        except (OSError, ValueError) as exc:
            raise DataError(f"{path} is not a readable .npz statistics file ({exc})") from None
        if "meta" not in data:
            raise DataError(f"{path} has no 'meta' entry; write it with PixelStats.to_npz")
        meta = json.loads(str(data.pop("meta")))
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in _META_FIELDS:
                kwargs[f.name] = meta[f.name]
            elif f.name in data:
                kwargs[f.name] = data[f.name]
            elif f.name in _QUANTILE_FIELDS or f.name in ("fisher", "row_fisher"):
                kwargs[f.name] = None
            else:
                raise DataError(f"{path} lacks the array {f.name!r}; write it with PixelStats.to_npz")
        kwargs["shape"] = tuple(kwargs["shape"])
        kwargs["classes"] = tuple(kwargs["classes"])
        return cls(**kwargs)

    def to_json_summary(self) -> dict[str, Any]:
        """JSON-ready summary: sizes, global range, per-row SNR/mean/std, zero-std count, classes.

        Keys: ``n, shape, global_min, global_max, global_mean, global_std, row_snr, row_mean,
        row_std, row_mean_snr, row_zero_fraction, n_zero_std, classes, class_count,
        quantiles_exact, n_quantile_clips`` and ``row_fisher`` (None when unlabelled); every
        number is a plain float or int.

        Examples
        --------
        >>> s = compute_stats(np.ones((2, 1, 3))).to_json_summary()
        >>> s["n"], s["shape"], s["row_snr"], s["n_zero_std"]
        (2, [1, 3], [0.0], 3)
        """

        def floats(a: np.ndarray | None) -> list[float] | None:
            return None if a is None else [float(v) for v in a]

        return {
            "n": int(self.n),
            "shape": list(self.shape),
            "global_min": float(self.global_min),
            "global_max": float(self.global_max),
            "global_mean": float(self.global_mean),
            "global_std": float(self.global_std),
            "row_snr": floats(self.row_snr),
            "row_mean": floats(self.row_mean),
            "row_std": floats(self.row_std),
            "row_mean_snr": floats(self.row_mean_snr),
            "row_zero_fraction": floats(self.row_zero_fraction),
            "n_zero_std": self.n_zero_std,
            "classes": list(self.classes),
            "class_count": [int(c) for c in self.class_count],
            "row_fisher": floats(self.row_fisher),
            "quantiles_exact": bool(self.quantiles_exact),
            "n_quantile_clips": int(self.n_quantile_clips),
        }

    def to_csv(self) -> str:
        """One CSV line per pixel: ``row,frame,mean,std,snr,median,iqr,mad,min,max,zero_fraction,
        fisher``; absent quantiles or Fisher ratios are empty fields.

        Examples
        --------
        >>> print(compute_stats(np.arange(4.0).reshape(2, 1, 2)).to_csv())
        row,frame,mean,std,snr,median,iqr,mad,min,max,zero_fraction,fisher
        0,0,1,1,1,1,1,1,0,2,0.5,
        0,1,2,1,2,2,1,1,1,3,0,
        """
        cols = ["mean", "std", "snr", "median", "iqr", "mad", "min", "max", "zero_fraction",
                "fisher"]
        values = []
        for c in cols:
            a = getattr(self, c)
            values.append([""] * (self.n_mels * self.n_frames) if a is None
                          else [f"{v:.10g}" for v in np.ravel(a)])
        r, f = np.indices(self.shape).reshape(2, -1)
        lines = ["row,frame," + ",".join(cols)]
        lines += [f"{ri},{fi}," + ",".join(v) for ri, fi, *v in zip(r, f, *values, strict=True)]
        return "\n".join(lines) + "\n"


# -- assembling PixelStats --------------------------------------------------------------------
def _finish(total: Moments, class_moments: Mapping[str, Moments] | None,
            quantiles: Mapping[str, np.ndarray] | None, *, quantiles_exact: bool,
            n_quantile_clips: int) -> PixelStats:
    if total.count == 0:
        raise DataError("no clips were seen; give at least one clip")
    if len(total.shape) != 2:
        raise ShapeError(f"PixelStats needs images of shape (n_mels, n_frames); got {total.shape}")
    n = total.count
    n_mels, n_frames = total.shape
    mean, var = total.mean, total.var
    std = np.sqrt(var)
    zero_std = is_constant(var, mean, n)
    snr = _safe_div(mean, std, zero_std, 0.0)
    noise_gain = _safe_div(np.ones_like(std), std, zero_std, 1.0)

    # rows: pool the pixel moments (every pixel has the same count n)
    row_mean = mean.mean(axis=1)
    row_m2 = total.m2.sum(axis=1) + n * np.square(mean - row_mean[:, None]).sum(axis=1)
    row_var = row_m2 / (n * n_frames)
    row_std = np.sqrt(row_var)
    row_zero_std = is_constant(row_var, row_mean, n * n_frames)
    g_mean = float(row_mean.mean())
    g_m2 = float(row_m2.sum() + n * n_frames * np.square(row_mean - g_mean).sum())
    g_std = float(np.sqrt(g_m2 / (n * n_mels * n_frames)))

    q: dict[str, np.ndarray | None] = dict.fromkeys(_QUANTILE_FIELDS)
    if quantiles is not None:
        for key in ("median", "q25", "q75", "mad"):
            q[key] = np.asarray(quantiles[key], dtype=np.float64).reshape(total.shape)
        q["iqr"] = q["q75"] - q["q25"]  # type: ignore[operator]

    classes = tuple(sorted(class_moments)) if class_moments else ()
    if classes:
        cms = [class_moments[c] for c in classes]  # type: ignore[index]
        class_count = np.array([m.count for m in cms], dtype=np.int64)
        class_mean = np.stack([m.mean for m in cms])
        class_std = np.stack([m.std for m in cms])
        between = np.einsum("c,cij->ij", class_count, np.square(class_mean - mean)) / n
        within = sum(m.m2 for m in cms) / n
        flat_within = is_constant(within, mean, n)
        flat_between = is_constant(between, mean, n)
        fisher = _safe_div(between, within, flat_within, 0.0)
        fisher = np.where(flat_within & ~flat_between, FISHER_MAX, np.minimum(fisher, FISHER_MAX))
        row_fisher: np.ndarray | None = fisher.mean(axis=1)
        fisher_out: np.ndarray | None = fisher
    else:
        class_count = np.zeros(0, dtype=np.int64)
        class_mean = np.zeros((0, n_mels, n_frames))
        class_std = np.zeros((0, n_mels, n_frames))
        fisher_out = row_fisher = None

    return PixelStats(
        n=n, shape=(n_mels, n_frames), count=np.full(total.shape, n, dtype=np.int64),
        mean=mean, std=std, min=total.min, max=total.max, zero_fraction=total.n_zero / n,
        snr=snr, zero_std=zero_std, noise_gain=noise_gain,
        median=q["median"], q25=q["q25"], q75=q["q75"], iqr=q["iqr"], mad=q["mad"],
        row_mean=row_mean, row_std=row_std,
        row_snr=_safe_div(row_mean, row_std, row_zero_std, 0.0),
        row_min=total.min.min(axis=1), row_max=total.max.max(axis=1),
        row_zero_fraction=total.n_zero.sum(axis=1) / (n * n_frames), row_zero_std=row_zero_std,
        row_mean_snr=snr.mean(axis=1),
        classes=classes, class_count=class_count, class_mean=class_mean, class_std=class_std,
        fisher=fisher_out, row_fisher=row_fisher,
        global_min=float(total.min.min()), global_max=float(total.max.max()),
        global_mean=g_mean, global_std=g_std,
        quantiles_exact=bool(quantiles is not None and quantiles_exact),
        n_quantile_clips=int(n_quantile_clips if quantiles is not None else 0),
    )


# -- accumulator ------------------------------------------------------------------------------
class StatsAccumulator:
    """Everything :class:`PixelStats` needs, accumulated chunk by chunk and mergeable.

    Holds one :class:`Moments` per class (or a single one when unlabelled) and a deterministic
    uniform sample of at most ``sample_size`` clips for the quantiles. Send one accumulator per
    worker, :meth:`merge` the results, then call :meth:`result`.

    Parameters
    ----------
    shape : (int, int)
        ``(n_mels, n_frames)``.
    sample_size : int
        Clips kept for the quantiles; 0 disables them.
    random_state : int
        Seed of the sample.

    Notes
    -----
    The sample is a bottom-k sample: clip ``i`` (its global index, see ``start`` in
    :meth:`update`) gets the pseudo-random priority ``splitmix64(i, random_state)`` and the
    ``sample_size`` smallest priorities are kept. That is a uniform sample without replacement;
    it does not depend on chunk boundaries or on how worker results are merged, as long as every
    clip keeps its global index. When all clips fit, the quantiles are exact.

    Examples
    --------
    >>> X = np.random.default_rng(0).random((10, 2, 3))
    >>> a = StatsAccumulator((2, 3)).update(X[:6])
    >>> b = StatsAccumulator((2, 3)).update(X[6:], start=6)
    >>> st = a.merge(b).result()
    >>> st.n, st.quantiles_exact, bool(np.allclose(st.median, np.median(X, axis=0)))
    (10, True, True)
    """

    def __init__(self, shape: Sequence[int], *, sample_size: int = 2000,
                 random_state: int = 0) -> None:
        self.shape = _check_shape(shape)
        if len(self.shape) != 2:
            raise ShapeError(f"shape={self.shape} must be (n_mels, n_frames)")
        if isinstance(sample_size, bool) or not isinstance(sample_size, int | np.integer) \
                or sample_size < 0:
            raise ParameterError(f"sample_size={sample_size!r} must be a non-negative integer "
                                 "(0 = no quantiles)")
        if isinstance(random_state, bool) or not isinstance(random_state, int | np.integer):
            raise ParameterError(f"random_state={random_state!r} must be an integer seed")
        self.sample_size = int(sample_size)
        self.random_state = int(random_state)
        self.n_seen = 0
        self.labelled: bool | None = None
        self.total = Moments(self.shape)
        self.by_class: dict[str, Moments] = {}
        self._sample = _Reservoir(self.shape, self.sample_size, self.random_state) \
            if self.sample_size else None

    def update(self, X: Any, y: Any = None, *, start: int | None = None) -> StatsAccumulator:
        """Add clips ``X`` [shape=(k, n_mels, n_frames)] with optional labels ``y`` (k,).

        ``start`` is the global index of ``X[0]`` (default: the number of clips seen so far);
        give it when several workers each process a slice, so that the quantile sample and error
        messages use global clip numbers. Labels must be given for every chunk or none.
        """
        if not (hasattr(X, "shape") and hasattr(X, "dtype")):
            X = np.asarray(X)
        if len(X.shape) != 3 or tuple(X.shape[1:]) != self.shape:
            raise ShapeError(f"chunk has shape {tuple(X.shape)}; expected (k, *{self.shape})")
        k = int(X.shape[0])
        start = self.n_seen if start is None else int(start)
        labelled = y is not None
        if self.labelled is not None and labelled != self.labelled:
            raise ParameterError("labels were given for some chunks but not others; give y for "
                                 "every chunk or for none")
        if k == 0:
            return self
        self.labelled = labelled
        if labelled:
            labels = _labels(y, k)
            names, inv = np.unique(labels, return_inverse=True)
            for i, name in enumerate(names):
                rows = np.flatnonzero(inv == i)
                self.by_class.setdefault(str(name), Moments(self.shape))._update(
                    X, rows=rows, offset=start)
        else:
            self.total._update(X, offset=start)
        if self._sample is not None:
            self._sample.update(X, np.arange(start, start + k, dtype=np.int64))
        self.n_seen += k
        return self

    def merge(self, other: StatsAccumulator) -> StatsAccumulator:
        """Fold another accumulator (same shape and sample settings) into this one."""
        if not isinstance(other, StatsAccumulator) or other.shape != self.shape:
            raise ShapeError(f"cannot merge {other!r} into a StatsAccumulator of shape {self.shape}")
        if other.sample_size != self.sample_size:
            raise ParameterError(f"sample_size {other.sample_size} != {self.sample_size}; use the "
                                 "same value in every worker")
        if other.labelled is None:
            return self
        if self.labelled is not None and other.labelled != self.labelled:
            raise ParameterError("cannot merge labelled and unlabelled statistics")
        self.labelled = other.labelled
        self.total.merge(other.total)
        for name, m in other.by_class.items():
            self.by_class.setdefault(name, Moments(self.shape)).merge(m)
        if self._sample is not None and other._sample is not None:
            self._sample.merge(other._sample)
        self.n_seen += other.n_seen
        return self

    def result(self) -> PixelStats:
        """The :class:`PixelStats` of every clip seen (quantiles from the sample)."""
        sample = None if self._sample is None else self._sample.sample()
        return stats_from_moments(
            self.total if not self.labelled else None,
            class_moments=self.by_class if self.labelled else None,
            quantile_sample=sample,
            quantiles_exact=sample is not None and len(sample) == self.n_seen,
        )

    def __repr__(self) -> str:
        return (f"StatsAccumulator(shape={self.shape}, n_seen={self.n_seen}, "
                f"classes={sorted(self.by_class)})")


# -- entry points -----------------------------------------------------------------------------
def _merge_all(items: Iterable[Moments]) -> Moments | None:
    out: Moments | None = None
    for m in items:
        out = m.copy() if out is None else out.merge(m)
    return out


def stats_from_moments(moments: Moments | Iterable[Moments] | None = None, *,
                       class_moments: Mapping[str, Moments] | Iterable[Mapping[str, Moments]]
                       | None = None,
                       quantile_sample: np.ndarray | None = None,
                       quantiles_exact: bool = False) -> PixelStats:
    """Assemble :class:`PixelStats` from moments reduced elsewhere (other workers).

    Parameters
    ----------
    moments : Moments or iterable of Moments or None
        Overall moments, merged when several are given. May be omitted when ``class_moments``
        is given: the overall moments are then the merge of the class moments.
    class_moments : mapping str -> Moments, or iterable of such mappings, or None
        Per-class moments; several mappings (one per worker) are merged label by label.
    quantile_sample : np.ndarray [shape=(m, n_mels, n_frames)] or None
        Clips to compute the median, quartiles and MAD from; None leaves them absent.
    quantiles_exact : bool
        Whether ``quantile_sample`` is the whole dataset (recorded in ``quantiles_exact``).

    Returns
    -------
    PixelStats

    Raises
    ------
    ParameterError
        When nothing is given, or overall and per-class counts disagree.

    Examples
    --------
    >>> X = np.random.default_rng(1).random((8, 2, 2))
    >>> y = np.array(list("aabbaabb"))
    >>> parts = [{c: Moments((2, 2)).update(X[s:s + 4][y[s:s + 4] == c]) for c in "ab"}
    ...          for s in (0, 4)]
    >>> st = stats_from_moments(class_moments=parts)
    >>> st.n, st.classes, st.class_count.tolist(), st.has_quantiles
    (8, ('a', 'b'), [4, 4], False)
    """
    merged_classes: dict[str, Moments] | None = None
    if class_moments is not None:
        maps = [class_moments] if isinstance(class_moments, Mapping) else list(class_moments)
        merged_classes = {}
        for mp in maps:
            for name, m in mp.items():
                if name in merged_classes:
                    merged_classes[str(name)].merge(m)
                else:
                    merged_classes[str(name)] = m.copy()
        merged_classes = {k: v for k, v in merged_classes.items() if v.count > 0}
    total = _merge_all([moments] if isinstance(moments, Moments) else (moments or []))
    if total is None and merged_classes:
        total = _merge_all(merged_classes.values())
    if total is None:
        raise ParameterError("give moments, class_moments or both")
    if merged_classes is not None:
        n_cls = sum(m.count for m in merged_classes.values())
        if n_cls != total.count:
            raise ParameterError(f"class moments hold {n_cls} clips but the overall moments "
                                 f"{total.count}; compute both over the same clips")
    q = None
    n_q = 0
    if quantile_sample is not None:
        s = np.asarray(quantile_sample)
        if s.ndim != 3 or s.shape[1:] != total.shape or s.shape[0] == 0:
            raise ShapeError(f"quantile_sample has shape {s.shape}; expected (m >= 1, "
                             f"*{total.shape})")
        _check_numeric(s.dtype, "quantile_sample")
        q = _pixel_quantiles(s.reshape(s.shape[0], -1))
        n_q = s.shape[0]
    return _finish(total, merged_classes, q, quantiles_exact=bool(quantiles_exact),
                   n_quantile_clips=n_q)


def _is_mapped(X: Any) -> bool:
    """True when ``X`` (or any array it is a view of) is backed by a memory-mapped file."""
    obj = X
    for _ in range(64):
        if isinstance(obj, np.memmap | mmap.mmap):
            return True
        obj = getattr(obj, "base", None)
        if obj is None:
            return False
    return False


def _shared_mapping(X: Any) -> tuple[mmap.mmap, int] | None:
    """The shared file mapping behind ``X`` and the address of its first byte, or None.

    None for in-memory arrays, non-numpy sources and copy-on-write memmaps (``mode="c"``), whose
    pages may hold private changes that :func:`_release_pages` would discard.
    """
    if not hasattr(mmap, "MADV_DONTNEED"):  # pragma: no cover - not Linux/BSD/macOS
        return None
    obj, mode = X, None
    for _ in range(64):
        if isinstance(obj, np.memmap) and mode is None:
            mode = obj.mode
        if isinstance(obj, mmap.mmap):
            if mode not in ("r", "r+", "w+"):
                return None
            try:
                addr = np.frombuffer(obj, dtype=np.uint8).ctypes.data
            except (TypeError, ValueError, BufferError):  # pragma: no cover - closed, empty
                return None
            return obj, addr
        obj = getattr(obj, "base", None)
        if obj is None:
            return None
    return None


def _release_pages(mapping: tuple[mmap.mmap, int], chunk: Any) -> None:
    """Drop the pages of a processed ``chunk`` of a shared file mapping from this process.

    Pages of a memory-mapped file count in the process' resident memory for as long as the
    mapping lives, so streaming a 3 GB memmap would end at ~3 GB RSS. ``MADV_DONTNEED`` on a
    shared file mapping only unmaps them (the data stays in the file and the OS page cache; a
    later read faults them back in), so memory stays at about one chunk. Best effort: errors are
    ignored.
    """
    mm, base = mapping
    arr = np.asarray(chunk)
    if arr.size == 0 or not arr.flags.c_contiguous:
        return
    pos = arr.ctypes.data - base
    if pos < 0 or pos + arr.nbytes > len(mm):  # pragma: no cover - not a view of this mapping
        return
    start = pos - pos % mmap.PAGESIZE
    try:
        mm.madvise(mmap.MADV_DONTNEED, start, pos + arr.nbytes - start)
    except (OSError, ValueError):  # pragma: no cover - closed mapping, exotic platform
        pass


def _check_mode(quantiles: Any) -> None:
    if quantiles not in ("exact", "sample", "none"):
        raise ParameterError(f"quantiles={quantiles!r} must be 'exact', 'sample' or 'none'")


def compute_stats(X: Any, y: Any = None, *, chunk_size: int = 512,
                  quantiles: Quantiles = "exact", sample_size: int = 2000,
                  random_state: int = 0) -> PixelStats:
    """Per-pixel, per-row and per-class statistics of spectrograms ``X``, in one pass.

    Parameters
    ----------
    X : np.ndarray or np.memmap [shape=(n_clips, n_mels, n_frames)]
        Real-valued spectrograms (float32 preferred), finite. Any object with ``shape``,
        ``dtype`` and slicing (h5py, zarr) is streamed like a memmap.
    y : array-like [shape=(n_clips,)] or None
        Class labels (converted to strings); enables ``class_*`` and ``fisher``.
    chunk_size : int
        Clips read per step; with a memmap only this many clips are in memory at once.
    quantiles : {"exact", "sample", "none"}
        ``"exact"``: when ``X`` is an in-memory array, exact per-pixel quantiles over all clips
        (pixels sorted one block at a time, bounded memory); when ``X`` is memory-mapped or
        another streamed source, falls back to ``"sample"``. ``"sample"``: quantiles of a
        deterministic uniform sample of ``sample_size`` clips (bottom-k by a hash of the clip
        index and ``random_state``, see :class:`StatsAccumulator`). ``"none"``: skip them
        (``median`` etc. are None). ``PixelStats.quantiles_exact`` records which happened; a
        sample that holds every clip is exact.
    sample_size : int
        Clips in the quantile sample.
    random_state : int
        Seed of the sample.

    Returns
    -------
    PixelStats

    Raises
    ------
    ShapeError
        When ``X`` is not 3-D or ``y`` does not have one label per clip.
    DataError
        When ``X`` is empty, non-numeric or holds NaN/Inf.
    ParameterError
        On a bad ``chunk_size``, ``quantiles``, ``sample_size`` or ``random_state``.

    See Also
    --------
    compute_stats_chunks : for an iterable of chunks.
    stats_from_moments : for moments reduced by other workers.

    Notes
    -----
    Moments (mean, std, min, max, zero counts) are always exact: float64 one-pass with Chan et
    al.'s merge, equal to a numpy float64 two-pass computation to ~1e-15 relative error (the
    compiled kernel and the numpy path differ only at that level). Rows pool all frames and
    clips of a mel band (derived exactly from the pixel moments, no second pass).

    Memory beyond ``X`` itself: a few MB of float64 blocks for the moments, the quantile sample
    (at most ``sample_size`` clips in ``X``'s float precision, ~62 MB for 2000 float32 60 x 130
    images) and ~25 MB of pixel blocks while sorting for the quantiles. No float64 (or float32)
    copy of ``X`` is ever made. A memory-mapped ``X`` (``np.load(..., mmap_mode="r")``) is read
    chunk by chunk and each chunk's pages are released afterwards (``madvise(MADV_DONTNEED)``;
    the data stays in the file and the OS page cache, copy-on-write memmaps are left alone), so
    the resident memory stays at ~one chunk: 100000 clips (3.1 GB) take < 300 MB.

    Speed: with numba loaded, ~10 GB/s on in-memory or page-cached float32 data (~4-5x the numpy
    path, one thread); the quantiles (a sort per pixel) cost more than all the moments together,
    so pass ``quantiles="none"`` when only moments are needed. The environment variable
    ``SNDIAG_STATS_THREADS=2`` splits each chunk over two threads (~1.5x faster on an idle
    machine, slower on a busy one; the results are identical).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.gamma(2.0, 1.0, size=(100, 3, 4)).astype(np.float32)
    >>> X[:, 0, :] = 0.0                       # a silent mel band
    >>> X[:50, 2, :] += 3.0                    # row 2 separates the classes
    >>> st = compute_stats(X, y=np.repeat(["a", "b"], 50))
    >>> st.n, st.shape, st.classes, st.quantiles_exact
    (100, (3, 4), ('a', 'b'), True)
    >>> bool(st.zero_std[0].all()), float(st.snr[0, 0]), float(st.noise_gain[0, 0])
    (True, 0.0, 1.0)
    >>> st.row_snr.round(2)
    array([0.  , 1.36, 1.68])
    >>> int(st.row_fisher.argmax())
    2
    """
    if not (hasattr(X, "shape") and hasattr(X, "dtype") and hasattr(X, "__getitem__")):
        X = np.asarray(X)
    _check_numeric(np.dtype(X.dtype))
    if len(X.shape) != 3:
        raise ShapeError(f"X has shape {tuple(X.shape)}; expected (n_clips, n_mels, n_frames)")
    n = int(X.shape[0])
    if n == 0:
        raise DataError("X holds no clips; give at least one")
    chunk_size = _positive_int(chunk_size, "chunk_size")
    _check_mode(quantiles)
    sample_size = _positive_int(sample_size, "sample_size")
    labels = None if y is None else _labels(y, n)
    in_memory = isinstance(X, np.ndarray) and not _is_mapped(X)
    exact = quantiles == "exact" and in_memory
    acc = StatsAccumulator(X.shape[1:], random_state=random_state,
                           sample_size=0 if quantiles == "none" or exact else sample_size)
    if n * int(np.prod(X.shape[1:])) >= _KERNEL_EAGER_VALUES:
        _load_kernels()  # large input: worth numba's one-off start-up from the first chunk
    mapping = None if in_memory else _shared_mapping(X)
    for s in range(0, n, chunk_size):
        chunk = X[s:s + chunk_size]
        acc.update(chunk, None if labels is None else labels[s:s + chunk_size], start=s)
        if mapping is not None:
            _release_pages(mapping, chunk)
    if not exact:
        return acc.result()
    q = _pixel_quantiles(np.asarray(X).reshape(n, -1))
    return _finish(acc.total if labels is None else _merge_all(acc.by_class.values()),  # type: ignore[arg-type]
                   acc.by_class if labels is not None else None, q,
                   quantiles_exact=True, n_quantile_clips=n)


def compute_stats_chunks(chunks: Iterable[tuple[Any, Any] | Any], *,
                         quantiles: Quantiles = "sample", sample_size: int = 2000,
                         random_state: int = 0) -> PixelStats:
    """:func:`compute_stats` over a stream of chunks ``(X_chunk, y_chunk or None)``.

    Parameters
    ----------
    chunks : iterable of (np.ndarray, array-like or None), or of np.ndarray
        Chunks of shape (k, n_mels, n_frames) with their labels (or bare arrays when
        unlabelled), e.g. from :class:`sndiag.io.streaming.NpyChunks`. Chunks may be views of a reused
        buffer: nothing is kept beyond the quantile sample, which is copied.
    quantiles : {"sample", "exact", "none"}
        A stream can only be sampled, so ``"exact"`` means ``"sample"``; quantiles are exact
        (``quantiles_exact=True``) when the stream has at most ``sample_size`` clips.
    sample_size, random_state : int
        As in :func:`compute_stats`.

    Returns
    -------
    PixelStats

    Examples
    --------
    >>> X = np.random.default_rng(0).random((7, 2, 3)).astype(np.float32)
    >>> y = np.array(list("abababa"))
    >>> st = compute_stats_chunks((X[s:s + 3], y[s:s + 3]) for s in range(0, 7, 3))
    >>> st.n, st.class_count.tolist(), st.quantiles_exact
    (7, [4, 3], True)
    """
    _check_mode(quantiles)
    sample_size = _positive_int(sample_size, "sample_size")
    acc: StatsAccumulator | None = None
    it: Iterator[Any] = iter(chunks)
    for item in it:
        if isinstance(item, tuple):
            if len(item) != 2:
                raise ParameterError(f"a chunk tuple has {len(item)} items; give (X_chunk, "
                                     "y_chunk or None)")
            Xc, yc = item
        else:
            Xc, yc = item, None
        if not (hasattr(Xc, "shape") and hasattr(Xc, "dtype")):
            Xc = np.asarray(Xc)
        if len(Xc.shape) != 3:
            raise ShapeError(f"chunk has shape {tuple(Xc.shape)}; expected (k, n_mels, n_frames)")
        if acc is None:
            acc = StatsAccumulator(Xc.shape[1:], random_state=random_state,
                                   sample_size=0 if quantiles == "none" else sample_size)
        acc.update(Xc, yc)
    if acc is None or acc.n_seen == 0:
        raise DataError("the chunk stream held no clips; give at least one")
    return acc.result()
