"""Clips read on demand: a dataset's images that are never held in memory whole.

A :class:`ClipArray` stands where a :class:`~sndiag.dataset.Dataset` keeps its ``X`` when the
data lives in a file larger than memory (:func:`sndiag.io.streaming.open_streamed`). It has the
shape, dtype and slicing of a ``(n_clips, n_mels, n_frames)`` float32 array: ``X[i]`` reads one
clip, ``X[a:b]`` a run of clips and ``X[index]`` the clips of an index array, each as a new
in-memory ``np.ndarray``. It never becomes an array of all its clips: ``np.asarray(X)`` raises
:class:`~sndiag.errors.LimitError`, so code that would load it whole fails with a message
instead of taking the server's memory. Code that must see every clip walks
:meth:`ClipArray.chunks`.

Subclasses implement :meth:`ClipArray._read` (rows ``start:stop``). :class:`ArrayClips` wraps an
in-memory array (the test double: a small dataset that behaves like a huge one); ``map`` and
``select`` give lazy views (a mask applied to every chunk read, a subset of the clips).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from sndiag.errors import LimitError, ParameterError, ShapeError

__all__ = ["CHUNK_CLIPS", "ArrayClips", "ClipArray", "MappedClips", "SelectedClips"]

#: Clips per chunk when a :class:`ClipArray` is walked (16 MB of 60 x 130 float32 images).
CHUNK_CLIPS = 512


class ClipArray:
    """Read-only ``(n_clips, n_mels, n_frames)`` float32 images, read a few clips at a time.

    Parameters
    ----------
    n_clips : int
        Number of clips.
    shape : (int, int)
        ``(n_mels, n_frames)`` of one image.
    where : str
        What the clips are (a file name), for messages.

    Attributes
    ----------
    shape : (int, int, int)
    dtype : np.dtype
        Always float32.
    ndim : int
        Always 3.

    Examples
    --------
    >>> X = ArrayClips(np.arange(24, dtype=np.float32).reshape(4, 2, 3))
    >>> X.shape, X[1].tolist(), X[2:4].shape, X[[3, 0]][:, 0, 0].tolist()
    ((4, 2, 3), [[6.0, 7.0, 8.0], [9.0, 10.0, 11.0]], (2, 2, 3), [18.0, 0.0])
    >>> np.asarray(X)
    Traceback (most recent call last):
    ...
    sndiag.errors.LimitError: the 4 clips of array are read a few at a time and never loaded whole ...
    """

    dtype = np.dtype(np.float32)
    ndim = 3

    def __init__(self, n_clips: int, shape: Sequence[int], *, where: str = "the clips") -> None:
        dims = tuple(int(s) for s in shape)
        if len(dims) != 2 or min(dims) < 1 or int(n_clips) < 0:
            raise ShapeError(f"a ClipArray holds (n_clips, n_mels, n_frames) images; got "
                             f"n_clips={n_clips}, shape={tuple(shape)}")
        self._n = int(n_clips)
        self._img = dims
        self.where = where

    # -- the array interface ------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int, int]:
        return (self._n, *self._img)

    @property
    def size(self) -> int:
        return self._n * self._img[0] * self._img[1]

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def __len__(self) -> int:
        return self._n

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.where!r}, shape={self.shape})"

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise LimitError(f"the {self._n} clips of {self.where} are read a few at a time and never "
                         f"loaded whole ({self.nbytes / 2**20:.0f} MB); read clips with X[i], "
                         "X[a:b] or X.chunks()")

    def _read(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` (``0 <= start <= stop <= n``) as a new float32 array."""
        raise NotImplementedError

    def read(self, start: int, stop: int) -> np.ndarray:
        """Clips ``start:stop`` as a new ``(stop - start, n_mels, n_frames)`` float32 array."""
        start, stop = int(start), int(stop)
        if not 0 <= start <= stop <= self._n:
            raise ParameterError(f"clips {start}:{stop} are outside the {self._n} clips of "
                                 f"{self.where}")
        if start == stop:
            return np.empty((0, *self._img), dtype=np.float32)
        out = np.asarray(self._read(start, stop))
        if out.shape != (stop - start, *self._img) or out.dtype != np.float32:
            raise ShapeError(f"{type(self).__name__} read {out.shape} {out.dtype} for clips "
                             f"{start}:{stop}; expected float32 {(stop - start, *self._img)}")
        return out

    def take(self, index: Any) -> np.ndarray:
        """The clips at ``index`` (any order, repeats allowed), reading runs of consecutive clips
        once each.

        Examples
        --------
        >>> ArrayClips(np.arange(5, dtype=np.float32).reshape(5, 1, 1)).take([4, 1, 2, 1]).ravel()
        array([4., 1., 2., 1.], dtype=float32)
        """
        idx = np.asarray(index)
        if idx.dtype == bool:
            if idx.shape != (self._n,):
                raise ShapeError(f"a boolean index of {idx.shape} for {self._n} clips")
            idx = np.flatnonzero(idx)
        if idx.dtype.kind not in "iu":
            raise ParameterError(f"clip index of dtype {idx.dtype}; give integers")
        idx = idx.ravel().astype(np.int64)
        if idx.size and (idx.min() < -self._n or idx.max() >= self._n):
            raise ParameterError(f"clip index outside 0..{self._n - 1} of {self.where}")
        idx = np.where(idx < 0, idx + self._n, idx)
        uniq, inverse = np.unique(idx, return_inverse=True)
        block = np.empty((uniq.size, *self._img), dtype=np.float32)
        breaks = np.flatnonzero(np.diff(uniq) != 1) + 1
        pos = 0
        for run in np.split(uniq, breaks) if uniq.size else []:
            block[pos:pos + run.size] = self.read(int(run[0]), int(run[-1]) + 1)
            pos += run.size
        return block[inverse.ravel()] if uniq.size != idx.size or np.any(np.diff(idx) < 0) \
            else block

    def __getitem__(self, key: Any) -> np.ndarray:
        if isinstance(key, tuple):
            if not key:
                raise ParameterError("an empty index would read every clip; use X.chunks()")
            head = self[key[0]]
            rest = key[1:]
            if isinstance(key[0], int | np.integer):
                return head[rest] if rest else head
            return head[(slice(None), *rest)] if rest else head
        if isinstance(key, int | np.integer) and not isinstance(key, bool):
            i = int(key)
            if not -self._n <= i < self._n:
                raise IndexError(f"clip {i} is outside the {self._n} clips of {self.where}")
            i %= self._n
            return self.read(i, i + 1)[0]
        if isinstance(key, slice):
            start, stop, step = key.indices(self._n)
            if step == 1:
                return self.read(start, max(start, stop))
            return self.take(np.arange(start, stop, step))
        if isinstance(key, list | np.ndarray | range):
            return self.take(np.asarray(key))
        raise ParameterError(f"cannot index the clips of {self.where} with {type(key).__name__}")

    # -- walking and views --------------------------------------------------------------------
    def chunks(self, size: int = CHUNK_CLIPS, start: int = 0, stop: int | None = None
               ) -> Iterator[tuple[int, np.ndarray]]:
        """``(first clip, clips)`` for consecutive chunks of ``size`` clips of ``start:stop``.

        Examples
        --------
        >>> X = ArrayClips(np.zeros((5, 1, 2), np.float32))
        >>> [(s, c.shape[0]) for s, c in X.chunks(2)]
        [(0, 2), (2, 2), (4, 1)]
        """
        if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
            raise ParameterError(f"size={size!r} must be a positive integer")
        stop = self._n if stop is None else int(stop)
        for s in range(int(start), stop, int(size)):
            yield s, self.read(s, min(s + int(size), stop))

    def map(self, fn: Callable[[np.ndarray], np.ndarray], *, what: str = "") -> MappedClips:
        """A view whose reads return ``fn(clips)`` (same shape; e.g. a mask set to 0)."""
        return MappedClips(self, fn, what=what)

    def select(self, index: Any) -> SelectedClips:
        """A view of the clips at ``index`` (e.g. the training part), read when needed."""
        return SelectedClips(self, index)


