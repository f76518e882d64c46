"""A dataset file larger than memory, opened for the dashboard without loading it.

:func:`open_dataset_file` opens an uncompressed ``.npy``/``.npz`` (what ``sndiag extract``, its
``--out-dir`` assembly and ``np.savez`` write) as a streamed :class:`~sndiag.dataset.Dataset`
(clips read when needed, :func:`sndiag.io.streaming.open_streamed`) and reads it once, a chunk at
a time, for what the dashboard needs of every clip:

* without a statistics file: its statistics and its content hash, in the same pass
  (:func:`sndiag.distributed.file_stats.stats_file`, in this process);
* with a statistics file written by ``sndiag stats FILE -o stats.npz`` (on a Dask cluster with
  ``--scheduler``, or anywhere else): that file, after checking that it describes these clips
  (clip count, image shape, classes and their counts from the file's labels, and every value
  within the file's per-pixel minimum and maximum, checked during the pass that computes the
  content hash).

Memory: one chunk (``chunk_size`` clips) plus the quantile sample (``sample_size`` clips) when
the statistics are computed.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sndiag.config import Limits
from sndiag.dataset import Dataset, hash_labels
from sndiag.distributed.file_stats import stats_file
from sndiag.errors import DataError
from sndiag.io.streaming import FileClips, is_stats_file, open_streamed
from sndiag.stats import SAMPLE_CLIPS, PixelStats, sample_indices
from sndiag.store import DatasetStore, StoreEntry

__all__ = ["OpenedFile", "add_file", "check_stats", "open_dataset_file", "read_stats_file"]

Progress = Callable[[int, int], Any]


@dataclass(frozen=True)
class OpenedFile:
    """What :func:`open_dataset_file` returns.

    Attributes
    ----------
    dataset : Dataset
        Streamed (``dataset.streamed``), with its content hash.
    stats : PixelStats
        Its statistics.
    stats_source : str
        ``"computed"`` or the statistics file's name.
    seconds : float
        Time of the pass over the clips.
    """

    dataset: Dataset
    stats: PixelStats
    stats_source: str
    seconds: float


def check_stats(stats: PixelStats, ds: Dataset, *, where: str = "the statistics file") -> None:
    """Refuse statistics that cannot be those of ``ds``: another clip count, image shape,
    classes or class counts.

    Raises
    ------
    DataError
        Naming the first difference.
    """
    if int(stats.n) != ds.n_clips:
        raise DataError(f"{where} describes {stats.n} clips but {ds.name} holds {ds.n_clips}; "
                        "give the statistics of this file")
    if tuple(stats.shape) != tuple(ds.shape):
        raise DataError(f"{where} describes images of {tuple(stats.shape)} but {ds.name} holds "
                        f"{tuple(ds.shape)}")
    counts = ds.class_counts
    if tuple(stats.classes) and (list(stats.classes) != sorted(counts)
                                 or [int(c) for c in stats.class_count]
                                 != [counts[c] for c in sorted(counts)]):
        raise DataError(f"{where} has classes {list(stats.classes)[:5]}... with other counts than "
                        f"the labels of {ds.name}; compute them from this file")


def read_stats_file(stats_path: str | os.PathLike[str], ds: Dataset, *,
                    sample_clips: int = SAMPLE_CLIPS) -> PixelStats:
    """A statistics file written by ``sndiag stats -o``, checked against ``ds`` without a pass
    over its clips: :func:`check_stats`, and the values of a random sample of ``sample_clips``
    clips within the file's per-pixel minimum and maximum.

    Raises
    ------
    DataError
        Not a statistics file, or not this dataset's.
    """
    where = Path(stats_path).name
    if not is_stats_file(stats_path):
        raise DataError(f"{where} is not a statistics file; write one with sndiag stats FILE "
                        "-o stats.npz")
    stats = PixelStats.from_npz(stats_path)
    check_stats(stats, ds, where=where)
    idx = sample_indices(ds.n_clips, int(sample_clips))
    clips = ds.X.take(idx) if ds.streamed else ds.X[idx]
    if np.any(clips < np.asarray(stats.min, dtype=np.float32)) \
            or np.any(clips > np.asarray(stats.max, dtype=np.float32)):
        raise DataError(f"{where} does not describe {ds.name}: some of its clips hold values "
                        "outside the file's per-pixel minimum and maximum; compute the "
                        "statistics from this file (sndiag stats FILE -o stats.npz)")
    return stats


def _hash_and_check(ds: Dataset, stats: PixelStats, *, chunk_size: int, where: str,
                    progress: Progress | None) -> str:
    """One pass: the content hash, and every value within the statistics' per-pixel range."""
    X = ds.X
    lo = np.asarray(stats.min, dtype=np.float32)
    hi = np.asarray(stats.max, dtype=np.float32)
    h = hashlib.sha256(repr(tuple(X.shape)).encode())
    for start, chunk in X.chunks(chunk_size):
        h.update(memoryview(chunk).cast("B"))
        if np.any(chunk < lo) or np.any(chunk > hi):
            raise DataError(f"{where} does not describe {ds.name}: clips {start}..{start + len(chunk) - 1} "
                            "hold values outside its per-pixel minimum and maximum; compute the "
                            "statistics from this file (sndiag stats FILE -o stats.npz)")
        if progress is not None:
            progress(start + len(chunk), len(X))
    hash_labels(h, y=ds.y, groups=ds.groups, names=ds.names, split=ds.split)
    return h.hexdigest()


