"""The experiment loop: configurations x folds, in parallel, with progress and cancel."""

from __future__ import annotations

import os
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from sndiag.errors import DataError, ParameterError
from sndiag.experiment._fit import (
    CLASSIFIERS,
    LOGREG_MAX_ITER,
    LOGREG_TOL,
    Classifier,
    ScalerArg,
    _build_pipeline,
    _fit_fold,
    _make_classifier,
    _make_scaler,
    available_classifiers,
)
from sndiag.experiment._result import ConfigResult, ExperimentResult
from sndiag.experiment._significance import corrected_ci, corrected_ttest
from sndiag.experiment._splits import CVPlan, plan_splits
from sndiag.experiment._verdict import verdict
from sndiag.masks import MaskSpec

if TYPE_CHECKING:
    from sndiag.dataset import Dataset
    from sndiag.stats import PixelStats


#: Scalers compared by default: the question's per-pixel ``standard`` against the unscaled data
#: and the SNR-aware or compressing alternatives (``log1p`` converges fast, so it is cheap).
DEFAULT_SCALERS: tuple[str, ...] = (
    "none", "standard", "std_floor", "band", "global", "robust", "minmax", "db", "log1p",
)


def _normalise_scalers(scalers: Sequence[ScalerArg]) -> tuple[list[ScalerArg], list[str]]:
    if isinstance(scalers, str):
        scalers = [s for s in scalers.split(",") if s.strip()]
    out: list[ScalerArg] = []
    seen: set[str] = set()
    notes: list[str] = []
    for s in scalers:
        if isinstance(s, tuple):
            if len(s) != 2 or not hasattr(s[1], "fit"):
                raise ParameterError(f"scaler {s!r}: give a name or a (label, transformer) pair")
            label = str(s[0])
        elif isinstance(s, str):
            label = s = s.strip()
        else:
            raise ParameterError(f"scaler {s!r} must be a name such as 'band' (see `sndiag "
                                 "scalers`) or a (label, transformer) pair")
        if label in seen:
            continue
        seen.add(label)
        out.append(s)
    if not out:
        raise ParameterError("no scalers given; e.g. scalers=('none', 'standard', 'band')")
    if "none" not in seen:
        out.insert(0, "none")
        notes.append("added the unscaled baseline 'none': every scaler is tested against it")
    else:
        out.sort(key=lambda s: 0 if s == "none" else 1)
    return out, notes


def _memmap(X: np.ndarray, folder: str) -> np.ndarray:
    """Share ``X`` with worker processes by file name instead of pickling/hashing it per task."""
    path = os.path.join(folder, "X.npy")
    np.save(path, X)
    return np.load(path, mmap_mode="r")


