"""Classifiers, pipelines and the fit of one fold (runs in worker processes)."""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_selection import SelectorMixin
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted, validate_data

from sndiag.errors import ParameterError
from sndiag.experiment._ridge import ALPHAS, RidgeDualClassifier
from sndiag.experiment._space import INPUT_BATCHNORM

CLASSIFIERS: tuple[str, ...] = ("ridge", "logreg", "mlp", "cnn")
#: Logistic regression runs to this tolerance; a fit that needs more than LOGREG_MAX_ITER
#: iterations is reported as not converged (and is never recommended).
LOGREG_MAX_ITER = 1000
LOGREG_TOL = 1e-4

Classifier = Literal["ridge", "logreg", "mlp", "cnn"]
ScalerArg = str | tuple[str, BaseEstimator]


def available_classifiers() -> dict[str, str | None]:
    """Each classifier name and None if usable, else why not (with the fix).

    Examples
    --------
    >>> available_classifiers()["logreg"] is None
    True
    """
    from sndiag.experiment._cnn import cnn_unavailable

    return {"ridge": None, "logreg": None, "mlp": None, "cnn": cnn_unavailable()}


class _AsFloat32(TransformerMixin, BaseEstimator):
    """Cast to float32 (halves the classifier's memory traffic; stateless)."""

    def fit(self, X: np.ndarray, y: Any = None) -> _AsFloat32:
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def transform(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X, dtype=np.float32)


def _make_classifier(name: str, *, random_state: int, shape: tuple[int, int],
                     alphas: Any = ALPHAS) -> BaseEstimator:
    if name == "ridge":
        return RidgeDualClassifier(alphas=alphas, random_state=random_state)
    if name == "logreg":
        return LogisticRegression(C=1.0, tol=LOGREG_TOL, max_iter=LOGREG_MAX_ITER)
    if name == "mlp":
        return MLPClassifier(hidden_layer_sizes=(128,), solver="adam", learning_rate_init=1e-3,
                             alpha=1e-4, random_state=random_state)
    raise ParameterError(f"classifier={name!r} is unknown; use one of {list(CLASSIFIERS)}")


class _DropConstant(SelectorMixin, BaseEstimator):
    """Drop the features constant on the training data: ``VarianceThreshold(0.0)``'s selection,
    read off the per-feature maximum and minimum of the data as given (float32 here) instead of
    float64 variances, so a fold costs no float64 copies of its clips.

    The features kept are the same: a feature varies iff its maximum exceeds its minimum, and
    then its float64 variance is positive too (the smallest nonzero spread of float32 values,
    squared, is far above float64's smallest number). NaNs are ignored as ``nanvar`` ignores them.
    When every feature is constant one is kept (``all_constant_``): the classifier then answers
    the most frequent class instead of the fit failing.
    """

    def fit(self, X: Any, y: Any = None) -> _DropConstant:
        with np.errstate(invalid="ignore", over="ignore"), warnings.catch_warnings():
            # spurious: the finiteness check sums the values (+/-3e38 overflow to inf - inf, then
            # checks one by one), and NaNs are handled below
            warnings.simplefilter("ignore", RuntimeWarning)
            X = validate_data(self, X, dtype=[np.float32, np.float64],
                              ensure_all_finite="allow-nan")
            hi, lo = X.max(axis=0), X.min(axis=0)
            if np.isnan(hi).any():  # ignore NaNs as nanvar does (all-NaN columns: dropped)
                hi, lo = np.nanmax(X, axis=0), np.nanmin(X, axis=0)
        self.varies_ = hi > lo
        self.all_constant_ = not self.varies_.any()
        if self.all_constant_:
            self.varies_[0] = True  # keep one (constant) feature
        return self

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # as VarianceThreshold: transform passes NaNs through
        return tags

    def _get_support_mask(self) -> np.ndarray:
        check_is_fitted(self, "varies_")
        return self.varies_


def _build_pipeline(scaler: BaseEstimator | Literal["passthrough"],
                    classifier: BaseEstimator) -> Pipeline:
    # Features constant on the training fold (silence, padding, masked rows) are dropped: with an
    # L2 penalty and a free intercept their optimal weight is exactly 0, so this changes nothing
    # but the time (22-55% fewer features on FSDD's speaker-independent folds).
    return Pipeline([("scaler", scaler), ("float32", _AsFloat32()),
                     ("drop_constant", _DropConstant()), ("clf", classifier)])


def _finite_or_nan(v: float) -> float:
    return float(v) if math.isfinite(v) else math.nan


#: An MLP counts as converged when its training loss fell less than this share over the last
#: fifth of its epochs (a plateau); otherwise more epochs would change its accuracy.
MLP_PLATEAU = 0.01


@dataclass(frozen=True)
class FoldTask:
    """One fit of the search: a candidate's pipeline on one fold, at one stage.

    The data arrive as the compressed clips (``C``, shared by every candidate of that
    compression); ``masked`` are the pixels the candidate's mask zeroes on this fold (built on the
    fold's raw training statistics); the scaler and the classifier are fitted on ``train`` only.
    """

    key: tuple[int, int, int]
    compression: str
    scaler: str
    estimator: Any
    train: np.ndarray
    test: np.ndarray
    masked: np.ndarray | None
    alphas: tuple[float, ...] | float | None = None


