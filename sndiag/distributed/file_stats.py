"""Statistics of a ``.npy``/``.npz`` dataset larger than memory, in-process or on Dask workers.

The rows are split into ranges. Each range is reduced where it is read (this process, or a Dask
worker that opens the same file at the same path: only the path and row numbers travel, never
the array) to a :class:`~sndiag.stats.StatsAccumulator` of moments (overall or per class) plus
the rows of the quantile sample that fall in it. The client merges the accumulators with the
same Chan et al. update as in-process and computes the quantiles from the gathered sample, so:

* mean, std, min, max, zero fractions, SNR, per-class moments and Fisher ratios equal the
  in-process result up to float64 rounding of a different merge order (relative error ~1e-15);
* the quantile sample is the same set of clips as in-process -- the ``sample_size`` clips with
  the smallest ``splitmix64(clip index, random_state)`` keys, the rule of
  :class:`~sndiag.stats.StatsAccumulator` -- chosen up front from the clip indices alone, so the
  quantiles are identical, and exact when ``sample_size >= n_clips``. Workers ship only those
  rows (at most ``sample_size`` clips in all), not a sample each.

Memory per worker (and in-process): one chunk of ``chunk_size`` rows, a few MB of float64 blocks,
the accumulator (5 arrays of one image per class), and its share of the sample.
"""

from __future__ import annotations

import hashlib
import math
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sndiag.dataset import hash_labels
from sndiag.distributed.client import dask_client, n_workers, parse_scheduler
from sndiag.errors import DataError, ParameterError
from sndiag.io.streaming import ArrayFile, open_array_file
from sndiag.stats import PixelStats, StatsAccumulator, sample_indices, stats_from_moments

__all__ = ["StreamedStats", "sample_indices", "stats_file"]

Progress = Callable[[int, int], Any]


@dataclass(frozen=True)
class StreamedStats:
    """The statistics of a file, and what was learned about it while streaming.

    Attributes
    ----------
    stats : PixelStats
    file : ArrayFile
        The opened file (labels, names, provenance).
    content_hash : str or None
        :attr:`sndiag.dataset.Dataset.content_hash` of the data, computed in the same pass when
        in-process; None with a scheduler (the rows are read by the workers, out of order).
    scheduler : str
        ``"none"``, ``"local"``, ``"address"`` or ``"client"``.
    n_tasks : int
        Row ranges the work was split into.
    """

    stats: PixelStats
    file: ArrayFile
    content_hash: str | None
    scheduler: str
    n_tasks: int

    def summary(self) -> dict[str, Any]:
        """JSON-ready dataset summary with the keys of :meth:`sndiag.dataset.Dataset.summary`."""
        from sndiag.dataset import guess_scale

        st, af = self.stats, self.file
        return {
            "name": af.name,
            "content_hash": self.content_hash,
            "n_clips": af.n_clips,
            "shape": list(af.shape),
            "classes": {} if af.y is None else dict(zip(
                *(v.tolist() for v in np.unique(af.y, return_counts=True)), strict=True)),
            "n_groups": 0 if af.groups is None else int(np.unique(af.groups).size),
            "min": float(st.global_min),
            "max": float(st.global_max),
            "scale_guess": guess_scale(np.array([st.global_min, st.global_max])),
            "synthetic": bool(af.provenance.get("synthetic", False)),
            "n_skipped": af.n_skipped,
            "streamed": True,
        }


@dataclass
class _Part:
    """What one row range reduces to."""

    acc: StatsAccumulator
    sample_idx: np.ndarray
    sample: np.ndarray | None
    rows: int


def _reduce_rows(af: ArrayFile, start: int, stop: int, y: np.ndarray | None,
                 sample_idx: np.ndarray, sample_size: int, random_state: int,
                 on_chunk: Callable[[int, np.ndarray], None] | None = None) -> _Part:
    """Reduce rows ``start:stop`` of ``af`` (runs in this process or on a worker)."""
    if not af.reader.path.exists():
        raise DataError(f"{af.reader.path} is not visible on {socket.gethostname()}; every Dask "
                        "worker must reach the data at the same path (a shared file system or "
                        "a mounted bucket)")
    acc = StatsAccumulator(af.shape, sample_size=0, random_state=random_state)
    sample = (np.empty((len(sample_idx), *af.shape), dtype=np.float32)
              if sample_size and len(sample_idx) else None)
    s = start
    for chunk in af.reader.iter_rows(start, stop):
        k = chunk.shape[0]
        X = af.images(chunk, s)
        acc.update(X, None if y is None else y[s - start:s - start + k], start=s)
        if sample is not None:
            lo, hi = np.searchsorted(sample_idx, [s, s + k])
            sample[lo:hi] = X[sample_idx[lo:hi] - s]
        if on_chunk is not None:
            on_chunk(s + k, X)
        s += k
    return _Part(acc, sample_idx, sample, stop - start)


def _finish(acc: StatsAccumulator, sample: np.ndarray | None, n: int) -> PixelStats:
    """What :meth:`StatsAccumulator.result` does, with the sample gathered by index."""
    if acc.n_seen == 0:
        raise DataError("the file holds no clips; give at least one")
    return stats_from_moments(
        None if acc.labelled else acc.total,
        class_moments=acc.by_class if acc.labelled else None,
        quantile_sample=sample,
        quantiles_exact=sample is not None and len(sample) == n,
    )


def _content_hash(af: ArrayFile, h: Any) -> str:
    """Finish :attr:`Dataset.content_hash` (``h`` holds the shape and the float32 rows)."""
    names = af.names if af.names is not None else np.array(
        [f"clip{i:04d}" for i in range(af.n_clips)], dtype=str)
    hash_labels(h, y=af.y, groups=af.groups, names=names, split=af.split)
    return h.hexdigest()


