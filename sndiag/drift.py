"""Where do groups, or two datasets, differ? Per-pixel drift maps.

Per-pixel standardization can win with stratified folds (the same speakers in training and test)
and lose with group folds (new speakers): the difference is between-group variation, which
per-pixel scaling learns as if it were signal. These maps show where in the image it lives.

* :func:`group_drift`: per pixel, the variance of the group means over the mean within-group
  variance (the Fisher ratio with groups as classes). High where speakers, kits or sessions
  differ systematically.
* :func:`dataset_drift`: per pixel, the shift of the mean from one dataset (or part: train) to
  another (test, a second recording campaign), in units of the pooled std.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(60, 3, 4))
>>> groups = np.repeat(["a", "b", "c"], 20)
>>> X[groups == "b", 0] += 3.0                         # group b is louder in row 0
>>> d = group_drift(X, groups)
>>> int(np.unravel_index(np.argmax(d), d.shape)[0]), bool(d[0].min() > d[1:].max())
(0, True)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sndiag.clip_array import ClipArray
from sndiag.errors import DataError, ShapeError
from sndiag.stats import PixelStats, compute_stats

__all__ = ["dataset_drift", "group_drift", "split_drift"]


def group_drift(X: Any, groups: Any) -> np.ndarray:
    """Between-group over within-group variance of every pixel.

    Parameters
    ----------
    X : np.ndarray or ClipArray [shape=(n_clips, n_mels, n_frames)]
        Clips of a :class:`~sndiag.clip_array.ClipArray` are read a chunk at a time.
    groups : array-like [shape=(n_clips,)]
        The group of each clip (speaker, kit, session); at least two groups.

    Returns
    -------
    np.ndarray [shape=(n_mels, n_frames)]
        0 where the groups do not differ; NaN where no group varies (constant pixels).

    Raises
    ------
    DataError
        With fewer than two groups.
    """
    g = np.asarray(groups)
    n = len(X) if isinstance(X, ClipArray) else np.shape(X)[0]
    if g.ndim != 1 or g.shape[0] != n:
        raise ShapeError(f"groups has shape {g.shape}; expected ({n},), one per clip")
    if np.unique(g).size < 2:
        raise DataError("a group drift map needs at least two groups (e.g. two speakers)")
    stats = compute_stats(X, g.astype(str), quantiles="none")
    assert stats.fisher is not None
    return np.asarray(stats.fisher, dtype=np.float64)


def dataset_drift(a: PixelStats, b: PixelStats) -> np.ndarray:
    """Per-pixel mean shift from ``a`` to ``b`` in units of the pooled std.

    ``(mean_b - mean_a) / s_pooled`` with ``s_pooled**2 = ((n_a - 1) var_a + (n_b - 1) var_b) /
    (n_a + n_b - 2)`` (Cohen's d per pixel); 0 where both are the same constant, NaN where the
    pooled std is 0 but the means differ.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> A, B = rng.normal(size=(200, 2, 2)), rng.normal(size=(200, 2, 2))
    >>> B[:, 1, 1] += 1.0
    >>> d = dataset_drift(compute_stats(A), compute_stats(B))
    >>> bool(abs(d[1, 1] - 1.0) < 0.2 and abs(d[0, 0]) < 0.2)
    True
    """
    if tuple(a.shape) != tuple(b.shape):
        raise ShapeError(f"the datasets' images differ ({a.shape} vs {b.shape}); compare "
                         "datasets extracted with the same settings")
    if a.n < 2 or b.n < 2:
        raise DataError("each dataset needs at least two clips for a drift map")
    va = np.square(np.asarray(a.std, dtype=np.float64))
    vb = np.square(np.asarray(b.std, dtype=np.float64))
    pooled = np.sqrt(((a.n - 1) * va + (b.n - 1) * vb) / (a.n + b.n - 2))
    shift = np.asarray(b.mean, dtype=np.float64) - np.asarray(a.mean, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = shift / pooled
    d[(pooled == 0) & (shift == 0)] = 0.0
    d[(pooled == 0) & (shift != 0)] = np.nan
    return d


def split_drift(X: Any, split: Any) -> np.ndarray:
    """:func:`dataset_drift` from a dataset's ``train`` part to its ``test`` part.

    Raises
    ------
    DataError
        When the split has no train or no test clips.
    """
    s = np.asarray(split).astype(str)
    if not isinstance(X, ClipArray):
        X = np.asarray(X)
    train, test = s == "train", s == "test"
    if train.sum() < 2 or test.sum() < 2:
        raise DataError("the split needs at least two train and two test clips for a drift map")
    if isinstance(X, ClipArray):  # each part read a chunk at a time
        return dataset_drift(compute_stats(X.select(train), quantiles="none"),
                             compute_stats(X.select(test), quantiles="none"))
    return dataset_drift(compute_stats(X[train], quantiles="none"),
                         compute_stats(X[test], quantiles="none"))
