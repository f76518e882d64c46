"""One self-contained HTML report: data, statistics, mask, scaler effects, experiment verdict.

:func:`build_report` returns a single HTML document with inline CSS and plotly.js inlined once
(in the first figure), so the file opens offline, can be mailed, and loads nothing from the
network. Every user-provided string (dataset and clip names, class labels, provenance, readings,
verdicts) goes through :func:`html.escape`.
"""

from __future__ import annotations

import html
import importlib.metadata
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import plotly.graph_objects as go

import sndiag
from sndiag.dataset import Dataset
from sndiag.effects import ScalerEffect, format_gain
from sndiag.errors import ParameterError, SndiagError
from sndiag.figures import (
    clip_heatmap,
    experiment_curves,
    figure_html,
    gain_and_snr,
    row_profile,
    stat_heatmap,
)
from sndiag.masks import Mask, mask_summary
from sndiag.stats import PixelStats

__all__ = ["build_report"]

_CSS = """
:root { --fg: #222; --muted: #666; --line: #e3e3e3; --accent: #4c78a8; --warn: #b3261e; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 Inter, "Segoe UI", Helvetica, Arial, sans-serif; color: var(--fg);
       background: #fafafa; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 28px 48px; background: #fff; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 36px 0 8px; padding-top: 12px; border-top: 1px solid var(--line); }
h3 { font-size: 16px; margin: 24px 0 4px; }
p { margin: 6px 0; }
.muted { color: var(--muted); }
.banner { margin: 12px 0; padding: 10px 14px; border-radius: 6px; background: #fdecea;
          border: 1px solid #f5c2c0; color: var(--warn); font-weight: 600; }
.reading { margin: 8px 0; padding: 8px 12px; border-left: 4px solid var(--accent);
           background: #f3f7fb; }
.verdict { margin: 12px 0; padding: 10px 14px; border-left: 4px solid #54a24b; background: #f2f8f1;
           white-space: pre-wrap; }
nav a { margin-right: 14px; color: var(--accent); text-decoration: none; }
table { border-collapse: collapse; margin: 8px 0 12px; font-size: 14px; }
th, td { padding: 4px 12px 4px 0; border-bottom: 1px solid var(--line); text-align: left;
         vertical-align: top; }
th { font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.fig { margin: 8px 0 16px; }
code { font-size: 13px; background: #f2f2f2; padding: 1px 4px; border-radius: 3px; }
footer { margin-top: 40px; padding-top: 12px; border-top: 1px solid var(--line);
         color: var(--muted); font-size: 13px; }
"""


def _version() -> str:
    """sndiag's version, also when the package is imported as a namespace (stale editable install)."""
    version = getattr(sndiag, "__version__", None)
    if version:
        return str(version)
    try:
        return importlib.metadata.version("sndiag")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(value: Any, fmt: str = ".4g") -> str:
    if value is None:
        return "&mdash;"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return _e(value)
    return "&mdash;" if not math.isfinite(v) else _e(format(v, fmt))


def _pct(value: Any, digits: int = 1) -> str:
    if value is None:
        return "&mdash;"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return _e(value)
    return "&mdash;" if not math.isfinite(v) else f"{100 * v:.{digits}f}%"


def _table(rows: Iterable[tuple[str, str]]) -> str:
    """Two-column key/value table; both cells must already be escaped HTML."""
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


class _Figures:
    """Renders figures as <div>s, inlining plotly.js in the first one only."""

    def __init__(self) -> None:
        self.first = True

    def __call__(self, fig: go.Figure) -> str:
        out = figure_html(fig, include_plotlyjs=self.first)
        self.first = False
        return f'<div class="fig">{out}</div>'