def _ranges(n: int, rows: int) -> list[tuple[int, int]]:
    return [(s, min(n, s + rows)) for s in range(0, n, rows)]


def stats_file(path: str | os.PathLike[str] | ArrayFile, *, scheduler: Any = None,
               chunk_size: int = 512, task_rows: int | None = None, sample_size: int = 2000,
               random_state: int = 0, expected_shape: tuple[int, int] | None = (60, 130),
               progress: Progress | None = None) -> StreamedStats:
    """Per-pixel statistics of a ``.npy``/``.npz`` dataset without loading it, on any scheduler.

    Parameters
    ----------
    path : str, Path or ArrayFile
        A ``.npy``, or an ``.npz`` with ``X`` (and ``y`` for per-class statistics), e.g. written
        by ``sndiag extract``. With a scheduler the workers open the same path: it must be on a
        file system they share. A compressed ``.npz`` member streams in-process only.
    scheduler : None, str or distributed.Client
        See :func:`sndiag.distributed.parse_scheduler`: ``None``/``"none"`` (in-process),
        ``"local"``/``"local:N"``, ``"tcp://host:8786"``, or a client.
    chunk_size : int
        Rows read at once (the memory bound: ``chunk_size`` x one image, per worker).
    task_rows : int, optional
        Rows per Dask task; default: enough for ~4 tasks per worker thread, at least
        ``chunk_size``. Ignored in-process (one pass).
    sample_size : int
        Clips in the quantile sample (exact quantiles when ``>= n_clips``); 0 skips quantiles.
    random_state : int
        Seed of the sample (as :func:`sndiag.stats.compute_stats`).
    expected_shape : (int, int) or None
        Image shape for files without sndiag metadata.
    progress : callable(done, total), optional
        Rows done so far, from the calling thread.

    Returns
    -------
    StreamedStats
        ``.stats`` is a :class:`~sndiag.stats.PixelStats` equal to
        ``compute_stats(np.load(path, mmap_mode="r"), y, sample_size=sample_size)`` (moments to
        ~1e-15 relative error, quantiles identical).

    Raises
    ------
    ParameterError
        Bad options, Dask missing, or a compressed member with a scheduler.
    DataError, ShapeError
        The file is unusable (see :func:`sndiag.io.streaming.open_array_file`), or holds NaN/Inf.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x.npy")
    >>> np.save(p, np.random.default_rng(0).random((50, 60, 130), dtype=np.float32))
    >>> res = stats_file(p, chunk_size=16)
    >>> res.stats.n, res.stats.quantiles_exact, res.n_tasks
    (50, True, 1)
    >>> # stats_file(p, scheduler="local:2")   # same numbers, on 2 Dask worker processes
    """
    if isinstance(sample_size, bool) or not isinstance(sample_size, int) or sample_size < 0:
        raise ParameterError(f"sample_size={sample_size!r} must be a non-negative integer "
                             "(0 skips the quantiles)")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size <= 0:
        raise ParameterError(f"chunk_size={chunk_size!r} must be a positive integer")
    if task_rows is not None and (isinstance(task_rows, bool) or not isinstance(task_rows, int)
                                  or task_rows <= 0):
        raise ParameterError(f"task_rows={task_rows!r} must be a positive integer")
    spec = parse_scheduler(scheduler)
    af = path if isinstance(path, ArrayFile) else open_array_file(
        Path(path).absolute(), chunk_size=chunk_size, expected_shape=expected_shape)
    n = af.n_clips
    idx = sample_indices(n, sample_size, random_state)
    if progress is not None:
        progress(0, n)
    if spec.in_process:
        h = hashlib.sha256(repr((n, *af.shape)).encode())

        def on_chunk(done: int, X: np.ndarray) -> None:
            h.update(np.ascontiguousarray(X).tobytes())
            if progress is not None:
                progress(done, n)

        part = _reduce_rows(af, 0, n, af.y, idx, sample_size, random_state, on_chunk)
        st = _finish(part.acc, part.sample, n)
        return StreamedStats(st, af, _content_hash(af, h), spec.kind, 1)
    if af.reader.compressed:
        raise ParameterError(f"{af.reader.where} is a compressed .npz member: it can only be read "
                             "from its start, not split across workers; re-save it uncompressed "
                             "(np.savez or np.save) or run without a scheduler")
    with dask_client(scheduler) as client:
        rows = task_rows or max(chunk_size, math.ceil(n / (4 * n_workers(client))))
        ranges = _ranges(n, rows)
        futures = []
        for s, e in ranges:
            lo, hi = np.searchsorted(idx, [s, e])
            futures.append(client.submit(
                _reduce_rows, af, s, e, None if af.y is None else af.y[s:e], idx[lo:hi],
                sample_size, random_state, pure=False))
        acc = StatsAccumulator(af.shape, sample_size=0, random_state=random_state)
        sample = np.empty((len(idx), *af.shape), dtype=np.float32) if sample_size else None
        done = 0
        from dask.distributed import as_completed

        try:
            for _, part in as_completed(futures, with_results=True):
                acc.merge(part.acc)
                if sample is not None and part.sample is not None:
                    sample[np.searchsorted(idx, part.sample_idx)] = part.sample
                done += part.rows
                if progress is not None:
                    progress(done, n)
        finally:
            client.cancel(futures)
    st = _finish(acc, sample, n)
    return StreamedStats(st, af, None, spec.kind, len(ranges))
