"""Composition of scalers, e.g. ``"db+band"``: a compressor followed by a fitted scaler."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
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


#: Step name of the mask inside a chain (see :func:`with_mask`).
MASK_STEP = "mask"


class ZeroPixels(TransformerMixin, BaseEstimator):
    """Set fixed pixels to 0: a mask as a pipeline step (stateless, not invertible).

    Parameters
    ----------
    pixels : array-like of bool [shape=(n_mels, n_frames)]
        True where the pixel is masked.

    Examples
    --------
    >>> z = ZeroPixels(np.array([[True, False]]))
    >>> z.fit_transform(np.ones((2, 1, 2))).tolist()
    [[[0.0, 1.0]], [[0.0, 1.0]]]
    """

    _stateless = True
    _invertible = False

    def __init__(self, pixels: Any = None) -> None:
        self.pixels = pixels

    def fit(self, X: Any, y: Any = None) -> ZeroPixels:
        return self

    def transform(self, X: Any) -> np.ndarray:
        X = np.asarray(X)
        flat = np.asarray(self.pixels, dtype=bool).ravel()
        n_features = int(np.prod(X.shape[1:]))
        if flat.size != n_features:
            raise ParameterError(f"the mask covers {flat.size} pixels but the clips have "
                                 f"{n_features}; build the mask on the same data")
        out = X.reshape(X.shape[0], -1).copy()
        out[:, flat] = 0
        return out.reshape(X.shape)


def compresses(scaler: Any) -> bool:
    """True when ``scaler`` is or holds a stateless step that changes values (``db``, ``pcen``...).

    Examples
    --------
    >>> from sndiag.scalers import make_scaler
    >>> compresses(make_scaler("db+band")), compresses(make_scaler("db")), compresses(make_scaler("band"))
    (True, True, False)
    """
    steps = [s for _, s in scaler.steps] if isinstance(scaler, Pipeline) else [scaler]
    return any(getattr(s, "_stateless", False) and not getattr(s, "_identity", False)
               for s in steps)


def with_mask(scaler: Any, pixels: Any) -> ComposedScaler:
    """``scaler`` with ``pixels`` set to 0 after its compression and before its fitted step.

    The one place a mask enters a pipeline: a masked pixel is a constant 0 where the scaling is
    fitted (no spread, so no gain; the classifier sees nothing there), whatever the compression
    would have made of it. Unfitted in, unfitted out.

    Examples
    --------
    >>> from sndiag.scalers import make_scaler
    >>> [name for name, _ in with_mask(make_scaler("db+band"), np.zeros((2, 2), bool)).steps]
    ['db', 'mask', 'band']
    """
    steps = list(scaler.steps) if isinstance(scaler, Pipeline) else [("scaler", scaler)]
    at = len(steps) if getattr(steps[-1][1], "_stateless", False) else len(steps) - 1
    steps.insert(at, (MASK_STEP, ZeroPixels(np.asarray(pixels, dtype=bool))))
    return ComposedScaler(steps)


def without_mask(scaler: Any) -> Any:
    """Undo :func:`with_mask` on a (fitted) chain: the scaler as :func:`make_scaler` built it."""
    if not isinstance(scaler, Pipeline):
        return scaler
    steps = [(n, s) for n, s in scaler.steps if n != MASK_STEP]
    return steps[0][1] if len(steps) == 1 and steps[0][0] == "scaler" else ComposedScaler(steps)
