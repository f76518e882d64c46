"""The plain-language verdict: no more certain than the folds allow."""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING

import numpy as np

from sndiag.experiment._result import ConfigResult, ExperimentResult

if TYPE_CHECKING:
    from sndiag.stats import PixelStats


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


def _overlap(a: ConfigResult, b: ConfigResult) -> bool:
    return a.ci_low <= b.ci_high and b.ci_low <= a.ci_high


def _times(g: float) -> str:
    """A multiplication factor: ``'40x'``, ``'3.5e+10x'``."""
    if g < 10:
        return f"{g:.1f}x"
    return f"{g:.0f}x" if g < 10_000 else f"{g:.1e}x"


def _evidence(result: ExperimentResult, stats: PixelStats) -> str | None:
    """Which mel rows per-pixel standardization amplifies most, from the whole-data statistics.

    Low-SNR rows are those whose pooled ``row_snr`` is below half the median row's (else the 10%
    lowest). Their amplification is the median over their pixels of ``global_std / std`` - how
    much more per-pixel standardization multiplies a pixel than one global scale would.
    """
    from sndiag.masks import format_ranges

    row_snr = np.abs(np.asarray(stats.row_snr, dtype=float))
    if row_snr.size == 0 or not np.isfinite(row_snr).any():
        return None
    med = float(np.median(row_snr))
    low = np.flatnonzero(row_snr < 0.5 * med)
    if low.size == 0 or low.size > row_snr.size // 2:
        low = np.sort(np.argsort(row_snr, kind="stable")[: max(1, row_snr.size // 10)])
    text = (f"mel rows {format_ranges(low.tolist())} have the lowest SNR (mean/std over clips "
            f"<= {float(row_snr[low].max()):.2g}; median row {med:.2g})")
    if result.dataset.get("scale_guess") == "db":
        text += " (on dB values mean/std is only a rough SNR)"
    fisher = getattr(stats, "row_fisher", None)
    if fisher is not None:
        f = np.asarray(fisher, dtype=float)
        f_low, f_all = float(np.median(f[low])), float(np.median(f))
        if f_low < 0.5 * f_all:
            text += (f" and little class information (Fisher ratio {f_low:.2g} vs {f_all:.2g} "
                     "for the median row)")
    g_std = float(getattr(stats, "global_std", 0.0) or 0.0)
    gain = getattr(stats, "noise_gain", None)
    if gain is not None and g_std > 0:
        rel = np.asarray(gain, dtype=float) * g_std
        zero = np.asarray(getattr(stats, "zero_std", np.zeros(rel.shape, bool)), dtype=bool)
        rel = np.where(zero, np.nan, rel)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            row_gain = np.nanmedian(rel, axis=1)
        if np.isfinite(row_gain[low]).any() and np.isfinite(row_gain).any():
            text += (f"; relative to one global scale, per-pixel standardization multiplies "
                     f"their pixels by a median {_times(float(np.nanmedian(row_gain[low])))} "
                     f"(typical row: {_times(float(np.nanmedian(row_gain)))})")
    return text


def _why(result: ExperimentResult, stats: PixelStats | None, standard: ConfigResult | None,
         none: ConfigResult | None, best: ConfigResult) -> str:
    """Descriptive evidence from the whole-dataset statistics; the folds decide the claims."""
    if stats is None:
        return ""
    evidence = _evidence(result, stats)
    if evidence is None:
        return ""
    if standard is None or none is None:
        return f"Descriptively, {evidence}."
    diff_sn, p_sn = result.compare(standard, none)
    diff_bs, p_bs = result.compare(best, standard) if best is not standard else (0.0, math.nan)
    beats_standard = math.isfinite(p_bs) and p_bs < ALPHA and diff_bs > 0
    hurts = (math.isfinite(p_sn) and p_sn < ALPHA and diff_sn < 0) or beats_standard
    helps = math.isfinite(p_sn) and p_sn < ALPHA and diff_sn > 0
    if hurts:
        text = ("Why per-pixel standardization loses here: it gives every pixel unit variance, "
                f"so noise counts as much as signal; {evidence}.")
        if beats_standard and best is not none:
            text += f" {best.label} avoids that amplification."
        return text
    if helps:
        return (f"Putting every pixel on a common scale helps more than the amplified noise "
                f"hurts here, although {evidence}.")
    return (f"Descriptively, {evidence}; with {result.folds} folds the accuracy change of "
            "per-pixel standardization is not distinguishable from fold-to-fold noise.")


def verdict(result: ExperimentResult, stats: PixelStats | None = None) -> str:
    """Plain-language conclusion of an experiment, no more certain than its folds allow.

    Comparisons use :func:`corrected_ttest` on the shared folds: "better/worse than" only when
    ``p < 0.05``, otherwise "not distinguishable from". The explanation cites the whole
    dataset's row SNR and noise gain from ``stats`` (descriptive only: statistics computed on all
    clips never decide a comparison).

    Parameters
    ----------
    result : ExperimentResult
    stats : PixelStats or None
        :func:`sndiag.stats.compute_stats` of the dataset; without it, no explanation.

    Returns
    -------
    str

    Examples
    --------
    >>> mk = lambda s, a: ConfigResult(s, "none", "logreg", a, float(np.mean(a)), 0, 0, None, 1)
    >>> r = ExperimentResult({}, "logreg", 3, "StratifiedKFold(n_splits=3)",
    ...                      [mk("none", [0.6, 0.7, 0.65]), mk("band", [0.62, 0.69, 0.67])],
    ...                      [20, 20, 20], [10, 10, 10])
    >>> print(verdict(r))  # doctest: +ELLIPSIS
    Best of 2 configurations: band ... It is not distinguishable from the original data ...
    """
    done = [c for c in result.configurations if math.isfinite(c.mean)]
    parts: list[str] = []
    if result.cancelled:
        parts.append("Cancelled: partial result over the configurations that finished.")
    if not done:
        return " ".join(parts + ["No configuration finished; nothing to conclude."])
    best = result.best
    assert best is not None
    k = result.folds
    fold_kind = "group-independent" if result.grouped else "stratified"
    parts.append(f"Best of {len(done)} configurations: {best.label} with {_pct(best.mean)} mean "
                 f"accuracy ({_ci(best)}) over {k} {fold_kind} folds ({result.classifier}).")
    # "The original data" is the unscaled, unmasked baseline; every configuration (any mask)
    # shares its folds, so the paired test applies to each of them against it.
    none0 = result.get("none")
    none = none0 or result.get("none", best.mask)
    standard = result.get("standard")
    n_cmp = len(done) - 1
    if none is not None and best is not none:
        diff, p = result.compare(best, none)
        rel = _relation(diff, p)
        sentence = (f"It is {rel} the original data ({none.label}: {_pct(none.mean)}, {_ci(none)}): "
                    f"{100 * diff:+.1f} points, corrected paired t-test {_pval(p)}")
        if rel == "better than":
            sentence += ("; the 95% intervals overlap, so the size of the gain is uncertain"
                         if _overlap(best, none) else "; the 95% intervals do not overlap")
            if n_cmp > 1 and p >= ALPHA / n_cmp:
                sentence += (f"; with {n_cmp} configurations compared to it one such p-value can "
                             f"occur by chance (Bonferroni threshold {ALPHA / n_cmp:.2g})")
        else:
            sentence += f" with {k} folds"
        parts.append(sentence + ".")
    elif none is not None:
        others = [c for c in done if c is not none]
        if others:
            second = max(others, key=lambda c: c.mean)
            diff, p = result.compare(second, none)
            parts.append(f"The original data is the best configuration; the runner-up {second.label} "
                         f"({_pct(second.mean)}) is {_relation(diff, p)} it "
                         f"({100 * diff:+.1f} points, {_pval(p)}).")
    if standard is not None and none0 is not None:
        diff, p = result.compare(standard, none0)
        parts.append(f"Per-pixel standardization (the question's (X - X.mean(0)) / X.std(0)) "
                     f"scores {_pct(standard.mean)} ({_ci(standard)}): {_relation(diff, p)} the "
                     f"original data ({100 * diff:+.1f} points, {_pval(p)}).")
        if best is not standard and best is not none0:
            diff_b, p_b = result.compare(best, standard)
            parts.append(f"{best.label} is {_relation(diff_b, p_b)} per-pixel standardization "
                         f"({100 * diff_b:+.1f} points, {_pval(p_b)}).")
    why = _why(result, stats, standard, none0, best)
    if why:
        parts.append(why)
    undecided = [c for c in done if c.scaler != "none"
                 and not (c.p_vs_none is not None and c.p_vs_none < ALPHA)]
    if undecided or k < 5:
        parts.append(f"'Not distinguishable' is not 'equal': {k} folds of {sum(result.n_test)} "
                     "clips cannot resolve smaller differences; more folds or data might.")
    capped = [c.label for c in done if any("did not converge" in n for n in c.notes)]
    if capped:
        parts.append(f"Logistic regression hit its iteration cap for {', '.join(capped[:4])}"
                     f"{' ...' if len(capped) > 4 else ''} (slow convergence on that scaling is "
                     "part of the phenomenon).")
    return " ".join(parts)
