"""Compiled (numba) kernels behind :mod:`sndiag.stats`; private, imported lazily.

:func:`chunk_moments` reduces a chunk of clips to per-pixel count, mean, M2, min, max and zero
count in one read of each value. It is the fast path of :meth:`sndiag.stats.Moments.update`;
the pure-numpy two-pass code in :mod:`sndiag.stats` stays the reference and the fallback (for
other dtypes, small chunks, or when numba is missing).

Accuracy: the clips are cut into blocks of ``block`` clips. Within a block every pixel
accumulates *shifted* sums ``S1 = sum(x - K)`` and ``S2 = sum((x - K)**2)`` in float64, with the
shift ``K`` the pixel's value in the block's first clip; then ``mean = K + S1 / n`` and
``M2 = S2 - S1**2 / n``. Because ``K`` is one of the values, ``(K - mean)**2 <= M2``, so
``S2 = M2 + n * (K - mean)**2 <= (n + 1) * M2`` and the cancellation in ``M2`` costs at most a
factor ``n + 1`` of float64 rounding (relative error below ``block**2 * 2.2e-16`` ~ 1.4e-11 for
``block=256`` in the very worst case, ~1e-15 typically) whatever the offset of the data: values
``1e4 + N(0, 1e-2)`` in float32 keep every digit. The blocks are then merged in order with Chan et
al.'s pairwise formula, as :class:`sndiag.stats.Moments` merges chunks.

Speed: four clips are processed per sweep over the pixels, so the float64 accumulators are loaded
and stored once per four values; LLVM vectorizes the sweep (no ``fastmath``: the result does not
depend on the instruction set). The compiled loop is serial and releases the GIL
(``nogil=True``); ``chunk_moments(..., threads=n)`` hands contiguous runs of blocks to ``n`` plain
Python threads and merges the blocks in the same order, so the result is bit-for-bit the same
for any ``n``. Unlike numba's ``parallel=True`` (an OpenMP or workqueue pool: not fork-safe, and
the workqueue layer aborts on concurrent use) this is safe from several threads at once
(Streamlit sessions, Dask workers) and in forked processes.

Compiled code is cached on disk (``cache=True``): only the very first call on a machine compiles
(~1 s per dtype and array flavour); later processes load it, but a process's first numba
function of any kind still costs ~0.3 s of numba start-up, which is why :mod:`sndiag.stats` only
loads this module when numba is already in use or the input is large.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from numba import njit

__all__ = ["BLOCK", "KERNEL_DTYPES", "chunk_moments"]

#: Clips per block: the shift is refreshed and the block merged (Chan) every ``BLOCK`` clips.
BLOCK = 256
#: Input dtypes the kernel is compiled for (anything else goes through numpy).
KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
#: Blocks whose per-block moments are held at once (bounds memory for huge chunks: 64 blocks of
#: 7800 pixels are 8 MB).
_GROUP = 64


@njit(nogil=True, cache=True, fastmath=False, boundscheck=False)
def _block_moments(x, rows, block, b0, b1, bmean, bm2, mn, mx, nz,
                   shift, s1, s2):  # pragma: no cover - jitted
    """Moments of blocks ``b0 .. b1-1`` of the clips ``x[rows]`` (x: C-contiguous (k, p)).

    Block ``b`` is ``rows[b * block:(b + 1) * block]``; its mean and M2 go to ``bmean[b - b0]``
    and ``bm2[b - b0]``. ``mn``, ``mx`` (x.dtype) and ``nz`` (int64) are running extremes and
    zero counts, updated in place. ``shift, s1, s2`` are float64 scratch of length p. NaN/Inf
    inputs show up as non-finite means or M2.
    """
    p = x.shape[1]
    nrows = rows.shape[0]
    for b in range(b0, b1):
        lo = b * block
        hi = min(lo + block, nrows)
        nb = hi - lo
        first = x[rows[lo]]
        for j in range(p):
            shift[j] = np.float64(first[j])
            s1[j] = 0.0
            s2[j] = 0.0
        i = lo
        while i + 4 <= hi:
            r0 = x[rows[i]]
            r1 = x[rows[i + 1]]
            r2 = x[rows[i + 2]]
            r3 = x[rows[i + 3]]
            for j in range(p):
                k = shift[j]
                v0 = r0[j]
                v1 = r1[j]
                v2 = r2[j]
                v3 = r3[j]
                d0 = np.float64(v0) - k
                d1 = np.float64(v1) - k
                d2 = np.float64(v2) - k
                d3 = np.float64(v3) - k
                s1[j] += (d0 + d1) + (d2 + d3)
                s2[j] += (d0 * d0 + d1 * d1) + (d2 * d2 + d3 * d3)
                lo0 = v0 if v0 < v1 else v1
                lo1 = v2 if v2 < v3 else v3
                lo0 = lo0 if lo0 < lo1 else lo1
                cur = mn[j]
                mn[j] = lo0 if lo0 < cur else cur
                hi0 = v0 if v0 > v1 else v1
                hi1 = v2 if v2 > v3 else v3
                hi0 = hi0 if hi0 > hi1 else hi1
                cur = mx[j]
                mx[j] = hi0 if hi0 > cur else cur
                nz[j] += (np.int64(v0 == 0) + np.int64(v1 == 0)) + (np.int64(v2 == 0)
                                                                    + np.int64(v3 == 0))
            i += 4
        while i < hi:
            r0 = x[rows[i]]
            for j in range(p):
                v0 = r0[j]
                d0 = np.float64(v0) - shift[j]
                s1[j] += d0
                s2[j] += d0 * d0
                cur = mn[j]
                mn[j] = v0 if v0 < cur else cur
                cur = mx[j]
                mx[j] = v0 if v0 > cur else cur
                nz[j] += np.int64(v0 == 0)
            i += 1
        out_mean = bmean[b - b0]
        out_m2 = bm2[b - b0]
        for j in range(p):
            out_mean[j] = shift[j] + s1[j] / nb
            v = s2[j] - s1[j] * s1[j] / nb
            out_m2[j] = 0.0 if v < 0.0 else v  # rounding can leave a tiny negative; NaN stays


class _Part:
    """One thread's share of a chunk: running extremes, zero counts and float64 scratch."""

    def __init__(self, p: int, dtype: np.dtype) -> None:
        self.mn = np.full(p, np.inf, dtype=dtype)
        self.mx = np.full(p, -np.inf, dtype=dtype)
        self.nz = np.zeros(p, dtype=np.int64)
        self.scratch = np.empty((3, p))

    def run(self, x: np.ndarray, idx: np.ndarray, block: int, b0: int, b1: int,
            bmean: np.ndarray, bm2: np.ndarray) -> None:
        if b1 > b0:
            _block_moments(x, idx, block, b0, b1, bmean, bm2, self.mn, self.mx, self.nz,
                           self.scratch[0], self.scratch[1], self.scratch[2])


