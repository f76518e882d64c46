"""Shared machinery of the scalers: input layouts, zero-scale handling, the two base classes.

Every scaler accepts ``(n_clips, n_mels, n_frames)`` images and flattened ``(n_clips,
n_features)`` rows. :func:`_as_2d` validates either layout and returns the flat float view plus the
image shape, so each scaler implements its arithmetic once.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from sndiag.errors import DataError, NotInvertibleError, ParameterError, ShapeError

__all__ = ["NotInvertibleError"]  # re-exported from sndiag.errors

#: dtypes a scaler computes in; anything else (ints, float16) becomes float64.
_FLOAT_DTYPES = (np.float64, np.float32)


#: A scale (std, range, max |x|, IQR) below this fraction of ``max(1, |training data|)`` counts as
#: zero: its gain would exceed 1e30, so float32 output would overflow for test values ~1e8 times
#: the training range. Real spectrograms stay far above it (FSDD's smallest non-zero pixel std is
#: 2e-25 of its largest value); an absolute ``10 * eps`` (scikit-learn's floor for ranges) would not.
_TINY_SCALE = 1e-30


def _handle_zeros_in_scale(scale: np.ndarray | float, *, copy: bool = True) -> np.ndarray:
    """Set scales of (near-)constant pixels, rows or clips to 1, so dividing never makes inf/NaN.

    A scale counts as zero when it is below ``10 * eps`` (float64) or not finite; such a pixel has
    no spread in the training data, so leaving it unscaled (gain 1) is the only safe choice. This
    mirrors ``sklearn.preprocessing._data._handle_zeros_in_scale``.

    Examples
    --------
    >>> _handle_zeros_in_scale(np.array([0.0, 1e-20, 0.5, np.inf]))
    array([1. , 1. , 0.5, 1. ])
    """
    out = np.array(scale, dtype=np.float64, copy=copy, ndmin=1)
    bad = ~np.isfinite(out) | (np.abs(out) < 10 * np.finfo(np.float64).eps)
    out[bad] = 1.0
    return out


def _is_constant(var: np.ndarray, mean: np.ndarray, n_samples: Any) -> np.ndarray:
    """Where a variance is float64 rounding noise of a constant (scikit-learn's test).

    The bound of the two-pass variance algorithm (Chan, Golub and LeVeque), as in
    ``sklearn.preprocessing._data._is_constant_feature``: a constant pixel of value ``1e6`` may come
    out with a variance of ``1e-20`` instead of 0.

    Examples
    --------
    >>> _is_constant(np.array([1e-20, 1e-20]), np.array([1e6, 0.0]), 10).tolist()
    [True, False]
    """
    eps = np.finfo(np.float64).eps
    var = np.asarray(var, dtype=np.float64)
    mean = np.asarray(mean, dtype=np.float64)
    return var <= n_samples * eps * var + (n_samples * mean * eps) ** 2


def _zero_scale(scale: np.ndarray | float, *, magnitude: float,
                constant: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(scale with its zeros set to 1, mask of them)``: the one rule of every fitted scaler.

    A scale counts as zero when it is not finite, zero, below ``_TINY_SCALE * max(1, magnitude)``
    (``magnitude``: the largest ``|x|`` of the training data), or marked in ``constant``
    (e.g. :func:`_is_constant`). Dividing by such a scale would only amplify rounding noise, or
    overflow: a std of ``6e-39`` gives a gain of ``1.7e38``, and float32 output of ``inf``.

    Examples
    --------
    >>> scale, flagged = _zero_scale(np.array([0.0, 6e-39, 1e-20, 2.0]), magnitude=1e3)
    >>> scale, flagged.tolist()
    (array([1.e+00, 1.e+00, 1.e-20, 2.e+00]), [True, True, False, False])
    """
    out = np.array(scale, dtype=np.float64, ndmin=1)
    floor = _TINY_SCALE * max(1.0, float(magnitude)) if math.isfinite(magnitude) else math.inf
    bad = ~np.isfinite(out) | (np.abs(out) < floor)
    if constant is not None:
        bad |= np.asarray(constant, dtype=bool).reshape(out.shape)
    out[bad] = 1.0
    return out, bad


def _abs_max(X2: np.ndarray) -> float:
    """Largest ``|x|`` of ``X2`` (0 when empty), without allocating ``abs(X2)``."""
    if not X2.size:
        return 0.0
    return float(max(abs(float(X2.min())), abs(float(X2.max()))))


def _check_shape_param(shape: Any) -> tuple[int, int] | None:
    """Validate the ``shape=(n_mels, n_frames)`` parameter; return it as a tuple or None."""
    if shape is None:
        return None
    try:
        dims = tuple(shape)
    except TypeError:
        dims = ()
    if len(dims) != 2 or not all(isinstance(d, int | np.integer) and not isinstance(d, bool)
                                 and d > 0 for d in dims):
        raise ParameterError(f"shape={shape!r} must be None or two positive integers "
                             "(n_mels, n_frames), e.g. shape=(60, 130)")
    return (int(dims[0]), int(dims[1]))


def _positive(name: str, value: Any, *, allow_zero: bool = False) -> float:
    """``value`` as a float, or a ParameterError naming ``name`` when it is not > 0 (or >= 0)."""
    ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    v = float(value) if ok else math.nan
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ParameterError(f"{name}={value!r} must be a finite number {bound}")
    return v


def _reraise(exc: ValueError) -> None:
    """Re-raise a scikit-learn validation ValueError as the matching sndiag error (same message)."""
    msg = str(exc)
    if "features" in msg and "expecting" in msg:
        raise ShapeError(f"{msg}; transform data with the layout the scaler was fitted on") from None
    if "NaN" in msg or "infinity" in msg:
        raise DataError(f"{msg}; replace them first (e.g. np.nan_to_num) or fix the source") from None
    raise DataError(msg) from None


def _ndim(X: Any) -> int | None:
    """Number of dimensions of ``X`` without converting it (None when unknown: let sklearn judge)."""
    if sp.issparse(X):
        return 2
    if isinstance(X, np.ndarray):
        return X.ndim
    if isinstance(X, list | tuple):
        try:
            return int(np.ndim(X))
        except ValueError:  # ragged nested lists
            return None
    return getattr(X, "ndim", None)


def _as_2d(est: BaseEstimator, X: Any, *, reset: bool, stateful: bool
           ) -> tuple[np.ndarray, tuple[int, int], tuple[int, ...]]:
    """Validate ``X`` and return ``(X2, image_shape, out_shape)``.

    ``X2`` is the ``(n_clips, n_features)`` float32/float64 view, ``image_shape`` how one row
    folds into ``(n_mels, n_frames)`` and ``out_shape`` the layout to give the result back in.
    3-D input carries its own image shape; 2-D input folds by the ``shape`` parameter, else by
    the fitted ``image_shape_``, else as ``(n_features, 1)`` (each feature its own band).
    A stateful scaler checks both layouts against what it was fitted on; a stateless one checks
    only the feature count of 2-D input (scikit-learn's contract).
    """
    shape = _check_shape_param(getattr(est, "shape", None))
    name = type(est).__name__
    try:
        if _ndim(X) == 3:
            arr = np.asarray(X)
            img = (int(arr.shape[1]), int(arr.shape[2]))
            if shape is not None and img != shape:
                raise ShapeError(f"X holds images of shape {img} but {name} has shape={shape}; "
                                 "pass shape=None or matching data")
            fitted = getattr(est, "image_shape_", None)
            if stateful and not reset and tuple(fitted) != img:
                raise ShapeError(f"X holds images of shape {img} but {name} was fitted on "
                                 f"{tuple(fitted)}; transform data of the training layout")
            flat = arr.reshape(arr.shape[0], img[0] * img[1])
            if reset or stateful:
                X2 = validate_data(est, flat, reset=reset, dtype=_FLOAT_DTYPES)
            else:
                X2 = check_array(flat, dtype=_FLOAT_DTYPES)
            return X2, img, (X2.shape[0], *img)
        X2 = validate_data(est, X, reset=reset, dtype=_FLOAT_DTYPES)
    except ValueError as exc:
        if isinstance(exc, ShapeError | DataError | ParameterError):
            raise
        _reraise(exc)
    n_features = X2.shape[1]
    fitted = getattr(est, "image_shape_", None)
    if shape is not None:
        img = shape
    elif not reset and fitted is not None and fitted[0] * fitted[1] == n_features:
        img = tuple(fitted)
    else:
        img = (n_features, 1)
    if img[0] * img[1] != n_features:
        raise ShapeError(f"X has {n_features} features per row but shape={img} holds "
                         f"{img[0] * img[1]} pixels; give shape=(n_mels, n_frames) of the data")
    return X2, img, X2.shape


def _empirical_gain(X2: np.ndarray, Z2: np.ndarray, image_shape: tuple[int, int]) -> np.ndarray:
    """Per-pixel ``std(Z) / std(X)`` over clips; pixels with zero std in ``X`` get gain 1.

    Examples
    --------
    >>> X = np.array([[0.0, 1.0], [2.0, 1.0]])
    >>> _empirical_gain(X, 3 * X, (2, 1))
    array([[3.],
           [1.]])
    """
    with np.errstate(all="ignore"):
        sx = np.asarray(X2, dtype=np.float64).std(axis=0)
        sz = np.asarray(Z2, dtype=np.float64).std(axis=0)
        gain = sz / _handle_zeros_in_scale(sx)
    flat = np.abs(sx) < 10 * np.finfo(np.float64).eps
    gain[flat | ~np.isfinite(gain)] = 1.0
    return gain.reshape(image_shape)


class _ImageScaler(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Base of every sndiag scaler: layouts, tags, empirical gain."""

    #: True when the scaler learns nothing in ``fit`` (per-clip or pointwise transforms).
    _stateless: bool = False
    #: True when the scaler needs non-negative input (compressors of power spectrograms).
    _positive_only: bool = False

    def _check_params(self) -> None:
        """Validate parameters (called by ``fit`` and ``make_scaler``); override to add checks."""
        _check_shape_param(self.shape)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.input_tags.positive_only = self._positive_only
        tags.requires_fit = not self._stateless
        return tags

    def _check_non_negative(self, X2: np.ndarray) -> None:
        if X2.size and float(X2.min()) < 0:
            raise DataError(
                f"Negative values in data passed to {type(self).__name__} (min {float(X2.min()):.4g}): "
                "it compresses power or magnitude spectrograms, which are >= 0. If X is already "
                "in dB, use a scaler without compression (e.g. 'band')"
            )

    def _image_shape_for(self, X: Any) -> tuple[int, int]:
        return _as_2d(self, X, reset=False, stateful=not self._stateless)[1]

    def _gain_needs_x(self) -> ParameterError:
        return ParameterError(f"{type(self).__name__}.gain_map needs X: its gain depends on the data, "
                              "so it is measured as std(transform(X)) / std(X) per pixel")


#: Clips transformed at a time by a stateless scaler: its float64 working copies then stay a few
#: MB instead of two copies of the data in float64 (every stateless transform is per clip).
APPLY_CHUNK_CLIPS = 256


def _apply_2d(fn: Callable[[np.ndarray], np.ndarray], X2: np.ndarray, img: tuple[int, int],
              out_shape: tuple[int, ...]) -> np.ndarray:
    """Run ``fn`` on the ``(k, n_mels, n_frames)`` float64 images of each chunk of clips; give the
    result back in ``X2``'s dtype and the layout ``out_shape``."""
    out = np.empty(X2.shape, dtype=X2.dtype)
    for i in range(0, X2.shape[0], APPLY_CHUNK_CLIPS):
        X3 = np.asarray(X2[i:i + APPLY_CHUNK_CLIPS], dtype=np.float64).reshape(-1, *img)
        out[i:i + APPLY_CHUNK_CLIPS] = np.asarray(fn(X3)).reshape(X3.shape[0], -1)
    return out.reshape(out_shape)


def _affine_reset(est: BaseEstimator) -> None:
    """Forget a previous fit: delete every public fitted attribute (``name_``)."""
    for key in [k for k in vars(est) if k.endswith("_") and not k.startswith("_")]:
        delattr(est, key)


class _AffineScaler(_ImageScaler):
    """A fitted per-pixel affine map ``(x - offset_) / scale_``.

    Subclasses set ``offset_`` and ``scale_`` (broadcastable to ``image_shape_``) in ``fit`` or
    ``partial_fit``; transform, inverse and gain map come from here and use only that state.
    """

    def affine_maps(self) -> tuple[np.ndarray, np.ndarray]:
        """``(offset, scale)`` as ``(n_mels, n_frames)`` float64 maps: ``transform(x) = (x -
        offset) / scale`` pixel by pixel. What effects and exports read (never a probe).

        Examples
        --------
        >>> from sndiag.scalers import make_scaler
        >>> off, sc = make_scaler("band").fit(np.arange(12.0).reshape(2, 2, 3)).affine_maps()
        >>> off.shape, sc.shape
        ((2, 3), (2, 3))
        """
        check_is_fitted(self)
        img = tuple(self.image_shape_)
        off = np.broadcast_to(np.asarray(self.offset_, dtype=np.float64), img)
        sc = np.broadcast_to(np.asarray(self.scale_, dtype=np.float64), img)
        return np.array(off), np.array(sc)

    def _flat_maps(self) -> tuple[np.ndarray, np.ndarray]:
        off, sc = self.affine_maps()
        return off.ravel(), sc.ravel()

    def transform(self, X: Any) -> np.ndarray:
        """Scale ``X`` with the training statistics: ``(X - offset_) / scale_``.

        Parameters
        ----------
        X : array-like [shape=(n_clips, n_mels, n_frames) or (n_clips, n_features)]

        Returns
        -------
        np.ndarray, same shape as ``X``; float32 for float32 input, else float64.
        """
        check_is_fitted(self)
        X2, _, out_shape = _as_2d(self, X, reset=False, stateful=True)
        off, sc = self._flat_maps()
        Z = X2.astype(np.float64)  # one float64 copy, scaled in place
        Z -= off
        Z /= sc
        return Z.astype(X2.dtype, copy=False).reshape(out_shape)

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Undo :meth:`transform`: ``X * scale_ + offset_``, same layout as ``X``."""
        check_is_fitted(self)
        X2, _, out_shape = _as_2d(self, X, reset=False, stateful=True)
        off, sc = self._flat_maps()
        Z = X2.astype(np.float64)
        Z *= sc
        Z += off
        return Z.astype(X2.dtype, copy=False).reshape(out_shape)

    def gain_map(self, X: Any = None) -> np.ndarray:
        """Per-pixel noise gain ``1 / scale_`` as an ``(n_mels, n_frames)`` map (``X`` is ignored).

        A small perturbation ``d`` of pixel ``(m, t)`` becomes ``d * gain[m, t]`` after scaling.
        """
        check_is_fitted(self)
        _, sc = self._flat_maps()
        return (1.0 / sc).reshape(self.image_shape_)


class _StatelessScaler(_ImageScaler):
    """A transform that learns nothing: ``fit`` only validates and records the input layout.

    ``transform`` works unfitted (scikit-learn's ``requires_fit=False``), on 3-D input of any
    image shape; after ``fit``, 2-D input must have the fitted feature count.
    """

    _stateless = True
    _invertible = True

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def fit(self, X: Any, y: Any = None) -> _StatelessScaler:
        """Validate parameters and ``X``; record ``n_features_in_`` and ``image_shape_``.

        Parameters
        ----------
        X : array-like [shape=(n_clips, n_mels, n_frames) or (n_clips, n_features)]
        y : ignored

        Returns
        -------
        self
        """
        self._check_params()
        X2, img, _ = _as_2d(self, X, reset=True, stateful=False)
        if self._positive_only:
            self._check_non_negative(X2)
        self.image_shape_ = img
        return self

    def _forward(self, X3: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _backward(self, Z3: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def transform(self, X: Any) -> np.ndarray:
        """Apply the transform (no fitted state is used).

        Parameters
        ----------
        X : array-like [shape=(n_clips, n_mels, n_frames) or (n_clips, n_features)]

        Returns
        -------
        np.ndarray, same shape as ``X``; float32 for float32 input, else float64.
        """
        self._check_params()
        X2, img, out_shape = _as_2d(self, X, reset=False, stateful=False)
        if self._positive_only:
            self._check_non_negative(X2)
        return _apply_2d(self._forward, X2, img, out_shape)

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Undo :meth:`transform` (raises :class:`NotInvertibleError` when it loses information)."""
        if not self._invertible:
            raise NotInvertibleError(
                f"{type(self).__name__} is not invertible: {self._why_not_invertible()}; "
                "keep the untransformed data if you need it back"
            )
        self._check_params()
        X2, img, out_shape = _as_2d(self, X, reset=False, stateful=False)
        return _apply_2d(self._backward, X2, img, out_shape)

    def _why_not_invertible(self) -> str:
        return "it loses information"

    def gain_map(self, X: Any = None) -> np.ndarray:
        """Empirical per-pixel noise gain ``std(transform(X)) / std(X)`` over the clips of ``X``.

        Pixels whose std in ``X`` is zero get gain 1. ``X`` is required: the gain of a per-clip
        or non-linear transform depends on the data.
        """
        if X is None:
            raise self._gain_needs_x()
        X2, img, _ = _as_2d(self, X, reset=False, stateful=False)
        Z2 = np.asarray(self.transform(X)).reshape(X2.shape)
        return _empirical_gain(X2, Z2, img)


def affine_maps(scaler: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """``(offset, scale)`` maps of a fitted per-pixel affine scaler, else None.

    The one answer to "is this scaler affine?": the fitted scalers (``standard``, ``band``,
    ``robust``, ...) are; the identity ``none`` is (offset 0, scale 1, once it knows its shape);
    compressions, per-clip scaling and compositions with them are not.

    Examples
    --------
    >>> from sndiag.scalers import make_scaler
    >>> X = np.random.default_rng(0).random((5, 2, 3))
    >>> affine_maps(make_scaler("log1p").fit(X)) is None
    True
    >>> affine_maps(make_scaler("none").fit(X))[1].tolist()
    [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    """
    if isinstance(scaler, _AffineScaler):
        return scaler.affine_maps()
    if getattr(scaler, "_identity", False) and hasattr(scaler, "image_shape_"):
        img = tuple(scaler.image_shape_)
        return np.zeros(img), np.ones(img)
    return None
