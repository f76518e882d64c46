"""The recommendation and the plain-language verdict: no more certain than the folds allow.

:func:`recommend` picks the pipeline to use: the best mean accuracy among the configurations that
were finished on whole training folds, converged, and learnt more than chance. :func:`verdict`
says it first, with its accuracy, interval and gains over the raw data and over the question's
per-pixel standardization; then every configuration significantly worse than the raw data; then
why, from the same statistics (and the same lowest-SNR rows) the dashboard shows.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from sndiag.experiment._result import ConfigResult, ExperimentResult

if TYPE_CHECKING:
    from sndiag.stats import PixelStats

__all__ = ["ALPHA", "pipeline_text", "recommend", "verdict"]

ALPHA = 0.05


def _pct(v: float) -> str:
    return f"{100 * v:.1f}%"


def _ci(c: ConfigResult) -> str:
    return f"95% CI {100 * c.ci_low:.1f}-{100 * c.ci_high:.1f}%"


def _pval(p: float) -> str:
    if not math.isfinite(p):
        return "p = n/a"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _relation(diff: float, p: float) -> str:
    """'better than' / 'worse than' only when p < ALPHA; otherwise 'not distinguishable from'."""
    if math.isfinite(p) and p < ALPHA and diff != 0:
        return "better than" if diff > 0 else "worse than"
    return "not distinguishable from"


def pipeline_text(scaler: str, mask: str = "none") -> str:
    """The pipeline in words: ``"db -> band (per-band standardization), rows 43-59 masked"``.

    Examples
    --------
    >>> pipeline_text("db+standard", "rows:43-59")
    'db (decibels) -> standard (per-pixel standardization), rows 43-59 masked'
    >>> pipeline_text("none")
    'the raw data, no compression or scaling'
    >>> pipeline_text("batchnorm")
    "the raw data into batchnorm (a BatchNorm layer as the network's first layer)"
    """
    from sndiag.masks import MaskSpec
    from sndiag.scalers import SCALERS

    short = {"db": "decibels", "log1p": "log(1 + x)", "pcen": "PCEN", "clip": "per-clip",
             "standard": "per-pixel standardization", "std_floor": "per-pixel standardization "
             "with a std floor", "band": "per-band standardization", "global": "one global "
             "scale", "robust": "per-pixel median/IQR", "median": "per-pixel median centring",
             "minmax": "per-pixel min-max", "maxabs": "per-pixel max-abs",
             "batchnorm": "a BatchNorm layer as the network's first layer"}
    parts = [p for p in scaler.split("+") if p != "none"]
    steps = " -> ".join(f"{p} ({short.get(p, SCALERS[p].title if p in SCALERS else p)})"
                        for p in parts)
    text = steps or "the raw data, no compression or scaling"
    if parts == ["batchnorm"]:
        text = "the raw data into " + text
    spec = MaskSpec.parse(mask)
    if not spec.is_empty:
        what = spec.describe()
        text += f", {what} masked" if spec.mode == "off" else f", mask: {what}"
    if parts and len(parts) == 1 and parts[0] in ("db", "log1p", "pcen", "clip"):
        text += ", no scaling after it"
    return text


def recommend(result: ExperimentResult) -> dict[str, Any] | None:
    """The pipeline to use, as JSON-ready data (None when no configuration may be recommended).

    Keys: ``scaler``, ``mask``, ``mean``, ``ci_low``, ``ci_high``, ``pipeline`` (words), and
    ``vs_raw`` / ``vs_standard`` (``{"diff", "p"}`` when those configurations were run).
    """
    best = result.best
    if best is None:
        return None
    out: dict[str, Any] = {"scaler": best.scaler, "mask": best.mask, "mean": best.mean,
                           "ci_low": best.ci_low, "ci_high": best.ci_high,
                           "pipeline": pipeline_text(best.scaler, best.mask)}
    for key, ref in (("vs_raw", result.get("none")), ("vs_standard", result.get("standard"))):
        if ref is not None and ref is not best:
            diff, p = result.compare(best, ref)
            out[key] = {"diff": diff, "p": None if not math.isfinite(p) else p}
    return out


def _cause(c: ConfigResult, result: ExperimentResult) -> str:
    """The likely cause of a configuration that learnt nothing or did not converge."""
    steps = c.scaler.split("+")
    last = steps[-1]
    compressed = any(s in ("db", "log1p", "pcen") for s in steps)
    if last in ("robust", "minmax", "maxabs"):
        return ("per-pixel spreads of zero (mostly silent pixels) leave those pixels unscaled "
                "while their near-silent neighbours get enormous gains: amplified noise swamps "
                "the signal")
    if last in ("db", "log1p", "pcen") and result.classifier != "ridge":
        return ("compressed values are left unscaled (around -100 dB for silence): "
                f"{result.classifier} optimizes poorly on them; scale after compressing "
                f"(e.g. {last}+standard)")
    if not c.converged and result.classifier in ("mlp", "cnn"):
        return ("still learning when the epochs ran out: more epochs could change its "
                "accuracy")
    if not c.converged:
        return "the optimizer stopped before its optimum on this scaling"
    if not compressed and result.dataset.get("scale_guess") == "linear":
        return ("linear power is heavy-tailed: a few loud pixels dominate the fit, whatever the "
                "per-pixel scaling; compress first (e.g. db)")
    return "nothing in this representation separates the classes for this classifier"


def _why(result: ExperimentResult, stats: PixelStats) -> str:
    """Why per-pixel standardization does what it does here: the lowest-SNR rows and the gain
    it gives them, worded as the Scalers page words it (amplified / damped)."""
    from sndiag.effects import describe_effect
    from sndiag.masks import format_ranges, lowest_snr_rows

    row_snr = np.asarray(stats.row_snr, dtype=float)
    low = lowest_snr_rows(row_snr)
    if low.size == 0:
        return ""
    which = (f"mel row {int(low[0])} has" if low.size == 1
             else f"mel rows {format_ranges(low.tolist())} have")
    text = (f"{which} the lowest SNR (mean/std over clips <= "
            f"{float(np.abs(row_snr[low]).max()):.2g}; median row "
            f"{float(np.median(np.abs(row_snr))):.2g})")
    if result.dataset.get("scale_guess") == "db":
        text += " (on dB values mean/std is only a rough SNR)"
    fisher = getattr(stats, "row_fisher", None)
    if fisher is not None:
        f = np.asarray(fisher, dtype=float)
        f_low, f_all = float(np.median(f[low])), float(np.median(f))
        if f_low < 0.5 * f_all:
            text += (f" and little class information (Fisher ratio {f_low:.2g} vs {f_all:.2g} "
                     "for the median row)")
    reading = describe_effect(np.asarray(stats.noise_gain, dtype=float), row_snr,
                              zero_std=np.asarray(stats.zero_std, dtype=bool))
    return (f"Why: {text}; per-pixel standardization (gain 1/std) on the raw data: {reading}. "
            "The same rows are listed on the Statistics and Scalers pages.")


#: Points by which stratified folds must rank per-pixel standardization otherwise than the group
#: folds, or lift the recommendation above them, before the verdict mentions it.
DISAGREE = 0.03
GROUP_GAP = 0.10


def _folds_disagree(result: ExperimentResult) -> str:
    """A sentence when stratified folds (the same groups in training and test) tell another
    story than the group folds: per-pixel standardization ranked otherwise against the raw
    data, or every pipeline far better on groups it has seen; else ``""``."""
    check = (result.search or {}).get("stratified") or {}
    acc = check.get("accuracy") or {}
    raw, standard = result.get("none"), result.get("standard")
    if raw is None or standard is None or "none" not in acc or "standard" not in acc:
        return ""
    d_group = standard.mean - raw.mean
    d_strat = acc["standard"] - acc["none"]
    opposite = d_group * d_strat < 0 and max(abs(d_group), abs(d_strat)) >= DISAGREE
    best = result.best
    gap = None
    if best is not None and best.label in acc:
        gap = acc[best.label] - best.mean
    if not opposite and (gap is None or gap < GROUP_GAP):
        return ""
    head = (f"On stratified folds (the same groups in training and test; a quick check on "
            f"{check['n_clips']} clips)")
    if opposite:
        story = (f" per-pixel standardization scores {_pct(acc['standard'])} against "
                 f"{_pct(acc['none'])} for the raw data ({100 * d_strat:+.1f} points), but "
                 f"{100 * d_group:+.1f} on groups it has not seen")
    else:
        story = (f" {best.label} scores {_pct(acc[best.label])}, {100 * gap:.0f} points more "  # type: ignore[union-attr]
                 "than on groups it has not seen")
    return (head + story + ": the groups (speakers, kits, sessions) differ systematically, and "
            "what a model learns about its training groups does not carry over. The Statistics "
            "page's group drift map shows where they differ; if your model will meet new "
            "groups, trust the group folds.")


def verdict(result: ExperimentResult, stats: PixelStats | None = None) -> str:
    """Plain-language conclusion of an experiment, no more certain than its folds allow.

    The first sentence is the recommendation (:func:`recommend`). Comparisons use the corrected
    paired t-test on the shared folds: "better/worse than" only when ``p < 0.05``, otherwise
    "not distinguishable from". The explanation cites the whole dataset's statistics
    (descriptive only: they never decide a comparison).

    Examples
    --------
    >>> mk = lambda s, a: ConfigResult(s, "none", "ridge", a, float(np.mean(a)), min(a), max(a),
    ...                                None, 1, n_train=[20] * 3, n_test=[10] * 3)
    >>> r = ExperimentResult({}, "ridge", 3, "StratifiedKFold(n_splits=3)",
    ...                      [mk("none", [0.6, 0.7, 0.65]), mk("band", [0.62, 0.69, 0.67])],
    ...                      [20, 20, 20], [10, 10, 10])
    >>> print(verdict(r))  # doctest: +ELLIPSIS
    Use band (per-band standardization): 66.0% ... (p = 0.592, not distinguishable from it)...
    """
    done = [c for c in result.configurations if math.isfinite(c.mean)]
    parts: list[str] = []
    if result.cancelled:
        parts.append("Cancelled: partial result over the configurations that finished.")
    if not done:
        return " ".join(parts + ["No configuration finished; nothing to conclude."])
    k = result.folds
    fold_kind = ("leave-one-group-out" if "LeaveOneGroupOut" in result.splitter
                 else "group-independent" if result.grouped else "stratified")
    over = f"over {k} {fold_kind} folds"
    if result.one_split:
        n_test = sum(result.n_test)
        over = (f"on {n_test} test clips of {'a held-out group' if result.grouped else 'one split'}"
                f", one training run")
    best = result.best
    raw = result.get("none")
    standard = result.get("standard")
    if best is None:
        parts.append("No configuration can be recommended: not one both converged and scored "
                     f"above chance ({_pct(result.chance)})"
                     + (" on whole training folds." if not result.one_split else "."))
    else:
        head = "Use " + (pipeline_text(best.scaler, best.mask) if best is not raw
                         else "the raw data (no compression, no scaling)")
        head += (f": {_pct(best.mean)} {'accuracy' if result.one_split else 'mean accuracy'} "
                 f"({_ci(best)}) {over} ({result.classifier})")
        gains = []
        if raw is not None and best is not raw:
            diff, p = result.compare(best, raw)
            gains.append(f"{100 * diff:+.1f} points over the raw data ({_pval(p)}, "
                         f"{_relation(diff, p)} it)")
        if standard is not None and best is not standard:
            diff, p = result.compare(best, standard)
            gains.append(f"{100 * diff:+.1f} over the question's per-pixel standardization "
                         f"({_pval(p)})")
        parts.append(head + (", " + " and ".join(gains) if gains else "") + ".")
        ties = [c for c in done if c is not best and c.usable and c.same_as is None
                and result.compare(best, c)[1] >= ALPHA]
        if ties:
            names = ", ".join(c.label for c in sorted(ties, key=lambda c: -c.mean)[:4])
            parts.append(f"Not distinguishable from it on these "
                         f"{'test clips' if result.one_split else 'folds'}: {names}"
                         f"{', ...' if len(ties) > 4 else ''}.")
    if raw is not None:
        worse = [c for c in done if c is not raw and c.p_vs_none is not None
                 and c.p_vs_none < ALPHA and c.mean < raw.mean]
        if worse:
            items = [f"{c.label} ({_pct(c.mean)}, {100 * (c.mean - raw.mean):+.1f} points, "
                     f"{_pval(c.p_vs_none or math.nan)}"
                     + (", at screening" if c.stage == "screening" else "") + ")"
                     for c in sorted(worse, key=lambda c: c.mean)]
            parts.append(f"Significantly worse than the raw data ({_pct(raw.mean)}): "
                         + "; ".join(items[:8]) + ("; ..." if len(items) > 8 else "") + ".")
    if standard is not None and raw is not None:
        diff, p = result.compare(standard, raw)
        parts.append(f"Per-pixel standardization (the question's (X - X.mean(0)) / X.std(0)) "
                     f"scores {_pct(standard.mean)} ({_ci(standard)}): {_relation(diff, p)} "
                     f"the raw data ({100 * diff:+.1f} points, {_pval(p)}).")
    split_story = _folds_disagree(result)
    if split_story:
        parts.append(split_story)
    if stats is not None:
        why = _why(result, stats)
        if why:
            parts.append(why)
    flagged = [c for c in done if (not c.converged or c.at_chance) and c.same_as is None]
    if flagged:
        groups: dict[tuple[str, str], list[str]] = {}
        for c in flagged:
            what = "not above chance" if c.at_chance else "not converged"
            if c.at_chance and not c.converged:
                what = "not converged, not above chance"
            groups.setdefault((what, _cause(c, result)), []).append(c.label)
        items = [f"{', '.join(labels[:6])}{', ...' if len(labels) > 6 else ''} ({what}: {why})"
                 for (what, why), labels in groups.items()]
        parts.append("Never recommended: " + "; ".join(items) + ".")
    info = result.search or {}
    if info.get("screening"):
        parts.append(f"Searched {len(done)} pipelines: each screened on "
                     f"{100 * info['screening']['share']:.0f}% of every training fold, "
                     f"{info.get('finished', 0)} finished on whole folds; the recommendation "
                     "is chosen among those, on the same folds, so its accuracy is a little "
                     "optimistic.")
    if result.one_split:
        parts.append(f"One split: the intervals and p-values (exact McNemar test, paired by clip) "
                     f"count the {sum(result.n_test)} test clips as independent, so they cover "
                     "other clips like them, not other groups, nor another training run of the "
                     "network (a new seed can move it a few points); run with folds for an "
                     "estimate across groups.")
    elif k < 5:
        parts.append(f"'Not distinguishable' is not 'equal': {k} folds of {sum(result.n_test)} "
                     "clips cannot resolve smaller differences; more folds or data might.")
    return " ".join(parts)
