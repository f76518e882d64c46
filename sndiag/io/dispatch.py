"""One entry point for every input: :func:`load` looks at what it is given and picks the reader.

============================  ===========================================
``source``                    read by
============================  ===========================================
a folder                      :func:`sndiag.io.clips.from_folder`
``*.zip`` (path or bytes)     :func:`sndiag.io.clips.from_zip`
``*.npy`` / ``*.npz``         :func:`sndiag.io.arrays.load_arrays`
an audio file (path/bytes)    :func:`sndiag.io.clips.from_files`
a list of paths or uploads    :func:`sndiag.io.clips.from_files`
============================  ===========================================

Adding an input format means a reader module in :mod:`sndiag.io` and a line here.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO, Literal

from sndiag.dataset import Dataset
from sndiag.errors import ParameterError
from sndiag.io.arrays import load_arrays
from sndiag.io.clips import FileSpec, from_files, from_folder, from_zip, is_audio

__all__ = ["load"]

_AUDIO_ONLY = ("labels", "label_regex", "labels_csv", "root", "cache", "progress", "n_jobs",
               "batch_size", "source")
_ARRAYS_ONLY = ("nan_policy", "expected_shape")


def _sniff(head: bytes, name: str) -> str:
    lower = name.lower()
    if lower.endswith(".zip"):
        return "zip"
    if lower.endswith((".npy", ".npz")):
        return "arrays"
    if is_audio(lower):
        return "audio"
    if head.startswith(b"\x93NUMPY"):
        return "arrays"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip-or-npz"
    return "audio"


def _is_npz(data: bytes | str) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data) if isinstance(data, bytes) else data) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError, UnicodeDecodeError):
        return False
    return bool(names) and all(n.endswith(".npy") for n in names)


def load(source: str | os.PathLike[str] | bytes | BinaryIO | Sequence[FileSpec], *,
         name: str | None = None, **kw: Any) -> Dataset:
    """Any supported input -> Dataset: dispatch on what ``source`` is.

    ============================  ================================
    ``source``                    read by
    ============================  ================================
    a folder                      :func:`from_folder`
    ``*.zip`` (path or bytes)     :func:`from_zip`
    ``*.npy`` / ``*.npz``         :func:`load_arrays`
    an audio file (path/bytes)    :func:`from_files`
    a list of paths or uploads    :func:`from_files`
    ============================  ================================

    Bytes and file objects are recognised by ``name`` (e.g. the upload's file name) or by their
    first bytes. Options that do not apply to the kind found raise :class:`ParameterError`,
    except execution options (``progress``, ``cache``, ``n_jobs``, ``batch_size``, ``limits``),
    which arrays ignore.

    Examples
    --------
    >>> import numpy as np
    >>> buf = io.BytesIO()
    >>> np.save(buf, np.zeros((3, 60, 130), dtype=np.float32))
    >>> load(buf.getvalue(), progress=print).X.shape
    (3, 60, 130)
    """
    if isinstance(source, list | tuple):
        return from_files(source, **_only(kw, "audio"))
    if isinstance(source, bytes | bytearray) or hasattr(source, "read"):
        data = bytes(source) if isinstance(source, bytes | bytearray) else source.read()  # type: ignore[union-attr]
        given = name or os.path.basename(str(getattr(source, "name", "") or "")) or None
        kind = _sniff(data[:8], given or "")
        if kind == "zip-or-npz":
            kind = "arrays" if _is_npz(data) else "zip"
        if kind == "arrays":
            return _renamed(load_arrays(data, **_only(kw, "arrays")), given)
        if kind == "zip":
            return from_zip(data, name=given, **_only(kw, "audio"))
        label = given or "upload"
        return from_files([(label, data)], **{"source": label, **_only(kw, "audio")})
    path = Path(os.fspath(source))  # type: ignore[arg-type]
    if path.is_dir():
        return from_folder(path, **_only(kw, "audio"))
    if not path.is_file():
        raise ParameterError(f"{path} does not exist; give a folder, a .zip, a .npy/.npz or "
                             "audio files")
    with open(path, "rb") as fh:
        head = fh.read(8)
    kind = _sniff(head, path.name)
    if kind == "zip-or-npz":
        kind = "arrays" if _is_npz(str(path)) else "zip"
    if kind == "arrays":
        return load_arrays(path, **_only(kw, "arrays"))
    if kind == "zip":
        return from_zip(path, name=name, **_only(kw, "audio"))
    return from_files([path], **{"source": name or str(path), **_only(kw, "audio")})


def _renamed(ds: Dataset, name: str | None) -> Dataset:
    if name is None or ds.provenance.get("source") != "upload":
        return ds
    return ds.replace(provenance={**ds.provenance, "source": name})


def _only(kw: dict[str, Any], kind: Literal["audio", "arrays"]) -> dict[str, Any]:
    """The options that apply to ``kind``; a label or layout option that does not -> error."""
    if kind == "audio":
        wrong = [k for k in _ARRAYS_ONLY if k in kw]
        if wrong:
            raise ParameterError(f"options {wrong} apply to .npy/.npz arrays, not to audio input")
        return kw
    wrong = [k for k in ("labels", "label_regex", "labels_csv", "root")
             if kw.get(k) not in (None, "folder", "none")]
    if wrong:
        raise ParameterError(f"options {wrong} apply to audio input, not to .npy/.npz arrays "
                             "(their labels are the array y)")
    return {k: v for k, v in kw.items() if k not in _AUDIO_ONLY}
