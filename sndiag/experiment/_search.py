"""The staged search: every candidate screened on part of each training fold, the best finished.

Successive halving, as scikit-learn's ``HalvingGridSearchCV`` does it, on the same outer folds for
every candidate (so any two can be compared fold by fold):

1. **Screening.** Every candidate is fitted on a stratified quarter of each training fold and
   scored on the whole test fold. For the ridge classifier this also chooses its regularization,
   by inner cross-validation on that quarter (one inner fold per training group).
2. **Final.** The raw data, the question's per-pixel standardization, and the best candidates
   that the corrected paired t-test has not ruled out against the screening leader (at most
   :data:`MAX_FINALISTS`) are fitted again on the whole training folds, the ridge classifier with
   the regularization each chose on its fold in step 1.

Candidates that are the same model (:func:`~sndiag.experiment._space.same_model_key`) are fitted
once. Stateless compressions are computed once for the whole dataset; masks are built on each
fold's raw training statistics.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sndiag.experiment._executor import FitExecutor
from sndiag.experiment._fit import FoldTask
from sndiag.experiment._significance import corrected_ttest
from sndiag.experiment._space import Candidate, same_model_key
from sndiag.experiment._splits import CVPlan

__all__ = ["MAX_FINALISTS", "SCREEN_SHARE", "SearchOutcome", "staged_search"]

#: Share of each training fold the screening stage trains on.
SCREEN_SHARE = 0.25
#: Most candidates finished on whole training folds (besides the raw data and ``standard``).
MAX_FINALISTS = 6
#: Fewest training clips per class a screening subsample keeps.
MIN_PER_CLASS = 12
_ALPHA = 0.05


@dataclass
class Stage:
    """One stage's fits: per candidate index, the fold outputs (None where not run)."""

    name: str
    splits: list[tuple[np.ndarray, np.ndarray]]
    outputs: dict[int, list[dict[str, Any] | None]] = field(default_factory=dict)

    @property
    def n_train(self) -> list[int]:
        return [int(tr.size) for tr, _ in self.splits]

    @property
    def n_test(self) -> list[int]:
        return [int(te.size) for _, te in self.splits]

    def complete(self, i: int) -> bool:
        outs = self.outputs.get(i)
        return outs is not None and all(o is not None for o in outs)

    def accuracies(self, i: int) -> list[float]:
        return [float(o["accuracy"]) for o in self.outputs[i]]  # type: ignore[index]


@dataclass
class SearchOutcome:
    """What :func:`staged_search` measured."""

    candidates: list[Candidate]
    screen: Stage | None
    final: Stage
    finalists: list[int]
    same_as: dict[int, int]
    dropped: list[int] = field(default_factory=list)
    cancelled: bool = False
    notes: list[str] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)


def _subsample(train: np.ndarray, y: np.ndarray, share: float, seed: int) -> np.ndarray:
    """A stratified share of ``train`` (at least MIN_PER_CLASS clips of each class)."""
    rng = np.random.default_rng(seed)
    keep = []
    for c in np.unique(y[train]):
        idx = train[y[train] == c]
        k = min(idx.size, max(MIN_PER_CLASS, math.ceil(share * idx.size)))
        keep.append(rng.choice(idx, size=k, replace=False))
    return np.sort(np.concatenate(keep))


