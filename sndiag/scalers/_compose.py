"""Composition of scalers, e.g. ``"db+band"``: a compressor followed by a fitted scaler."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline

from sndiag.errors import ParameterError
from sndiag.scalers._base import _as_2d, _empirical_gain

__all__ = ["ComposedScaler"]


class ComposedScaler(Pipeline):
    """A chain of sndiag scalers, applied left to right (a :class:`sklearn.pipeline.Pipeline`).

    Built by :func:`~sndiag.scalers.make_scaler` from names like ``"db+band"``; step names are
    the registry names. ``fit`` fits the steps in order on the training data, ``transform``
    applies them, ``inverse_transform`` undoes them in reverse order (raising
    :class:`~sndiag.scalers.NotInvertibleError` when a step such as ``pcen`` cannot be undone).

    Examples
    --------
    >>> from sndiag.scalers import make_scaler
    >>> X = np.random.default_rng(0).gamma(1.0, 2.0, size=(20, 3, 4))
    >>> s = make_scaler("db+band").fit(X)
    >>> [name for name, _ in s.steps], s.invertible
    (['db', 'band'], True)
    >>> bool(np.allclose(s.inverse_transform(s.transform(X)), X))
    True
    >>> s.gain_map(X).shape
    (3, 4)
    """

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        first = self.steps[0][1]
        tags.input_tags.three_d_array = True
        tags.input_tags.positive_only = bool(getattr(first, "_positive_only", False))
        tags.requires_fit = not all(getattr(s, "_stateless", False) for _, s in self.steps)
        return tags

    @property
    def invertible(self) -> bool:
        """True when every step can be undone."""
        return all(getattr(step, "_invertible", True) and hasattr(step, "inverse_transform")
                   for _, step in self.steps)

    def gain_map(self, X: Any = None) -> np.ndarray:
        """Empirical per-pixel noise gain ``std(transform(X)) / std(X)`` over the clips of ``X``.

        Pixels whose std in ``X`` is zero get gain 1; ``X`` is required.

        Parameters
        ----------
        X : array-like [shape=(n_clips, n_mels, n_frames) or (n_clips, n_features)]

        Returns
        -------
        np.ndarray [shape=(n_mels, n_frames)]
        """
        if X is None:
            raise ParameterError("ComposedScaler.gain_map needs X: the gain of a composition "
                                 "is measured as std(transform(X)) / std(X) per pixel")
        first = self.steps[0][1]
        X2, img, _ = _as_2d(first, X, reset=False, stateful=not getattr(first, "_stateless", False))
        Z2 = np.asarray(self.transform(X)).reshape(X2.shape)
        return _empirical_gain(X2, Z2, img)
