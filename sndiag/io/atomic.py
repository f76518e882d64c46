"""Atomic file writes: a file is either the old one or the whole new one, never a torn mix.

Every file sndiag writes (the store's entries, datasets, exports, statistics, CLI outputs,
manifests of a chunked extraction, cached spectrograms) goes through :func:`atomic_file`: the
bytes go to a temporary file in the same folder, which is flushed, fsynced, renamed over the
target with :func:`os.replace` (atomic on POSIX and Windows), and the folder is fsynced so the
rename itself survives a power cut. If anything fails - a full disk, an interrupt, an exception of
the writer - the temporary file is removed and the target is left as it was.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from sndiag.errors import WriteError

__all__ = ["atomic_file", "atomic_write", "is_temporary"]

#: Suffix of the temporary files (a crashed process may leave one; :func:`is_temporary`).
TMP_SUFFIX = ".tmp"


def is_temporary(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a temporary file of :func:`atomic_file` (``.<name>.*.tmp``).

    Examples
    --------
    >>> is_temporary("out/.data.npz.k2j3.tmp"), is_temporary("out/data.npz")
    (True, False)
    """
    name = Path(path).name
    return name.startswith(".") and name.endswith(TMP_SUFFIX)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. a platform without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse fsync on a directory
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str], mode: str = "wb", *, durable: bool = True,
                encoding: str | None = None, permissions: int = 0o644) -> Iterator[IO[Any]]:
    """Open a temporary file next to ``path``; on success it replaces ``path`` atomically.

    Parameters
    ----------
    path : str or Path
        The file to write. Its folder must exist.
    mode : {"wb", "w"}
        Binary or text.
    durable : bool
        fsync the file and its folder (the default). ``False`` keeps only atomicity, for
        caches whose entries can be recomputed (a lost entry is a miss, never a torn file).
    encoding : str, optional
        Text encoding for ``mode="w"`` (default UTF-8).
    permissions : int
        Mode bits of the new file (``mkstemp`` would make it 0600).

    Yields
    ------
    file object

    Raises
    ------
    WriteError
        When the file cannot be written (a full disk, a missing folder, no permission); the
        message names the file and the previous content at ``path`` is kept.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "a.txt")
    >>> with atomic_file(p, "w") as fh:
    ...     _ = fh.write("hello")
    >>> open(p).read()
    'hello'
    >>> try:
    ...     with atomic_file(p, "w") as fh:
    ...         _ = fh.write("half")
    ...         raise RuntimeError("the writer failed")
    ... except RuntimeError:
    ...     pass
    >>> open(p).read(), sorted(os.listdir(os.path.dirname(p)))
    ('hello', ['a.txt'])
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"mode={mode!r} must be 'wb' or 'w'")
    target = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                   suffix=TMP_SUFFIX)
    except OSError as exc:
        raise WriteError(f"cannot write {target}: {exc.strerror or exc}; check that the folder "
                         "exists and is writable") from None
    tmp_path = Path(tmp)
    try:
        with contextlib.suppress(OSError):
            os.fchmod(fd, permissions)
        kw = {} if mode == "wb" else {"encoding": encoding or "utf-8", "newline": ""}
        with os.fdopen(fd, mode, **kw) as fh:
            yield fh
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp_path, target)
    except OSError as exc:
        tmp_path.unlink(missing_ok=True)
        if isinstance(exc, WriteError):
            raise
        raise WriteError(f"cannot write {target}: {exc.strerror or exc} (the previous file, if "
                         "any, is unchanged); free some space or choose another folder") from None
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    if durable:
        _fsync_dir(target.parent)


def atomic_write(path: str | os.PathLike[str], data: bytes | str | Callable[[IO[Any]], Any], *,
                 durable: bool = True) -> Path:
    """Write ``data`` (bytes, text, or a function that writes to the file) atomically.

    See :func:`atomic_file`; returns the path.

    Examples
    --------
    >>> import tempfile, os, json
    >>> p = atomic_write(os.path.join(tempfile.mkdtemp(), "d.json"), json.dumps({"a": 1}))
    >>> json.loads(p.read_text())
    {'a': 1}
    """
    mode = "w" if isinstance(data, str) else "wb"
    with atomic_file(path, mode, durable=durable) as fh:
        if callable(data):
            data(fh)
        else:
            fh.write(data)
    return Path(path)
