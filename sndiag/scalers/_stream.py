"""Fitting a scaler on clips read from a file, one chunk in memory (:func:`fit_clips`)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline

from sndiag.clip_array import ClipArray
from sndiag.scalers._affine import FIT_CHUNK_CLIPS

__all__ = ["QUANTILE_SAMPLE_CLIPS", "fit_clips"]

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
