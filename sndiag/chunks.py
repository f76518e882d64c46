"""Read large ``.npy`` arrays chunk by chunk with bounded memory.

``np.load(path, mmap_mode="r")`` lets numpy address an array larger than memory, but every page
it touches stays resident, so the process' RSS grows with the file. :class:`NpyChunks` instead
reads each chunk with ``readinto`` into one reusable buffer: memory stays at one chunk however
large the file is. This is what ``sndiag stats`` uses for ``.npy`` inputs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from sndiag.errors import DataError, ShapeError

__all__ = ["NpyChunks", "write_npy_chunks"]


class NpyChunks:
    """An ``.npy`` file of shape (N, ...) read in chunks of ``chunk_size`` rows.

    Parameters
    ----------
    path : str or Path
        A ``.npy`` file with a numeric, non-object dtype in C order.
    chunk_size : int
        Rows per chunk.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x.npy")
    >>> np.save(p, np.arange(10, dtype=np.float32).reshape(5, 2))
    >>> chunks = NpyChunks(p, chunk_size=2)
    >>> chunks.shape, [c.shape[0] for c in chunks]
    ((5, 2), [2, 2, 1])
    """

    def __init__(self, path: str | os.PathLike[str], *, chunk_size: int = 512) -> None:
        if chunk_size <= 0:
            raise DataError(f"chunk_size={chunk_size} must be positive")
        self.path = Path(path)
        self.chunk_size = int(chunk_size)
        try:
            with open(self.path, "rb") as fh:
                version = np.lib.format.read_magic(fh)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                shape, fortran, dtype = read_header(fh, max_header_size=100_000)
                self.offset = fh.tell()
        except (OSError, ValueError) as exc:
            raise DataError(f"{self.path.name} is not a valid .npy file ({exc})") from None
        if dtype.hasobject:
            raise DataError(f"{self.path.name} contains pickled Python objects; "
                            "save it with a numeric dtype")
        if fortran:
            raise DataError(f"{self.path.name} is stored in Fortran order; save it with "
                            "np.ascontiguousarray to stream it")
        if len(shape) < 1:
            raise ShapeError(f"{self.path.name} holds a scalar; expected (N, ...) rows")
        self.shape: tuple[int, ...] = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)

    def __len__(self) -> int:
        return self.shape[0]

    def __iter__(self) -> Iterator[np.ndarray]:
        """Yield chunks; each is a view of one reused buffer, valid until the next one."""
        row = self.shape[1:]
        buf = np.empty((self.chunk_size, *row), dtype=self.dtype)
        with open(self.path, "rb", buffering=0) as fh:
            fh.seek(self.offset)
            for start in range(0, len(self), self.chunk_size):
                n = min(self.chunk_size, len(self) - start)
                view = memoryview(buf[:n].reshape(-1).view(np.uint8))
                got = fh.readinto(view)
                if got != view.nbytes:
                    raise DataError(f"{self.path.name} is truncated at row {start}")
                yield buf[:n]


def write_npy_chunks(path: str | os.PathLike[str], chunks: Iterator[np.ndarray], *,
                     n: int, row_shape: tuple[int, ...], dtype: np.dtype | str = "float32") -> Path:
    """Write ``n`` rows arriving in chunks to an ``.npy`` file without holding them all.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "y.npy")
    >>> _ = write_npy_chunks(p, iter([np.ones((2, 3)), np.zeros((1, 3))]), n=3, row_shape=(3,))
    >>> np.load(p).sum()
    np.float32(6.0)
    """
    path = Path(path)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.dtype(dtype), shape=(n, *row_shape))
    pos = 0
    for chunk in chunks:
        k = chunk.shape[0]
        if pos + k > n:
            raise ShapeError(f"chunks hold more than the declared n={n} rows")
        out[pos:pos + k] = chunk
        pos += k
    out.flush()
    del out
    if pos != n:
        raise ShapeError(f"chunks held {pos} rows but n={n} was declared")
    return path
