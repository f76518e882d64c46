"""The dataset file format: ``.npy``/``.npz`` arrays read and written, never unpickling anything.

A dataset file is a plain, uncompressed ``.npz`` (what :func:`save` writes):

* ``X``: float32 ``(N, n_mels, n_frames)``;
* ``y``, ``groups``, ``split``: unicode arrays (absent when unknown); ``names``: unicode array;
* ``meta``: a JSON string ``{"provenance": {...}, "skipped": [{"name", "reason"}, ...]}``.

:func:`load_arrays` reads that, and also plain arrays: a ``.npy`` (the array is ``X``), or an
``.npz`` with ``X`` (or exactly one array) and optionally ``y``, ``groups``, ``names``, in the
layouts ``(N, a, b)``, ``(N, a, b, 1)`` and ``(N, 1, a, b)``. What a file may hold is checked by
:func:`check_file_head` (pickles, not an array file at all) and by :mod:`sndiag.images`
(dtype, layout, values) - the same checks :mod:`sndiag.io.streaming` applies to a file it reads
chunk by chunk.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Literal

import numpy as np

from sndiag.config import DEFAULT_SHAPE, Limits, SpectrogramConfig
from sndiag.dataset import Dataset, Skipped
from sndiag.errors import DataError, LimitError, ParameterError, ShapeError
from sndiag.images import LAYOUTS, check_dtype, check_values, image_layout, to_images
from sndiag.io.atomic import atomic_write
from sndiag.io.zips import check_npz
from sndiag.memory import check_images_fit
from sndiag.settings import resolve_limits

__all__ = [
    "ARRAY_KEYS",
    "check_file_head",
    "checked_provenance",
    "dataset_arrays",
    "load_arrays",
    "now",
    "parse_meta",
    "read_small_array",
    "save",
    "to_npz_bytes",
]

#: Arrays of a dataset ``.npz`` that sndiag reads; others are reported as ignored.
ARRAY_KEYS = ("X", "y", "groups", "names", "split", "meta")
NPY_MAGIC = b"\x93NUMPY"
_PROV_NUMBERS = ("min", "median", "max", "mean", "window", "n_padded", "n_cropped")


def now() -> str:
    """The time stamp of provenance ``created`` fields (UTC, seconds)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


# -- writing ---------------------------------------------------------------------------------
def dataset_arrays(ds: Dataset) -> dict[str, np.ndarray]:
    """The small arrays of a dataset file (everything but ``X``), as :func:`save` writes them."""
    arrays: dict[str, np.ndarray] = {"names": ds.names}
    if ds.y is not None:
        arrays["y"] = ds.y
    if ds.groups is not None:
        arrays["groups"] = ds.groups
    if ds.split is not None:
        arrays["split"] = ds.split
    meta = {"provenance": ds.provenance, "skipped": [s.to_dict() for s in ds.skipped]}
    arrays["meta"] = np.array(json.dumps(meta))
    return arrays


def to_npz_bytes(ds: Dataset) -> bytes:
    """The dataset as ``.npz`` bytes (see :func:`save`)."""
    buf = io.BytesIO()
    np.savez(buf, X=ds.X, **dataset_arrays(ds))
    return buf.getvalue()


def save(ds: Dataset, path: str | os.PathLike[str]) -> Path:
    """Write ``ds`` to ``path`` (``.npz``) atomically; return the path.

    Raises
    ------
    WriteError
        When the file cannot be written (the previous file at ``path`` is kept).

    Examples
    --------
    >>> import tempfile, os
    >>> ds = Dataset(np.ones((1, 2, 2)), y=["a"])
    >>> p = save(ds, os.path.join(tempfile.mkdtemp(), "d.npz"))
    >>> load_arrays(p).content_hash == ds.content_hash
    True
    """
    return atomic_write(path, lambda fh: np.savez(fh, X=ds.X, **dataset_arrays(ds)))


