"""Does normalization help on *this* data? A paired cross-validated comparison of scalers.

:func:`run_experiment` trains the same quick classifier on the same cross-validation splits once
per (scaler, mask) configuration. Every configuration is a scikit-learn
``Pipeline([mask?, scaler, classifier])`` on the flattened spectrograms, so masks and scalers are
fitted inside each training fold only. Because every configuration sees the *same* splits, two
configurations can be compared fold by fold with the corrected resampled paired t-test of
Nadeau & Bengio (2003), which widens the naive variance by ``n_test / n_train`` to account for the
overlap between training sets of different folds.

The result (:class:`ExperimentResult`) holds per-fold accuracies, means, 95% confidence
intervals, p-values against the unscaled baseline ``"none"`` (same mask), per-epoch validation
curves for the MLP, and a plain-language :func:`verdict` that says what the folds do and do not
support, and why, from the dataset's :class:`~sndiag.stats.PixelStats`.

Classifiers
-----------
``"logreg"``
    ``LogisticRegression(C=1, tol=1e-3, max_iter=100)`` (L-BFGS) on float32 input: one accuracy
    point per fold, no curves. The iteration cap keeps the default grid on FSDD (3000 clips x
    7800 features) within a minute on two cores; unscaled spectrograms often hit it - slow
    convergence on raw values is part of the phenomenon - and that is recorded as a note of the
    configuration, never a crash.
``"mlp"``
    ``MLPClassifier(hidden_layer_sizes=(128,))`` (Adam) trained with ``partial_fit`` one epoch at
    a time; after every epoch the held-out fold's accuracy and log-loss are recorded, which gives
    the "normalized vs original" learning curves. The fold's accuracy is the one after the last
    epoch (picking the best epoch on the test fold would be optimistic).
``"cnn"``
    A small two-layer convolutional network, only when PyTorch is installed
    (``pip install 'sndiag[torch]'``); otherwise :class:`~sndiag.errors.ParameterError`.

Cancellation
------------
``cancel()`` is polled between fold fits. When it returns True the pool is shut down and the
*partial* result is returned with ``cancelled=True``: it keeps only the configurations whose
folds all finished (partial folds would break the pairing), and its verdict says so.

Layout
------
``_significance`` corrected CI and paired t-test, ``_splits`` the shared splits, ``_fit``
classifiers and one fold's fit, ``_result`` result containers and JSON, ``_run``
:func:`run_experiment`, ``_verdict`` :func:`verdict`, ``_job`` a background
:class:`ExperimentJob` for user interfaces. Masks are :class:`sndiag.masks.MaskSpec`.
"""

from __future__ import annotations

from sndiag.experiment._fit import CLASSIFIERS, available_classifiers
from sndiag.experiment._job import ExperimentJob
from sndiag.experiment._result import ConfigResult, ExperimentResult, format_table
from sndiag.experiment._run import DEFAULT_SCALERS, run_experiment
from sndiag.experiment._significance import corrected_ci, corrected_ttest
from sndiag.experiment._splits import CVPlan, plan_splits
from sndiag.experiment._verdict import verdict

__all__ = [
    "CLASSIFIERS",
    "CVPlan",
    "ConfigResult",
    "DEFAULT_SCALERS",
    "ExperimentJob",
    "ExperimentResult",
    "available_classifiers",
    "corrected_ci",
    "corrected_ttest",
    "format_table",
    "plan_splits",
    "run_experiment",
    "verdict",
]
