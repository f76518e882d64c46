"""A ridge classifier solved in closed form: the experiment's default, at its optimum every time.

:class:`RidgeDualClassifier` is least-squares classification (one output per class, targets
+1/-1, prediction = largest output), like scikit-learn's ``RidgeClassifier``, solved in the dual:
with ``n`` training clips and ``d`` pixels (``d`` > ``n`` for spectrograms), the ``n x n`` Gram
matrix ``K = Xc Xc^T`` of the centred training clips is formed once and ``(K + a I) A = Y`` is
solved by Cholesky. The fit costs one matrix product and one factorisation, whatever the scaling
of the data: there is no iteration that can stop short of the optimum.

Regularization is relative: ``a = alpha * n * mean(diag(K))``, so one ``alpha`` means the same
for raw power and standardized data, and multiplying every pixel by one constant changes nothing.
With several ``alphas``, the one kept is chosen by an inner cross-validation on the training data
only - one fold per group when groups are given (e.g. the training speakers), else stratified -
reusing blocks of the same Gram matrix, so choosing costs no further product.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.linalg as sl
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import GroupKFold, StratifiedKFold
from sklearn.utils.validation import check_is_fitted, validate_data

from sndiag.errors import ParameterError

__all__ = ["ALPHAS", "RidgeDualClassifier"]

#: The relative regularization grid (float32 Cholesky stays accurate down to 1e-5).
ALPHAS: tuple[float, ...] = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1)


def _targets(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    classes, idx = np.unique(y, return_inverse=True)
    Y = -np.ones((y.shape[0], classes.size), dtype=np.float64)
    Y[np.arange(y.shape[0]), idx] = 1.0
    return classes, Y


def _solve(K: np.ndarray, Y: np.ndarray, a: float) -> np.ndarray:
    """``(K + a I)^-1 Y`` by Cholesky (float32 factorisation, float64 right-hand side)."""
    M = K.astype(np.float32, copy=True)
    M.flat[:: M.shape[0] + 1] += np.float32(a)
    c, low = sl.cho_factor(M, lower=True, check_finite=False, overwrite_a=True)
    return sl.cho_solve((c, low), Y.astype(np.float32), check_finite=False).astype(np.float64)


def _inner_folds(y: np.ndarray, groups: np.ndarray | None, n_splits: int,
                 random_state: int) -> list[tuple[np.ndarray, np.ndarray]]:
    if groups is not None and np.unique(groups).size >= 2:
        k = min(n_splits, int(np.unique(groups).size))
        return list(GroupKFold(n_splits=k).split(y, y, groups))
    counts = np.unique(y, return_counts=True)[1]
    k = max(2, min(n_splits, int(counts.min())))
    if counts.min() < 2:
        return []
    return list(StratifiedKFold(n_splits=k, shuffle=True, random_state=random_state)
                .split(np.zeros(y.shape[0]), y))


class RidgeDualClassifier(ClassifierMixin, BaseEstimator):
    """Least-squares (ridge) classification in closed form, with relative regularization.

    Parameters
    ----------
    alphas : float or sequence of float
        Relative regularization (``a = alpha * n * mean(diag(K))``). With several values, one is
        chosen by inner cross-validation on the training data (see the module docstring).
    inner_folds : int
        Folds of that inner cross-validation (at most the number of groups given to ``fit``).
    random_state : int
        Seed of the stratified inner folds.

    Attributes
    ----------
    classes_ : np.ndarray
    alpha_ : float
        The relative regularization used.
    inner_scores_ : dict or None
        Inner cross-validated accuracy of each alpha (None with a single alpha).
    coef_ : np.ndarray [shape=(n_features, n_classes)]
        Primal weights ``Xc^T A``.
    intercept_ : np.ndarray [shape=(n_classes,)]
    n_features_in_ : int

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1, 2], 30)
    >>> X = rng.normal(size=(90, 400)) + rng.normal(size=(3, 400))[y]
    >>> clf = RidgeDualClassifier().fit(X[::2], y[::2])
    >>> clf.alpha_ in ALPHAS, clf.score(X[1::2], y[1::2]) > 0.9
    (True, True)
    """

    def __init__(self, *, alphas: float | Sequence[float] = ALPHAS, inner_folds: int = 5,
                 random_state: int = 0) -> None:
        self.alphas = alphas
        self.inner_folds = inner_folds
        self.random_state = random_state

    def _alphas(self) -> list[float]:
        values = [self.alphas] if np.isscalar(self.alphas) else list(self.alphas)  # type: ignore[arg-type]
        out = []
        for a in values:
            try:
                f = float(a)
            except (TypeError, ValueError):
                f = float("nan")
            if not np.isfinite(f) or f <= 0:
                raise ParameterError(f"alphas={self.alphas!r} must be positive numbers, e.g. "
                                     f"{list(ALPHAS)}")
            out.append(f)
        if not out:
            raise ParameterError("alphas is empty; give at least one, e.g. 1e-3")
        return out

    def fit(self, X: Any, y: Any, groups: Any = None) -> RidgeDualClassifier:
        """Fit on training clips ``X`` [shape=(n, n_features)] with labels ``y``.

        ``groups`` (e.g. the speaker of each training clip) makes the inner choice of ``alpha``
        group-wise, so it is chosen for clips of groups it has not seen.
        """
        alphas = self._alphas()
        X, y = validate_data(self, X, y, dtype=[np.float32, np.float64], y_numeric=False)
        y = np.asarray(y)
        self.classes_, Y = _targets(y)
        if self.classes_.size < 2:
            raise ParameterError(f"the training data holds one class ({self.classes_[0]!r}); "
                                 "a classifier needs at least two")
        X32 = np.asarray(X, dtype=np.float32)
        mean = X32.mean(axis=0, dtype=np.float64).astype(np.float32)
        Xc = X32 - mean
        K = (Xc @ Xc.T).astype(np.float64)
        n = K.shape[0]
        scale = float(np.trace(K)) / n
        if not np.isfinite(scale) or scale <= 0:  # every clip identical: predict the majority
            scale = 1.0
        K /= scale
        self.inner_scores_ = None
        if len(alphas) == 1:
            alpha = alphas[0]
        else:
            g = None if groups is None else np.asarray(groups)
            folds = _inner_folds(y, g, int(self.inner_folds), int(self.random_state))
            scores = {a: [] for a in alphas}
            for tr, va in folds:
                Yt = Y[tr] - Y[tr].mean(axis=0)
                Kt = K[np.ix_(tr, tr)].astype(np.float32)  # _solve's float32, once per fold
                Kv = K[np.ix_(va, tr)]
                for a in alphas:
                    A = _solve(Kt, Yt, a * tr.size)
                    pred = (Kv @ A).argmax(axis=1)
                    scores[a].append(float(np.mean(self.classes_[pred] == y[va])))
            means = {a: float(np.mean(s)) if s else 0.0 for a, s in scores.items()}
            best = max(means.values())
            alpha = max(a for a, m in means.items() if m >= best - 1e-12)  # ties: more ridge
            self.inner_scores_ = means
        ym = Y.mean(axis=0)
        A = _solve(K, Y - ym, alpha * n)
        self.alpha_ = float(alpha)
        self.coef_ = (Xc.T.astype(np.float64) @ A) / scale
        self.intercept_ = ym - mean.astype(np.float64) @ self.coef_
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "coef_")
        X = validate_data(self, X, reset=False, dtype=[np.float32, np.float64])
        return np.asarray(X, dtype=np.float64) @ self.coef_ + self.intercept_

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[self.decision_function(X).argmax(axis=1)]