# -- sections ---------------------------------------------------------------------------------
def _dataset_section(dataset: Dataset, figs: _Figures, stats: PixelStats) -> str:
    s = dataset.summary(stats=stats)
    classes = s.get("classes") or {}
    class_text = ", ".join(f"{_e(k)}: {int(v)}" for k, v in classes.items()) or "unlabelled"
    shape = s.get("shape") or list(dataset.shape)
    rows = [
        ("Name", _e(s.get("name", dataset.name))),
        ("Synthetic", "<strong>YES &mdash; SYNTHETIC DATA</strong>" if s.get("synthetic") else "no"),
        ("Clips", _e(s.get("n_clips", dataset.n_clips))),
        ("Image shape", f"{_e(shape[0])} mel bands &times; {_e(shape[1])} frames"),
        ("Classes", f"{len(classes)} ({class_text})" if classes else class_text),
        ("Groups", _e(s.get("n_groups", 0))),
        ("Value range", f"{_num(s.get('min'))} to {_num(s.get('max'))}"),
        ("Scale (guess)", _e(s.get("scale_guess", "unknown"))),
        ("Skipped clips", _e(s.get("n_skipped", 0))),
        ("Content hash", f"<code>{_e(s.get('content_hash', ''))}</code>"),
    ]
    source = dataset.provenance.get("source")
    if source:
        rows.insert(1, ("Source", _e(source)))
    parts = ['<section id="dataset"><h2>Dataset</h2>', _table(rows)]
    if dataset.skipped:
        items = "".join(f"<li><code>{_e(sk.name)}</code>: {_e(sk.reason)}</li>"
                        for sk in dataset.skipped[:20])
        more = f"<li>&hellip; and {len(dataset.skipped) - 20} more</li>" if len(dataset.skipped) > 20 else ""
        parts.append(f"<p>Skipped clips:</p><ul>{items}{more}</ul>")
    name = str(dataset.names[0]) if dataset.names is not None else "clip 0"
    log = bool(s.get("scale_guess") == "linear" and float(dataset.X[0].min()) >= 0)
    parts.append(figs(clip_heatmap(dataset.X[0], title=f"Example clip: {_e(name)}", log=log)))
    parts.append("</section>")
    return "".join(parts)


def _statistics_section(stats: PixelStats, mask: Mask | None, *, log: bool, figs: _Figures) -> str:
    rows = None if mask is None else np.asarray(mask.rows, dtype=bool)
    parts = [
        '<section id="statistics"><h2>Statistics</h2>',
        "<p>Per-pixel statistics over all clips. Standardizing a pixel multiplies its noise by "
        "1&nbsp;/&nbsp;std; where the SNR (mean&nbsp;/&nbsp;std) is low, that mostly amplifies "
        "noise. Row 0 (lowest mel band) is at the bottom"
        + ("; grey rows are masked" if rows is not None and rows.any() else "") + ".</p>",
        figs(stat_heatmap(stats, "mean", log=log, masked_rows=rows)),
        figs(stat_heatmap(stats, "std", log=log, masked_rows=rows)),
        figs(stat_heatmap(stats, "snr", masked_rows=rows)),
        figs(row_profile(stats, which="row_snr", masked_rows=rows)),
    ]
    low = np.argsort(np.abs(np.asarray(stats.row_snr)), kind="stable")[:5]
    parts.append("<p>Lowest row SNR: " + ", ".join(
        f"row {int(r)} ({_num(stats.row_snr[r], '.3g')})" for r in low) + ".</p>")
    if stats.n_zero_std:
        parts.append(f"<p>{stats.n_zero_std} pixels have zero variance (constant over all clips).</p>")
    parts.append("</section>")
    return "".join(parts)


def _mask_section(mask: Mask | None, stats: PixelStats) -> str:
    head = '<section id="mask"><h2>Mask</h2>'
    if mask is None or mask.n_masked_pixels == 0:
        return head + "<p>No mask: every row and pixel is kept.</p></section>"
    s = mask_summary(mask, stats)
    rows = [
        ("Rows masked", _e(s.get("rows_text", ""))),
        ("Masked rows", _e(s.get("n_masked_rows", 0))),
        ("Masked pixels", f"{_e(s.get('n_masked_pixels', 0))} ({_pct(s.get('masked_fraction'))} of all)"),
        ("Variance removed", _pct(s.get("variance_removed"))),
        ("Class separability removed (Fisher)",
         "&mdash; (no labels)" if s.get("fisher_removed") is None else _pct(s.get("fisher_removed"))),
    ]
    reasons = s.get("reasons") or []
    if reasons:
        rows.append(("Why", "<br>".join(f"{_e(r.get('kind', ''))}: {_e(r.get('rule', ''))}"
                                        for r in reasons)))
    return head + _table(rows) + "</section>"


