"""Do group folds and stratified folds tell the same story? A quick cross-check.

With groups (speakers, kits, sessions) the experiment's folds keep each group out of its own
training data, as a model meeting new speakers is tested. A practitioner who splits clips at
random (stratified) often sees another ranking: per-pixel standardization can win there and lose
on new groups, because what it learns per pixel includes how the *training* groups differ. This
module refits the raw data and per-pixel standardization (and the recommendation) on stratified
folds of a subsample, so the verdict can say when the two disagree and point to the group drift
map (:func:`sndiag.drift.group_drift`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.model_selection import StratifiedKFold

from sndiag.experiment._executor import FitExecutor
from sndiag.experiment._fit import FoldTask

__all__ = ["CHECK_CLIPS", "CHECK_FOLDS", "stratified_check"]

#: Most clips the cross-check fits on (a stratified subsample), and its folds.
CHECK_CLIPS = 800
CHECK_FOLDS = 5


def stratified_check(configs: Sequence[tuple[str, str, str]], *, data: Mapping[str, np.ndarray],
                     y: np.ndarray, kw: Mapping[str, Any], seed: int,
                     masked: Mapping[str, np.ndarray | None] | None = None,
                     executor: FitExecutor | None = None) -> dict[str, Any]:
    """Mean accuracy of each ``(label, compression, scaler)`` on stratified folds, groups ignored.

    Parameters
    ----------
    configs : sequence of (label, compression, scaler)
    data : mapping of str to np.ndarray
        Each compression's clips (as the search has them).
    y : np.ndarray
        Labels of all clips.
    kw : mapping
        Keyword arguments of the search's fits (classifier, classes, shape, config, ...).
    masked : mapping of label to bool array, optional
        Pixels each configuration's mask zeroes (built on all clips; a quick check).
    executor : FitExecutor, optional
        Where the fits run (default: this process).

    Returns
    -------
    dict
        ``n_clips``, ``folds`` and ``accuracy`` (label -> mean), ``fold_accuracies``.
    """
    n = y.shape[0]
    rng = np.random.default_rng(seed)
    share = min(1.0, CHECK_CLIPS / n)
    keep = np.sort(np.concatenate([
        rng.choice(idx, size=max(CHECK_FOLDS, int(round(share * idx.size))), replace=False)
        if idx.size > CHECK_FOLDS else idx
        for idx in (np.flatnonzero(y == c) for c in np.unique(y))]))
    counts = np.unique(y[keep], return_counts=True)[1]
    k = int(min(CHECK_FOLDS, counts.min()))
    if k < 2:
        return {}
    splits = list(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
                  .split(np.zeros(keep.size), y[keep]))
    fit_kw = {**kw, "groups": None, "epochs": None}
    out: dict[str, Any] = {"n_clips": int(keep.size), "folds": k, "accuracy": {},
                           "fold_accuracies": {}}
    labels = [label for label, _, _ in configs]
    tasks = [FoldTask(key=(i, 0, f), compression=compression, scaler=scaler, estimator=None,
                      train=keep[tr], test=keep[te],
                      masked=None if masked is None else masked.get(label))
             for i, (label, compression, scaler) in enumerate(configs)
             for f, (tr, te) in enumerate(splits)]
    accs: list[list[float]] = [[0.0] * k for _ in configs]

    def record(res: dict[str, Any]) -> bool:
        i, _, f = res["key"]
        accs[i][f] = float(res["accuracy"])
        return True

    used = {task.compression: data[task.compression] for task in tasks}
    with (executor or FitExecutor()).bind(used, fit_kw) as run:
        run(tasks, record)
    for label, fold_accs in zip(labels, accs, strict=True):
        out["fold_accuracies"][label] = fold_accs
        out["accuracy"][label] = float(np.mean(fold_accs))
    return out