def run_experiment(
    dataset: Dataset,
    *,
    scalers: Sequence[ScalerArg] = DEFAULT_SCALERS,
    masks: Sequence[str | MaskSpec] = ("none",),
    classifier: Classifier = "logreg",
    folds: int = 5,
    epochs: int = 20,
    groups: Literal["auto", "none"] | Sequence[Any] | np.ndarray = "auto",
    n_jobs: int = 2,
    random_state: int = 0,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    stats: PixelStats | None = None,
) -> ExperimentResult:
    """Cross-validate one classifier per (scaler, mask) configuration on the same splits.

    Parameters
    ----------
    dataset : Dataset
        Labelled spectrograms ``X`` [shape=(n_clips, n_mels, n_frames)].
    scalers : sequence of str or (label, transformer)
        Scaler names for :func:`sndiag.scalers.make_scaler` (``"db+band"`` compositions work), or
        ``(label, transformer)`` pairs of your own transformers on flattened input. ``"none"``
        is added first when missing: it is the baseline of every p-value.
    masks : sequence of str or MaskSpec
        Masks (:class:`~sndiag.masks.MaskSpec`, or its text: ``"none"``, ``"snr<0.5"``,
        ``"p10+rows:43-59+auto"``). Every scaler runs with every mask; masks are fitted on the
        training fold only.
    classifier : {"logreg", "mlp", "cnn"}
        See the module docstring.
    folds : int
        Number of cross-validation folds (reduced to the number of groups if smaller).
    epochs : int
        Training epochs of ``"mlp"``/``"cnn"`` (ignored by ``"logreg"``).
    groups : "auto", "none" or array-like [shape=(n_clips,)]
        ``"auto"`` uses ``dataset.groups`` when present (group-independent folds), ``"none"``
        ignores them, an array gives the groups explicitly.
    n_jobs : int
        Parallel fold fits (joblib processes); 1 runs in this process, -1 uses every core.
    random_state : int
        Seed of the splits and of the classifiers (the same for every configuration).
    progress : callable(done, total) or None
        Called with the number of finished fold fits (0 first).
    cancel : callable() -> bool or None
        Polled between fold fits; True stops the run and returns the partial result with
        ``cancelled=True``.
    stats : PixelStats or None
        Statistics of the whole dataset for the verdict's explanation; computed when None.

    Returns
    -------
    ExperimentResult

    Raises
    ------
    DataError
        Unlabelled data or a single class.
    ParameterError
        Unknown scaler, mask spec or classifier, bad ``folds``/``epochs``/``n_jobs``.

    Examples
    --------
    >>> from sndiag.dataset import Dataset
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 20)
    >>> X = rng.gamma(2.0, 1.0, size=(40, 4, 5)) + y[:, None, None] * 2.0
    >>> res = run_experiment(Dataset(X, y=y), scalers=["none", "standard"], folds=4, n_jobs=1)
    >>> [c.label for c in res.configurations], res.folds, res.splitter
    (['none', 'standard'], 4, 'StratifiedKFold(n_splits=4, shuffle=True)')
    >>> res.get("standard").mean >= 0.9
    True
    """
    t_start = time.perf_counter()
    if dataset.y is None:
        raise DataError("the experiment needs labels; load the data with labels (folder names, "
                        "--label-regex or a labels CSV)")
    if classifier not in CLASSIFIERS:
        raise ParameterError(f"classifier={classifier!r} is unknown; use one of "
                             f"{list(CLASSIFIERS)}")
    why_not = available_classifiers()[classifier]
    if why_not:
        raise ParameterError(why_not)
    per_epoch = classifier != "logreg"
    if per_epoch and (isinstance(epochs, bool) or not isinstance(epochs, int | np.integer)
                      or not 1 <= epochs <= 1000):
        raise ParameterError(f"epochs={epochs!r} must be an integer between 1 and 1000")
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int | np.integer) or n_jobs == 0:
        raise ParameterError(f"n_jobs={n_jobs!r} must be a non-zero integer (1, 2, ..., or -1)")
    scaler_list, notes = _normalise_scalers(scalers)
    mask_specs: list[MaskSpec] = []
    for m in (masks if not isinstance(masks, str) else [masks]) or ["none"]:
        spec = MaskSpec.parse(m)
        if spec not in mask_specs:
            mask_specs.append(spec)

    shape = dataset.shape
    # Build every pipeline up front: unknown scaler names fail before any work starts.
    configs: list[tuple[str, MaskSpec, Pipeline]] = []
    for mask in mask_specs:
        for s in scaler_list:
            label, scaler = _make_scaler(s, shape=shape, config=dataset.config)
            clf = _make_classifier(classifier, random_state=random_state, shape=shape)
            configs.append((label, mask, _build_pipeline(scaler, mask, clf, shape=shape)))

    if isinstance(groups, str):
        if groups not in ("auto", "none"):
            raise ParameterError(f"groups={groups!r} must be 'auto', 'none' or an array")
        group_arr = dataset.groups if groups == "auto" else None
    else:
        group_arr = np.asarray(groups)
    plan = plan_splits(dataset.y, groups=group_arr, folds=folds, random_state=random_state)
    notes += list(plan.notes)
    if classifier == "logreg":
        notes.append(f"logreg = LogisticRegression(lbfgs, tol={LOGREG_TOL:g}, max_iter="
                     f"{LOGREG_MAX_ITER}) on float32; one accuracy per fold, no epoch curves")
    else:
        what = ("MLPClassifier(hidden_layer_sizes=(128,), adam, learning_rate_init=1e-3)"
                if classifier == "mlp" else "a 2-layer CNN (PyTorch, Adam 1e-3)")
        notes.append(f"{classifier} = {what} trained {epochs} epochs with partial_fit; a fold's "
                     "accuracy is the one after the last epoch (not the best epoch)")

    X = dataset.X.reshape(dataset.n_clips, -1)
    y = dataset.y
    classes = np.unique(y)
    tasks = [(ci, fi) for ci in range(len(configs)) for fi in range(plan.n_folds)]
    total = len(tasks)
    fold_out: dict[tuple[int, int], dict[str, Any]] = {}
    cancelled = False
    if progress is not None:
        progress(0, total)

    def job_args(ci: int, fi: int) -> tuple[Any, ...]:
        tr, te = plan.splits[fi]
        return (clone(configs[ci][2]), tr, te)

    kw = {"classes": classes, "epochs": epochs if per_epoch else None}
    if cancel is not None and cancel():
        cancelled = True
    elif n_jobs == 1 or total == 1:
        for ci, fi in tasks:
            if cancel is not None and cancel():
                cancelled = True
                break
            pipe, tr, te = job_args(ci, fi)
            fold_out[(ci, fi)] = _fit_fold(pipe, X, y, tr, te, key=(ci, fi), **kw)
            if progress is not None:
                progress(len(fold_out), total)
    else:
        from sklearn.utils.parallel import Parallel, delayed

        with tempfile.TemporaryDirectory(prefix="sndiag-experiment-") as tmp:
            Xm = _memmap(X, tmp) if X.nbytes > 1_000_000 else X
            gen = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
                delayed(_fit_fold)(*_with_data(job_args(ci, fi), Xm, y), key=(ci, fi), **kw)
                for ci, fi in tasks)
            try:
                for out in gen:
                    fold_out[out["key"]] = out
                    if progress is not None:
                        progress(len(fold_out), total)
                    if cancel is not None and len(fold_out) < total and cancel():
                        cancelled = True
                        break
            finally:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    gen.close()
            del Xm

    configurations = _assemble(configs, fold_out, plan, classifier, per_epoch)
    if cancelled:
        notes.append(f"cancelled after {len(fold_out)} of {total} fold fits; only the "
                     f"{len(configurations)} complete configurations are kept")
    result = ExperimentResult(
        dataset=dataset.summary(), classifier=classifier, folds=plan.n_folds,
        splitter=plan.splitter, configurations=configurations, n_train=plan.n_train,
        n_test=plan.n_test, notes=notes, grouped=plan.grouped, cancelled=cancelled,
        random_state=int(random_state),
    )
    if stats is None and configurations:
        from sndiag.stats import compute_stats

        stats = compute_stats(dataset.X, dataset.y, quantiles="none")
    result.verdict = verdict(result, stats)
    result.seconds = time.perf_counter() - t_start
    return result