def _effects_section(effects: Sequence[ScalerEffect], stats: PixelStats, figs: _Figures) -> str:
    head = '<section id="scalers"><h2>Scalers</h2>'
    if not effects:
        return head + "<p>No scaler was evaluated.</p></section>"
    summary = "".join(f"<tr><th>{_e(e.name)}</th><td>{_e(e.reading)}</td></tr>" for e in effects)
    parts = [head, "<p>Noise gain: the factor by which each scaler multiplies a small change of a "
             "pixel. Where the gain is high and the SNR low, the scaler amplifies noise.</p>",
             f"<table><tr><th>scaler</th><th>reading</th></tr>{summary}</table>"]
    snr = np.asarray(stats.snr)
    for e in effects:
        parts.append(f'<article id="scaler-{_e(e.name)}"><h3>{_e(e.title)} <code>{_e(e.name)}</code></h3>')
        if e.description:
            parts.append(f'<p class="muted">{_e(e.description)}</p>')
        parts.append(f'<p class="reading">{_e(e.reading)}</p>')
        if not e.finite:
            parts.append('<p class="banner">The transformed data holds NaN or Inf values.</p>')
        gains = [g for _, g in e.worst_rows]
        if gains and max(gains) > 1.05 * min(gains):
            parts.append("<p>Highest-gain rows: " + ", ".join(
                f"row {int(r)} (x{_e(format_gain(float(g)))})" for r, g in e.worst_rows) + ".</p>")
        if np.shape(e.gain) == snr.shape:
            parts.append(figs(gain_and_snr(e.gain, snr, title=f"{_e(e.title)}: noise gain vs SNR",
                                           masked_rows=e.masked_rows, constant=stats.zero_std)))
        parts.append("</article>")
    parts.append("</section>")
    return "".join(parts)


_CONFIG_COLUMNS = ("scaler", "mask", "classifier", "mean", "ci", "p_vs_none")


def _curves(experiment: Mapping[str, Any], figs: _Figures) -> str:
    """The question's per-epoch plots (:func:`~sndiag.figures.experiment_curves`), when the
    classifier recorded curves and the dict is a whole experiment result."""
    configs = experiment.get("configurations") or []
    if not any(isinstance(c, Mapping) and c.get("epochs") for c in configs):
        return ""
    try:
        fig = experiment_curves(experiment)
    except SndiagError:
        return ""
    return ("<h3>Per epoch and per minibatch: normalized (purple) against original (black, "
            "dashed)</h3>" + figs(fig))


