"""Result containers, JSON round trip and the text table."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sndiag.errors import DataError
from sndiag.experiment._significance import corrected_ttest, mcnemar_test
from sndiag.masks import MaskSpec

SCHEMA_VERSION = 2


def _json_float(v: float | None) -> float | None:
    return None if v is None or not math.isfinite(v) else float(v)


def _float(v: Any) -> float:
    return math.nan if v is None else float(v)


@dataclass
class ConfigResult:
    """Cross-validated scores of one (scaler, mask) configuration.

    Attributes
    ----------
    scaler, mask, classifier : str
        Scaler name, canonical mask spec (:attr:`~sndiag.masks.MaskSpec.spec`) and classifier.
    fold_accuracies : list of float
        Held-out accuracy of every fold, in split order.
    mean, ci_low, ci_high : float
        Mean accuracy and its 95% interval (:func:`corrected_ci`).
    p_vs_none : float or None
        :func:`corrected_ttest` p-value against ``"none"`` with the same mask; None for
        ``"none"`` itself.
    fit_seconds : float
        Wall time summed over folds (fitting, and for per-epoch classifiers, evaluating each
        epoch).
    cpu_seconds : float
        CPU time of the same work (all threads of the fitting process); on a busy machine it
        stays close to what the fits cost on an idle one, unlike ``fit_seconds``.
    epochs : dict or None
        Per-epoch curves (MLP/CNN), the mean over folds: ``val_accuracy``, ``val_loss``,
        ``train_accuracy``, ``train_loss`` per epoch and, for the CNN, ``batch_accuracy`` per
        minibatch. The CNN's validation clips are part of each training fold (they stop its
        training); the MLP's "validation" values are on the test fold. A fold that stopped
        early contributes to the epochs it ran.
    notes : list of str
        Convergence or numerical problems of this configuration.
    converged : bool
        Every fold's classifier reached its optimum (closed form, or an iterative fit that
        stopped on its tolerance, not its cap; an MLP whose training loss had levelled off).
    at_chance : bool
        The 95% interval reaches the chance level (:attr:`ExperimentResult.chance`): the
        configuration learnt nothing measurable.
    stage : {"final", "screening"}
        Where the numbers come from: whole training folds, or the screening stage's quarter of
        them (a candidate the search did not finish; see :mod:`sndiag.experiment._search`).
    n_train, n_test : list of int
        Training and test clips of each fold at that stage.
    screening : list of float or None
        Fold accuracies at the screening stage (for finished candidates too).
    alphas : list of float or None
        The ridge classifier's relative regularization on each fold.
    same_as : str or None
        The label of the configuration that is the same model (fitted once, numbers shared).
    test_correct : list of int or None
        With one split only: 0/1 per test clip, for the paired test by clip
        (:func:`~sndiag.experiment.mcnemar_test`).
    best_epochs : list of int or None
        The CNN's epoch with the lowest validation loss on each fold (its weights are scored).
    """

    scaler: str
    mask: str
    classifier: str
    fold_accuracies: list[float]
    mean: float
    ci_low: float
    ci_high: float
    p_vs_none: float | None
    fit_seconds: float
    epochs: dict[str, list[float]] | None = None
    notes: list[str] = field(default_factory=list)
    cpu_seconds: float = 0.0
    converged: bool = True
    at_chance: bool = False
    stage: str = "final"
    n_train: list[int] = field(default_factory=list)
    n_test: list[int] = field(default_factory=list)
    screening: list[float] | None = None
    alphas: list[float] | None = None
    same_as: str | None = None
    test_correct: list[int] | None = None
    best_epochs: list[int] | None = None

    @property
    def usable(self) -> bool:
        """Finished, converged and above chance: may be recommended."""
        return self.stage == "final" and self.converged and not self.at_chance \
            and math.isfinite(self.mean)

    @property
    def label(self) -> str:
        """``"band"`` or ``"band | mask p10"``."""
        return self.scaler if self.mask == "none" else f"{self.scaler} | mask {self.mask}"

    def to_dict(self) -> dict[str, Any]:
        epochs = None
        if self.epochs is not None:
            epochs = {k: [_json_float(v) for v in vals] for k, vals in self.epochs.items()}
        return {
            "scaler": self.scaler, "mask": self.mask, "classifier": self.classifier,
            "fold_accuracies": [float(a) for a in self.fold_accuracies],
            "mean": _json_float(self.mean), "ci_low": _json_float(self.ci_low),
            "ci_high": _json_float(self.ci_high), "p_vs_none": _json_float(self.p_vs_none),
            "fit_seconds": float(self.fit_seconds), "epochs": epochs, "notes": list(self.notes),
            "cpu_seconds": float(self.cpu_seconds), "converged": bool(self.converged),
            "at_chance": bool(self.at_chance), "stage": self.stage,
            "n_train": [int(n) for n in self.n_train], "n_test": [int(n) for n in self.n_test],
            "screening": None if self.screening is None else [float(a) for a in self.screening],
            "alphas": None if self.alphas is None else [float(a) for a in self.alphas],
            "same_as": self.same_as,
            "test_correct": None if self.test_correct is None
            else [int(v) for v in self.test_correct],
            "best_epochs": None if self.best_epochs is None
            else [int(v) for v in self.best_epochs],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ConfigResult:
        epochs = d.get("epochs")
        if epochs is not None:
            epochs = {k: [_float(v) for v in vals] for k, vals in epochs.items()}
        return cls(
            scaler=str(d["scaler"]), mask=str(d["mask"]), classifier=str(d["classifier"]),
            fold_accuracies=[float(a) for a in d["fold_accuracies"]], mean=_float(d["mean"]),
            ci_low=_float(d["ci_low"]), ci_high=_float(d["ci_high"]),
            p_vs_none=None if d.get("p_vs_none") is None else float(d["p_vs_none"]),
            fit_seconds=float(d["fit_seconds"]), epochs=epochs, notes=list(d.get("notes", [])),
            cpu_seconds=float(d.get("cpu_seconds", 0.0)),
            converged=bool(d.get("converged", True)), at_chance=bool(d.get("at_chance", False)),
            stage=str(d.get("stage", "final")),
            n_train=[int(n) for n in d.get("n_train") or []],
            n_test=[int(n) for n in d.get("n_test") or []],
            screening=None if d.get("screening") is None else [float(a) for a in d["screening"]],
            alphas=None if d.get("alphas") is None else [float(a) for a in d["alphas"]],
            same_as=None if d.get("same_as") is None else str(d["same_as"]),
            test_correct=None if d.get("test_correct") is None
            else [int(v) for v in d["test_correct"]],
            best_epochs=None if d.get("best_epochs") is None
            else [int(v) for v in d["best_epochs"]],
        )


@dataclass
class ExperimentResult:
    """Everything :func:`run_experiment` measured; JSON-ready through :meth:`to_dict`.

    Attributes
    ----------
    dataset : dict
        :meth:`sndiag.dataset.Dataset.summary` of the data (includes its ``content_hash``).
    classifier : str
    folds : int
        Number of folds actually used.
    splitter : str
        Description of the splitter (see :class:`CVPlan`).
    configurations : list of ConfigResult
        In run order: for each mask, ``"none"`` first, then the other scalers.
    n_train, n_test : list of int
        Fold sizes (needed to compare any two configurations with :meth:`compare`).
    verdict : str
        Plain-language conclusion (:func:`verdict`).
    notes : list of str
        Adjustments and caveats of the whole run.
    grouped : bool
        True when folds are group-independent (e.g. speaker-independent).
    cancelled : bool
        True when the run was cancelled; only complete configurations are kept.
    seconds : float
        Wall time of the run.
    random_state : int
    chance : float
        Accuracy of always answering each training fold's most frequent class (mean over
        folds): the level below which nothing was learnt.
    search : dict
        How the search ran: its stages, training sizes, finalists.
    recommended : dict or None
        The pipeline to use (see :meth:`recommend`), set by :func:`run_experiment`.
    device : str or None
        Where the CNN trained (``"cpu (2 threads)"``, ``"cuda (...)"``); None for the others.
    """

    dataset: dict[str, Any]
    classifier: str
    folds: int
    splitter: str
    configurations: list[ConfigResult]
    n_train: list[int]
    n_test: list[int]
    verdict: str = ""
    notes: list[str] = field(default_factory=list)
    grouped: bool = False
    cancelled: bool = False
    seconds: float = 0.0
    random_state: int = 0
    chance: float = 0.0
    search: dict[str, Any] = field(default_factory=dict)
    recommended: dict[str, Any] | None = None
    device: str | None = None

    @property
    def one_split(self) -> bool:
        """True when there is one train/test split: intervals and p-values are then over its
        test clips (:func:`~sndiag.experiment.binomial_ci`,
        :func:`~sndiag.experiment.mcnemar_test`), not over folds."""
        return self.folds == 1

    @property
    def best(self) -> ConfigResult | None:
        """Highest mean accuracy among the configurations that may be recommended (finished,
        converged, above chance); ties go to the earlier configuration. None when none may."""
        done = [c for c in self.configurations if c.usable]
        return max(done, key=lambda c: c.mean) if done else None

    def get(self, scaler: str, mask: str = "none") -> ConfigResult | None:
        """The configuration with this scaler and mask spec, or None."""
        spec = MaskSpec.parse(mask).spec
        for c in self.configurations:
            if c.scaler == scaler and c.mask == spec:
                return c
        return None

    def compare(self, a: ConfigResult, b: ConfigResult) -> tuple[float, float]:
        """``(mean difference a - b, corrected paired t-test p-value)`` on the shared folds.

        Two configurations of the same stage compare their fold accuracies; a finished one and
        a screened one compare at the screening stage, where both were measured. With one split
        the test is McNemar's, paired by test clip.
        """
        if self.one_split:
            if a.test_correct is None or b.test_correct is None \
                    or len(a.test_correct) != len(b.test_correct):
                return (a.mean - b.mean, math.nan)
            return (a.mean - b.mean, mcnemar_test(a.test_correct, b.test_correct))
        if a.stage == b.stage:
            fa, fb = a.fold_accuracies, b.fold_accuracies
            n_train, n_test = (a.n_train or self.n_train), (a.n_test or self.n_test)
        else:
            fa = a.fold_accuracies if a.stage == "screening" else a.screening
            fb = b.fold_accuracies if b.stage == "screening" else b.screening
            if fa is None or fb is None:
                return (a.mean - b.mean, math.nan)
            n_train = a.n_train if a.stage == "screening" else b.n_train
            n_test = a.n_test if a.stage == "screening" else b.n_test
        _, p = corrected_ttest(fa, fb, n_train=n_train, n_test=n_test)
        return (float(np.mean(fa)) - float(np.mean(fb)), p)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (non-finite numbers become ``null``)."""
        best = self.best
        return {
            "schema": SCHEMA_VERSION,
            "dataset": dict(self.dataset),
            "classifier": self.classifier,
            "folds": int(self.folds),
            "splitter": self.splitter,
            "grouped": bool(self.grouped),
            "n_train": [int(n) for n in self.n_train],
            "n_test": [int(n) for n in self.n_test],
            "configurations": [c.to_dict() for c in self.configurations],
            "best": None if best is None else {"scaler": best.scaler, "mask": best.mask,
                                               "mean": _json_float(best.mean)},
            "recommended": None if self.recommended is None else dict(self.recommended),
            "chance": _json_float(self.chance),
            "search": dict(self.search),
            "verdict": self.verdict,
            "notes": list(self.notes),
            "cancelled": bool(self.cancelled),
            "seconds": float(self.seconds),
            "random_state": int(self.random_state),
            "device": self.device,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ExperimentResult:
        """Rebuild a result from :meth:`to_dict` output (e.g. a stored attachment).

        Raises
        ------
        DataError
            If the payload is not an experiment result of a known schema.
        """
        try:
            if int(d.get("schema", SCHEMA_VERSION)) > SCHEMA_VERSION:
                raise DataError(f"experiment result schema {d['schema']} is newer than this "
                                f"sndiag ({SCHEMA_VERSION}); upgrade sndiag or re-run")
            return cls(
                dataset=dict(d["dataset"]), classifier=str(d["classifier"]),
                folds=int(d["folds"]), splitter=str(d["splitter"]),
                configurations=[ConfigResult.from_dict(c) for c in d["configurations"]],
                n_train=[int(n) for n in d["n_train"]], n_test=[int(n) for n in d["n_test"]],
                verdict=str(d.get("verdict", "")), notes=list(d.get("notes", [])),
                grouped=bool(d.get("grouped", False)), cancelled=bool(d.get("cancelled", False)),
                seconds=float(d.get("seconds", 0.0)), random_state=int(d.get("random_state", 0)),
                chance=_float(d.get("chance", 0.0)), search=dict(d.get("search") or {}),
                recommended=None if d.get("recommended") is None else dict(d["recommended"]),
                device=None if d.get("device") is None else str(d["device"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, DataError):
                raise
            raise DataError(f"not an experiment result ({type(exc).__name__}: {exc}); "
                            "re-run the experiment") from None

    def rows(self) -> list[dict[str, Any]]:
        """One flat dict per configuration (for tables)."""
        return [{"configuration": c.label, "scaler": c.scaler, "mask": c.mask,
                 "mean": c.mean, "ci_low": c.ci_low, "ci_high": c.ci_high,
                 "p_vs_none": c.p_vs_none, "fit_seconds": c.fit_seconds, "stage": c.stage,
                 "converged": c.converged, "at_chance": c.at_chance,
                 "notes": "; ".join(c.notes)} for c in self.configurations]


def _flags(c: ConfigResult) -> str:
    flags = []
    if c.stage == "screening":
        flags.append("screened")
    if not c.converged:
        flags.append("not converged")
    if c.at_chance:
        flags.append("~chance")
    if c.same_as:
        flags.append(f"= {c.same_as}")
    return ", ".join(flags)


def format_table(result: ExperimentResult) -> str:
    """A plain-text table: configuration, mean accuracy, 95% CI, p vs raw, flags.

    The recommended configuration is starred; flags say which were only screened, did not
    converge, are not above chance, or are the same model as another.

    Examples
    --------
    >>> c = ConfigResult("none", "none", "ridge", [0.5, 0.7], 0.6, 0.4, 0.8, None, 1.234)
    >>> r = ExperimentResult({}, "ridge", 2, "StratifiedKFold", [c], [10, 10], [10, 10])
    >>> print(format_table(r))
    configuration  mean acc  95% CI         p vs raw  notes
    none           60.0%     40.0 - 80.0%   -
    """
    head = ("configuration", "mean acc", "95% CI", "p vs raw", "notes")
    rows = []
    rec = result.recommended or {}
    for c in result.configurations:
        p = "-" if c.p_vs_none is None else f"{c.p_vs_none:.3f}"
        star = " *" if rec and c.scaler == rec.get("scaler") and c.mask == rec.get("mask") \
            and len(result.configurations) > 1 else ""
        rows.append((c.label + star, f"{100 * c.mean:.1f}%",
                     f"{100 * c.ci_low:.1f} - {100 * c.ci_high:.1f}%", p, _flags(c)))
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(head)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()
    return "\n".join([line(head), *(line(r) for r in rows)])