class ArrayClips(ClipArray):
    """An in-memory array behind the :class:`ClipArray` interface.

    The test double of a file larger than memory: every read is counted in :attr:`clips_read`,
    and ``np.asarray`` refuses it like a file.

    Parameters
    ----------
    X : np.ndarray [shape=(n_clips, n_mels, n_frames)]
    where : str
    """

    def __init__(self, X: np.ndarray, *, where: str = "array") -> None:
        arr = np.asarray(X)
        if arr.ndim != 3:
            raise ShapeError(f"X has shape {arr.shape}; expected (n_clips, n_mels, n_frames)")
        super().__init__(arr.shape[0], arr.shape[1:], where=where)
        self._data = arr
        self.clips_read = 0

    def _read(self, start: int, stop: int) -> np.ndarray:
        self.clips_read += stop - start
        return np.array(self._data[start:stop], dtype=np.float32)


class MappedClips(ClipArray):
    """Clips of ``base`` passed through ``fn`` as they are read (:meth:`ClipArray.map`)."""

    def __init__(self, base: ClipArray, fn: Callable[[np.ndarray], np.ndarray], *,
                 what: str = "") -> None:
        super().__init__(len(base), base.shape[1:],
                         where=f"{base.where} ({what})" if what else base.where)
        self.base = base
        self.fn = fn

    def _read(self, start: int, stop: int) -> np.ndarray:
        return np.asarray(self.fn(self.base.read(start, stop)), dtype=np.float32)


class SelectedClips(ClipArray):
    """The clips of ``base`` at ``index``, in that order (:meth:`ClipArray.select`)."""

    def __init__(self, base: ClipArray, index: Any) -> None:
        idx = np.asarray(index)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        idx = idx.ravel().astype(np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= len(base)):
            raise ParameterError(f"clip index outside 0..{len(base) - 1} of {base.where}")
        super().__init__(idx.size, base.shape[1:], where=base.where)
        self.base = base
        self.index = idx

    def _read(self, start: int, stop: int) -> np.ndarray:
        return self.base.take(self.index[start:stop])
