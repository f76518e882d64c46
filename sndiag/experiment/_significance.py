"""Cross-validated means and paired differences with the Nadeau-Bengio correction."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats as sps

from sndiag.errors import ParameterError


def _ratio(n_train: float | Sequence[float], n_test: float | Sequence[float]) -> float:
    tr = float(np.mean(n_train))
    te = float(np.mean(n_test))
    if tr <= 0 or te <= 0:
        raise ParameterError(f"n_train={tr:g} and n_test={te:g} must be positive")
    return te / tr


def corrected_ci(scores: Sequence[float] | np.ndarray, *, n_train: float | Sequence[float],
                 n_test: float | Sequence[float], confidence: float = 0.95,
                 bounds: tuple[float, float] | None = None) -> tuple[float, float]:
    """Confidence interval of a cross-validated mean with the Nadeau-Bengio corrected variance.

    The naive variance of the mean of ``k`` fold scores, ``s**2 / k``, ignores that training sets
    overlap; the corrected variance is ``s**2 * (1/k + n_test/n_train)``. The interval is
    ``mean -/+ t_{k-1} * sqrt(corrected variance)``.

    Parameters
    ----------
    scores : array-like [shape=(k,)]
        One score per fold, ``k >= 2``.
    n_train, n_test : float or array-like [shape=(k,)]
        Training and test set sizes (per fold, or their average).
    confidence : float
        Coverage of the interval, in (0, 1).
    bounds : (float, float) or None
        Range of a score, e.g. ``(0, 1)`` for accuracy: the symmetric t interval is clipped to
        it (a fold that is much harder than the others can push it past 100%).

    Returns
    -------
    (low, high) : tuple of float

    Examples
    --------
    >>> lo, hi = corrected_ci([0.80, 0.85, 0.90, 0.82, 0.88], n_train=80, n_test=20)
    >>> round(lo, 3), round(hi, 3)
    (0.773, 0.927)
    >>> corrected_ci([0.5, 0.5, 0.5], n_train=20, n_test=10)
    (0.5, 0.5)
    >>> corrected_ci([0.6, 0.95, 0.97], n_train=20, n_test=10, bounds=(0, 1))[1]
    1.0
    """
    a = np.asarray(scores, dtype=float)
    if a.ndim != 1 or a.size < 2:
        raise ParameterError(f"need at least 2 fold scores for an interval, got {a.size}")
    if not 0 < confidence < 1:
        raise ParameterError(f"confidence={confidence} must be in (0, 1), e.g. 0.95")
    k = a.size
    mean = float(a.mean())
    var = float(a.var(ddof=1)) * (1.0 / k + _ratio(n_train, n_test))
    half = float(sps.t.ppf(0.5 + confidence / 2, k - 1)) * math.sqrt(var) if var > 0 else 0.0
    lo, hi = mean - half, mean + half
    if bounds is not None:
        lo, hi = max(lo, float(bounds[0])), min(hi, float(bounds[1]))
    return (lo, hi)


def corrected_ttest(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, *,
                    n_train: float | Sequence[float],
                    n_test: float | Sequence[float]) -> tuple[float, float]:
    """Corrected resampled paired t-test (Nadeau & Bengio 2003) of fold scores ``a`` vs ``b``.

    With per-fold differences ``d = a - b`` over ``k`` folds,
    ``t = mean(d) / sqrt(var(d) * (1/k + n_test/n_train))`` on ``k - 1`` degrees of freedom;
    the p-value is two-sided.

    Degenerate cases stay finite and conservative: identical scores give ``(0.0, 1.0)``; a
    difference that is the same non-zero number in every fold has no variance to test, so the
    p-value falls back to the exact two-sided sign test, ``2 * 0.5**k`` (what ``k`` folds that
    all agree can support) with ``t = +-inf``.

    Parameters
    ----------
    a, b : array-like [shape=(k,)]
        Scores of two configurations on the same folds, ``k >= 2``.
    n_train, n_test : float or array-like [shape=(k,)]
        Training and test set sizes.

    Returns
    -------
    (t, p) : tuple of float

    Examples
    --------
    >>> a = [0.80, 0.85, 0.90, 0.82, 0.88]
    >>> b = [0.75, 0.80, 0.86, 0.80, 0.80]
    >>> t, p = corrected_ttest(a, b, n_train=80, n_test=20)
    >>> round(t, 3), round(p, 4)
    (3.3, 0.0299)
    >>> corrected_ttest(a, a, n_train=80, n_test=20)
    (0.0, 1.0)
    """
    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ParameterError(f"paired scores need the same folds; got shapes {x.shape} and "
                             f"{y.shape}")
    if x.size < 2:
        raise ParameterError(f"need at least 2 folds for a paired test, got {x.size}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        return (math.nan, math.nan)
    d = x - y
    k = d.size
    mean = float(d.mean())
    var = float(d.var(ddof=1))
    scale = 1e-12 * max(1.0, float(np.abs(x).max()), float(np.abs(y).max()))
    if var <= scale**2:
        if abs(mean) <= scale:
            return (0.0, 1.0)
        return (math.copysign(math.inf, mean), min(1.0, 2.0 * 0.5**k))
    t = mean / math.sqrt(var * (1.0 / k + _ratio(n_train, n_test)))
    p = float(2.0 * sps.t.sf(abs(t), k - 1))
    return (float(t), p)


def binomial_ci(correct: Sequence[int] | np.ndarray, *,
                confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of an accuracy measured on one test set.

    With one split there are no fold scores to spread: the interval treats the test clips as
    independent draws, so it covers other clips like them (e.g. of the same held-out group),
    not other groups, nor another training run.

    Parameters
    ----------
    correct : array-like of 0/1 [shape=(n_test,)]
        Whether each test clip was classified correctly.
    confidence : float

    Returns
    -------
    (low, high) : tuple of float

    Examples
    --------
    >>> lo, hi = binomial_ci([1] * 80 + [0] * 20)
    >>> round(lo, 3), round(hi, 3)
    (0.711, 0.867)
    """
    c = np.asarray(correct, dtype=float)
    if c.ndim != 1 or c.size < 1:
        raise ParameterError(f"need at least 1 test clip for an interval, got {c.size}")
    if not 0 < confidence < 1:
        raise ParameterError(f"confidence={confidence} must be in (0, 1), e.g. 0.95")
    n = c.size
    p = float(c.mean())
    z = float(sps.norm.ppf(0.5 + confidence / 2))
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def mcnemar_test(a: Sequence[int] | np.ndarray, b: Sequence[int] | np.ndarray) -> float:
    """Exact McNemar test of two classifiers scored on the same test clips (two-sided p-value).

    Only the clips where they disagree count: under "equally accurate", each such clip is a
    fair coin, so the p-value is the two-sided binomial test of ``b01`` successes in
    ``b01 + b10``. Like :func:`binomial_ci`, it is about these test clips: one training run of
    each, one split.

    Parameters
    ----------
    a, b : array-like of 0/1 [shape=(n_test,)]
        Per clip correctness of the two, in the same order.

    Returns
    -------
    float
        1.0 when they never disagree.

    Examples
    --------
    >>> a = [1] * 60 + [0] * 40
    >>> b = [1] * 45 + [0] * 15 + [1] * 2 + [0] * 38
    >>> round(mcnemar_test(a, b), 4)
    0.0023
    >>> mcnemar_test(a, a)
    1.0
    """
    x = np.asarray(a, dtype=bool)
    y = np.asarray(b, dtype=bool)
    if x.shape != y.shape or x.ndim != 1:
        raise ParameterError(f"paired clips need the same test set; got shapes {x.shape} and "
                             f"{y.shape}")
    only_a = int(np.sum(x & ~y))
    only_b = int(np.sum(~x & y))
    if only_a + only_b == 0:
        return 1.0
    return float(min(1.0, sps.binomtest(only_a, only_a + only_b, 0.5).pvalue))