# -- reading ---------------------------------------------------------------------------------
def check_file_head(head: bytes, where: str) -> None:
    """Refuse what is not a ``.npy``/``.npz`` from its first bytes (a pickle stream, text, ...).

    Examples
    --------
    >>> check_file_head(b"\\x93NUMPY\\x01", "x.npy")
    >>> check_file_head(b"\\x80\\x04\\x95", "x.pkl")
    Traceback (most recent call last):
    ...
    sndiag.errors.DataError: x.pkl is a pickled Python object, not a .npy/.npz file; save it ...
    """
    if head[:1] == b"\x80":  # a raw pickle stream (protocol 2+), e.g. pickle.dump(X, f)
        raise DataError(f"{where} is a pickled Python object, not a .npy/.npz file; save it with "
                        "np.save(path, X.astype(np.float32))")
    if not (head.startswith(NPY_MAGIC) or head.startswith(b"PK")):
        raise DataError(f"{where} is not a valid .npy/.npz file (it starts with neither the .npy "
                        "header nor a zip header); save arrays with np.save or np.savez")


def _bad_array(where: str, key: str | None, exc: BaseException) -> DataError:
    """The message for an array ``np.load`` cannot read (pickled objects, or corrupt)."""
    what = where if key is None else f"{where}: array {key!r}"
    text = str(exc)
    if isinstance(exc, ValueError) and ("pickle" in text.lower() or "object" in text.lower()):
        return DataError(f"{what} contains pickled Python objects; save it with a numeric dtype "
                         "(e.g. np.save(path, X.astype(np.float32))) or strings")
    kind = "" if isinstance(exc, ValueError) else f"{type(exc).__name__}: "
    return DataError(f"{what} is not a valid .npy/.npz file ({kind}{text})")


def read_small_array(zf: zipfile.ZipFile, key: str, where: str) -> np.ndarray | None:
    """Array ``key`` of an open ``.npz`` (None when absent), never unpickling."""
    if f"{key}.npy" not in zf.namelist():
        return None
    try:
        with zf.open(f"{key}.npy") as fh:
            return np.lib.format.read_array(fh, allow_pickle=False)  # type: ignore[arg-type]
    except Exception as exc:  # ValueError (pickles), EOFError, OSError, BadZipFile, zlib.error
        raise _bad_array(where, key, exc) from None


def parse_meta(meta: np.ndarray | None) -> dict[str, Any] | None:
    """The provenance/skipped JSON written by :func:`save`, or None when absent or malformed."""
    if meta is None or meta.shape != () or meta.dtype.kind not in "US":
        return None
    try:
        parsed = json.loads(str(meta[()]))
    except (ValueError, TypeError):
        return None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("provenance"), dict):
        return None
    return parsed


def checked_provenance(prov: Mapping[str, Any]) -> dict[str, Any]:
    """A saved provenance with its well-known fields of the wrong type dropped.

    ``meta`` comes from the file, so a hand-made or tampered one may hold anything; readers (the
    dashboard's Data page, audio previews) rely on the types the extraction writes.

    Examples
    --------
    >>> checked_provenance({"name": 5, "source": "a", "config": {"sr": "x"}})
    {'source': 'a', 'config': None}
    """
    out = dict(prov)
    for key in ("name", "source", "kind", "labels", "layout", "created"):
        if key in out and not isinstance(out[key], str):
            out.pop(key)
    if "synthetic" in out and not isinstance(out["synthetic"], bool):
        out.pop("synthetic")
    n = out.get("nan_replaced")
    if "nan_replaced" in out and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
        out.pop("nan_replaced")
    d = out.get("durations")
    if "durations" in out and not (isinstance(d, dict) and all(
            isinstance(d.get(k), int | float) and not isinstance(d.get(k), bool)
            for k in _PROV_NUMBERS)):
        out.pop("durations")
    cfg = out.get("config")
    if cfg is not None and not (isinstance(cfg, dict) and isinstance(cfg.get("sr", 1), int)
                                and not isinstance(cfg.get("sr"), bool) and cfg.get("sr", 1) > 0):
        out["config"] = None
    return out


def _peek(handle: Any, n: int = 6) -> bytes:
    """The first ``n`` bytes of a path or seekable file, leaving a file at its start."""
    if isinstance(handle, str | os.PathLike):
        try:
            with open(handle, "rb") as fh:
                return fh.read(n)
        except OSError as exc:
            raise DataError(f"cannot read {handle}: {exc.strerror}") from None
    pos = handle.tell()
    head = handle.read(n)
    handle.seek(pos)
    return head