def _with_data(args: tuple[Any, ...], X: np.ndarray, y: np.ndarray) -> tuple[Any, ...]:
    pipe, tr, te = args
    return (pipe, X, y, tr, te)


def _assemble(configs: list[tuple[str, MaskSpec, Pipeline]],
              fold_out: dict[tuple[int, int], dict[str, Any]], plan: CVPlan, classifier: str,
              per_epoch: bool) -> list[ConfigResult]:
    k = plan.n_folds
    out: list[ConfigResult] = []
    for ci, (label, mask, _) in enumerate(configs):
        folds = [fold_out.get((ci, fi)) for fi in range(k)]
        if any(f is None for f in folds):
            continue
        accs = [f["accuracy"] for f in folds]
        lo, hi = corrected_ci(accs, n_train=plan.n_train, n_test=plan.n_test, bounds=(0.0, 1.0))
        notes: list[str] = []
        capped = sum(f["n_iter_capped"] for f in folds)
        if capped:
            notes.append(f"did not converge within max_iter={LOGREG_MAX_ITER} in {capped}/{k} "
                         "folds (slow convergence on this scaling; accuracy is at the cap)")
        msgs = sorted({m for f in folds for m in f["messages"]})
        for m in msgs:
            n_m = sum(m in f["messages"] for f in folds)
            notes.append(f"{m} in {n_m}/{k} folds")
        epochs = None
        if per_epoch:
            acc_curves = np.array([f["curves"][0] for f in folds], dtype=float)
            loss_curves = np.array([f["curves"][1] for f in folds], dtype=float)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                epochs = {"val_accuracy": np.nanmean(acc_curves, axis=0).tolist(),
                          "val_loss": np.nanmean(loss_curves, axis=0).tolist()}
        out.append(ConfigResult(
            scaler=label, mask=mask.spec, classifier=classifier, fold_accuracies=accs,
            mean=float(np.mean(accs)), ci_low=lo, ci_high=hi, p_vs_none=None,
            fit_seconds=float(sum(f["seconds"] for f in folds)), epochs=epochs, notes=notes,
            cpu_seconds=float(sum(f["cpu_seconds"] for f in folds))))
    baselines = {c.mask: c for c in out if c.scaler == "none"}
    for c in out:
        base = baselines.get(c.mask)
        if base is not None and c is not base:
            _, c.p_vs_none = corrected_ttest(c.fold_accuracies, base.fold_accuracies,
                                             n_train=plan.n_train, n_test=plan.n_test)
    return out
