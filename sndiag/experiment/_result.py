"""Result containers, JSON round trip and the text table."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sndiag.errors import DataError
from sndiag.experiment._significance import corrected_ttest
from sndiag.masks import MaskSpec

SCHEMA_VERSION = 1


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
        ``{"val_accuracy": [...], "val_loss": [...]}`` averaged over folds, per epoch (MLP/CNN).
    notes : list of str
        Convergence or numerical problems of this configuration.
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
            "cpu_seconds": float(self.cpu_seconds),
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

    @property
    def best(self) -> ConfigResult | None:
        """Highest mean accuracy (ties go to the earlier configuration, i.e. ``"none"``)."""
        done = [c for c in self.configurations if math.isfinite(c.mean)]
        return max(done, key=lambda c: c.mean) if done else None

    def get(self, scaler: str, mask: str = "none") -> ConfigResult | None:
        """The configuration with this scaler and mask spec, or None."""
        spec = MaskSpec.parse(mask).spec
        for c in self.configurations:
            if c.scaler == scaler and c.mask == spec:
                return c
        return None

    def compare(self, a: ConfigResult, b: ConfigResult) -> tuple[float, float]:
        """``(mean difference a - b, corrected paired t-test p-value)`` on the shared folds."""
        _, p = corrected_ttest(a.fold_accuracies, b.fold_accuracies, n_train=self.n_train,
                               n_test=self.n_test)
        return (a.mean - b.mean, p)

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
            "verdict": self.verdict,
            "notes": list(self.notes),
            "cancelled": bool(self.cancelled),
            "seconds": float(self.seconds),
            "random_state": int(self.random_state),
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
                 "p_vs_none": c.p_vs_none, "fit_seconds": c.fit_seconds,
                 "notes": "; ".join(c.notes)} for c in self.configurations]


def format_table(result: ExperimentResult) -> str:
    """A plain-text table: configuration, mean accuracy, 95% CI, p vs none, fit seconds.

    Examples
    --------
    >>> c = ConfigResult("none", "none", "logreg", [0.5, 0.7], 0.6, 0.4, 0.8, None, 1.234)
    >>> r = ExperimentResult({}, "logreg", 2, "StratifiedKFold", [c], [10, 10], [10, 10])
    >>> print(format_table(r))
    configuration  mean acc  95% CI         p vs none  fit s
    none           60.0%     40.0 - 80.0%   -            1.2
    """
    head = ("configuration", "mean acc", "95% CI", "p vs none", "fit s")
    rows = []
    best = result.best
    for c in result.configurations:
        p = "-" if c.p_vs_none is None else f"{c.p_vs_none:.3f}"
        star = " *" if best is not None and c is best and len(result.configurations) > 1 else ""
        rows.append((c.label + star, f"{100 * c.mean:.1f}%",
                     f"{100 * c.ci_low:.1f} - {100 * c.ci_high:.1f}%", p,
                     f"{c.fit_seconds:.1f}"))
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(head)]
    right = {4}
    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()
    return "\n".join([line(head), *(line(r) for r in rows)])