def open_dataset_file(path: str | os.PathLike[str], *,
                      stats_path: str | os.PathLike[str] | None = None,
                      limits: Limits | None = None, chunk_size: int = 512,
                      sample_size: int = 2000, progress: Progress | None = None) -> OpenedFile:
    """Open a dataset file larger than memory with its statistics, reading it once.

    Parameters
    ----------
    path : str or Path
        An uncompressed ``.npy``/``.npz`` dataset.
    stats_path : str or Path, optional
        Its statistics, written by ``sndiag stats path -o stats.npz`` (e.g. on a cluster);
        checked against the data. Without it they are computed.
    limits : Limits, optional
        As :func:`sndiag.io.streaming.open_streamed`.
    chunk_size : int
        Clips read at a time.
    sample_size : int
        Clips of the quantile sample when the statistics are computed.
    progress : callable(done, total), optional
        Clips read so far.

    Returns
    -------
    OpenedFile

    Raises
    ------
    DataError, ShapeError, LimitError
        The file cannot be opened, holds NaN/Inf, or the statistics file does not describe it.

    Examples
    --------
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> p = os.path.join(d, "big.npy")
    >>> np.save(p, np.random.default_rng(0).random((40, 60, 130), dtype=np.float32))
    >>> opened = open_dataset_file(p)
    >>> opened.dataset.streamed, opened.stats.n, opened.stats_source
    (True, 40, 'computed')
    >>> s = opened.stats.to_npz(os.path.join(d, "stats.npz"))
    >>> again = open_dataset_file(p, stats_path=s)
    >>> again.dataset.content_hash == opened.dataset.content_hash, again.stats_source
    (True, 'stats.npz')
    """
    ds = open_streamed(path, limits=limits, chunk_size=chunk_size)
    assert isinstance(ds.X, FileClips)
    t0 = time.perf_counter()
    if stats_path is None:
        res = stats_file(ds.X.file, chunk_size=chunk_size, sample_size=sample_size,
                         progress=progress)
        assert res.content_hash is not None
        return OpenedFile(ds.trusted(res.content_hash), res.stats, "computed",
                          time.perf_counter() - t0)
    where = Path(stats_path).name
    stats = read_stats_file(stats_path, ds)
    content_hash = _hash_and_check(ds, stats, chunk_size=chunk_size, where=where,
                                   progress=progress)
    return OpenedFile(ds.trusted(content_hash), stats, where, time.perf_counter() - t0)


def add_file(store: DatasetStore, path: str | os.PathLike[str], *,
             stats_path: str | os.PathLike[str] | None = None, added_by: str | None = None,
             source: str | None = None, limits: Limits | None = None,
             progress: Progress | None = None) -> tuple[StoreEntry, bool]:
    """Put a dataset file larger than memory into ``store`` (a reference, not a copy) with its
    statistics, reading it at most once.

    A file already in the store and unchanged since (:meth:`~sndiag.store.FileStore.find_file`)
    is not read again: a statistics file given then replaces the stored statistics after the
    checks of :func:`read_stats_file`.

    Returns
    -------
    (StoreEntry, bool)
        The entry, and whether the file was read (False: found in the store).

    Examples
    --------
    >>> import tempfile, os
    >>> from sndiag.store import MemoryStore
    >>> p = os.path.join(tempfile.mkdtemp(), "big.npy")
    >>> np.save(p, np.ones((30, 60, 130), np.float32))
    >>> store = MemoryStore()
    >>> entry, read = add_file(store, p)
    >>> read, entry.n_clips, store.get_stats(entry.dataset_id).n
    (True, 30, 30)
    >>> add_file(store, p)[1]
    False
    """
    found = store.find_file(path)
    if found is not None and stats_path is not None:
        store.put_stats(found.dataset_id, read_stats_file(stats_path, store.get(found.dataset_id)))
        return found, False
    if found is not None and store.get_stats(found.dataset_id) is not None:
        return found, False
    opened = open_dataset_file(path, stats_path=stats_path, limits=limits, progress=progress)
    entry = store.put(opened.dataset, added_by=added_by, source=source)
    store.put_stats(entry.dataset_id, opened.stats)
    return entry, True
