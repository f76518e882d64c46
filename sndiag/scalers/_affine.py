"""Fitted affine scalers: one ``(x - offset_) / scale_`` map learnt from the training set.

The statistics come from scikit-learn's own scalers run on a reshaped view of the data (pixels,
rows pooled over frames, or everything pooled), so their numerics (float64 accumulation,
incremental updates) are scikit-learn's. Near-constant pixels follow one rule everywhere
(:func:`sndiag.scalers._base._zero_scale`): scikit-learn's own tests, plus a scale below
``1e-30 * max(1, max|X|)`` of the training data, get scale 1 and are flagged in ``zero_scale_``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, RobustScaler, StandardScaler

from sndiag.errors import ParameterError
from sndiag.scalers._base import (
    _abs_max,
    _affine_reset,
    _AffineScaler,
    _as_2d,
    _is_constant,
    _positive,
    _zero_scale,
)

__all__ = [
    "BandScaler",
    "GlobalScaler",
    "MedianScaler",
    "PixelMaxAbsScaler",
    "PixelMinMaxScaler",
    "PixelRobustScaler",
    "PixelStandardScaler",
    "StdFloorScaler",
]


#: Clips handed to the wrapped scikit-learn scaler per ``partial_fit`` call. Its float64
#: temporaries then stay a few MB (cache-sized, reused) instead of several copies of the data;
#: on FSDD (3000 x 60 x 130) a fit takes ~55 ms in chunks instead of ~90-470 ms in one call.
FIT_CHUNK_CLIPS = 128


def _check_bool(name: str, value: Any) -> None:
    if not isinstance(value, bool | np.bool_):
        raise ParameterError(f"{name}={value!r} must be True or False")


class _IncrementalAffine(_AffineScaler):
    """An affine scaler fitted by scikit-learn's ``partial_fit`` on a reshaped view.

    Subclasses say how to reshape (:meth:`_view`), which scikit-learn scaler to run
    (:meth:`_make_inner`) and how to turn its state into ``offset_``/``scale_``
    (:meth:`_set_state`).
    """

    def _make_inner(self) -> Any:
        raise NotImplementedError

    def _view(self, X2: np.ndarray, img: tuple[int, int]) -> np.ndarray:
        return X2

    def _set_state(self) -> None:
        raise NotImplementedError

    def fit(self, X: Any, y: Any = None) -> Any:
        """Compute the statistics on training data ``X`` (forgets any earlier fit).

        Parameters
        ----------
        X : array-like [shape=(n_clips, n_mels, n_frames) or (n_clips, n_features)]
            Training spectrograms; 2-D rows are folded by ``shape`` (else one band per feature).
        y : ignored

        Returns
        -------
        self
        """
        _affine_reset(self)
        return self.partial_fit(X, y)

    def partial_fit(self, X: Any, y: Any = None) -> Any:
        """Update the statistics with one more batch of training clips.

        Parameters
        ----------
        X : array-like [shape=(n_clips, n_mels, n_frames) or (n_clips, n_features)]
        y : ignored

        Returns
        -------
        self
        """
        self._check_params()
        first = not hasattr(self, "scaler_")
        X2, img, _ = _as_2d(self, X, reset=first, stateful=True)
        if first:
            self.scaler_ = self._make_inner()
            self.image_shape_ = img
            self.n_samples_seen_ = 0
            self.data_abs_max_ = 0.0
        for i in range(0, X2.shape[0], FIT_CHUNK_CLIPS):  # bounded temporaries; same statistics
            self.scaler_.partial_fit(self._view(X2[i:i + FIT_CHUNK_CLIPS], img))
        self.n_samples_seen_ += int(X2.shape[0])
        # (getattr: an export written before this attribute existed can still be updated)
        self.data_abs_max_ = max(float(getattr(self, "data_abs_max_", 0.0)), _abs_max(X2))
        self._set_state()
        return self


class _StandardFamily(_IncrementalAffine):
    """Mean/std scalers (per pixel, per band, global): one ``StandardScaler`` on a view."""

    def __init__(self, *, shape: tuple[int, int] | None = None, with_mean: bool = True,
                 with_std: bool = True) -> None:
        self.shape = shape
        self.with_mean = with_mean
        self.with_std = with_std

    def _check_params(self) -> None:
        super()._check_params()
        _check_bool("with_mean", self.with_mean)
        _check_bool("with_std", self.with_std)

    def _make_inner(self) -> StandardScaler:
        return StandardScaler(with_mean=bool(self.with_mean), with_std=bool(self.with_std))

    def _std_scale(self, shape: tuple[int, ...]) -> None:
        """Set ``scale_`` and ``zero_scale_`` (of ``shape``) from the wrapped scaler's variance.

        scikit-learn only replaces stds that are rounding noise relative to the mean; a std of
        ``6e-39`` next to a mean of ``6e-39`` stays, with a gain of ``1.7e38``. Here such a std
        also counts as zero (:func:`~sndiag.scalers._base._zero_scale`).
        """
        inner = self.scaler_
        if not self.with_std:
            self.scale_ = np.ones(shape)
            self.zero_scale_ = np.zeros(shape, dtype=bool)
            return
        var = np.asarray(inner.var_, np.float64)
        constant = _is_constant(var, np.asarray(inner.mean_, np.float64), inner.n_samples_seen_)
        scale, flagged = _zero_scale(np.sqrt(var), magnitude=self.data_abs_max_,
                                     constant=constant)
        self.scale_ = scale.reshape(shape)
        self.zero_scale_ = flagged.reshape(shape)


class PixelStandardScaler(_StandardFamily):
    """Per-pixel standardization ``(X - X.mean(0)) / X.std(0)``, the practice under diagnosis.

    Wraps :class:`sklearn.preprocessing.StandardScaler` on the flattened images, so every pixel
    ``(m, t)`` gets its own training mean and std (``ddof=0``). Pixels whose std counts as zero
    (rounding noise, or below ``1e-30 * max(1, max|X|)``) get scale 1 and are flagged in
    ``zero_scale_``. Its noise gain is ``1 / std``: largest exactly on quiet or noisy low-SNR
    pixels.

    Parameters
    ----------
    shape : tuple of int (n_mels, n_frames), optional
        How a 2-D ``(n_clips, n_features)`` input folds into images; None reads 3-D input as is
        and 2-D input as one band per feature.
    with_mean : bool
        Subtract the per-pixel mean.
    with_std : bool
        Divide by the per-pixel std.

    Attributes
    ----------
    mean_, var_ : np.ndarray [shape=(n_mels, n_frames)] or None
        Per-pixel training mean and variance (None when neither is used).
    offset_, scale_ : np.ndarray [shape=(n_mels, n_frames)]
        ``transform(X) = (X - offset_) / scale_``.
    zero_scale_ : np.ndarray of bool [shape=(n_mels, n_frames)]
        Pixels whose std counted as zero, so their scale is 1 (gain 1).
    data_abs_max_ : float
        Largest ``|x|`` of the training data (the reference of the zero-scale rule).
    scaler_ : sklearn.preprocessing.StandardScaler
        The wrapped scaler, fitted on the flattened images.
    image_shape_ : tuple of int
    n_samples_seen_ : int
        Clips seen by ``fit``/``partial_fit``.
    n_features_in_ : int

    See Also
    --------
    StdFloorScaler : the same with a floor on the std, which caps the noise gain.
    BandScaler : one mean and std per mel band.

    Examples
    --------
    >>> X = np.array([[[1.0, 2.0], [0.0, 5.0]], [[3.0, 2.0], [0.2, 7.0]]])
    >>> s = PixelStandardScaler().fit(X)
    >>> s.scale_
    array([[1. , 1. ],
           [0.1, 1. ]])
    >>> s.transform(X)[0]
    array([[-1.,  0.],
           [-1., -1.]])
    >>> s.gain_map()
    array([[ 1.,  1.],
           [10.,  1.]])
    >>> s.zero_scale_.tolist()                            # the constant pixels
    [[False, True], [False, False]]
    """

    def _set_state(self) -> None:
        img, inner = self.image_shape_, self.scaler_
        self.mean_ = None if inner.mean_ is None else np.asarray(inner.mean_, np.float64).reshape(img)
        self.var_ = None if inner.var_ is None else np.asarray(inner.var_, np.float64).reshape(img)
        self.offset_ = self.mean_.copy() if self.with_mean else np.zeros(img)
        self._std_scale(img)


class StdFloorScaler(_IncrementalAffine):
    """Per-pixel standardization with a floor on the std: ``(X - mean) / max(std, floor)``.

    The floor caps the noise gain at ``1 / floor``: pixels quieter than the floor are divided by
    the floor instead of by their own tiny std, so near-silent rows are no longer blown up to the
    level of the signal. The floor is ``floor`` when given, else the ``floor_percentile``
    percentile of the positive entries of the training std map. Statistics come from
    :class:`sklearn.preprocessing.StandardScaler`; the floor is re-derived after every
    ``partial_fit``.

    Parameters
    ----------
    shape : tuple of int (n_mels, n_frames), optional
        How 2-D input folds into images (see :class:`PixelStandardScaler`).
    floor : float, optional
        Absolute std floor (>= 0); takes precedence over ``floor_percentile``.
    floor_percentile : float
        Percentile (0..100) of the positive training stds used as floor when ``floor`` is None.

    Attributes
    ----------
    mean_, std_ : np.ndarray [shape=(n_mels, n_frames)]
        Per-pixel training mean and std.
    floor_ : float
        The floor used.
    offset_, scale_ : np.ndarray [shape=(n_mels, n_frames)]
        ``offset_ = mean_``, ``scale_ = max(std_, floor_)`` (1 where both count as zero).
    zero_scale_ : np.ndarray of bool [shape=(n_mels, n_frames)]
        Pixels whose ``max(std_, floor_)`` counted as zero, so their scale is 1.
    data_abs_max_ : float
        Largest ``|x|`` of the training data (the reference of the zero-scale rule).
    scaler_ : sklearn.preprocessing.StandardScaler
    image_shape_ : tuple of int
    n_samples_seen_, n_features_in_ : int

    Examples
    --------
    >>> X = np.array([[[1.0, 2.0], [0.0, 5.0]], [[3.0, 4.0], [0.2, 7.0]]])
    >>> s = StdFloorScaler(floor=0.5).fit(X)
    >>> s.scale_
    array([[1. , 1. ],
           [0.5, 1. ]])
    >>> float(s.gain_map().max())
    2.0
    >>> StdFloorScaler(floor_percentile=50).fit(X).floor_
    1.0
    """

    def __init__(self, *, shape: tuple[int, int] | None = None, floor: float | None = None,
                 floor_percentile: float = 25.0) -> None:
        self.shape = shape
        self.floor = floor
        self.floor_percentile = floor_percentile

    def _check_params(self) -> None:
        super()._check_params()
        if self.floor is not None:
            _positive("floor", self.floor, allow_zero=True)
        p = self.floor_percentile
        ok = isinstance(p, int | float | np.integer | np.floating) and not isinstance(p, bool)
        if not ok or not (math.isfinite(float(p)) and 0 <= float(p) <= 100):
            raise ParameterError(f"floor_percentile={p!r} must be a number between 0 and 100, "
                                 "e.g. 25 for the lower quartile of the std map")

    def _make_inner(self) -> StandardScaler:
        return StandardScaler()

    def _set_state(self) -> None:
        img, inner = self.image_shape_, self.scaler_
        var = np.asarray(inner.var_, np.float64)
        self.mean_ = np.asarray(inner.mean_, np.float64).reshape(img)
        self.std_ = np.sqrt(var).reshape(img)
        # the stds that count as zero take no part in the percentile, and do not beat the floor
        _, zero = _zero_scale(self.std_, magnitude=self.data_abs_max_,
                              constant=_is_constant(var, inner.mean_, inner.n_samples_seen_))
        std = np.where(zero, 0.0, self.std_)
        if self.floor is not None:
            self.floor_ = float(self.floor)
        else:
            usable = std[~zero]
            self.floor_ = float(np.percentile(usable, self.floor_percentile)) if usable.size else 0.0
        self.offset_ = self.mean_.copy()
        scale, flagged = _zero_scale(np.maximum(std, self.floor_), magnitude=self.data_abs_max_)
        self.scale_ = scale.reshape(img)
        self.zero_scale_ = flagged.reshape(img)


class BandScaler(_StandardFamily):
    """Per-band standardization (CMVN): one mean and std per mel row, pooled over frames and clips.

    Every pixel of row ``m`` is mapped by the same ``(x - mean_[m]) / scale_[m]``, so rows are
    put on a common level while the time structure inside a row (and the quiet frames of a noisy
    row) keeps its relative size. Wraps :class:`sklearn.preprocessing.StandardScaler` on the
    ``(n_clips * n_frames, n_mels)`` view. Rows whose std counts as zero get scale 1 and are
    flagged in ``zero_scale_``.

    Parameters
    ----------
    shape : tuple of int (n_mels, n_frames), optional
        How 2-D input folds into images; without it each feature is its own band, which makes
        this per-feature standardization.
    with_mean : bool
        Subtract the row mean.
    with_std : bool
        Divide by the row std.

    Attributes
    ----------
    mean_, var_ : np.ndarray [shape=(n_mels, 1)] or None
    offset_, scale_ : np.ndarray [shape=(n_mels, 1)]
        ``transform(X) = (X - offset_) / scale_``, broadcast along frames.
    zero_scale_ : np.ndarray of bool [shape=(n_mels, 1)]
        Rows whose std counted as zero, so their scale is 1.
    data_abs_max_ : float
    scaler_ : sklearn.preprocessing.StandardScaler
    image_shape_ : tuple of int
    n_samples_seen_, n_features_in_ : int

    Examples
    --------
    >>> X = np.array([[[1.0, 3.0], [0.0, 0.0]], [[1.0, 3.0], [0.0, 0.0]]])
    >>> s = BandScaler().fit(X)
    >>> s.mean_.ravel(), s.scale_.ravel()
    (array([2., 0.]), array([1., 1.]))
    >>> s.transform(X)[0]
    array([[-1.,  1.],
           [ 0.,  0.]])
    """

    def _view(self, X2: np.ndarray, img: tuple[int, int]) -> np.ndarray:
        n_mels, n_frames = img
        return X2.reshape(-1, n_mels, n_frames).transpose(0, 2, 1).reshape(-1, n_mels)

    def _set_state(self) -> None:
        n_mels = self.image_shape_[0]
        inner = self.scaler_
        self.mean_ = None if inner.mean_ is None else np.asarray(inner.mean_, np.float64).reshape(n_mels, 1)
        self.var_ = None if inner.var_ is None else np.asarray(inner.var_, np.float64).reshape(n_mels, 1)
        self.offset_ = self.mean_.copy() if self.with_mean else np.zeros((n_mels, 1))
        self._std_scale((n_mels, 1))


class GlobalScaler(_StandardFamily):
    """One mean and one std over every pixel of every training clip.

    A change of units: all pixels get the same gain ``1 / scale_``, so the relative levels of
    rows (and their SNR) are unchanged. Wraps :class:`sklearn.preprocessing.StandardScaler` on
    the ``(n_values, 1)`` view.

    Parameters
    ----------
    shape : tuple of int (n_mels, n_frames), optional
        How 2-D input folds into images (only affects the gain map's shape).
    with_mean, with_std : bool
        Subtract the global mean / divide by the global std.

    Attributes
    ----------
    mean_, var_ : float or None
    offset_, scale_ : float
    zero_scale_ : bool
        Whether the global std counted as zero (then ``scale_`` is 1).
    data_abs_max_ : float
    scaler_ : sklearn.preprocessing.StandardScaler
    image_shape_ : tuple of int
    n_samples_seen_, n_features_in_ : int

    Examples
    --------
    >>> X = np.array([[[0.0, 2.0]], [[4.0, 6.0]]])
    >>> s = GlobalScaler().fit(X)
    >>> s.mean_, round(s.scale_, 4)
    (3.0, 2.2361)
    >>> s.gain_map().shape
    (1, 2)
    """

    def _view(self, X2: np.ndarray, img: tuple[int, int]) -> np.ndarray:
        return X2.reshape(-1, 1)

    def _set_state(self) -> None:
        inner = self.scaler_
        self.mean_ = None if inner.mean_ is None else float(inner.mean_[0])
        self.var_ = None if inner.var_ is None else float(inner.var_[0])
        self.offset_ = float(self.mean_) if self.with_mean else 0.0
        self._std_scale((1,))
        self.scale_ = float(self.scale_[0])
        self.zero_scale_ = bool(self.zero_scale_[0])


class PixelMinMaxScaler(_IncrementalAffine):
    """Per-pixel min-max scaling to ``feature_range`` (wraps ``MinMaxScaler``).

    Wraps :class:`sklearn.preprocessing.MinMaxScaler`.
    The gain is ``(hi - lo) / (max - min)`` per pixel: a near-silent pixel with a small range gets
    a large gain, like per-pixel standardization. Pixels whose range counts as zero (below
    scikit-learn's ``10 * eps``, or ``1e-30 * max(1, max|X|)``) are mapped with gain ``hi - lo``
    around ``lo`` (scikit-learn's choice) and flagged in ``zero_scale_``.

    Parameters
    ----------
    shape : tuple of int (n_mels, n_frames), optional
        How 2-D input folds into images.
    feature_range : tuple of float (lo, hi)
        Target range of the training values of each pixel.

    Attributes
    ----------
    data_min_, data_max_ : np.ndarray [shape=(n_mels, n_frames)]
    offset_, scale_ : np.ndarray [shape=(n_mels, n_frames)]
        ``transform(X) = (X - offset_) / scale_``.
    zero_scale_ : np.ndarray of bool [shape=(n_mels, n_frames)]
        Pixels whose training range counted as zero.
    data_abs_max_ : float
    scaler_ : sklearn.preprocessing.MinMaxScaler
    image_shape_ : tuple of int
    n_samples_seen_, n_features_in_ : int

    Examples
    --------
    >>> X = np.array([[[0.0, 10.0]], [[2.0, 30.0]]])
    >>> PixelMinMaxScaler().fit(X).transform(X)
    array([[[0., 0.]],
    <BLANKLINE>
           [[1., 1.]]])
    """

    def __init__(self, *, shape: tuple[int, int] | None = None,
                 feature_range: tuple[float, float] = (0.0, 1.0)) -> None:
        self.shape = shape
        self.feature_range = feature_range

    def _check_params(self) -> None:
        super()._check_params()
        fr = self.feature_range
        try:
            lo, hi = (float(v) for v in fr)
        except (TypeError, ValueError):
            lo = hi = math.nan
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi and math.isfinite(hi - lo)):
            raise ParameterError(f"feature_range={fr!r} must be two finite numbers lo < hi "
                                 "(hi - lo finite too), e.g. (0, 1)")

    def _make_inner(self) -> MinMaxScaler:
        lo, hi = (float(v) for v in self.feature_range)
        return MinMaxScaler(feature_range=(lo, hi))

    def _set_state(self) -> None:
        img, inner = self.image_shape_, self.scaler_
        lo, hi = (float(v) for v in self.feature_range)
        self.data_min_ = np.asarray(inner.data_min_, np.float64).reshape(img)
        self.data_max_ = np.asarray(inner.data_max_, np.float64).reshape(img)
        data_range = np.asarray(inner.data_range_, np.float64)
        rng, zero = _zero_scale(data_range, magnitude=self.data_abs_max_,
                                constant=data_range < 10 * np.finfo(np.float64).eps)
        with np.errstate(all="ignore"):
            scale = rng / (hi - lo)
            ok = np.isfinite(scale).all() and np.isfinite(1.0 / scale).all()
        if not ok:
            raise ParameterError(f"feature_range={self.feature_range!r} is {hi - lo:.3g} wide: the "
                                 "gain of the pixels with the smallest training range would "
                                 "overflow float64; use a narrower feature_range, e.g. (0, 1)")
        self.scale_ = scale.reshape(img)
        self.offset_ = self.data_min_ - lo * self.scale_
        self.zero_scale_ = zero.reshape(img)


class PixelMaxAbsScaler(_IncrementalAffine):
    """Per-pixel division by the largest training magnitude (wraps ``MaxAbsScaler``).

    Wraps :class:`sklearn.preprocessing.MaxAbsScaler`.
    No centring; the gain is ``1 / max|x|`` per pixel, so near-silent pixels get a large gain
    while pixels with rare loud bursts are damped more than by standardization.

    Parameters
    ----------
    shape : tuple of int (n_mels, n_frames), optional
        How 2-D input folds into images.

    Attributes
    ----------
    max_abs_ : np.ndarray [shape=(n_mels, n_frames)]
    offset_, scale_ : np.ndarray [shape=(n_mels, n_frames)]
        ``offset_ = 0``, ``scale_ = max_abs_`` (1 where it counts as zero).
    zero_scale_ : np.ndarray of bool [shape=(n_mels, n_frames)]
        Pixels whose ``max_abs_`` counted as zero (scikit-learn's ``10 * eps``, or
        ``1e-30 * max(1, data_abs_max_)``).
    data_abs_max_ : float
    scaler_ : sklearn.preprocessing.MaxAbsScaler
    image_shape_ : tuple of int
    n_samples_seen_, n_features_in_ : int

    Examples
    --------
    >>> X = np.array([[[1.0, -4.0]], [[2.0, 0.0]]])
    >>> PixelMaxAbsScaler().fit(X).transform(X)[0]
    array([[ 0.5, -1. ]])
    """

    def __init__(self, *, shape: tuple[int, int] | None = None) -> None:
        self.shape = shape

    def _make_inner(self) -> MaxAbsScaler:
        return MaxAbsScaler()

    def _set_state(self) -> None:
        img, inner = self.image_shape_, self.scaler_
        self.max_abs_ = np.asarray(inner.max_abs_, np.float64).reshape(img)
        scale, zero = _zero_scale(self.max_abs_, magnitude=self.data_abs_max_,
                                  constant=self.max_abs_ < 10 * np.finfo(np.float64).eps)
        self.scale_ = scale.reshape(img)
        self.zero_scale_ = zero.reshape(img)
        self.offset_ = np.zeros(img)


def _fit_robust(inner: RobustScaler, X2: np.ndarray) -> tuple[RobustScaler, np.ndarray | None]:
    """``inner.fit(X2)`` for finite dense ``X2``, with all quantiles from one numpy call.

    Returns the fitted ``inner`` and the raw quantile ranges (before scikit-learn replaces the
    ones below ``10 * eps`` by 1), or None for them when scikit-learn did the fit.

    scikit-learn's ``RobustScaler.fit`` calls ``np.nanpercentile`` once per column (7800 calls
    for a 60 x 130 image: ~0.5 s on FSDD, most of it per-call overhead). On finite data that is
    the same linear interpolation as one vectorized ``np.percentile`` over axis 0 (~0.14 s for
    the median and both quantiles), so this computes ``center_`` and ``scale_`` that way and
    sets them exactly as scikit-learn does (centre in the data's dtype, ranges in float64 with
    those below ``10 * eps`` set to 1, the ``unit_variance`` adjustment);
    ``tests/test_scalers.py`` checks the result equals ``RobustScaler.fit`` bit for bit.
    Anything else (NaN, sparse, other dtypes) is left to scikit-learn.
    """
    if (not isinstance(X2, np.ndarray) or X2.dtype not in (np.float32, np.float64)
            or X2.ndim != 2 or X2.shape[0] == 0 or not np.isfinite(X2).all()):
        return inner.fit(X2), None
    if not (inner.with_centering or inner.with_scaling):
        return inner.fit(X2), None
    inner.n_features_in_ = int(X2.shape[1])
    # scikit-learn: np.nanmedian over axis 0 (keeps the dtype), np.nanpercentile per column
    # (float64). One call gives all three; the float64 midpoint of two float32 values is exact,
    # so casting it back gives np.median's float32 result.
    lo, hi = (float(v) for v in inner.quantile_range)
    wanted = ([50.0] if inner.with_centering else []) + ([lo, hi] if inner.with_scaling else [])
    q = np.median(X2, axis=0)[None] if wanted == [50.0] else np.percentile(X2, wanted, axis=0)
    inner.center_ = q[0].astype(X2.dtype) if inner.with_centering else None
    inner.scale_ = raw = None
    if inner.with_scaling:
        raw = q[-1] - q[-2]
        scale = raw.copy()
        scale[scale < 10 * np.finfo(scale.dtype).eps] = 1.0
        if inner.unit_variance:
            from scipy import stats

            scale = scale / (stats.norm.ppf(hi / 100.0) - stats.norm.ppf(lo / 100.0))
        inner.scale_ = scale
    return inner, raw


class _RobustBase(_AffineScaler):
    """Fit-only wrapper of :class:`sklearn.preprocessing.RobustScaler` (no ``partial_fit``)."""

    def _make_inner(self) -> RobustScaler:
        raise NotImplementedError

    def fit(self, X: Any, y: Any = None) -> Any:
        """Compute per-pixel medians (and quantile ranges) on training data ``X``.

        Parameters
        ----------
        X : array-like [shape=(n_clips, n_mels, n_frames) or (n_clips, n_features)]
        y : ignored

        Returns
        -------
        self
        """
        _affine_reset(self)
        self._check_params()
        X2, img, _ = _as_2d(self, X, reset=True, stateful=True)
        self.image_shape_ = img
        self.n_samples_seen_ = int(X2.shape[0])
        self.data_abs_max_ = _abs_max(X2)
        self.scaler_, raw_range = _fit_robust(self._make_inner(), X2)
        inner = self.scaler_
        self.center_ = (None if inner.center_ is None
                        else np.asarray(inner.center_, np.float64).reshape(img))
        self.offset_ = self.center_.copy() if self.center_ is not None else np.zeros(img)
        if inner.scale_ is None:
            self.scale_ = np.ones(img)
            self.zero_scale_ = np.zeros(img, dtype=bool)
        else:
            self._robust_scale(X2, np.asarray(inner.scale_, np.float64), img, raw_range)
        return self

    def _robust_scale(self, X2: np.ndarray, fitted: np.ndarray, img: tuple[int, int],
                      raw: np.ndarray | None = None) -> None:
        """``scale_`` and ``zero_scale_`` from scikit-learn's (adjusted) quantile ranges.

        scikit-learn replaced ranges below ``10 * eps`` by 1 (then divided all by the normal
        quantile range when ``unit_variance``); the raw range is only computed again for the
        pixels where that may have happened, to flag them.
        """
        from scipy import stats

        lo, hi = (float(v) for v in self.quantile_range)
        adjust = (float(stats.norm.ppf(hi / 100) - stats.norm.ppf(lo / 100))
                  if self.unit_variance else 1.0)
        rng = fitted * adjust
        maybe = np.flatnonzero(np.isclose(rng, 1.0, rtol=1e-9, atol=0.0))
        sklearn_zero = np.zeros(rng.shape, dtype=bool)
        if maybe.size and raw is not None:
            sklearn_zero[maybe] = raw[maybe] < 10 * np.finfo(np.float64).eps
        elif maybe.size:
            q = np.percentile(X2[:, maybe], [lo, hi], axis=0)
            sklearn_zero[maybe] = (q[1] - q[0]) < 10 * np.finfo(np.float64).eps
        rng, zero = _zero_scale(rng, magnitude=self.data_abs_max_, constant=sklearn_zero)
        self.scale_ = (rng / adjust).reshape(img)
        self.zero_scale_ = zero.reshape(img)


class PixelRobustScaler(_RobustBase):
    """Per-pixel median centring and interquartile-range scaling (wraps ``RobustScaler``).

    Wraps :class:`sklearn.preprocessing.RobustScaler`.
    Robust to loud outliers, but a near-silent pixel whose IQR is tiny (yet not zero) gets an
    enormous gain: the riskiest choice for silent rows. IQRs that count as zero (below
    scikit-learn's ``10 * eps``, or ``1e-30 * max(1, max|X|)``) get scale 1 and are flagged in
    ``zero_scale_``.

    Parameters
    ----------
    shape : tuple of int (n_mels, n_frames), optional
        How 2-D input folds into images.
    with_centering, with_scaling : bool
        Subtract the median / divide by the quantile range.
    quantile_range : tuple of float (q_min, q_max)
        Percentiles of the range, ``0 < q_min < q_max < 100``.
    unit_variance : bool
        Rescale so that normally distributed pixels get variance 1.

    Attributes
    ----------
    center_ : np.ndarray [shape=(n_mels, n_frames)] or None
    offset_, scale_ : np.ndarray [shape=(n_mels, n_frames)]
    zero_scale_ : np.ndarray of bool [shape=(n_mels, n_frames)]
        Pixels whose quantile range counted as zero.
    data_abs_max_ : float
    scaler_ : sklearn.preprocessing.RobustScaler
    image_shape_ : tuple of int
    n_samples_seen_, n_features_in_ : int

    Examples
    --------
    >>> X = np.array([[[0.0]], [[1.0]], [[2.0]], [[100.0]]])
    >>> s = PixelRobustScaler().fit(X)
    >>> s.center_, s.scale_
    (array([[1.5]]), array([[25.75]]))
    """

    def __init__(self, *, shape: tuple[int, int] | None = None, with_centering: bool = True,
                 with_scaling: bool = True, quantile_range: tuple[float, float] = (25.0, 75.0),
                 unit_variance: bool = False) -> None:
        self.shape = shape
        self.with_centering = with_centering
        self.with_scaling = with_scaling
        self.quantile_range = quantile_range
        self.unit_variance = unit_variance

    def _check_params(self) -> None:
        super()._check_params()
        for name in ("with_centering", "with_scaling", "unit_variance"):
            _check_bool(name, getattr(self, name))
        qr = self.quantile_range
        try:
            lo, hi = (float(v) for v in qr)
        except (TypeError, ValueError):
            lo = hi = math.nan
        if not (0 <= lo < hi <= 100):
            raise ParameterError(f"quantile_range={qr!r} must be two percentiles 0 <= q_min < "
                                 "q_max <= 100, e.g. (25, 75)")
        if self.unit_variance and (lo == 0 or hi == 100):
            raise ParameterError(f"quantile_range={qr!r} with unit_variance=True: the normal "
                                 "quantiles of 0 and 100 are infinite (the scale would be 0); "
                                 "use 0 < q_min < q_max < 100, e.g. (25, 75)")

    def _make_inner(self) -> RobustScaler:
        lo, hi = (float(v) for v in self.quantile_range)
        return RobustScaler(with_centering=bool(self.with_centering),
                            with_scaling=bool(self.with_scaling), quantile_range=(lo, hi),
                            unit_variance=bool(self.unit_variance))


class MedianScaler(_RobustBase):
    """Per-pixel median centring, no scaling: every pixel keeps gain 1.

    Removes the stationary background level of each pixel (its training median) without
    touching the noise. Wraps :class:`sklearn.preprocessing.RobustScaler` with
    ``with_scaling=False``.

    Parameters
    ----------
    shape : tuple of int (n_mels, n_frames), optional
        How 2-D input folds into images.

    Attributes
    ----------
    center_ : np.ndarray [shape=(n_mels, n_frames)]
        Per-pixel training median.
    offset_, scale_ : np.ndarray [shape=(n_mels, n_frames)]
        ``offset_ = center_``, ``scale_ = 1``.
    zero_scale_ : np.ndarray of bool [shape=(n_mels, n_frames)]
        All False (nothing is scaled).
    data_abs_max_ : float
    scaler_ : sklearn.preprocessing.RobustScaler
    image_shape_ : tuple of int
    n_samples_seen_, n_features_in_ : int

    Examples
    --------
    >>> X = np.array([[[0.0, 5.0]], [[1.0, 5.0]], [[9.0, 6.0]]])
    >>> MedianScaler().fit(X).transform(X)[2]
    array([[8., 1.]])
    """

    def __init__(self, *, shape: tuple[int, int] | None = None) -> None:
        self.shape = shape

    def _make_inner(self) -> RobustScaler:
        return RobustScaler(with_centering=True, with_scaling=False)