def _open_arrays(source: str | os.PathLike[str] | bytes | BinaryIO) -> tuple[Any, str]:
    if isinstance(source, bytes | bytearray):
        return io.BytesIO(bytes(source)), "upload"
    if hasattr(source, "read"):
        return source, str(getattr(source, "name", "upload"))
    path = Path(source)
    if not path.is_file():
        raise DataError(f"{path} does not exist or is not a file; give a .npy or .npz file")
    return path, path.name


def npy_shape(fh: Any) -> tuple[int, ...] | None:
    """The shape in a ``.npy`` header at the file position of ``fh`` (None when unreadable,
    the reader then reports it); the position is restored."""
    pos = fh.tell() if fh.seekable() else None
    try:
        version = np.lib.format.read_magic(fh)
        read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                else np.lib.format.read_array_header_2_0)
        shape = tuple(int(s) for s in read(fh)[0])
    except Exception:  # noqa: BLE001 - ValueError, EOFError, SyntaxError... np.load says why
        shape = None
    if pos is not None:
        fh.seek(pos)
    return shape


def _check_fits(shape: tuple[int, ...] | None, where: str, limits: Limits) -> None:
    """Refuse, from the header, an array whose images or whole would not fit in memory."""
    if shape is not None and len(shape) >= 3:
        check_images_fit(shape[0], shape[1:], limits, where=f"{where}: X",
                         streaming_hint="sndiag stats streams a file of any size")


def _read_npz(handle: Any, where: str, limits: Limits) -> tuple[dict[str, np.ndarray], list[str]]:
    try:
        zf = zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise DataError(f"{where} is not a valid .npy/.npz file ({type(exc).__name__}: {exc})"
                        ) from None
    with zf:
        check_npz(zf, where, limits)  # before any array is inflated
        keys = [n[:-4] for n in zf.namelist() if n.endswith(".npy")]
        if not keys:
            raise DataError(f"{where} is an empty .npz (no arrays); save X in it")
        if "X" not in keys and len(keys) != 1:
            raise DataError(f"{where} holds arrays {keys} but no 'X'; name the spectrogram "
                            "array X (np.savez(path, X=X, y=y))")
        x_key = "X" if "X" in keys else keys[0]
        try:
            with zf.open(f"{x_key}.npy") as fh:
                _check_fits(npy_shape(fh), where, limits)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError):
            pass  # read_small_array reports a damaged member
        arrays: dict[str, np.ndarray] = {}
        ignored: list[str] = []
        for key in keys:
            if key in ARRAY_KEYS or len(keys) == 1:
                arr = read_small_array(zf, key, where)
                assert arr is not None
                arrays["X" if len(keys) == 1 else key] = arr
            else:
                ignored.append(key)
    return arrays, ignored


