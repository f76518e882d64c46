"""The cross-validation splits that every configuration shares."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.model_selection import (
    GroupKFold,
    LeaveOneGroupOut,
    StratifiedGroupKFold,
    StratifiedKFold,
)

from sndiag.errors import DataError, ParameterError


@dataclass(frozen=True)
class CVPlan:
    """The cross-validation splits every configuration shares (paired comparison).

    Attributes
    ----------
    splits : tuple of (train_index, test_index)
    splitter : str
        Human description, e.g. ``"StratifiedGroupKFold(n_splits=5) over 6 groups"``.
    grouped : bool
        True when no group appears in both the training and the test part of a split.
    notes : tuple of str
        What was adjusted and why (e.g. fewer folds than asked).
    """

    splits: tuple[tuple[np.ndarray, np.ndarray], ...]
    splitter: str
    grouped: bool
    notes: tuple[str, ...] = ()

    @property
    def n_folds(self) -> int:
        return len(self.splits)

    @property
    def n_train(self) -> list[int]:
        return [int(tr.size) for tr, _ in self.splits]

    @property
    def n_test(self) -> list[int]:
        return [int(te.size) for _, te in self.splits]

    def first_split(self, groups: np.ndarray | None = None) -> CVPlan:
        """This plan cut to its first split (the CNN's default: one training run per pipeline).

        Parameters
        ----------
        groups : np.ndarray or None
            Group of each clip, to name the held-out groups in the note.

        Examples
        --------
        >>> y = np.repeat(["a", "b"], 6)
        >>> g = np.tile(["s1", "s2", "s3"], 4)
        >>> one = plan_splits(y, groups=g).first_split(g)
        >>> one.n_folds, one.splitter
        (1, 'one split: fold 1 of LeaveOneGroupOut over 3 groups')
        >>> one.notes[-1][:46]
        'one split: 4 test clips of held-out group s1; '
        """
        tr, te = self.splits[0]
        held = ""
        if groups is not None and self.grouped:
            names = sorted({str(v) for v in np.asarray(groups)[te]})
            held = (f" of held-out group{'s' if len(names) > 1 else ''} "
                    f"{', '.join(names[:5])}{', ...' if len(names) > 5 else ''}")
        note = (f"one split: {te.size} test clips{held}; each pipeline is trained once, so its "
                "95% interval (Wilson) and its p-values (exact McNemar test, paired by test clip) "
                "count these clips as independent: they say nothing about other groups or another "
                "training run (ask for folds for an estimate across groups)")
        kept = tuple(n for n in self.notes if "one fold per group" not in n)
        return CVPlan(((tr, te),), f"one split: fold 1 of {self.splitter}", self.grouped,
                      (*kept, note))


#: With this many groups or fewer, the default is one fold per group (leave one group out).
LOGO_MAX_GROUPS = 10


def plan_splits(y: Sequence[Any] | np.ndarray, *,
                groups: Sequence[Any] | np.ndarray | None = None, folds: int | None = None,
                random_state: int = 0) -> CVPlan:
    """Choose the splitter and compute the splits.

    Without groups: ``StratifiedKFold(shuffle=True)``, 5 folds unless ``folds`` says otherwise.
    With groups (e.g. speakers), the estimate is group-independent: by default, with at most
    :data:`LOGO_MAX_GROUPS` groups, one fold per group (``LeaveOneGroupOut``: every model trains
    on all other groups, as a deployed one would); with more groups, or when ``folds`` is given,
    ``StratifiedGroupKFold(shuffle=True)`` (``GroupKFold`` if that leaves a test fold empty),
    reduced to the number of groups when there are fewer, with a note.

    Parameters
    ----------
    y : array-like [shape=(n_clips,)]
        Class labels.
    groups : array-like [shape=(n_clips,)] or None
        Group of each clip; None for ungrouped data.
    folds : int or None
        Requested number of folds, >= 2; None chooses (see above).
    random_state : int
        Seed of the shuffling splitters.

    Returns
    -------
    CVPlan

    Examples
    --------
    >>> y = np.repeat(["a", "b"], 6)
    >>> plan = plan_splits(y, groups=np.tile(["s1", "s2", "s3"], 4), folds=5)
    >>> plan.n_folds, plan.grouped, plan.notes[0][:40]
    (3, True, 'only 3 groups: using 3 group-wise folds ')
    >>> plan_splits(y, groups=np.tile(["s1", "s2", "s3"], 4)).splitter
    'LeaveOneGroupOut over 3 groups'
    >>> plan_splits(y, folds=3).splitter
    'StratifiedKFold(n_splits=3, shuffle=True)'
    """
    y = np.asarray(y)
    n = y.shape[0]
    auto = folds is None
    if auto:
        folds = 5
    if isinstance(folds, bool) or not isinstance(folds, int | np.integer) or folds < 2:
        raise ParameterError(f"folds={folds!r} must be an integer >= 2, e.g. 5")
    folds = int(folds)
    labels, counts = np.unique(y, return_counts=True)
    if labels.size < 2:
        raise DataError(f"the experiment needs at least 2 classes; the labels hold only "
                        f"{labels.tolist()}")
    if counts.max() < 2:
        raise DataError(f"every one of the {labels.size} classes has a single clip: "
                        "cross-validation cannot test a class it has trained on; add clips "
                        "(at least 2 per class, better 10)")
    if n < 2 * folds and groups is None:
        if not auto:
            raise ParameterError(f"{n} clips are too few for folds={folds}; use folds <= "
                                 f"{n // 2} or add clips")
        folds = max(2, n // 2)
    notes: list[str] = []
    if groups is not None:
        g = np.asarray(groups)
        if g.shape != y.shape:
            raise ParameterError(f"groups has {g.size} entries but y has {n}; they must match")
        n_groups = int(np.unique(g).size)
        if n_groups < 2:
            notes.append(f"only {n_groups} group: ignored it and used stratified folds, so the "
                         "estimate is NOT group-independent")
            groups = None
        elif auto and n_groups <= LOGO_MAX_GROUPS:
            splits = list(LeaveOneGroupOut().split(y, y, g))
            _check_trainable(y, splits)
            notes.append(f"{n_groups} groups: one fold per group (leave one group out), so each "
                         "model trains on every other group, as a deployed one would")
            _unseen_notes(y, splits, notes)
            return CVPlan(tuple(splits), f"LeaveOneGroupOut over {n_groups} groups", True,
                          tuple(notes))
        else:
            if n_groups < folds:
                notes.append(f"only {n_groups} groups: using {n_groups} group-wise folds instead "
                             f"of {folds}")
                folds = n_groups
            splits = _group_splits(y, g, folds, random_state)
            name = f"StratifiedGroupKFold(n_splits={folds}, shuffle=True) over {n_groups} groups"
            if splits is None:
                splits = list(GroupKFold(n_splits=folds, shuffle=True,
                                         random_state=random_state).split(y, y, g))
                name = f"GroupKFold(n_splits={folds}, shuffle=True) over {n_groups} groups"
            _check_trainable(y, splits)
            _unseen_notes(y, splits, notes)
            return CVPlan(tuple(splits), name, True, tuple(notes))
    if counts.max() < folds:
        notes.append(f"the largest class has only {counts.max()} clips: using {counts.max()} "
                     f"stratified folds instead of {folds}")
        folds = int(counts.max())
    if counts.min() < folds:
        notes.append(f"class {labels[counts.argmin()]!r} has only {counts.min()} clips, fewer "
                     f"than the {folds} folds: some test folds lack it")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state)
        splits = list(splitter.split(np.zeros(n), y))
    return CVPlan(tuple(splits), f"StratifiedKFold(n_splits={folds}, shuffle=True)", False,
                  tuple(notes))


def _check_trainable(y: np.ndarray, splits: list[tuple[np.ndarray, np.ndarray]]) -> None:
    """Refuse group-wise splits whose training part holds a single class (each group one class:
    labels and groups confounded), with the way out."""
    for i, (tr, _) in enumerate(splits):
        classes = np.unique(y[tr])
        if classes.size < 2:
            raise DataError(
                f"with groups held out, fold {i + 1} of {len(splits)} trains on one class only "
                f"({str(classes[0])!r}): the groups and the labels are confounded (e.g. each "
                "group holds one class); add groups that share classes, or ignore the groups "
                "(--ignore-groups, groups='none'; the estimate is then not group-independent)")


def _unseen_notes(y: np.ndarray, splits: list[tuple[np.ndarray, np.ndarray]],
                  notes: list[str]) -> None:
    for i, (tr, te) in enumerate(splits):
        unseen = np.setdiff1d(np.unique(y[te]), np.unique(y[tr]))
        if unseen.size:
            notes.append(f"fold {i + 1} tests classes {unseen.tolist()[:5]} absent from its "
                         "training part (labels and groups are confounded): its accuracy "
                         "understates what any scaler can do")


def _group_splits(y: np.ndarray, g: np.ndarray, folds: int,
                  random_state: int) -> list[tuple[np.ndarray, np.ndarray]] | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=random_state)
        splits = list(splitter.split(np.zeros(y.shape[0]), y, g))
    if any(te.size == 0 or tr.size == 0 for tr, te in splits):
        return None
    return splits
