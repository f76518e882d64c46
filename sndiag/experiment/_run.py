"""The experiment: the search space on shared folds, staged, then the recommendation."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from sndiag.errors import DataError, ParameterError
from sndiag.experiment._cnn import BATCH_SIZE, CNN_WIDTHS, PATIENCE, VAL_SHARE
from sndiag.experiment._crosscheck import stratified_check
from sndiag.experiment._executor import FitExecutor
from sndiag.experiment._fit import (
    CLASSIFIERS,
    LOGREG_MAX_ITER,
    LOGREG_TOL,
    Classifier,
    ScalerArg,
    available_classifiers,
)
from sndiag.experiment._result import ConfigResult, ExperimentResult
from sndiag.experiment._search import (
    MAX_FINALISTS,
    SCREEN_SHARE,
    SearchOutcome,
    Stage,
    staged_search,
)
from sndiag.experiment._significance import (
    binomial_ci,
    corrected_ci,
    corrected_ttest,
    mcnemar_test,
)
from sndiag.experiment._space import (
    DEFAULT_SCALERS,
    INPUT_BATCHNORM,
    Candidate,
    parse_candidates,
)
from sndiag.experiment._splits import CVPlan, plan_splits
from sndiag.experiment._verdict import recommend, verdict
from sndiag.masks import MaskSpec

if TYPE_CHECKING:
    from sndiag.dataset import Dataset
    from sndiag.stats import PixelStats

__all__ = ["DEFAULT_MASKS", "DEFAULT_SCALERS", "run_experiment"]

#: Training epochs when none are given (the CNN's are a cap: it stops early).
DEFAULT_EPOCHS: dict[str, int] = {"mlp": 20, "cnn": 15}
#: Masks of the default search: none, and the auto-flagged rows (dropped when they flag none).
DEFAULT_MASKS: tuple[str, ...] = ("none", "auto")


def _check_scalers(scalers: Sequence[ScalerArg] | str | None) -> tuple[list[ScalerArg], list[str]]:
    if scalers is None:
        return list(DEFAULT_SCALERS), []
    if isinstance(scalers, str):
        scalers = [s for s in scalers.split(",") if s.strip()]
    out = list(scalers)
    if not out:
        raise ParameterError("no scalers given; e.g. scalers=('none', 'standard', 'db+band')")
    labels = [str(s[0]) if isinstance(s, tuple) else str(s).strip() for s in out]
    if "none" not in labels:
        return ["none", *out], ["added the unscaled baseline 'none': every scaler is tested "
                                "against it"]
    return [out[labels.index("none")], *[s for s, lb in zip(out, labels, strict=True)
                                         if lb != "none"]], []


def _check_masks(masks: Sequence[str | MaskSpec] | str | None) -> list[MaskSpec]:
    if masks is None:
        masks = DEFAULT_MASKS
    if isinstance(masks, str | MaskSpec):
        masks = [masks]
    specs = [MaskSpec()]
    for m in masks:
        spec = MaskSpec.parse(m)
        if spec not in specs:
            specs.append(spec)
    return specs


def _compress(cands: list[Candidate], X: np.ndarray, config: Any,
              notes: list[str]) -> tuple[list[Candidate], dict[str, np.ndarray]]:
    """Each stateless compression of the clips, once; candidates whose compression does not
    apply to the data (a compression of power on negative, e.g. dB, values) are left out."""
    from sndiag.scalers import make_scaler

    data: dict[str, np.ndarray] = {"none": X}
    refused: dict[str, str] = {}
    for name in dict.fromkeys(c.compression for c in cands if c.compression != "none"):
        step = make_scaler(name, config=config)
        try:
            with np.errstate(all="ignore"):
                Z = np.asarray(step.fit_transform(X), dtype=np.float32)
        except DataError as exc:
            refused[name] = (f"{str(exc).split(';')[0]} (compressions take power or magnitude, "
                             ">= 0; is the data already in dB?)")
            continue
        if not np.isfinite(Z).all():
            refused[name] = "it gives non-finite values on this data"
            continue
        if _constant(Z):
            refused[name] = ("it turns this data into one constant value (every value below its "
                             "floor, e.g. db's 1e-10)")
            continue
        data[name] = Z
    if refused:
        for name, why in refused.items():
            notes.append(f"left out every pipeline starting with {name}: {why}")
        cands = [c for c in cands if c.compression not in refused]
    return cands, data


def _constant(X: np.ndarray) -> bool:
    """Whether no pixel varies across clips by more than rounding noise (the rule of the
    scalers' zero scales: 1e-30 relative to max(1, max|X|))."""
    if X.shape[0] < 2:
        return True
    hi, lo = np.max(X, axis=0), np.min(X, axis=0)  # max|X| from these: no copy of the clips
    spread = float(np.max(hi.astype(np.float64) - lo))
    scale = max(1.0, float(np.max(hi)), -float(np.min(lo)))
    return not spread > 1e-30 * scale


def _chance(y: np.ndarray, splits: Sequence[tuple[np.ndarray, np.ndarray]]) -> float:
    """Mean accuracy of answering each training fold's most frequent class."""
    accs = []
    for tr, te in splits:
        labels, counts = np.unique(y[tr], return_counts=True)
        accs.append(float(np.mean(y[te] == labels[counts.argmax()])))
    return float(np.mean(accs)) if accs else 0.0


def run_experiment(
    dataset: Dataset,
    *,
    scalers: Sequence[ScalerArg] | None = None,
    masks: Sequence[str | MaskSpec] | None = DEFAULT_MASKS,
    classifier: Classifier = "ridge",
    folds: int | None = None,
    epochs: int | None = None,
    groups: Literal["auto", "none"] | Sequence[Any] | np.ndarray = "auto",
    n_jobs: int = 2,
    random_state: int = 0,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    stats: PixelStats | None = None,
    executor: FitExecutor | None = None,
) -> ExperimentResult:
    """Search compression x scaling x mask with one classifier on shared folds, and recommend.

    Every configuration is the pipeline ``mask -> compression -> scaler -> classifier`` fitted
    on training folds only, evaluated on the same splits as every other (so any two compare fold
    by fold with the corrected paired t-test). The search is staged
    (:mod:`sndiag.experiment._search`): every candidate is screened on a quarter of each training
    fold, the best are finished on whole folds.

    Parameters
    ----------
    dataset : Dataset
        Labelled spectrograms ``X`` [shape=(n_clips, n_mels, n_frames)].
    scalers : sequence of str or (label, transformer), optional
        Scaler names and chains (``"db+band"``: stateless compression, then a fitted scaler), or
        ``(label, transformer)`` pairs of your own transformers on flattened clips. Default: the
        full search, :data:`DEFAULT_SCALERS` (4 compressions x 8 scalings). ``"none"`` is
        added when missing: it is the baseline of every p-value.
    masks : sequence of str or MaskSpec, optional
        Masks (:class:`~sndiag.masks.MaskSpec` or its text: ``"snr<0.5"``,
        ``"p10+rows:43-59+auto"``); ``"none"`` is always included. Every scaler runs with every
        mask; a mask is built on each training fold's raw statistics. A mask that masks nothing
        on any fold is left out with a note. In the CNN's default comparison these are the masks
        its ridge search tries (the pick keeps its mask; the other three run unmasked).
    classifier : {"ridge", "logreg", "mlp", "cnn"}
        ``"ridge"`` (default): least-squares classification solved in closed form, regularization
        chosen by group-wise inner CV (:class:`RidgeDualClassifier`). ``"logreg"``: logistic
        regression to ``tol=1e-4`` (not converged when it needs more than 1000 iterations).
        ``"mlp"``: a 128-unit MLP trained ``epochs`` epochs with per-epoch curves.
        ``"cnn"``: a small CNN (:class:`~sndiag.experiment.SmallCNN`, PyTorch: the extra
        ``sndiag[cnn]``) with early stopping and per-epoch and per-minibatch curves; it trains in
        this process, one configuration after the other. Its default comparison (``scalers``
        None) is the raw data, ``standard``, the pipeline that the ridge search recommends on
        the training clips, and ``batchnorm`` (the raw data into a BatchNorm first layer).
    folds : int, optional
        Outer folds. Default: one per group with at most 10 groups (leave one group out), else 5
        (group-wise when there are groups). The CNN's default is the first of those splits
        only: one training run per pipeline, with intervals and p-values over its test clips.
    epochs : int, optional
        Training epochs of ``"mlp"`` (default 20) and ``"cnn"`` (at most; default 15, with early
        stopping).
    groups : "auto", "none" or array-like [shape=(n_clips,)]
        ``"auto"`` uses ``dataset.groups`` (group-independent folds), ``"none"`` ignores them.
    n_jobs : int
        Parallel fits (processes); 1 runs in this process, -1 uses every core. Ignored when
        ``executor`` is given.
    random_state : int
        Seed of the splits, the screening subsamples and the classifiers.
    progress : callable(done, total) or None
        Called with the number of finished fits (0 first); ``total`` is revised after screening.
    cancel : callable() -> bool or None
        Polled between fits; True stops the run and returns what is complete, with
        ``cancelled=True``.
    stats : PixelStats or None
        Statistics of the whole dataset for the verdict's explanation; computed when None.
    executor : FitExecutor, optional
        Where the fits run; default ``FitExecutor(n_jobs)`` (this machine). A
        :class:`sndiag.distributed.DaskExecutor` runs them as tasks on a Dask cluster, with the
        same results. The CNN always trains in this process (its ridge pre-selection runs on
        ``executor``).

    Returns
    -------
    ExperimentResult
        With :attr:`~ExperimentResult.recommended` and :attr:`~ExperimentResult.verdict`.

    Raises
    ------
    DataError
        Unlabelled data or a single class.
    ParameterError
        Unknown scaler, mask or classifier, bad ``folds``/``epochs``/``n_jobs``.

    Examples
    --------
    >>> from sndiag.dataset import Dataset
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 20)
    >>> X = rng.gamma(2.0, 1.0, size=(40, 4, 5)) + y[:, None, None] * 2.0
    >>> res = run_experiment(Dataset(X, y=y), scalers=["none", "standard"], folds=4, n_jobs=1)
    >>> [c.label for c in res.configurations], res.folds, res.splitter
    (['none', 'standard'], 4, 'StratifiedKFold(n_splits=4, shuffle=True)')
    >>> res.get("standard").mean >= 0.9, res.get("standard").converged
    (True, True)
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
    per_epoch = classifier in ("mlp", "cnn")
    if epochs is None:
        epochs = DEFAULT_EPOCHS.get(classifier, 20)
    if per_epoch and (isinstance(epochs, bool) or not isinstance(epochs, int | np.integer)
                      or not 1 <= epochs <= 1000):
        raise ParameterError(f"epochs={epochs!r} must be an integer between 1 and 1000")
    if executor is None:
        executor = FitExecutor(n_jobs)  # checks n_jobs
    elif not isinstance(executor, FitExecutor):
        raise ParameterError(f"executor={executor!r} must be a FitExecutor (or None: this "
                             "machine)")
    mask_specs = _check_masks(masks)
    cnn_default = classifier == "cnn" and scalers is None
    if cnn_default:  # the ridge search's pick joins these once it is known
        notes: list[str] = []
        cands = parse_candidates(["none", "standard", INPUT_BATCHNORM], [MaskSpec()])
    else:
        scaler_list, notes = _check_scalers(scalers)
        if classifier == "cnn" and "standard" not in scaler_list:
            scaler_list.insert(1, "standard")
            notes.append("added the question's per-pixel standardization 'standard': the CNN's "
                         "curves always show it beside the raw data")
        cands = parse_candidates(scaler_list, mask_specs)  # unknown names fail before any work
    if classifier != "cnn" and any(c.scaler == INPUT_BATCHNORM for c in cands):
        raise ParameterError(f"{INPUT_BATCHNORM!r} is a layer of the CNN (BatchNorm on its "
                             "input), not a scaler: use it with classifier='cnn'")

    if isinstance(groups, str):
        if groups not in ("auto", "none"):
            raise ParameterError(f"groups={groups!r} must be 'auto', 'none' or an array")
        group_arr = dataset.groups if groups == "auto" else None
    else:
        group_arr = np.asarray(groups)
    if _constant(dataset.X):
        X = dataset.X
        raise DataError(
            f"the clips are all the same: no pixel varies across the {dataset.n_clips} clips by "
            f"more than rounding noise (values {float(X.min()):.3g}..{float(X.max()):.3g}), so "
            "no scaling can make them separable; check the extraction (silent or constant "
            "clips, or values near the float32 limit such as 1e-44)")
    plan = plan_splits(dataset.y, groups=group_arr, folds=folds, random_state=random_state)
    if classifier == "cnn" and folds is None:
        plan = plan.first_split(None if group_arr is None else np.asarray(group_arr))
    notes += list(plan.notes)
    X = dataset.X
    y = dataset.y
    with executor.session():  # one cluster and one shared folder for every fit below
        preselect: dict[str, Any] | None = None
        offset = [0]
        if cnn_default:
            n_cnn = (len(cands) + 1) * plan.n_folds * int(epochs)

            def pre_progress(done: int, total: int) -> None:
                offset[0] = done
                if progress is not None:
                    progress(done, total + n_cnn)

            cands, preselect = _cnn_preselect(
                dataset, plan, whole=folds is not None, groups=groups, masks=mask_specs,
                cands=cands, executor=executor, random_state=random_state,
                progress=pre_progress, cancel=cancel, notes=notes)
        report = progress
        if progress is not None and cnn_default:
            def report(done: int, total: int) -> None:
                progress(offset[0] + done, offset[0] + total)

        cands, data = _compress(cands, X, dataset.config, notes)
        notes.append(_classifier_note(classifier, epochs, grouped=plan.grouped))
        runs_on = executor.where if classifier != "cnn" else "this process"
        if classifier == "cnn" and not executor.in_process:
            notes.append(f"the CNN is not distributed: it trains in this process (the fits run "
                         f"on {executor.where} only for the other classifiers"
                         + (", here its ridge pre-selection)" if cnn_default else ")"))
        kw = {"y": y,
              "groups": None if group_arr is None or not plan.grouped else np.asarray(group_arr),
              "classifier": classifier, "classes": np.unique(y),
              "epochs": epochs if per_epoch else None, "shape": dataset.shape,
              "config": dataset.config, "random_state": int(random_state)}
        outcome = staged_search(cands, X=X, data=data, y=y, groups=kw["groups"], plan=plan,
                                kw=kw, classifier=classifier, executor=executor,
                                seed=random_state, progress=report, cancel=cancel,
                                provenance=dataset.provenance)
        chance = _chance(y, plan.splits)
        configurations, more = _assemble(outcome, classifier, chance)
        notes += more
        if outcome.cancelled:
            notes.append("cancelled: only what finished is kept")
        search = {**_search_info(outcome, len(cands)), "runs_on": runs_on}
        if preselect is not None:
            search["preselect"] = preselect
        device = next((o.get("device") for st in (outcome.final,) for outs in st.outputs.values()
                       for o in outs if o is not None and o.get("device")), None)
        if device is not None:
            from sndiag.experiment._cnn import device_text

            device = device_text(device)
            notes.append(f"the CNN trained on {device}")
        result = ExperimentResult(
            dataset=dataset.summary(), classifier=classifier, folds=plan.n_folds,
            splitter=plan.splitter, configurations=configurations, n_train=plan.n_train,
            n_test=plan.n_test, notes=notes, grouped=plan.grouped, cancelled=outcome.cancelled,
            random_state=int(random_state), chance=chance, search=search, device=device,
        )
        if stats is None and configurations:
            from sndiag.stats import compute_stats

            stats = compute_stats(dataset.X, dataset.y, quantiles="none")
        result.recommended = recommend(result)
        if plan.grouped and classifier == "ridge" and not outcome.cancelled \
                and result.get("none") is not None and result.get("standard") is not None:
            result.search["stratified"] = _crosscheck(result, dataset, data, kw, random_state,
                                                      executor)
    result.verdict = verdict(result, stats)
    result.seconds = time.perf_counter() - t_start
    return result


def _classifier_note(classifier: str, epochs: int | None, *, grouped: bool) -> str:
    """What the classifier is and how it is trained, for the notes."""
    if classifier == "ridge":
        return ("ridge = least-squares classification solved in closed form (always at its "
                "optimum); its relative regularization is chosen on each fold by inner "
                "cross-validation on training clips only"
                + (", one inner fold per training group" if grouped else ""))
    if classifier == "logreg":
        return (f"logreg = LogisticRegression(lbfgs, tol={LOGREG_TOL:g}); a fit that needs more "
                f"than {LOGREG_MAX_ITER} iterations is flagged as not converged")
    if classifier == "mlp":
        return (f"{classifier} trained {epochs} epochs; a fold's accuracy is the one after the "
                "last epoch (not the best epoch); not converged when its training loss was still "
                "falling over the last fifth of the epochs")
    return (f"cnn = a small CNN (3 blocks of 3x3 conv, ReLU and 2x2 max-pool with "
            f"{'/'.join(map(str, CNN_WIDTHS))} channels, max over time, one dense layer; PyTorch) "
            f"trained up to {epochs} epochs with Adam on minibatches of {BATCH_SIZE}, one "
            f"configuration after the other; {VAL_SHARE:.0%} of each training part "
            + ("(whole groups) " if grouped else "")
            + f"is held out as validation: training stops when its loss has not fallen for "
            f"{PATIENCE} epochs, and the weights of the epoch with the lowest validation loss are "
            "scored on the test part; not converged when it was still falling at the last epoch")


def _crosscheck(result: ExperimentResult, dataset: Dataset, data: dict[str, np.ndarray],
                kw: dict[str, Any], seed: int, executor: FitExecutor) -> dict[str, Any]:
    """The raw data, per-pixel standardization and the recommendation on stratified folds."""
    configs = [("none", "none", "none"), ("standard", "none", "standard")]
    masked: dict[str, np.ndarray | None] = {}
    rec = result.recommended
    if rec is not None and rec["scaler"] not in ("none", "standard"):
        cand = parse_candidates([rec["scaler"]], [MaskSpec.parse(rec["mask"])])[-1]
        if cand.estimator is None and cand.compression in data:
            label = result.get(rec["scaler"], rec["mask"]).label  # type: ignore[union-attr]
            configs.append((label, cand.compression, cand.scaler))
            if not cand.mask.is_empty:
                from sndiag.stats import compute_stats

                built = cand.mask.build(compute_stats(dataset.X, quantiles="none"),
                                        provenance=dataset.provenance)
                masked[label] = built.combined.ravel()
    return stratified_check(configs, data=data, y=dataset.y, kw=kw, seed=seed, masked=masked,
                            executor=executor)


def _cnn_preselect(dataset: Dataset, plan: CVPlan, *, whole: bool,
                   groups: Literal["auto", "none"] | Sequence[Any] | np.ndarray,
                   masks: list[MaskSpec], cands: list[Candidate], executor: FitExecutor,
                   random_state: int, progress: Callable[[int, int], None],
                   cancel: Callable[[], bool] | None,
                   notes: list[str]) -> tuple[list[Candidate], dict[str, Any]]:
    """The default CNN comparison's "recommended pipeline": what the ridge search recommends.

    With one split the search runs on that split's training part only (its own group-wise
    folds), so the pipeline is chosen without the CNN's test clips; with folds it runs on every
    clip (a note says so: the choice has seen each fold's test clips). The pick joins ``cands``
    (the raw data, ``standard`` and ``batchnorm``) after ``standard``.
    """
    idx = np.arange(dataset.n_clips) if whole else plan.splits[0][0]
    sub = dataset if whole else dataset.subset(idx)
    sub_groups = groups if isinstance(groups, str) else np.asarray(groups)[idx]
    pre = run_experiment(sub, masks=masks, classifier="ridge", groups=sub_groups,
                         executor=executor, random_state=random_state, progress=progress,
                         cancel=cancel)
    where = "every clip" if whole else f"the {idx.size} training clips of the split"
    rec = pre.recommended
    info: dict[str, Any] = {"classifier": "ridge", "clips": int(idx.size), "on": where,
                            "splitter": pre.splitter, "seconds": pre.seconds,
                            "runs_on": pre.search.get("runs_on"),
                            "cancelled": pre.cancelled,
                            "recommended": None if rec is None else {
                                k: rec[k] for k in ("scaler", "mask", "mean", "ci_low",
                                                    "ci_high")}}
    if pre.cancelled:
        return cands, info
    if rec is None:
        notes.append(f"the ridge search on {where} recommended no pipeline, so the CNN compares "
                     "the raw data, per-pixel standardization and the BatchNorm layer only")
        return cands, info
    pick = parse_candidates([rec["scaler"]], [MaskSpec.parse(rec["mask"])])[0]
    notes.append(f"the pipeline recommended for this comparison, {pick.label}, is what the ridge "
                 f"search ({pre.search.get('candidates', '?')} pipelines, {pre.splitter}) "
                 f"recommends on {where} ({100 * rec['mean']:.1f}% with ridge)"
                 + ("; it has seen every fold's test clips, so the CNN's score of it is a little "
                    "optimistic" if whole else "; the CNN's test clips took no part in choosing "
                    "it"))
    if all(c.label != pick.label for c in cands):
        cands = [*cands[:2], pick, *cands[2:]]
    return cands, info


def _search_info(outcome: SearchOutcome, n_candidates: int) -> dict[str, Any]:
    info: dict[str, Any] = {"candidates": n_candidates,
                            "fitted": n_candidates - len(outcome.same_as) - len(outcome.dropped)
                            - len(outcome.skipped),
                            "finished": len(outcome.finalists), "max_finalists": MAX_FINALISTS}
    if outcome.screen is not None:
        info["screening"] = {"share": SCREEN_SHARE, "n_train": outcome.screen.n_train}
    return info


def _mean_curves(curves: list[dict[str, list[float]]]) -> dict[str, list[float]] | None:
    """Each curve's mean over folds, epoch by epoch (a fold that stopped early counts for the
    epochs it ran)."""
    if not curves:
        return None
    out: dict[str, list[float]] = {}
    for key in dict.fromkeys(k for c in curves for k in c):
        rows = [list(c[key]) for c in curves if key in c]
        n = max(len(r) for r in rows)
        grid = np.full((len(rows), n), np.nan)
        for i, r in enumerate(rows):
            grid[i, :len(r)] = np.asarray(r, dtype=float)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out[key] = np.nanmean(grid, axis=0).tolist() if n else []
    return out


def _stage_result(stage: Stage, i: int) -> dict[str, Any] | None:
    if not stage.complete(i):
        return None
    outs = [o for o in stage.outputs[i] if o is not None]
    return {"acc": [float(o["accuracy"]) for o in outs], "outs": outs,
            "n_train": stage.n_train, "n_test": stage.n_test}


def _assemble(outcome: SearchOutcome, classifier: str,
              chance: float) -> tuple[list[ConfigResult], list[str]]:
    """One :class:`ConfigResult` per candidate, at the furthest stage it completed."""
    notes: list[str] = []
    cands = outcome.candidates
    by_stage: dict[int, tuple[str, dict[str, Any]]] = {}
    for i in range(len(cands)):
        j = outcome.same_as.get(i, i)
        final = _stage_result(outcome.final, j)
        screen = _stage_result(outcome.screen, j) if outcome.screen is not None else None
        if final is not None:
            by_stage[i] = ("final", final)
        elif screen is not None:
            by_stage[i] = ("screening", screen)
    out: list[ConfigResult] = []
    for i, cand in enumerate(cands):
        if i in outcome.dropped or i not in by_stage:
            continue
        stage, res = by_stage[i]
        accs = res["acc"]
        outs = res["outs"]
        test_correct = None
        if len(accs) == 1:  # one split: an interval over its test clips
            test_correct = [int(v) for v in outs[0]["correct"]]
            lo, hi = binomial_ci(test_correct)
        else:
            lo, hi = corrected_ci(accs, n_train=res["n_train"], n_test=res["n_test"],
                                  bounds=(0.0, 1.0))
        cnotes: list[str] = []
        converged = all(o["converged"] for o in outs)
        if not converged:
            n_bad = sum(not o["converged"] for o in outs)
            why = {"logreg": f"logistic regression needed more than {LOGREG_MAX_ITER} "
                             "iterations (slow convergence on this scaling)",
                   "mlp": "the training loss was still falling at the last epoch (more epochs "
                          "would change the accuracy)",
                   "cnn": "the validation loss was still falling when the epochs ran out (more "
                          "epochs could change the accuracy)"}.get(classifier,
                                                                    "the fit did not converge")
            cnotes.append(f"not converged in {n_bad}/{len(outs)} folds: {why}")
        for m in sorted({m for o in outs for m in o["messages"]}):
            cnotes.append(f"{m} in {sum(m in o['messages'] for o in outs)}/{len(outs)} folds")
        at_chance = lo <= chance + 1e-12
        if at_chance:
            cnotes.append(f"not above chance: its 95% interval ({100 * lo:.1f}-{100 * hi:.1f}%) "
                          f"reaches the {100 * chance:.1f}% of always answering the most "
                          "frequent class")
        same = outcome.same_as.get(i)
        if same is not None:
            cnotes.append(f"the same model as {cands[same].label} (a linear classifier with an "
                          "intercept ignores a per-pixel shift and, with relative "
                          "regularization, one global scale; fitted once)")
        if stage == "screening":
            cnotes.append(f"screened only (trained on {SCREEN_SHARE:.0%} of each training "
                          "fold): the finished candidates beat it")
        epochs = _mean_curves([o["curves"] for o in outs if o.get("curves") is not None])
        j = outcome.same_as.get(i, i)
        screening = None
        if stage == "final" and outcome.screen is not None:
            sres = _stage_result(outcome.screen, j)
            screening = None if sres is None else sres["acc"]
        alphas = [o["alpha"] for o in outs] if classifier == "ridge" else None
        out.append(ConfigResult(
            scaler=cand.name, mask=cand.mask.spec, classifier=classifier, fold_accuracies=accs,
            mean=float(np.mean(accs)), ci_low=lo, ci_high=hi, p_vs_none=None,
            fit_seconds=float(sum(o["seconds"] for o in outs)), epochs=epochs, notes=cnotes,
            cpu_seconds=float(sum(o["cpu_seconds"] for o in outs)), converged=converged,
            at_chance=at_chance, stage=stage, n_train=list(res["n_train"]),
            n_test=list(res["n_test"]), screening=screening,
            alphas=None if alphas is None or None in alphas else alphas,
            same_as=None if same is None else cands[same].label, test_correct=test_correct,
            best_epochs=[int(o["best_epoch"]) for o in outs] if classifier == "cnn" else None))
    base = next((c for c in out if c.scaler == "none" and c.mask == "none"), None)
    for c in out:
        if base is not None and c is not base:
            if c.test_correct is not None and base.test_correct is not None:
                c.p_vs_none = mcnemar_test(c.test_correct, base.test_correct)
                continue
            ref = base.fold_accuracies if c.stage == base.stage else \
                (base.screening if c.stage == "screening" else None)
            if ref is not None and len(ref) >= 2:
                _, c.p_vs_none = corrected_ttest(c.fold_accuracies, ref, n_train=c.n_train,
                                                 n_test=c.n_test)
    if outcome.skipped:
        notes.append(f"masks were screened on the raw data, per-pixel standardization and the "
                     f"{MAX_FINALISTS} best unmasked pipelines; {len(outcome.skipped)} masked "
                     "variants of the others were not fitted")
    if outcome.dropped:
        specs = sorted({cands[i].mask.spec for i in outcome.dropped})
        notes.append(f"mask {', '.join(specs)} masks nothing on this data (no row is flagged on "
                     "any fold): its pipelines are the unmasked ones, left out")
    return out, notes