def screening_splits(plan: CVPlan, y: np.ndarray, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each training fold cut to a stratified :data:`SCREEN_SHARE`, the test folds whole."""
    return [(_subsample(tr, y, SCREEN_SHARE, seed + i), te) for i, (tr, te) in enumerate(plan.splits)]


def _masked(cands: Sequence[Candidate], splits: Sequence[tuple[np.ndarray, np.ndarray]],
            X: np.ndarray, provenance: Mapping[str, Any] | None = None
            ) -> dict[tuple[str, int], np.ndarray | None]:
    """Pixels each mask spec zeroes on each fold, built on the fold's raw training statistics
    (and the dataset's provenance: the source sample rates behind *auto*'s rows above Nyquist)."""
    from sndiag.stats import compute_stats

    out: dict[tuple[str, int], np.ndarray | None] = {}
    specs = {c.mask.spec: c.mask for c in cands if not c.mask.is_empty}
    for f, (tr, _) in enumerate(splits):
        if not specs:
            break
        stats = compute_stats(X[tr], quantiles="none")
        for key, spec in specs.items():
            out[(key, f)] = spec.build(stats, provenance=provenance).combined.ravel()
    return out


def _mask_key(cand: Candidate, masked: dict[tuple[str, int], np.ndarray | None],
              n_folds: int) -> bytes:
    if cand.mask.is_empty:
        return b""
    parts = [masked[(cand.mask.spec, f)] for f in range(n_folds)]
    if not any(p is not None and p.any() for p in parts):
        return b""
    return b"|".join(np.packbits(p).tobytes() for p in parts if p is not None)


def staged_search(cands: list[Candidate], *, X: np.ndarray, data: dict[str, np.ndarray],
                  y: np.ndarray, groups: np.ndarray | None, plan: CVPlan, kw: dict[str, Any],
                  classifier: str, executor: FitExecutor, seed: int,
                  progress: Callable[[int, int], None] | None,
                  cancel: Callable[[], bool] | None,
                  provenance: Mapping[str, Any] | None = None) -> SearchOutcome:
    """Screen every candidate, finish the best; see the module docstring.

    Parameters
    ----------
    cands : list of Candidate
        The search space; ``cands[0]`` is the raw data.
    X : np.ndarray [shape=(n_clips, n_mels, n_frames)]
        The raw clips (masks are built on their training statistics).
    data : dict of str to np.ndarray
        Each compression's clips (``"none"``: ``X`` itself).
    plan : CVPlan
        The outer folds.
    kw : dict
        Keyword arguments of :func:`~sndiag.experiment._fit._fit_fold`.
    executor : FitExecutor
        Where the fits run; the CNN's always run in this process, one after the other.
    provenance : Mapping, optional
        The dataset's provenance, for the masks (:meth:`sndiag.masks.MaskSpec.build`).
    """
    k = plan.n_folds
    # Screening pays only when there is something to drop or a regularization to choose; the
    # CNN is never screened (a quarter of the clips would train a different network).
    halve = classifier != "cnn" and (len(cands) > MAX_FINALISTS + 2 or classifier == "ridge")
    # The CNN trains here, one fit after the other, and reports every epoch; the others count
    # one step per fit.
    per_epoch = classifier == "cnn"
    unit = int(kw["epochs"]) if per_epoch else 1
    screen_splits = screening_splits(plan, y, seed) if halve else None
    stages = [s for s in ((screen_splits, "screening"), (list(plan.splits), "final")) if s[0]]
    masked = {name: _masked(cands, splits, X, provenance) for splits, name in stages}
    dropped = [i for i, c in enumerate(cands) if not c.mask.is_empty and not any(
        m is not None and m.any() for (spec, _), m in
        ((key, v) for stage in masked.values() for key, v in stage.items())
        if spec == c.mask.spec)]
    keys = [same_model_key(c, _mask_key(c, masked["final"], k)) if classifier == "ridge"
            else None for c in cands]
    same_as: dict[int, int] = {}
    for i, key in enumerate(keys):
        if key is not None and i not in dropped:
            first = next(j for j, kj in enumerate(keys) if kj == key and j not in dropped)
            if first != i:
                same_as[i] = first
    unique = [i for i in range(len(cands)) if i not in same_as and i not in dropped]
    screen = Stage("screening", screen_splits) if screen_splits else None
    final = Stage("final", list(plan.splits))
    must = [i for i in unique if cands[i].is_raw
            or (cands[i].name == "standard" and cands[i].mask.is_empty)]
    est_final = len(unique) if not screen else min(len(unique), MAX_FINALISTS + len(must))
    total = [(len(unique) * k if screen else 0) + est_final * k * unit]
    done = [0]
    if progress is not None:
        progress(0, total[0])
    stop = cancel if cancel is not None else (lambda: False)
    if per_epoch:
        executor = FitExecutor(n_jobs=1)

        def tick() -> bool:
            done[0] += 1
            if progress is not None:
                progress(min(done[0], total[0]), total[0])
            return not stop()

        kw = {**kw, "on_epoch": tick, "should_stop": stop}

    def tasks_for(stage: Stage, which: list[int], alphas: dict[tuple[int, int], float] | None
                  ) -> list[FoldTask]:
        out = []
        for i in which:
            c = cands[i]
            stage.outputs[i] = [None] * k
            for f, (tr, te) in enumerate(stage.splits):
                m = masked[stage.name].get((c.mask.spec, f)) if not c.mask.is_empty else None
                out.append(FoldTask(key=(i, f, 0 if stage is screen else 1),
                                    compression=c.compression, scaler=c.scaler,
                                    estimator=c.estimator, train=tr, test=te, masked=m,
                                    alphas=None if alphas is None else alphas.get((i, f))))
        return out

    def on_done(stage: Stage) -> Callable[[dict[str, Any]], bool]:
        def record(out: dict[str, Any]) -> bool:
            if out.get("cancelled"):  # a fit stopped halfway is not a result
                return False
            i, f, _ = out["key"]
            stage.outputs[i][f] = out
            # a CNN's epochs were counted as they ran; early stopping skips the rest
            done[0] += unit - int(out.get("epochs_run", 0)) if per_epoch else 1
            if progress is not None:
                progress(done[0], total[0])
            return not stop()
        return record

    outcome = SearchOutcome(cands, screen, final, [], same_as, dropped)
    with executor.bind(data, kw) as run:
        if cancel is not None and cancel():
            outcome.cancelled = True
            return outcome
        alphas = None
        if screen is not None:
            # Masks are screened on the raw data, per-pixel standardization and the best
            # unmasked pipelines only: a mask refines a pipeline, it rarely rescues a bad one.
            first = [i for i in unique if cands[i].mask.is_empty
                     or cands[i].name in ("none", "standard")]
            later = [i for i in unique if i not in first]
            if not run(tasks_for(screen, first, None), on_done(screen)):
                outcome.cancelled = True
                return outcome
            if later:
                best = {cands[i].name for i in sorted(
                    (i for i in first if cands[i].mask.is_empty),
                    key=lambda i: -float(np.mean(screen.accuracies(i))))[:MAX_FINALISTS]}
                second = [i for i in later if cands[i].name in best]
                outcome.skipped = [i for i in later if i not in second]
                total[0] -= len(outcome.skipped) * k
                if not run(tasks_for(screen, second, None), on_done(screen)):
                    outcome.cancelled = True
                    return outcome
                unique = [i for i in unique if i not in outcome.skipped]
            finalists = _finalists(screen, unique, must)
            if classifier == "ridge":
                alphas = {(i, f): screen.outputs[i][f]["alpha"]  # type: ignore[index]
                          for i in finalists for f in range(k)}
        else:
            finalists = unique
        outcome.finalists = finalists
        total[0] = done[0] + len(finalists) * k * unit
        if not run(tasks_for(final, finalists, alphas), on_done(final)):
            outcome.cancelled = True
    return outcome


def _finalists(screen: Stage, unique: list[int], must: list[int]) -> list[int]:
    """The raw data and ``standard``, then the best screened candidates the paired test has not
    ruled out against the leader, at most :data:`MAX_FINALISTS` of them."""
    ranked = sorted(unique, key=lambda i: -float(np.mean(screen.accuracies(i))))
    leader = ranked[0]
    chosen: list[int] = []
    for i in ranked:
        if len(chosen) >= MAX_FINALISTS:
            break
        if i != leader:
            diff = float(np.mean(screen.accuracies(i)) - np.mean(screen.accuracies(leader)))
            _, p = corrected_ttest(screen.accuracies(i), screen.accuracies(leader),
                                   n_train=screen.n_train, n_test=screen.n_test)
            if diff < 0 and math.isfinite(p) and p < _ALPHA:
                continue
        chosen.append(i)
    return list(dict.fromkeys([*must, *sorted(chosen)]))