def load_arrays(source: str | os.PathLike[str] | bytes | BinaryIO, *,
                config: SpectrogramConfig | None = None,
                nan_policy: Literal["raise", "zero"] = "raise",
                expected_shape: tuple[int, int] | None = DEFAULT_SHAPE,
                limits: Limits | None = None) -> Dataset:
    """Read spectrograms from a ``.npy`` or ``.npz`` file, never unpickling anything.

    Parameters
    ----------
    source : path, bytes or binary file
        A ``.npy`` (the array is ``X``) or an ``.npz`` with ``X`` (or exactly one array) and
        optionally ``y``, ``groups``, ``names`` and ``meta`` (see the module docstring: a saved
        dataset reads back exactly).
    config : SpectrogramConfig, optional
        How the arrays were made, recorded in the provenance.
    nan_policy : {"raise", "zero"}
        NaN/Inf values raise :class:`DataError` (with their count and first positions) or are
        replaced by 0 and counted in ``provenance["nan_replaced"]``.
    expected_shape : (int, int) or None
        Image shape ``(n_mels, n_frames)`` required of arrays without sndiag metadata (default
        :data:`~sndiag.config.DEFAULT_SHAPE`, 60 x 130, which lets a transposed array be
        recognised); None accepts any image size.
    limits : Limits, optional
        ``max_clips`` bounds N; ``max_image_pixels`` one image and ``max_dataset_mb`` the whole
        array, both from the header before it is read; ``max_unzipped_mb`` and
        ``max_zip_ratio`` bound the compressed members of an ``.npz``, checked before any is
        inflated. Default: the environment's
        (:class:`~sndiag.settings.Settings`), as for every reader.

    Returns
    -------
    Dataset

    Raises
    ------
    DataError
        Not a valid .npy/.npz, pickled objects, complex/string/bool values, NaN/Inf, values
        beyond the float32 range, no arrays.
    ArchiveError
        A compressed .npz member expands beyond the limits (a zip bomb).
    LimitError
        More clips than ``limits.max_clips``, images or an array larger than the limits.
    ShapeError
        Another layout, or ``y``/``groups``/``names`` whose length differs from N.

    Examples
    --------
    >>> buf = io.BytesIO()
    >>> np.savez(buf, X=np.ones((4, 60, 130, 1), dtype=np.float32), y=np.array([0, 1, 0, 1]))
    >>> ds = load_arrays(buf.getvalue())
    >>> ds.X.shape, ds.y.tolist(), ds.provenance["layout"]
    ((4, 60, 130), ['0', '1', '0', '1'], '(N, n_mels, n_frames, 1)')
    >>> buf = io.BytesIO()
    >>> np.save(buf, np.array([{"a": 1}]), allow_pickle=True)
    >>> load_arrays(buf.getvalue())
    Traceback (most recent call last):
    ...
    sndiag.errors.DataError: upload contains pickled Python objects; save it with a numeric ...
    """
    if nan_policy not in ("raise", "zero"):
        raise ParameterError(f"nan_policy={nan_policy!r} must be 'raise' or 'zero'")
    if expected_shape is not None:
        expected_shape = tuple(int(v) for v in expected_shape)  # type: ignore[assignment]
        if len(expected_shape) != 2:
            raise ParameterError(f"expected_shape={expected_shape} must be (n_mels, n_frames)")
    limits = resolve_limits(limits)
    handle, where = _open_arrays(source)
    head = _peek(handle)
    check_file_head(head, where)
    if head.startswith(NPY_MAGIC):
        if isinstance(handle, str | os.PathLike):
            with open(handle, "rb") as fh:
                _check_fits(npy_shape(fh), where, limits)
        else:
            _check_fits(npy_shape(handle), where, limits)
        try:
            arrays = {"X": np.load(handle, allow_pickle=False)}
        except Exception as exc:  # ValueError (pickles), OSError, EOFError, UnicodeError, ...
            raise _bad_array(where, None, exc) from None
        ignored: list[str] = []
    else:
        arrays, ignored = _read_npz(handle, where, limits)
    X = arrays["X"]
    meta = parse_meta(arrays.get("meta"))
    check_dtype(X.dtype, f"{where}: X")
    channel, _ = image_layout(X.shape, expected=None if meta is not None else expected_shape,
                              where=f"{where}: X")
    X = to_images(X, channel)
    if X.shape[0] == 0:
        raise DataError(f"{where}: X holds no clips (shape {X.shape}); save at least one")
    if X.shape[0] > limits.max_clips:
        raise LimitError(f"{where}: {X.shape[0]} clips exceed the limit of {limits.max_clips}; "
                         "raise SNDIAG_MAX_CLIPS")
    X, n_bad = check_values(X, where=f"{where}: X", nan_policy=nan_policy)
    n = X.shape[0]
    for key in ("y", "groups", "names", "split"):
        v = arrays.get(key)
        if v is not None and v.size != n:
            raise ShapeError(f"{where}: {key} has {v.size} entries but X has {n} clips; "
                             "they must match")
    if meta is not None:
        provenance = checked_provenance(meta.get("provenance") or {})
        skipped = tuple(Skipped(str(s.get("name", "")), str(s.get("reason", "")))
                        for s in meta.get("skipped") or [] if isinstance(s, dict))
        if config is not None:
            provenance.setdefault("config", config.to_dict())
    else:
        provenance = {"source": where, "kind": "arrays", "layout": LAYOUTS[channel],
                      "config": None if config is None else config.to_dict(), "created": now()}
        skipped = ()
    if ignored:
        provenance["ignored_arrays"] = ignored
    if n_bad:
        provenance["nan_replaced"] = n_bad
    return Dataset(X, y=arrays.get("y"), groups=arrays.get("groups"), names=arrays.get("names"),
                   provenance=provenance, skipped=skipped, split=arrays.get("split"))