def _fit_fold(task: FoldTask, C: np.ndarray, y: np.ndarray, groups: np.ndarray | None, *,
              classifier: str, classes: np.ndarray, epochs: int | None, shape: tuple[int, int],
              config: Any, random_state: int, on_epoch: Callable[[], bool] | None = None,
              should_stop: Callable[[], bool] | None = None) -> dict[str, Any]:
    """Fit one candidate on one fold and score it (in a worker process, or here for the CNN).

    Returns a dict with ``accuracy``, ``converged``, ``alpha`` (ridge), ``curves`` (per-epoch
    classifiers), ``correct`` (per test clip), ``messages``, ``seconds`` and ``cpu_seconds``;
    the CNN adds what :func:`sndiag.experiment._cnn.fit_fold` returns. ``on_epoch`` and
    ``should_stop`` reach the CNN's training loop (progress per epoch, cancel per minibatch).
    """
    t0, c0 = time.perf_counter(), time.process_time()
    Xtr = np.array(C[task.train], dtype=np.float32).reshape(task.train.size, -1)
    Xte = np.array(C[task.test], dtype=np.float32).reshape(task.test.size, -1)
    ytr, yte = y[task.train], y[task.test]
    if task.masked is not None and task.masked.any():
        Xtr[:, task.masked] = 0.0
        Xte[:, task.masked] = 0.0
    if task.estimator is not None:
        scaler: Any = clone(task.estimator)
    elif task.scaler in ("none", INPUT_BATCHNORM):
        scaler = "passthrough"
    else:
        from sndiag.scalers import make_scaler

        scaler = make_scaler(task.scaler, shape=shape, config=config)
    if classifier == "cnn":
        from sndiag.experiment._cnn import fit_fold

        out = fit_fold("passthrough" if task.scaler == INPUT_BATCHNORM else scaler, Xtr, ytr,
                       Xte, yte, groups=None if groups is None else groups[task.train],
                       shape=shape, epochs=int(epochs or 1),
                       input_norm=task.scaler == INPUT_BATCHNORM, random_state=random_state,
                       on_epoch=on_epoch, should_stop=should_stop)
        out.update(key=task.key, alpha=None, seconds=time.perf_counter() - t0,
                   cpu_seconds=time.process_time() - c0)
        return out
    alphas = ALPHAS if task.alphas is None else task.alphas
    clf = _make_classifier(classifier, random_state=random_state, shape=shape, alphas=alphas)
    pipeline = _build_pipeline(scaler, clf)
    out: dict[str, Any] = {"key": task.key, "converged": True, "messages": [], "alpha": None,
                           "curves": None}
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        if epochs is None:
            fit_params = {}
            if classifier == "ridge" and groups is not None:
                fit_params["clf__groups"] = groups[task.train]
            pipeline.fit(Xtr, ytr, **fit_params)
            acc = float(np.mean(pipeline.predict(Xte) == yte))
            if pipeline.named_steps["drop_constant"].all_constant_:
                out["messages"].append("every feature is constant after this pipeline on the "
                                       "training fold: it can only answer the most frequent "
                                       "class")
            fitted = pipeline[-1]
            if classifier == "ridge":
                out["alpha"] = float(fitted.alpha_)
                if not np.all(np.isfinite(fitted.coef_)):
                    out["converged"] = False
                    out["messages"].append("the least-squares solve gave non-finite weights")
            else:
                n_iter = np.atleast_1d(getattr(fitted, "n_iter_", 0))
                if np.max(n_iter) >= getattr(fitted, "max_iter", np.inf):
                    out["converged"] = False
        else:
            pre = pipeline[:-1]
            Ztr = pre.fit_transform(Xtr, ytr)
            Zte = pre.transform(Xte)
            val_acc, val_loss, train_loss, train_acc = [], [], [], []
            for _ in range(epochs):
                clf.partial_fit(Ztr, ytr, classes=classes)
                train_loss.append(_finite_or_nan(getattr(clf, "loss_", math.nan)))
                train_acc.append(float(np.mean(clf.predict(Ztr) == ytr)))
                proba = clf.predict_proba(Zte)
                if np.isfinite(proba).all():
                    pred = clf.classes_[proba.argmax(axis=1)]
                    loss = log_loss(yte, proba, labels=clf.classes_)
                else:
                    pred = np.full(yte.shape, clf.classes_[0])
                    loss = math.nan
                    out["messages"].append("non-finite outputs (the network diverged)")
                val_acc.append(float(np.mean(pred == yte)))
                val_loss.append(_finite_or_nan(loss))
            acc = val_acc[-1]
            out["curves"] = {"val_accuracy": val_acc, "val_loss": val_loss,
                             "train_accuracy": train_acc, "train_loss": train_loss}
            k = max(2, epochs // 5)
            tail = np.asarray(train_loss[-k - 1:], dtype=float)
            if tail.size < 2 or not np.all(np.isfinite(tail)) \
                    or (tail[0] - tail[-1]) > MLP_PLATEAU * abs(tail[0]):
                out["converged"] = False
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            out["converged"] = False
        elif issubclass(w.category, RuntimeWarning):
            out["messages"].append("numerical overflow/invalid values during fitting")
        else:
            out["messages"].append(f"{w.category.__name__}: {str(w.message).splitlines()[0][:120]}")
    out["messages"] = sorted(set(out["messages"]))
    out["accuracy"] = acc
    out["seconds"] = time.perf_counter() - t0
    out["cpu_seconds"] = time.process_time() - c0
    return out
