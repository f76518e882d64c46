"""Read large ``.npy`` arrays (and ``.npz`` members) chunk by chunk with bounded memory.

``np.load(path, mmap_mode="r")`` lets numpy address an array larger than memory, but every page
it touches stays resident, so the process' RSS grows with the file. :class:`NpyChunks` instead
reads each chunk with ``readinto`` into one reusable buffer: memory stays at one chunk however
large the file is. This is what ``sndiag stats`` uses for ``.npy`` and ``.npz`` inputs.

An ``.npz`` is a zip of ``.npy`` members. A member stored without compression (``np.savez``,
:func:`sndiag.io.arrays.save`, :func:`write_npz_chunks`) is read in place at its offset in
the file, with random access, exactly like a ``.npy``; a compressed member
(``np.savez_compressed``) can only be decompressed from its start, so it streams front to back
(:attr:`NpyChunks.random_access` is False).

:func:`open_array_file` wraps a reader with the dataset's labels, groups, names and provenance
(the small arrays of an ``.npz``), with the checks of :func:`sndiag.io.arrays.load_arrays`
that need no pass over ``X`` (file head, dtype, layout, zip bombs); the values are checked
chunk by chunk as they are read (:func:`sndiag.images.check_values`).

:func:`open_streamed` makes such a file a :class:`~sndiag.dataset.Dataset` whose ``X`` is a
:class:`FileClips`: clips are read from the file when asked for (one clip, a run, a sample),
never all at once, so a dataset of 100 000 clips (3.1 GB) costs the memory of its labels and
names. :func:`load_whole` reads it into memory when it fits ``SNDIAG_MAX_DATASET_MB``.
"""

from __future__ import annotations

import os
import struct
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from sndiag.clip_array import ClipArray
from sndiag.config import DEFAULT_SHAPE, Limits
from sndiag.dataset import Dataset
from sndiag.errors import DataError, LimitError, ParameterError, ShapeError
from sndiag.images import LAYOUTS, check_dtype, check_values, image_layout, nonfinite_error
from sndiag.io.arrays import (
    NPY_MAGIC,
    check_file_head,
    checked_provenance,
    parse_meta,
    read_small_array,
)
from sndiag.io.atomic import atomic_file
from sndiag.io.zips import check_npz
from sndiag.memory import check_images_fit
from sndiag.settings import resolve_limits
from sndiag.text import clean

__all__ = ["ArrayFile", "FileClips", "NpyChunks", "file_fingerprint", "is_stats_file",
           "load_whole", "open_array_file", "open_streamed", "write_npy_chunks",
           "write_npz_chunks"]

_ZIP_MAGIC = b"PK\x03\x04"
#: Bytes discarded per read when a compressed member is skipped forward.
_SKIP_BYTES = 1 << 22


def _read_header(fh: BinaryIO, where: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    try:
        version = np.lib.format.read_magic(fh)
        read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                else np.lib.format.read_array_header_2_0)
        shape, fortran, dtype = read(fh, max_header_size=100_000)
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"{where} is not a valid .npy/.npz file ({exc})") from None
    return tuple(int(s) for s in shape), bool(fortran), np.dtype(dtype)


def _npz_member(zf: zipfile.ZipFile, member: str | None, where: str) -> zipfile.ZipInfo:
    names = [n[:-4] for n in zf.namelist() if n.endswith(".npy")]
    if not names:
        raise DataError(f"{where} is an empty .npz (no arrays); save X in it")
    if member is None:
        if "X" in names:
            member = "X"
        elif len(names) == 1:
            member = names[0]
        else:
            raise DataError(f"{where} holds arrays {names} but no 'X'; name the spectrogram "
                            "array X (np.savez(path, X=X, y=y))")
    if member not in names:
        raise DataError(f"{where} has no array {member!r} (it holds {names})")
    info = zf.getinfo(member + ".npy")
    if info.flag_bits & 0x1:
        raise DataError(f"{where}: array {member!r} is encrypted; save it again without a password")
    return info