def _experiment_section(experiment: Mapping[str, Any], figs: _Figures) -> str:
    parts = ['<section id="experiment"><h2>Experiment</h2>']
    meta = [(k, experiment.get(k)) for k in ("classifier", "device", "folds", "splitter",
                                             "seconds")
            if experiment.get(k) is not None]
    if meta:
        parts.append(_table((_e(k), _e(v) if k != "seconds" else _num(v, ".1f") + " s") for k, v in meta))
    if experiment.get("cancelled"):
        parts.append('<p class="banner">The run was cancelled: only complete configurations are shown.</p>')
    configs = experiment.get("configurations") or []
    if configs:
        head = ("<tr><th>scaler</th><th>mask</th><th>classifier</th><th>mean accuracy</th>"
                "<th>95% CI</th><th>p vs none</th></tr>")
        body = []
        for c in configs:
            if not isinstance(c, Mapping):
                continue
            lo, hi = c.get("ci_low"), c.get("ci_high")
            ci = "&mdash;" if lo is None and hi is None else f"{_pct(lo)} &ndash; {_pct(hi)}"
            p = c.get("p_vs_none")
            body.append(
                f"<tr><td>{_e(c.get('scaler', '?'))}</td><td>{_e(c.get('mask', 'none'))}</td>"
                f"<td>{_e(c.get('classifier', experiment.get('classifier', '')))}</td>"
                f'<td class="num">{_pct(c.get("mean"))}</td><td class="num">{ci}</td>'
                f'<td class="num">{"baseline" if p is None and c.get("scaler") == "none" else _num(p, ".3g")}'
                "</td></tr>")
        parts.append(f"<table>{head}{''.join(body)}</table>")
    else:
        parts.append("<p>No configuration results.</p>")
    verdict = experiment.get("verdict")
    if verdict:
        parts.append(f'<div class="verdict">{_e(verdict)}</div>')
    parts.append(_curves(experiment, figs))
    notes = experiment.get("notes") or []
    if notes:
        parts.append("<ul>" + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>")
    parts.append("</section>")
    return "".join(parts)


# -- entry point ------------------------------------------------------------------------------
def build_report(
    *,
    dataset: Dataset,
    stats: PixelStats,
    mask: Mask | None = None,
    effects: Sequence[ScalerEffect] = (),
    experiment: Mapping[str, Any] | None = None,
    title: str = "sndiag report",
    created: datetime | None = None,
) -> str:
    """A single self-contained HTML report.

    Sections: dataset summary (marked SYNTHETIC when it is), mean / std / SNR heatmaps and the
    row SNR profile, the mask, one block per scaler effect (reading and gain-vs-SNR figure),
    the experiment table, verdict and (MLP, CNN) per-epoch curves, and a footer with the
    sndiag version and creation time.

    Parameters
    ----------
    dataset : Dataset
    stats : PixelStats
        Statistics of ``dataset.X``.
    mask : Mask, optional
        The mask in use; its rows are greyed out in the figures.
    effects : sequence of ScalerEffect
        From :func:`sndiag.effects.compare_effects`.
    experiment : Mapping, optional
        An :meth:`ExperimentResult.to_dict` (or any dict with a ``"configurations"`` list of
        dicts holding ``scaler, mask, classifier, mean, ci_low, ci_high, p_vs_none`` and a
        ``"verdict"`` string); missing keys are shown as dashes. An object with ``to_dict`` is
        accepted too.
    title : str
        Report title (escaped).
    created : datetime, optional
        Creation time shown in the footer (default: now, UTC).

    Returns
    -------
    str
        The HTML document. plotly.js is inlined once; nothing is loaded from the network.

    Examples
    --------
    >>> from sndiag.stats import compute_stats
    >>> X = np.random.default_rng(0).gamma(2.0, 1.0, size=(8, 4, 6)).astype(np.float32)
    >>> ds = Dataset(X, provenance={"name": "<b>demo</b>"})
    >>> page = build_report(dataset=ds, stats=compute_stats(X))
    >>> page.startswith("<!DOCTYPE html>"), "&lt;b&gt;demo&lt;/b&gt;" in page, "<b>demo</b>" in page
    (True, True, False)
    """
    if not isinstance(dataset, Dataset):
        raise ParameterError(f"dataset is a {type(dataset).__name__}; give a sndiag.dataset.Dataset")
    if tuple(stats.shape) != dataset.shape:
        raise ParameterError(f"stats are of images {tuple(stats.shape)} but the dataset's are "
                             f"{dataset.shape}; compute them from this dataset")
    if experiment is not None and not isinstance(experiment, Mapping):
        to_dict = getattr(experiment, "to_dict", None)
        if to_dict is None:
            raise ParameterError(f"experiment is a {type(experiment).__name__}; give a dict "
                                 "(ExperimentResult.to_dict())")
        experiment = to_dict()
    created = created or datetime.now(UTC)
    figs = _Figures()
    synthetic = dataset.is_synthetic
    log = dataset.summary(stats=stats).get("scale_guess") == "linear" \
        and float(stats.global_min) >= 0
    nav = ['<a href="#dataset">Dataset</a>', '<a href="#statistics">Statistics</a>',
           '<a href="#mask">Mask</a>', '<a href="#scalers">Scalers</a>']
    if experiment is not None:
        nav.append('<a href="#experiment">Experiment</a>')
    body = [
        f"<header><h1>{_e(title)}</h1>",
        f'<p class="muted">Dataset <strong>{_e(dataset.name)}</strong> &middot; {dataset.n_clips} clips '
        f"&middot; {dataset.shape[0]} &times; {dataset.shape[1]}</p>",
        ('<p class="banner">SYNTHETIC DATA: this dataset was generated, not recorded. '
         "Its results illustrate the method and say nothing about real audio.</p>") if synthetic else "",
        f"<nav>{''.join(nav)}</nav></header>",
        _dataset_section(dataset, figs, stats),
        _statistics_section(stats, mask, log=log, figs=figs),
        _mask_section(mask, stats),
        _effects_section(list(effects), stats, figs),
        _experiment_section(experiment, figs) if experiment is not None else "",
        f"<footer>Created by sndiag {_e(_version())} on "
        f"{_e(created.isoformat(timespec='seconds'))}.</footer>",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}{' (SYNTHETIC)' if synthetic else ''}</title>"
        f"<style>{_CSS}</style></head><body><main>{''.join(body)}</main></body></html>\n"
    )
