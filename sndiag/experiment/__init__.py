"""Does normalization help on *this* data, and which pipeline? A search with paired statistics.

:func:`run_experiment` searches compression x scaling x mask (by default 4 compressions x 8
scalings x the masks asked for) with one classifier, every pipeline
``mask -> compression -> scaler -> classifier`` fitted on training folds only and scored on the
*same* folds as every other, so any two compare fold by fold with the corrected resampled paired
t-test of Nadeau & Bengio (2003), which widens the naive variance by ``n_test / n_train`` for the
overlap of training sets. With few groups (speakers) the folds are one per group.

The search is staged (successive halving, :mod:`sndiag.experiment._search`): every candidate is
screened on a quarter of each training fold, and the raw data, per-pixel standardization and the
best candidates are finished on whole folds. The result (:class:`ExperimentResult`) holds fold
accuracies, means, 95% intervals, p-values against the raw data, convergence and chance flags,
the :attr:`~ExperimentResult.recommended` pipeline and a plain-language :func:`verdict`.

Classifiers
-----------
``"ridge"`` (default)
    :class:`RidgeDualClassifier`: least-squares classification in closed form, so every fit is
    at its optimum whatever the scaling; its relative regularization is chosen by group-wise
    inner cross-validation on training clips only.
``"logreg"``
    ``LogisticRegression`` to ``tol=1e-4``; a fit that needs more than 1000 iterations is
    flagged as not converged and never recommended (slow on unscaled spectrograms).
``"mlp"``
    ``MLPClassifier(hidden_layer_sizes=(128,))`` trained with ``partial_fit`` one epoch at a
    time, with per-epoch validation curves; not converged while its training loss still falls.
``"cnn"``
    :class:`SmallCNN`, the question's kind of network (PyTorch, the extra ``sndiag[cnn]``): three
    conv/pool blocks, max over time, a dense layer, early stopping on a validation part of the
    training clips, per-epoch and per-minibatch curves. By default one group split (intervals
    and p-values over its test clips: :func:`binomial_ci`, :func:`mcnemar_test`) and four
    configurations: the raw data, ``standard``, the ridge search's pick and ``batchnorm`` (the
    raw data into a BatchNorm first layer).

Cancellation
------------
``cancel()`` is polled between fits (and by the CNN after every minibatch). When it returns
True the run stops and returns what is complete, with ``cancelled=True``.

Where the fits run
------------------
A :class:`FitExecutor` (``executor=``): by default this process or ``n_jobs`` joblib worker
processes; :class:`sndiag.distributed.DaskExecutor` runs the same fits as tasks on a Dask
cluster, the clips read by the workers from a shared folder. The CNN trains in this process.

Layout
------
``_space`` the search space and which points are the same model, ``_ridge`` the closed-form
classifier, ``_splits`` the shared outer folds, ``_fit`` one fold's fit, ``_executor`` where the
fits run, ``_search`` the staged search, ``_significance`` corrected CI and paired t-test,
``_result`` result containers and JSON, ``_verdict`` :func:`recommend` and :func:`verdict`,
``_run`` :func:`run_experiment`, ``_job`` a background :class:`ExperimentJob` for user
interfaces, ``_cnn`` the CNN. Masks are :class:`sndiag.masks.MaskSpec`.
"""

from __future__ import annotations

from sndiag.experiment._cnn import SmallCNN
from sndiag.experiment._executor import FitExecutor
from sndiag.experiment._fit import CLASSIFIERS, available_classifiers
from sndiag.experiment._job import ExperimentJob
from sndiag.experiment._result import ConfigResult, ExperimentResult, format_table
from sndiag.experiment._ridge import RidgeDualClassifier
from sndiag.experiment._run import DEFAULT_MASKS, DEFAULT_SCALERS, run_experiment
from sndiag.experiment._significance import (
    binomial_ci,
    corrected_ci,
    corrected_ttest,
    mcnemar_test,
)
from sndiag.experiment._space import Candidate, default_space, parse_candidates
from sndiag.experiment._splits import CVPlan, plan_splits
from sndiag.experiment._verdict import pipeline_text, recommend, verdict

__all__ = [
    "CLASSIFIERS",
    "CVPlan",
    "Candidate",
    "ConfigResult",
    "DEFAULT_MASKS",
    "DEFAULT_SCALERS",
    "ExperimentJob",
    "ExperimentResult",
    "FitExecutor",
    "RidgeDualClassifier",
    "SmallCNN",
    "available_classifiers",
    "binomial_ci",
    "corrected_ci",
    "corrected_ttest",
    "default_space",
    "format_table",
    "mcnemar_test",
    "parse_candidates",
    "pipeline_text",
    "plan_splits",
    "recommend",
    "run_experiment",
    "verdict",
]