class NpyChunks:
    """An ``.npy`` file (or ``.npz`` member) of shape (N, ...) read in chunks of ``chunk_size`` rows.

    Parameters
    ----------
    path : str or Path
        A ``.npy`` file, or an ``.npz`` (then ``member``, default ``"X"`` or its only array), with
        a numeric, non-object dtype in C order.
    chunk_size : int
        Rows per chunk.
    member : str, optional
        Array name inside an ``.npz``.

    Attributes
    ----------
    shape : tuple of int
        Shape of the whole array.
    dtype : np.dtype
    random_access : bool
        False for a compressed ``.npz`` member: it can only be read front to back (skipping
        forward decompresses what is skipped).

    Notes
    -----
    The object holds only the path and the header, so it pickles cheaply: Dask workers receive it
    and read their own rows from a file they can reach at the same path.

    Examples
    --------
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> p = os.path.join(d, "x.npy")
    >>> np.save(p, np.arange(10, dtype=np.float32).reshape(5, 2))
    >>> chunks = NpyChunks(p, chunk_size=2)
    >>> chunks.shape, [c.shape[0] for c in chunks]
    ((5, 2), [2, 2, 1])
    >>> chunks.read(3, 5).tolist()
    [[6.0, 7.0], [8.0, 9.0]]
    >>> np.savez(os.path.join(d, "x.npz"), X=np.ones((3, 2)), y=np.arange(3))
    >>> z = NpyChunks(os.path.join(d, "x.npz"))
    >>> z.shape, z.random_access, float(sum(c.sum() for c in z))
    ((3, 2), True, 6.0)
    """

    def __init__(self, path: str | os.PathLike[str], *, chunk_size: int = 512,
                 member: str | None = None) -> None:
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int | np.integer) \
                or chunk_size <= 0:
            raise DataError(f"chunk_size={chunk_size} must be positive")
        self.path = Path(path)
        self.chunk_size = int(chunk_size)
        self.member: str | None = None
        self.compressed = False
        self.stored_size = 0
        where = self.path.name
        try:
            with open(self.path, "rb") as fh:
                head = fh.read(len(NPY_MAGIC))
        except OSError as exc:
            raise DataError(f"{where} cannot be read ({exc.strerror or exc}); check the path"
                            ) from None
        if head.startswith(b"PK"):  # a zip: local header, or the end record of an empty one
            shape, fortran, dtype = self._open_member(member, where)
        else:
            if member is not None:
                raise ParameterError(f"member={member!r} applies to .npz files; {where} is not one")
            with open(self.path, "rb") as fh:
                shape, fortran, dtype = _read_header(fh, where)
                self.offset = fh.tell()
            self.stored_size = os.path.getsize(self.path)
        where = self.where
        if dtype.hasobject:
            raise DataError(f"{where} contains pickled Python objects; "
                            "save it with a numeric dtype")
        if fortran and len(shape) > 1:
            raise DataError(f"{where} is stored in Fortran order; save it with "
                            "np.ascontiguousarray to stream it")
        if len(shape) < 1:
            raise ShapeError(f"{where} holds a scalar (X has shape ()); expected (N, ...) rows")
        self.shape: tuple[int, ...] = shape
        self.dtype = dtype
        need = self.offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if self.stored_size < need:
            raise DataError(f"{self.path.name} is not a valid .npy/.npz file: its header promises "
                            f"{need} bytes of {where} but it holds {self.stored_size} "
                            "(truncated, or the header is wrong)")

    def _open_member(self, member: str | None, where: str) -> tuple[tuple[int, ...], bool, np.dtype]:
        try:
            with zipfile.ZipFile(self.path) as zf:
                info = _npz_member(zf, member, where)
                self.member = info.filename[:-4]
                self.compressed = info.compress_type != zipfile.ZIP_STORED
                if self.compressed:
                    self.stored_size = info.file_size
                    with zf.open(info) as fh:
                        shape, fortran, dtype = _read_header(fh, self.where)  # type: ignore[arg-type]
                        self.offset = fh.tell()
                    return shape, fortran, dtype
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, ValueError) as exc:
            raise DataError(f"{where} is not a valid .npy/.npz file ({exc})") from None
        with open(self.path, "rb") as fh:
            fh.seek(info.header_offset)
            local = fh.read(30)
            if len(local) != 30 or not local.startswith(_ZIP_MAGIC):
                raise DataError(f"{where} is not a valid .npy/.npz file (bad local header of "
                                f"{info.filename})")
            n_name, n_extra = struct.unpack("<HH", local[26:30])
            start = info.header_offset + 30 + n_name + n_extra
            fh.seek(start)
            shape, fortran, dtype = _read_header(fh, self.where)
            self.offset = fh.tell()
        # bytes addressable from the member's start: its declared size, within the file
        self.stored_size = min(start + info.file_size, os.path.getsize(self.path))
        return shape, fortran, dtype

    @property
    def where(self) -> str:
        """The file name (and member) for messages."""
        return self.path.name if self.member is None else f"{self.path.name}[{self.member}]"

    @property
    def random_access(self) -> bool:
        return not self.compressed

    @property
    def row_shape(self) -> tuple[int, ...]:
        return self.shape[1:]

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"NpyChunks({self.where!r}, shape={self.shape}, dtype={self.dtype})"

    def __iter__(self) -> Iterator[np.ndarray]:
        """Yield chunks; each is a view of one reused buffer, valid until the next one."""
        return self.iter_rows()

    def _check_range(self, start: int, stop: int | None) -> tuple[int, int]:
        n = len(self)
        stop = n if stop is None else int(stop)
        start = int(start)
        if not 0 <= start <= stop <= n:
            raise ParameterError(f"rows {start}:{stop} are outside the {n} rows of {self.where}")
        return start, stop

    def _open_stream(self, start: int) -> Any:
        """A binary stream positioned at row ``start``; the caller closes it."""
        row_bytes = int(np.prod(self.row_shape, dtype=np.int64)) * self.dtype.itemsize
        if not self.compressed:
            fh = open(self.path, "rb", buffering=0)  # noqa: SIM115 - closed by the caller
            fh.seek(self.offset + start * row_bytes)
            return fh
        zf = zipfile.ZipFile(self.path)
        fh = zf.open(f"{self.member}.npy")
        fh.read(self.offset)
        todo = start * row_bytes
        while todo > 0:
            got = len(fh.read(min(todo, _SKIP_BYTES)))
            if got == 0:
                break
            todo -= got
        return _Closing(fh, zf)

    def iter_rows(self, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        """Yield rows ``start:stop`` in chunks (views of one reused buffer).

        Raises
        ------
        DataError
            When the file ends before ``stop`` (truncated).
        """
        start, stop = self._check_range(start, stop)
        if start == stop:
            return
        buf = np.empty((min(self.chunk_size, stop - start), *self.row_shape), dtype=self.dtype)
        with self._open_stream(start) as fh:
            for s in range(start, stop, self.chunk_size):
                k = min(self.chunk_size, stop - s)
                _fill(fh, buf[:k], self.where, s)
                yield buf[:k]

    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` as a new array (one read).

        Examples
        --------
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "x.npy")
        >>> np.save(p, np.arange(6).reshape(3, 2))
        >>> NpyChunks(p).read(1, 2).tolist()
        [[2, 3]]
        """
        start, stop = self._check_range(start, stop)
        out = np.empty((stop - start, *self.row_shape), dtype=self.dtype)
        if stop > start:
            with self._open_stream(start) as fh:
                _fill(fh, out, self.where, start)
        return out


class _Closing:
    """A zip member stream that also closes its archive."""

    def __init__(self, fh: Any, zf: zipfile.ZipFile) -> None:
        self.fh, self.zf = fh, zf

    def readinto(self, view: memoryview) -> int:
        return self.fh.readinto(view)

    def __enter__(self) -> _Closing:
        return self

    def __exit__(self, *exc: object) -> None:
        self.fh.close()
        self.zf.close()


def _fill(fh: Any, out: np.ndarray, where: str, start: int) -> None:
    """Fill ``out`` (C-contiguous) from ``fh``; a short read means the file is truncated."""
    view = memoryview(out.reshape(-1).view(np.uint8))
    pos = 0
    while pos < view.nbytes:
        got = fh.readinto(view[pos:])
        if not got:
            raise DataError(f"{where} is truncated at row {start}")
        pos += got


def _write_rows(fh: Any, chunks: Iterable[np.ndarray], *, n: int, row_shape: tuple[int, ...],
                dtype: np.dtype) -> None:
    """An ``.npy`` header for ``(n, *row_shape)``, then the rows of ``chunks`` (one in memory)."""
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
              "shape": (int(n), *row_shape)}
    np.lib.format.write_array_header_2_0(fh, header)
    pos = 0
    for chunk in chunks:
        c = np.ascontiguousarray(chunk, dtype=dtype)
        if c.shape[1:] != row_shape or pos + c.shape[0] > n:
            raise ShapeError(f"a chunk of shape {c.shape} does not fit (n={n}, rows of "
                             f"{row_shape}); {pos} rows written so far")
        fh.write(c.reshape(-1).view(np.uint8).data)
        pos += c.shape[0]
    if pos != n:
        raise ShapeError(f"chunks held {pos} rows but n={n} was declared")


def write_npy_chunks(path: str | os.PathLike[str], chunks: Iterable[np.ndarray], *,
                     n: int, row_shape: tuple[int, ...], dtype: np.dtype | str = "float32") -> Path:
    """Write ``n`` rows arriving in chunks to an ``.npy`` file, atomically, one chunk in memory.

    Raises
    ------
    ShapeError
        When the chunks do not hold exactly ``n`` rows of ``row_shape`` (nothing is written).

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "y.npy")
    >>> _ = write_npy_chunks(p, iter([np.ones((2, 3)), np.zeros((1, 3))]), n=3, row_shape=(3,))
    >>> np.load(p).sum()
    np.float32(6.0)
    """
    row_shape = tuple(int(s) for s in row_shape)
    with atomic_file(path) as fh:
        _write_rows(fh, chunks, n=n, row_shape=row_shape, dtype=np.dtype(dtype))
    return Path(path)


def write_npz_chunks(path: str | os.PathLike[str], chunks: Iterable[np.ndarray], *, n: int,
                     row_shape: tuple[int, ...], dtype: np.dtype | str = "float32",
                     key: str = "X", arrays: Mapping[str, np.ndarray] | None = None) -> Path:
    """Write an uncompressed ``.npz`` whose ``key`` array arrives in chunks, atomically.

    The big array is streamed into the archive (memory: one chunk), then the small ``arrays``
    (labels, names, metadata) follow. The file is what ``np.savez`` writes, so ``np.load`` and
    :func:`sndiag.io.arrays.load_arrays` read it, and :class:`NpyChunks` streams it in place. It
    is written with :func:`sndiag.io.atomic.atomic_file`, so a crash or a full disk never leaves
    a partial file at ``path``.

    Parameters
    ----------
    path : str or Path
        The ``.npz`` to write.
    chunks : iterable of np.ndarray
        Chunks of shape (k, *row_shape), ``n`` rows in all.
    n : int
        Total rows.
    row_shape : tuple of int
        Shape of one row.
    dtype : dtype
        Stored dtype of the big array (chunks are converted).
    key : str
        Name of the big array.
    arrays : mapping str -> np.ndarray, optional
        Small arrays stored after it (no pickled objects).

    Returns
    -------
    Path

    Raises
    ------
    ShapeError
        When the chunks do not hold exactly ``n`` rows of ``row_shape``.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "d.npz")
    >>> _ = write_npz_chunks(p, [np.ones((2, 3)), np.zeros((1, 3))], n=3, row_shape=(3,),
    ...                      arrays={"y": np.array(["a", "b", "a"])})
    >>> with np.load(p) as z:
    ...     z["X"].sum(), z["y"].tolist()
    (np.float32(6.0), ['a', 'b', 'a'])
    """
    row_shape = tuple(int(s) for s in row_shape)
    with atomic_file(path) as out, \
            zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        with zf.open(f"{key}.npy", "w", force_zip64=True) as fh:
            _write_rows(fh, chunks, n=n, row_shape=row_shape, dtype=np.dtype(dtype))
        for name, arr in (arrays or {}).items():
            with zf.open(f"{name}.npy", "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, np.asarray(arr), allow_pickle=False)  # type: ignore[arg-type]
    return Path(path)


# -- array files with their labels --------------------------------------------------------------
@dataclass(frozen=True)
class ArrayFile:
    """A ``.npy``/``.npz`` dataset opened for streaming: a reader of ``X`` and its small arrays.

    Attributes
    ----------
    reader : NpyChunks
        Reads ``X`` in its stored layout.
    shape : (int, int)
        Image shape ``(n_mels, n_frames)`` after the layout is resolved; every row of the reader
        reshapes to it (the accepted layouts differ only by a unit axis).
    layout : str
        ``"(N, n_mels, n_frames)"``, ``"(N, n_mels, n_frames, 1)"`` or ``"(N, 1, n_mels, n_frames)"``.
    y, groups, names : np.ndarray or None
        Labels, groups and clip names as strings (None when absent), lone surrogates escaped
        as :class:`~sndiag.dataset.Dataset` does.
    provenance : dict
        The saved provenance (sndiag files) or a description of the file.
    n_skipped : int
        Clips the extraction skipped (from the saved metadata).
    split : np.ndarray or None
        The ``split`` array (``"train"``/``"test"`` per clip), when the file has one.
    """

    reader: NpyChunks
    shape: tuple[int, int]
    layout: str
    y: np.ndarray | None = None
    groups: np.ndarray | None = None
    names: np.ndarray | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    n_skipped: int = 0
    split: np.ndarray | None = None

    @property
    def n_clips(self) -> int:
        return len(self.reader)

    @property
    def name(self) -> str:
        """Provenance ``name`` or ``source``, else the file name (like ``Dataset.name``)."""
        return clean(str(self.provenance.get("name") or self.provenance.get("source")
                         or self.reader.path.name))

    def images(self, chunk: np.ndarray, start: int = 0) -> np.ndarray:
        """A chunk of rows as float32 images ``(k, n_mels, n_frames)`` (what ``Dataset`` keeps).

        A float32 chunk is reshaped without a copy: like the chunk, the result is then valid only
        until the reader yields the next one. ``start`` is the row number of ``chunk[0]``.

        Raises
        ------
        DataError
            On NaN/Inf (with their count over the whole file and the first positions, as
            :func:`sndiag.io.arrays.load_arrays` says it), or a float64 value beyond the float32
            range.
        """
        X = chunk.reshape(chunk.shape[0], *self.shape)
        if X.dtype.kind == "f" and not np.isfinite(X).all():
            self._raise_nonfinite()
        X, _ = check_values(X, where=f"{self.reader.where}: X", offset=start)
        return X if X.dtype == np.float32 else X.astype(np.float32)

    def _raise_nonfinite(self) -> None:
        """Count the NaN/Inf of the whole file (one more pass, on the error path only)."""
        n_bad, first = 0, []
        s = 0
        for chunk in self.reader.iter_rows():
            bad = ~np.isfinite(chunk.reshape(chunk.shape[0], *self.shape))
            n_bad += int(bad.sum())
            if len(first) < 3:
                first += [(int(p[0]) + s, int(p[1]), int(p[2])) for p in np.argwhere(bad)[:3]]
            s += chunk.shape[0]
        raise nonfinite_error(f"{self.reader.path.name}: X", n_bad, first, streamed=True)


def open_array_file(path: str | os.PathLike[str], *, chunk_size: int = 512,
                    expected_shape: tuple[int, int] | None = DEFAULT_SHAPE,
                    limits: Limits | None = None) -> ArrayFile:
    """Open a ``.npy``/``.npz`` dataset for streaming, reading only its header and small arrays.

    The checks are those of :func:`sndiag.io.arrays.load_arrays` that need no pass over ``X``
    (file head, dtype, layout, image shape, label lengths, zip bombs), by the same functions;
    NaN/Inf and float32 overflow are found while streaming (:meth:`ArrayFile.images`). The image
    shape of a file written by sndiag (with ``meta``) is not checked.

    Parameters
    ----------
    path : str or Path
        A ``.npy``, or an ``.npz`` holding ``X`` and optionally ``y``, ``groups``, ``names``,
        ``meta``.
    chunk_size : int
        Rows per chunk of the reader.
    expected_shape : (int, int) or None
        Image shape for files without sndiag metadata; None accepts any.
    limits : Limits, optional
        ``max_unzipped_mb`` and ``max_zip_ratio`` bound the compressed members of an ``.npz``,
        checked from its directory before anything is inflated (default: the environment's).
        ``max_clips`` does not apply: memory does not grow with N.

    Returns
    -------
    ArrayFile

    Raises
    ------
    DataError, ShapeError
        As :func:`sndiag.io.arrays.load_arrays`.
    ArchiveError
        A compressed member expands beyond the limits (a zip bomb).

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "d.npz")
    >>> np.savez(p, X=np.zeros((4, 60, 130, 1), np.float32), y=np.array([0, 1, 0, 1]))
    >>> af = open_array_file(p)
    >>> af.n_clips, af.shape, af.layout, af.y.tolist()
    (4, (60, 130), '(N, n_mels, n_frames, 1)', ['0', '1', '0', '1'])
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist or is not a file; give a .npy or .npz file")
    where = path.name
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(NPY_MAGIC))
    except OSError as exc:
        raise DataError(f"{where} cannot be read ({exc.strerror or exc}); check the path") from None
    check_file_head(head, where)
    reader = NpyChunks(path, chunk_size=chunk_size)
    check_dtype(reader.dtype, f"{where}: X")
    n = len(reader)
    small: dict[str, np.ndarray | None] = {}
    if reader.member is not None:
        try:
            zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            raise DataError(f"{where} is not a valid .npy/.npz file ({exc})") from None
        with zf:
            check_npz(zf, where, resolve_limits(limits))
            for key in ("y", "groups", "names", "split", "meta"):
                small[key] = read_small_array(zf, key, where)
    for key in ("y", "groups", "names", "split"):
        arr = small.get(key)
        if arr is not None and arr.size != n:
            raise ShapeError(f"{where}: {key} has {arr.size} entries but X has {n} clips; "
                             "they must match")
    meta = parse_meta(small.get("meta"))
    channel, shape = image_layout(reader.shape, where=f"{where}: X",
                                  expected=None if meta is not None else expected_shape)
    # Memory does not grow with N here, but the statistics hold dozens of maps of one image.
    check_images_fit(1, shape, resolve_limits(limits), where=f"{where}: X")
    if n == 0:
        raise DataError(f"{where}: X holds no clips (shape {reader.shape}); save at least one")

    def strings(key: str) -> np.ndarray | None:
        arr = small.get(key)
        return None if arr is None else np.array([clean(str(v)) for v in arr.ravel()], dtype=str)

    if meta is not None:
        provenance = checked_provenance(meta.get("provenance") or {})
        n_skipped = len([s for s in meta.get("skipped") or [] if isinstance(s, dict)])
    else:
        provenance = {"source": where, "kind": "arrays", "layout": LAYOUTS[channel]}
        n_skipped = 0
    return ArrayFile(reader=reader, shape=shape, layout=LAYOUTS[channel], y=strings("y"),
                     groups=strings("groups"), names=strings("names"), provenance=provenance,
                     n_skipped=n_skipped, split=strings("split"))


# -- datasets read on demand --------------------------------------------------------------------
def is_stats_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a statistics ``.npz`` written by :meth:`PixelStats.to_npz`
    (``sndiag stats -o``), from its zip directory alone.

    Examples
    --------
    >>> import tempfile, os
    >>> from sndiag.stats import compute_stats
    >>> d = tempfile.mkdtemp()
    >>> p = compute_stats(np.ones((2, 3, 4))).to_npz(os.path.join(d, "s.npz"))
    >>> np.savez(os.path.join(d, "x.npz"), X=np.ones((2, 3, 4)))
    >>> is_stats_file(p), is_stats_file(os.path.join(d, "x.npz"))
    (True, False)
    """
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
    except (OSError, zipfile.BadZipFile, ValueError):
        return False
    return {"meta.npy", "mean.npy", "std.npy", "snr.npy"} <= names and "X.npy" not in names


def file_fingerprint(path: str | os.PathLike[str]) -> dict[str, int]:
    """``{"size", "mtime_ns"}`` of a file: what tells that it was replaced or changed.

    Raises
    ------
    DataError
        When the file cannot be read.
    """
    try:
        st = os.stat(path)
    except OSError as exc:
        raise DataError(f"{Path(path).name} cannot be read ({exc.strerror or exc})") from None
    return {"size": int(st.st_size), "mtime_ns": int(st.st_mtime_ns)}


class FileClips(ClipArray):
    """The clips of an uncompressed ``.npy``/``.npz`` file, read when asked for.

    Every read opens the file, seeks to the first clip wanted and reads the run of clips (no
    memory map: the pages read are the OS page cache's, not this process' resident memory),
    then checks and converts them like :meth:`ArrayFile.images` (float32; NaN/Inf refused).

    Parameters
    ----------
    file : ArrayFile
        From :func:`open_array_file`; a compressed ``.npz`` member (no random access) is refused.

    Attributes
    ----------
    path : Path
    member : str or None
        The array's name inside an ``.npz``.
    fingerprint : dict
        :func:`file_fingerprint` when opened.
    """

    def __init__(self, file: ArrayFile) -> None:
        if file.reader.compressed:
            raise DataError(f"{file.reader.where} is a compressed .npz member: it can only be "
                            "read from its start, not a clip at a time; save it uncompressed "
                            "(np.savez, or sndiag extract) to open it without loading it")
        super().__init__(file.n_clips, file.shape, where=file.reader.path.name)
        self.file = file
        self.fingerprint = file_fingerprint(file.reader.path)

    @property
    def path(self) -> Path:
        return self.file.reader.path

    @property
    def member(self) -> str | None:
        return self.file.reader.member

    def _read(self, start: int, stop: int) -> np.ndarray:
        X = self.file.images(self.file.reader.read(start, stop), start)
        return np.ascontiguousarray(X, dtype=np.float32)


def open_streamed(path: str | os.PathLike[str], *, limits: Limits | None = None,
                  content_hash: str | None = None, chunk_size: int = 512) -> Dataset:
    """A ``.npy``/``.npz`` dataset whose clips stay in the file (:class:`FileClips`).

    Only the header and the small arrays (labels, groups, names, split, metadata) are read;
    they are checked like :func:`open_array_file` checks them. The clips are read when asked
    for, and their values checked then.

    Parameters
    ----------
    path : str or Path
        An uncompressed ``.npy`` or ``.npz`` (what ``sndiag extract`` and ``np.savez`` write).
    limits : Limits, optional
        ``max_clips`` and the image and zip bounds (default: the environment's).
    content_hash : str, optional
        The dataset's content hash when already known (computed when the file was first read,
        see :meth:`sndiag.dataset.Dataset.trusted`); otherwise it is computed on first use (one
        pass over the file).
    chunk_size : int
        Clips per read when the file is walked.

    Returns
    -------
    Dataset
        ``X`` is a :class:`FileClips` (``Dataset.streamed`` is True).

    Raises
    ------
    DataError, ShapeError
        As :func:`open_array_file`; a compressed member is refused.
    LimitError
        More clips than ``SNDIAG_MAX_CLIPS``.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "d.npz")
    >>> np.savez(p, X=np.ones((3, 60, 130), np.float32), y=np.array(["a", "b", "a"]))
    >>> ds = open_streamed(p)
    >>> ds.streamed, ds.n_clips, float(ds.X[2].sum()), ds.classes.tolist()
    (True, 3, 7800.0, ['a', 'b'])
    """
    lim = resolve_limits(limits)
    af = open_array_file(path, chunk_size=chunk_size, limits=lim)
    if af.n_clips > lim.max_clips:
        raise LimitError(f"{af.reader.where}: {af.n_clips} clips exceed the limit of "
                         f"{lim.max_clips}; raise SNDIAG_MAX_CLIPS")
    ds = Dataset(FileClips(af), y=af.y, groups=af.groups, names=af.names,
                 provenance=af.provenance, split=af.split)
    return ds.trusted(content_hash) if content_hash is not None else ds


def load_whole(ds: Dataset, *, limits: Limits | None = None) -> Dataset:
    """``ds`` with every clip in memory (itself when it is not streamed), same content hash.

    Raises
    ------
    LimitError
        When the clips take more than ``SNDIAG_MAX_DATASET_MB``: nothing is read then.

    Examples
    --------
    >>> from sndiag.clip_array import ArrayClips
    >>> ds = Dataset(ArrayClips(np.ones((2, 3, 4), np.float32)))
    >>> whole = load_whole(ds)
    >>> whole.streamed, whole.content_hash == ds.content_hash
    (False, True)
    """
    if not ds.streamed:
        return ds
    check_images_fit(ds.n_clips, ds.shape, resolve_limits(limits), where=ds.name,
                     streaming_hint="the pages that need every clip in memory (the experiment) "
                                    "cannot open it; sndiag compare works on the file")
    X = np.empty((ds.n_clips, *ds.shape), dtype=np.float32)
    for start, chunk in ds.X.chunks():
        X[start:start + chunk.shape[0]] = chunk
    whole = ds.replace(X=X)
    return whole.trusted(ds.content_hash)
