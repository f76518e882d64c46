"""Fitting a scaler on clips read from a file, one chunk in memory (:func:`fit_clips`), or from
the statistics of those clips without reading them (:func:`fit_from_stats`)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline

from sndiag.clip_array import ClipArray
from sndiag.scalers._affine import (
    FIT_CHUNK_CLIPS,
    BandScaler,
    GlobalScaler,
    PixelStandardScaler,
    StdFloorScaler,
)
from sndiag.scalers._base import _affine_reset, _as_2d

__all__ = ["QUANTILE_SAMPLE_CLIPS", "fit_clips", "fit_from_stats"]

#: Clips read per step of a streamed fit: a multiple of ``FIT_CHUNK_CLIPS``, so the wrapped
#: scikit-learn scaler sees the same ``partial_fit`` batches as in an in-memory ``fit``.
STREAM_CHUNK_CLIPS = 4 * FIT_CHUNK_CLIPS
#: Clips a quantile scaler (robust, median) is fitted on when the clips stay in a file: the
#: sample of :func:`sndiag.stats.sample_indices`, as for the dataset's quantile statistics.
QUANTILE_SAMPLE_CLIPS = 2000


def _through(steps: list[tuple[str, Any]], X: np.ndarray) -> np.ndarray:
    for _, step in steps:
        X = step.transform(X)
    return np.asarray(X)


def fit_clips(scaler: Any, X: ClipArray, *, sample_clips: int = QUANTILE_SAMPLE_CLIPS,
              random_state: int = 0) -> str | None:
    """Fit ``scaler`` (a scaler or a chain from :func:`~sndiag.scalers.make_scaler`) on clips
    that are never all in memory.

    The chain's stateless steps (compression, mask) are applied chunk by chunk; its fitted step
    then learns:

    * an incremental scaler (``standard``, ``std_floor``, ``band``, ``global``, ``minmax``,
      ``maxabs``) from every clip, by ``partial_fit`` on chunks of :data:`STREAM_CHUNK_CLIPS`
      clips: the same batches as an in-memory ``fit``, so the same fitted state;
    * a quantile scaler (``robust``, ``median``) from a sample of ``sample_clips`` clips (the
      clips :func:`sndiag.stats.sample_indices` picks, as for the dataset's sampled quantiles),
      all of them when there are no more;
    * a stateless one from the first chunk (it learns only the layout).

    Parameters
    ----------
    scaler : sklearn transformer
        Unfitted; fitted in place.
    X : ClipArray
        The training clips.
    sample_clips : int
        Size of the sample of a quantile scaler.
    random_state : int
        Seed of that sample.

    Returns
    -------
    str or None
        What a fit on a sample covered (``"a sample of 2000 of 100000 clips"``), None when
        every clip was used.

    Examples
    --------
    >>> from sndiag.clip_array import ArrayClips
    >>> from sndiag.scalers import make_scaler
    >>> X = np.random.default_rng(0).gamma(2.0, 1.0, size=(1100, 2, 3)).astype(np.float32)
    >>> s = make_scaler("db+standard")
    >>> fit_clips(s, ArrayClips(X)) is None
    True
    >>> bool(np.array_equal(s.transform(X), make_scaler("db+standard").fit(X).transform(X)))
    True
    >>> fit_clips(make_scaler("robust"), ArrayClips(X), sample_clips=500)
    'a sample of 500 of 1100 clips'
    """
    from sndiag.stats import sample_indices

    steps = list(scaler.steps) if isinstance(scaler, Pipeline) else [("scaler", scaler)]
    head, (_, last) = steps[:-1], steps[-1]
    n = len(X)
    first = X.read(0, min(n, STREAM_CHUNK_CLIPS))
    for i, (_, step) in enumerate(head):
        step.fit(_through(head[:i], first))
    if getattr(last, "_stateless", False):
        last.fit(_through(head, first))
        return None
    if hasattr(last, "partial_fit"):
        last.fit(_through(head, first))
        for _, chunk in X.chunks(STREAM_CHUNK_CLIPS, start=first.shape[0]):
            last.partial_fit(_through(head, chunk))
        return None
    idx = sample_indices(n, int(sample_clips), random_state)
    last.fit(_through(head, X.take(idx)))
    return None if idx.size == n else f"a sample of {idx.size} of {n} clips"


def _pooled(mean: np.ndarray, var: np.ndarray, axis: Any) -> tuple[np.ndarray, np.ndarray]:
    """Mean and population variance of the values of several pixels pooled, from each pixel's
    mean and variance over the same clips (equal counts)."""
    m = mean.mean(axis=axis)
    second = (var + mean * mean).mean(axis=axis)
    return m, np.maximum(second - m * m, 0.0)


def fit_from_stats(scaler: Any, stats: Any) -> bool:
    """Fit ``scaler`` from the statistics of its training clips, without reading them.

    The mean/std scalers (``standard``, ``std_floor``, ``band``, ``global``, with their default
    ``with_mean`` and ``with_std``) learn nothing but the per-pixel mean and variance, pooled over
    frames for ``band`` and over every pixel for ``global``: :class:`~sndiag.stats.PixelStats`
    hold them (the same population variance, to float64 rounding). Any other scaler, a chain
    (a compression first) or other parameters are left unfitted.

    Parameters
    ----------
    scaler : sklearn transformer
        Unfitted; fitted in place when it is one of those.
    stats : PixelStats
        Statistics of exactly the clips the scaler is to be fitted on.

    Returns
    -------
    bool
        Whether it was fitted.

    Examples
    --------
    >>> from sndiag.scalers import make_scaler
    >>> from sndiag.stats import compute_stats
    >>> X = np.random.default_rng(0).gamma(2.0, 1.0, size=(50, 3, 4)).astype(np.float32)
    >>> s = make_scaler("band")
    >>> fit_from_stats(s, compute_stats(X)), fit_from_stats(make_scaler("robust"), compute_stats(X))
    (True, False)
    >>> bool(np.allclose(s.transform(X), make_scaler("band").fit(X).transform(X)))
    True
    """
    kinds = (PixelStandardScaler, StdFloorScaler, BandScaler, GlobalScaler)
    if type(scaler) not in kinds or not getattr(scaler, "with_mean", True) \
            or not getattr(scaler, "with_std", True) or int(stats.n) < 1:
        return False
    img = tuple(int(s) for s in stats.shape)
    mean = np.asarray(stats.mean, dtype=np.float64).reshape(img)
    var = np.square(np.asarray(stats.std, dtype=np.float64)).reshape(img)
    n = int(stats.n)
    if isinstance(scaler, BandScaler):
        mean, var = _pooled(mean, var, axis=1)
        n *= img[1]
    elif isinstance(scaler, GlobalScaler):
        mean, var = _pooled(mean.ravel(), var.ravel(), axis=0)
        mean, var = np.atleast_1d(mean), np.atleast_1d(var)
        n *= img[0] * img[1]
    _affine_reset(scaler)
    scaler._check_params()
    _as_2d(scaler, np.zeros((1, *img), dtype=np.float32), reset=True, stateful=True)
    inner = scaler._make_inner()
    inner.mean_, inner.var_ = mean.ravel(), var.ravel()
    std = np.sqrt(inner.var_)
    inner.scale_ = np.where(std > 0, std, 1.0)
    inner.n_samples_seen_ = n
    inner.n_features_in_ = inner.mean_.size
    scaler.scaler_ = inner
    scaler.image_shape_ = img
    scaler.n_samples_seen_ = int(stats.n)
    scaler.data_abs_max_ = float(max(abs(float(stats.global_min)), abs(float(stats.global_max))))
    scaler._set_state()
    return True
