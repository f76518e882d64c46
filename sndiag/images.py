"""The one check of spectrogram images, whatever they come from.

Every path that turns arrays into a :class:`~sndiag.dataset.Dataset` - a ``.npy``/``.npz`` file,
an upload, a file streamed chunk by chunk, a direct ``Dataset(X)`` - checks them here:

* :func:`check_dtype`: real numbers only (not complex, bool, strings or Python objects);
* :func:`image_layout`: ``(N, a, b)``, ``(N, a, b, 1)`` or ``(N, 1, a, b)`` (from the shape alone,
  so a streamed file is checked before any data is read), with a hint for the usual mistakes;
* :func:`check_values`: no NaN/Inf (refused with their count and first positions, or replaced by
  0 and counted), and float64 values that fit float32, the dtype sndiag keeps.

:func:`check_images` runs all three and returns float32, C-contiguous ``(N, n_mels, n_frames)``.
This module imports nothing of sndiag but its errors: it sits below :class:`Dataset` (which
applies it on construction) and below every reader of :mod:`sndiag.io` (which apply it with the
file's name in the messages).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from sndiag.errors import DataError, ParameterError, ShapeError

__all__ = ["LAYOUTS", "CheckedImages", "check_dtype", "check_images", "check_values",
           "image_layout", "nonfinite_error", "to_images"]

NanPolicy = Literal["raise", "zero"]
_F32_MAX = float(np.finfo(np.float32).max)

#: Names of the accepted layouts, by the axis that holds the unit channel (None: no channel).
LAYOUTS = {None: "(N, n_mels, n_frames)", -1: "(N, n_mels, n_frames, 1)",
           1: "(N, 1, n_mels, n_frames)"}


@dataclass(frozen=True)
class CheckedImages:
    """What :func:`check_images` returns.

    Attributes
    ----------
    X : np.ndarray [shape=(n_clips, n_mels, n_frames), dtype=float32]
        C-contiguous images.
    layout : str
        The layout the input had (see :data:`LAYOUTS`).
    n_replaced : int
        NaN/Inf values replaced by 0 (``nan_policy="zero"``).
    """

    X: np.ndarray
    layout: str
    n_replaced: int = 0


def check_dtype(dtype: Any, where: str = "X") -> None:
    """Refuse a dtype that cannot hold spectrogram values, with the fix in the message.

    Examples
    --------
    >>> check_dtype(np.float32)
    >>> check_dtype(np.complex64)
    Traceback (most recent call last):
    ...
    sndiag.errors.DataError: X has complex dtype complex64; save the magnitude or power ...
    """
    dt = np.dtype(dtype)
    if dt.hasobject:
        raise DataError(f"{where} holds Python objects (pickled); save it with a numeric dtype "
                        "(e.g. np.save(path, X.astype(np.float32)))")
    if dt.kind == "c":
        raise DataError(f"{where} has complex dtype {dt}; save the magnitude or power "
                        "(np.abs(X) ** 2) as float32")
    if dt.kind == "b":
        raise DataError(f"{where} has dtype bool; that is a mask, not spectrograms")
    if dt.kind not in "iuf":
        raise DataError(f"{where} has dtype {dt}; save spectrograms as real numbers (float32)")


def image_layout(shape: Sequence[int], *, expected: tuple[int, int] | None = None,
                 where: str = "X") -> tuple[int | None, tuple[int, int]]:
    """The unit-channel axis (None, -1 or 1) and the image shape of an array of ``shape``.

    Parameters
    ----------
    shape : sequence of int
        The array's shape.
    expected : (int, int), optional
        Required ``(n_mels, n_frames)``; None accepts any image size.
    where : str
        Name of the array in messages (e.g. the file name).

    Raises
    ------
    ShapeError
        For any other layout, with a hint (transposed, a single image, another size).

    Examples
    --------
    >>> image_layout((4, 60, 130, 1))
    (-1, (60, 130))
    >>> image_layout((4, 130, 60), expected=(60, 130))
    Traceback (most recent call last):
    ...
    sndiag.errors.ShapeError: X has shape (4, 130, 60); accepted shapes are (N, 60, 130), ...
    """
    s = tuple(int(v) for v in shape)
    exp = None if expected is None else (int(expected[0]), int(expected[1]))

    def fits(img: tuple[int, ...]) -> bool:
        return exp is None or img == exp

    if len(s) == 3 and fits(s[1:]):
        return None, (s[1], s[2])
    if len(s) == 4 and s[3] == 1 and fits(s[1:3]):
        return -1, (s[1], s[2])
    if len(s) == 4 and s[1] == 1 and fits(s[2:]):
        return 1, (s[2], s[3])
    a, b = exp if exp is not None else ("a", "b")
    accepted = f"(N, {a}, {b}), (N, {a}, {b}, 1) or (N, 1, {a}, {b})"
    hint = ""
    if exp is not None and len(s) == 3 and s[1:] == (exp[1], exp[0]):
        hint = "; it looks transposed: save X.transpose(0, 2, 1)"
    elif exp is not None and s == exp:
        hint = "; a single image: save X[None] to make it (1, ...)"
    elif exp is not None and len(s) in (3, 4):
        hint = "; pass expected_shape=None to accept another image size"
    elif len(s) == 2:
        hint = "; a single image: save X[None] to make it (1, ...)"
    raise ShapeError(f"{where} has shape {s}; accepted shapes are {accepted}{hint}")


def to_images(X: np.ndarray, channel: int | None) -> np.ndarray:
    """Drop the unit channel axis found by :func:`image_layout` (a view, no copy)."""
    if channel is None:
        return X
    return X[..., 0] if channel == -1 else X[:, 0]


def check_values(X: np.ndarray, *, where: str = "X", nan_policy: NanPolicy = "raise",
                 offset: int = 0) -> tuple[np.ndarray, int]:
    """Refuse or replace NaN/Inf, and refuse float64 values beyond the float32 range.

    Parameters
    ----------
    X : np.ndarray [shape=(k, n_mels, n_frames)]
    where : str
        Name in messages.
    nan_policy : {"raise", "zero"}
        Refuse NaN/Inf (:class:`DataError` with their count and first positions) or replace
        them by 0.
    offset : int
        Clip number of ``X[0]`` in the whole dataset (for the positions in messages).

    Returns
    -------
    (X, n_replaced)
        ``X`` itself when nothing was replaced.

    Examples
    --------
    >>> X, n = check_values(np.array([[[1.0, np.nan]]]), nan_policy="zero")
    >>> X.tolist(), n
    ([[[1.0, 0.0]]], 1)
    """
    if nan_policy not in ("raise", "zero"):
        raise ParameterError(f"nan_policy={nan_policy!r} must be 'raise' or 'zero'")
    if X.dtype.kind != "f":
        return X, 0
    n_bad = 0
    if not _all_finite(X):
        bad = ~np.isfinite(X)
        n_bad = int(bad.sum())
        if nan_policy == "raise":
            first = [(int(p[0]) + offset, *(int(i) for i in p[1:])) for p in np.argwhere(bad)[:3]]
            raise nonfinite_error(where, n_bad, first)
        X = np.where(bad, X.dtype.type(0), X)
    if X.dtype.itemsize > 4 and X.size:
        big = float(max(abs(float(X.min())), abs(float(X.max()))))
        if big > _F32_MAX:
            n_big = int((np.abs(X) > _F32_MAX).sum())
            raise DataError(f"{where} has {n_big} values beyond the float32 range (largest |x| = "
                            f"{big:.3g} > 3.4e38); sndiag keeps spectrograms as float32: rescale "
                            "them (e.g. to dB) first")
    return X, n_bad


#: Values tested at a time by :func:`_all_finite` (8 MB of booleans).
_FINITE_BLOCK = 8 << 20


def _all_finite(X: np.ndarray) -> bool:
    """``np.isfinite(X).all()`` a block at a time: no boolean copy of a whole 3 GB dataset."""
    flat = X.reshape(-1) if X.flags.c_contiguous else X.ravel()
    return all(bool(np.isfinite(flat[i:i + _FINITE_BLOCK]).all())
               for i in range(0, flat.size, _FINITE_BLOCK))


def nonfinite_error(where: str, n_bad: int, first: Sequence[tuple[int, ...]], *,
                    streamed: bool = False) -> DataError:
    """The error for ``n_bad`` NaN/Inf values of ``where``, the first at positions ``first``.

    ``streamed``: the values come from a file read a chunk at a time, which is used as it is
    (no replacement on the fly), so the only fix named is the source's.
    """
    fix = ("fix the source file: a file read in chunks is used as it is, so NaN/Inf cannot be "
           "replaced there (a dataset that fits in memory can be loaded with nan_policy='zero', "
           "or uploaded on the Data page with NaN / Inf 'replace by 0')" if streamed
           else "fix the source, or load with nan_policy='zero' to replace them by 0")
    return DataError(f"{where} has {n_bad} NaN/Inf values (first at {list(first)[:3]}); {fix}")


def check_images(X: Any, *, where: str = "X", expected_shape: tuple[int, int] | None = None,
                 nan_policy: NanPolicy = "raise") -> CheckedImages:
    """Check spectrogram images and return them as float32 ``(N, n_mels, n_frames)``.

    Parameters
    ----------
    X : array-like
        ``(N, a, b)``, ``(N, a, b, 1)`` or ``(N, 1, a, b)`` real numbers.
    where : str
        Name in messages (a file name, an upload).
    expected_shape : (int, int), optional
        Required image shape; None accepts any.
    nan_policy : {"raise", "zero"}
        See :func:`check_values`.

    Returns
    -------
    CheckedImages

    Raises
    ------
    DataError
        Objects, complex/bool/string values, no clips, NaN/Inf (with ``"raise"``), values beyond
        float32.
    ShapeError
        Another layout.

    Examples
    --------
    >>> c = check_images(np.ones((2, 1, 3, 4), dtype=np.float64))
    >>> c.X.shape, c.X.dtype, c.layout
    ((2, 3, 4), dtype('float32'), '(N, 1, n_mels, n_frames)')
    """
    arr = np.asarray(X)
    check_dtype(arr.dtype, where)
    channel, _ = image_layout(arr.shape, expected=expected_shape, where=where)
    arr = to_images(arr, channel)
    if arr.shape[0] == 0:
        raise DataError(f"{where} holds no clips (shape {arr.shape}); give at least one")
    arr, n_bad = check_values(arr, where=where, nan_policy=nan_policy)
    return CheckedImages(np.ascontiguousarray(arr, dtype=np.float32), LAYOUTS[channel], n_bad)