def chunk_moments(x: np.ndarray, rows: np.ndarray | None = None, *, block: int = BLOCK,
                  threads: int = 1) -> tuple[np.ndarray, ...]:
    """Per-pixel mean, M2, min, max and zero count of the clips ``x[rows]``, one read each.

    Parameters
    ----------
    x : np.ndarray [shape=(k, n_pixels), dtype=float32 or float64]
        Clips as rows (C-contiguous; other layouts are copied).
    rows : np.ndarray of int or None
        Clips to reduce, in this order; all of them when None. Must not be empty.
    block : int
        Clips per shifted-sum block (see the module notes on accuracy).
    threads : int
        Threads sharing the blocks (the kernel releases the GIL); a chunk of ``b`` blocks uses
        at most ``b``. The result does not depend on it.

    Returns
    -------
    mean, m2 : np.ndarray [shape=(n_pixels,), dtype=float64]
        Mean and sum of squared deviations; non-finite when ``x[rows]`` holds NaN/Inf or
        values whose squares overflow (the caller decides what to raise).
    min, max : np.ndarray [shape=(n_pixels,), dtype=x.dtype]
    n_zero : np.ndarray [shape=(n_pixels,), dtype=int64]

    Examples
    --------
    >>> x = np.array([[1e4, 0], [1e4 + 1, 2], [1e4 + 2, 0], [1e4 + 3, 2]], dtype=np.float32)
    >>> mean, m2, mn, mx, nz = chunk_moments(x)
    >>> mean.tolist(), m2.tolist(), mn.tolist(), mx.tolist(), nz.tolist()
    ([10001.5, 1.0], [5.0, 4.0], [10000.0, 0.0], [10003.0, 2.0], [0, 2])
    """
    if x.ndim != 2 or np.dtype(x.dtype) not in KERNEL_DTYPES:
        raise TypeError(f"chunk_moments needs a 2-D float32/float64 array, got {x.dtype} "
                        f"{x.shape}")
    x = np.ascontiguousarray(x)
    if type(x) is not np.ndarray:  # np.memmap and other subclasses: a plain view
        x = x.view(np.ndarray)
    idx = (np.arange(x.shape[0], dtype=np.int64) if rows is None
           else np.ascontiguousarray(rows, dtype=np.int64))
    nrows, p, block = idx.shape[0], x.shape[1], int(block)
    if nrows == 0:
        raise ValueError("chunk_moments needs at least one row")
    n_blocks = -(-nrows // block)
    group = min(_GROUP, n_blocks)
    n_parts = max(1, min(int(threads), group))
    parts = [_Part(p, x.dtype) for _ in range(n_parts)]
    bmean, bm2 = np.empty((group, p)), np.empty((group, p))
    n, mean, m2 = 0, np.zeros(p), np.zeros(p)
    for g0 in range(0, n_blocks, group):
        g1 = min(g0 + group, n_blocks)
        cuts = np.linspace(g0, g1, n_parts + 1).round().astype(int)
        args = [(x, idx, block, int(cuts[t]), int(cuts[t + 1]), bmean[cuts[t] - g0:],
                 bm2[cuts[t] - g0:]) for t in range(n_parts)]
        _run_parts(parts, args)
        for b in range(g0, g1):  # merge the blocks in order: the same for any thread count
            nb = min(block, nrows - b * block)
            if n == 0:
                mean[:], m2[:] = bmean[b - g0], bm2[b - g0]
            else:
                tot = n + nb
                delta = bmean[b - g0] - mean
                mean += delta * (nb / tot)
                m2 += bm2[b - g0] + np.square(delta) * (n * nb / tot)
            n += nb
    mn, mx, nz = parts[0].mn, parts[0].mx, parts[0].nz
    for part in parts[1:]:
        mn, mx, nz = np.minimum(mn, part.mn), np.maximum(mx, part.mx), nz + part.nz
    return mean, m2, mn, mx, nz


def _run_parts(parts: list[_Part], args: list[tuple[Any, ...]]) -> None:
    """Run ``parts[t].run(*args[t])``, the first in this thread and the others in new ones."""
    if len(parts) == 1:
        parts[0].run(*args[0])
        return
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            parts[t].run(*args[t])
        except BaseException as exc:  # pragma: no cover - re-raised below
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(t,), name=f"sndiag-moments-{t}")
               for t in range(1, len(parts))]
    for w in workers:
        w.start()
    try:
        work(0)
    finally:
        for w in workers:
            w.join()
    if errors:  # pragma: no cover - numba raises nothing here for valid arrays
        raise errors[0]
