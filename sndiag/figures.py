"""Plotly figure builders for spectrogram statistics, masks and scaler effects (no streamlit here).

Every builder returns a :class:`plotly.graph_objects.Figure` with the same look: one template,
fixed heights, and for every image the spectrogram orientation - frame on x, mel band (row) on y
with row 0, the lowest frequencies, at the **bottom**. Hovering a pixel reads
``row 12, frame 40: 0.0123``.

Masked rows are drawn under an almost opaque grey band (the data stays in the figure, but reads as
"switched off"); rows with low SNR are drawn in red on :func:`row_profile`.

Builders
--------
:func:`heatmap`             any (n_mels, n_frames) map, optionally on a log10 colour scale
:func:`stat_heatmap`        one per-pixel statistic of a :class:`~sndiag.stats.PixelStats`
:func:`class_mean_heatmaps` class-mean spectrograms as small multiples with one colour scale
:func:`row_profile`         one bar per mel band (SNR, Fisher ratio, mean, std)
:func:`value_histogram`     overlaid histograms of bounded random subsamples of values
:func:`clip_heatmap`        one clip's spectrogram
:func:`gain_and_snr`        noise gain beside SNR: where gain is high and SNR low, noise is amplified
                            (constant pixels, e.g. padding, can be left blank)
:func:`experiment_bars`     mean accuracy per scaler (x mask) with 95% CIs and fold dots
:func:`experiment_curves`   the question's plots: accuracy and cost per epoch and minibatch

Export: :func:`figure_html` (self-contained HTML or an embeddable ``<div>``) and
:func:`figure_png` (Kaleido + Chromium; ``None`` when no browser can run).
"""

from __future__ import annotations

import html
import os
import re
import shutil
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import plotly.colors
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from sndiag.errors import ParameterError, ShapeError
from sndiag.stats import subsample_values

if TYPE_CHECKING:
    from sndiag.experiment import ConfigResult, ExperimentResult
    from sndiag.stats import PixelStats

__all__ = [
    "STAT_LABELS",
    "class_mean_heatmaps",
    "clip_heatmap",
    "distribution_checks",
    "drift_heatmap",
    "experiment_bars",
    "experiment_curves",
    "figure_html",
    "figure_png",
    "gain_and_snr",
    "heatmap",
    "png_unavailable",
    "row_profile",
    "stat_heatmap",
    "value_histogram",
]

# -- look ------------------------------------------------------------------------------------
HEATMAP_HEIGHT = 320
PAIR_HEIGHT = 340
PROFILE_HEIGHT = 320
HIST_HEIGHT = 320
SMALL_MULTIPLE_HEIGHT = 210

MASK_GREY = "rgba(150, 150, 150, 0.88)"
BAR_COLOR = "#4c78a8"
LOW_COLOR = "#e45756"
MASKED_BAR_COLOR = "#bdbdbd"
HIST_COLORS = ("#4c78a8", "#f58518", "#54a24b", "#b279a2", "#e45756", "#72b7b2")

#: Trace types sndiag draws. The template keeps plotly_white's defaults for these only: every
#: figure validates its template, and the other 20 trace types tripled that cost (~7 ms a figure).
_TRACE_TYPES = ("bar", "heatmap", "scatter")
_TEMPLATE = go.layout.Template(
    layout=pio.templates["plotly_white"].layout,
    data={k: v for k, v in pio.templates["plotly_white"].data.to_plotly_json().items()
          if k in _TRACE_TYPES},
)
_TEMPLATE.layout.update(
    font={"family": "Inter, 'Segoe UI', Helvetica, Arial, sans-serif", "size": 12, "color": "#222"},
    title={"x": 0.01, "xanchor": "left", "font": {"size": 15}},
    margin={"l": 64, "r": 24, "t": 56, "b": 48},
    hoverlabel={"font": {"size": 12}},
    legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0},
    xaxis={"exponentformat": "power"},
    yaxis={"exponentformat": "power"},
)

_FRAME = "frame"
_ROW = "mel band (row)"
_HOVER = "row %{y}, frame %{x}: %{z:.4g}<extra></extra>"
_HOVER_LOG = "row %{y}, frame %{x}: %{customdata:.4g}<br>log10 |value| = %{z:.3f}<extra></extra>"

#: Title and colour-bar label of every statistic :func:`stat_heatmap` and :func:`row_profile` draw.
STAT_LABELS: dict[str, tuple[str, str]] = {
    "mean": ("Mean of each pixel over clips", "mean"),
    "std": ("Standard deviation of each pixel over clips", "std"),
    "snr": ("SNR of each pixel (mean / std)", "mean / std"),
    "median": ("Median of each pixel over clips", "median"),
    "iqr": ("Interquartile range of each pixel (q75 - q25)", "IQR"),
    "mad": ("Median absolute deviation of each pixel", "MAD"),
    "fisher": ("Fisher ratio of each pixel (between- / within-class variance)", "Fisher ratio"),
    "noise_gain": ("Noise gain of per-pixel standardization (1 / std)", "gain"),
    "zero_fraction": ("Fraction of clips in which the pixel is exactly 0", "fraction"),
    "min": ("Minimum of each pixel over clips", "min"),
    "max": ("Maximum of each pixel over clips", "max"),
    "row_snr": ("SNR of each mel band (mean / std of the band's values)", "mean / std"),
    "row_mean_snr": ("Mean pixel SNR of each mel band", "mean of pixel SNR"),
    "row_fisher": ("Fisher ratio of each mel band", "Fisher ratio"),
    "row_mean": ("Mean of each mel band", "mean"),
    "row_std": ("Standard deviation of each mel band", "std"),
}
_PIXEL_STATS = ("mean", "std", "snr", "median", "iqr", "mad", "fisher", "noise_gain",
                "zero_fraction", "min", "max")
_ROW_STATS = ("row_snr", "row_mean_snr", "row_fisher", "row_mean", "row_std")


# -- helpers ---------------------------------------------------------------------------------
def _text(s: object) -> str:
    """User-provided text made safe for Plotly's pseudo-HTML labels."""
    return html.escape(str(s), quote=True)


def _map2d(Z: Any, what: str) -> np.ndarray:
    arr = np.asarray(Z)
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise ShapeError(f"{what} has dtype {arr.dtype}; give a real-valued 2-D array")
    if arr.ndim != 2 or 0 in arr.shape:
        raise ShapeError(f"{what} has shape {arr.shape}; expected (n_mels, n_frames)")
    out = arr.astype(np.float64)
    out[~np.isfinite(out)] = np.nan  # JSON has no Inf; NaN cells are drawn empty
    return out


def _masked_index(masked_rows: Any, n_rows: int) -> np.ndarray:
    """Sorted row indices from a boolean (n_mels,) vector or a sequence of row numbers."""
    if masked_rows is None:
        return np.zeros(0, dtype=int)
    arr = np.asarray(masked_rows)
    if arr.dtype == bool:
        if arr.shape != (n_rows,):
            raise ShapeError(f"masked_rows has shape {arr.shape}; expected ({n_rows},) booleans")
        return np.flatnonzero(arr)
    if arr.size == 0:
        return np.zeros(0, dtype=int)
    if arr.dtype.kind not in "iu":
        raise ParameterError(f"masked_rows has dtype {arr.dtype}; give booleans or row numbers")
    idx = np.unique(arr.ravel())
    if idx[0] < 0 or idx[-1] >= n_rows:
        raise ParameterError(f"masked_rows holds row {int(idx[0] if idx[0] < 0 else idx[-1])}; "
                             f"rows are 0..{n_rows - 1}")
    return idx.astype(int)


def _runs(idx: np.ndarray) -> list[tuple[int, int]]:
    """Contiguous runs ``(first, last)`` of sorted integer indices."""
    if idx.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) > 1)
    starts = np.concatenate(([idx[0]], idx[breaks + 1]))
    ends = np.concatenate((idx[breaks], [idx[-1]]))
    return [(int(a), int(b)) for a, b in zip(starts, ends, strict=True)]


#: Largest magnitude a float32 holds; larger values are clipped to it on the wire.
_F32_MAX = float(np.finfo(np.float32).max)


def _wire(A: np.ndarray) -> np.ndarray:
    """A map as the browser receives it: float32, NaN kept.

    Plotly writes numpy arrays into the figure's JSON as typed arrays (base64), so float32 halves
    a heatmap's payload against float64 (a 60 x 130 map: 42 kB instead of 83 kB of base64); its
    7 significant digits are more than the colour or the hover text (4 digits) show.

    Examples
    --------
    >>> _wire(np.array([[1e40, np.nan, 0.1]])).dtype
    dtype('float32')
    >>> bool(np.isnan(_wire(np.array([np.nan]))[0])), float(_wire(np.array([-1e40]))[0]) < -1e38
    (True, True)
    """
    return np.clip(np.asarray(A, dtype=np.float64), -_F32_MAX, _F32_MAX).astype(np.float32)


def _log_floor(A: np.ndarray) -> float:
    pos = A[np.isfinite(A) & (A > 0)]
    return 1.0 if pos.size == 0 else float(pos.min())


def _log10(Z: np.ndarray, floor: float | None = None) -> tuple[np.ndarray, float]:
    """``log10(max(|Z|, floor))``; the default floor is the smallest positive |value|."""
    A = np.abs(Z)
    floor = _log_floor(A) if floor is None else floor
    with np.errstate(invalid="ignore"):
        return np.log10(np.maximum(A, floor)), floor  # maximum keeps NaN cells NaN (fmax would not)


def _grey_rows(fig: go.Figure, rows: np.ndarray, *, xref: str = "x", yref: str = "y") -> None:
    """Cover masked rows with grey bands spanning the whole x range of one subplot."""
    for first, last in _runs(rows):
        fig.add_shape(type="rect", xref=f"{xref} domain", yref=yref, x0=0, x1=1,
                      y0=first - 0.5, y1=last + 0.5, fillcolor=MASK_GREY, line={"width": 0},
                      layer="above", name="masked rows")


#: Characters of a title's first line before it is wrapped (half-width figures cut longer ones).
TITLE_WIDTH = 52


def _wrap_title(title: str, width: int = TITLE_WIDTH) -> str:
    """Break a long first title line (e.g. a clip's file name) so a narrow figure shows it all.

    Examples
    --------
    >>> _wrap_title("Clip 3 before scaling: speaker_07/session_2/utterance_0042_take3.wav", 30)
    'Clip 3 before scaling:<br>speaker_07/session_2/<br>utterance_0042_take3.wav'
    >>> _wrap_title("short")
    'short'
    """
    head, sep, rest = title.partition("<br>")
    if len(head) <= width or "<" in head:
        return title
    lines, line = [], ""
    for token in re.split(r"(?<=[ /_-])", head):
        if line and len(line) + len(token) > width:
            lines.append(line.rstrip())
            line = ""
        line += token
    lines.append(line)
    return "<br>".join(lines) + sep + rest


def _style(fig: go.Figure, *, title: str, height: int) -> go.Figure:
    fig.update_layout(template=_TEMPLATE, title={"text": title}, height=height)
    return fig


def _image_axes(fig: go.Figure, n_rows: int, n_cols: int, **where: Any) -> None:
    fig.update_xaxes(title_text=_FRAME, range=[-0.5, n_cols - 0.5], showgrid=False, zeroline=False,
                     ticks="outside", **where)
    fig.update_yaxes(title_text=_ROW, range=[-0.5, n_rows - 0.5], showgrid=False, zeroline=False,
                     ticks="outside", **where)


def _colorbar(title: str, **extra: Any) -> dict[str, Any]:
    return {"title": {"text": title, "side": "right"}, "thickness": 14, "outlinewidth": 0, **extra}


def _colorscale(name: str) -> list[list[Any]]:
    """A named Plotly colour scale with every colour as ``rgb(r,g,b)`` text.

    Streamlit's Plotly theme treats the hex colours ``#000001``..``#000040`` as placeholders for
    its own palette and swaps them in the browser, so Magma/Inferno (which start at ``#000004``)
    would draw their darkest values pink. ``rgb()`` strings are left alone.

    Examples
    --------
    >>> _colorscale("Magma")[0]
    [0.0, 'rgb(0, 0, 4)']
    """
    out = []
    for pos, colour in plotly.colors.get_colorscale(name):
        if colour.startswith("#"):
            colour = "rgb({}, {}, {})".format(*plotly.colors.hex_to_rgb(colour))
        out.append([float(pos), colour])
    return out


def _heatmap_trace(Z: np.ndarray, *, log: bool, colorscale: str, zmid: float | None,
                   colorbar_title: str, **extra: Any) -> go.Heatmap:
    n_rows, n_cols = Z.shape
    kw: dict[str, Any] = {"x": np.arange(n_cols), "y": np.arange(n_rows),
                          "colorscale": _colorscale(colorscale)}
    if log:
        Zl, _ = _log10(Z)
        label = colorbar_title or "value"
        label = f"log10 |{label}|" if _has_negative(Z[np.isfinite(Z)]) else f"log10 {label}"
        kw.update(z=_wire(Zl), customdata=_wire(Z), hovertemplate=_HOVER_LOG,
                  colorbar=_colorbar(label, **extra.pop("colorbar", {})))
    else:
        kw.update(z=_wire(Z), hovertemplate=_HOVER,
                  colorbar=_colorbar(colorbar_title, **extra.pop("colorbar", {})))
        if zmid is not None:
            kw["zmid"] = zmid
    kw.update(extra)
    return go.Heatmap(**kw)


def _has_negative(Z: np.ndarray) -> bool:
    return bool(np.any(Z < 0)) if np.isfinite(Z).any() else False


# -- builders --------------------------------------------------------------------------------
def heatmap(
    Z: np.ndarray,
    *,
    title: str,
    colorbar_title: str = "",
    log: bool = False,
    masked_rows: np.ndarray | Sequence[int] | None = None,
    colorscale: str = "Viridis",
    zmid: float | None = None,
    height: int = HEATMAP_HEIGHT,
) -> go.Figure:
    """One (n_mels, n_frames) map, row 0 (lowest band) at the bottom.

    Parameters
    ----------
    Z : np.ndarray [shape=(n_mels, n_frames)]
        The map. NaN and Inf cells are drawn empty.
    title : str
        Figure title (Plotly's small HTML subset is allowed; escape user text).
    colorbar_title : str
        Label of the colour bar; with ``log=True`` it is prefixed with ``log10``.
    log : bool
        Colour by ``log10(|Z|)``; zeros are drawn at the smallest positive ``|Z|`` (the floor).
        Hovering still shows the original value.
    masked_rows : np.ndarray [shape=(n_mels,), dtype=bool] or sequence of int, optional
        Rows to grey out (e.g. ``Mask.rows``): they are covered by an almost opaque grey band.
    colorscale : str
        Any Plotly colour scale name.
    zmid : float, optional
        Centre of a diverging colour scale (linear colour only).
    height : int
        Figure height in pixels.

    Returns
    -------
    plotly.graph_objects.Figure

    Examples
    --------
    >>> Z = np.arange(12.0).reshape(3, 4)
    >>> fig = heatmap(Z, title="demo", masked_rows=[0])
    >>> fig.data[0].type, np.shape(fig.data[0].z), list(fig.layout.yaxis.range)
    ('heatmap', (3, 4), [-0.5, 2.5])
    >>> fig.layout.shapes[0].y0, fig.layout.shapes[0].y1
    (-0.5, 0.5)
    >>> heatmap(Z, title="log", log=True, colorbar_title="power").data[0].colorbar.title.text
    'log10 power'
    """
    Z = _map2d(Z, "Z")
    masked = _masked_index(masked_rows, Z.shape[0])
    fig = go.Figure(_heatmap_trace(Z, log=log, colorscale=colorscale, zmid=zmid,
                                   colorbar_title=colorbar_title))
    if masked.size:
        title = f"{title}<br><sup>grey: {masked.size} masked row{'s' if masked.size > 1 else ''}</sup>"
    _style(fig, title=title, height=height)
    _image_axes(fig, *Z.shape)
    _grey_rows(fig, masked)
    return fig


def _stat_array(stats: Any, which: str) -> np.ndarray:
    value = getattr(stats, which, None)
    if value is not None and which == "class_mean" and np.shape(value)[:1] == (0,):
        value = None
    if value is None:
        if "fisher" in which or which == "class_mean":
            need = "labelled data: compute the statistics with y"
        elif which in ("median", "iqr", "mad", "q25", "q75"):
            need = "quantiles: compute the statistics with quantiles='exact' or 'sample'"
        else:
            need = "a PixelStats from sndiag.stats.compute_stats"
        raise ParameterError(f"these statistics have no {which!r}; it needs {need}")
    return np.array(value, dtype=np.float64)  # writable copy (PixelStats arrays are read-only)


def stat_heatmap(
    stats: PixelStats,
    which: str,
    *,
    log: bool = False,
    masked_rows: np.ndarray | Sequence[int] | None = None,
) -> go.Figure:
    """Heatmap of one per-pixel statistic of a :class:`~sndiag.stats.PixelStats`.

    Parameters
    ----------
    stats : PixelStats
        From :func:`sndiag.stats.compute_stats`.
    which : {"mean", "std", "snr", "median", "iqr", "mad", "fisher", "noise_gain", \
"zero_fraction", "min", "max"}
        The statistic; ``"fisher"`` needs labelled data.
    log : bool
        log10 colour scale (useful for power-scale mean, std and noise gain).
    masked_rows : np.ndarray [shape=(n_mels,), dtype=bool] or sequence of int, optional
        Rows to grey out.

    Returns
    -------
    plotly.graph_objects.Figure

    Notes
    -----
    SNR uses a diverging red-blue scale centred on 0 when some pixels have a negative mean
    (dB or centred data), ``zero_fraction`` a fixed 0-1 range.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> st = SimpleNamespace(snr=np.array([[-1.0, 0.5], [2.0, 3.0]]))
    >>> fig = stat_heatmap(st, "snr")
    >>> fig.data[0].colorscale[0][1], fig.data[0].zmid
    ('rgb(103,0,31)', 0.0)
    """
    if which not in _PIXEL_STATS:
        raise ParameterError(f"which={which!r} is not a per-pixel statistic; choose one of "
                             f"{list(_PIXEL_STATS)}")
    Z = _stat_array(stats, which)
    title, unit = STAT_LABELS[which]
    kw: dict[str, Any] = {}
    if which == "snr" and not log and _has_negative(Z[np.isfinite(Z)]):
        kw.update(colorscale="RdBu", zmid=0.0)
    elif which == "noise_gain":
        kw.update(colorscale="Inferno")
    elif which == "zero_fraction":
        kw.update(colorscale="Cividis")
    fig = heatmap(Z, title=title, colorbar_title=unit, log=log, masked_rows=masked_rows, **kw)
    if which == "zero_fraction" and not log:
        fig.update_traces(zmin=0.0, zmax=1.0)
    return fig


def drift_heatmap(Z: np.ndarray, *, kind: str, what: str = "",
                  masked_rows: np.ndarray | Sequence[int] | None = None) -> go.Figure:
    """A drift map of :mod:`sndiag.drift`.

    Parameters
    ----------
    Z : np.ndarray [shape=(n_mels, n_frames)]
    kind : {"group", "dataset"}
        ``"group"``: between- over within-group variance (log colour, 0 = no difference);
        ``"dataset"``: mean shift in pooled stds (diverging colour around 0).
    what : str
        What is compared, for the title (e.g. ``"6 speakers"``, ``"train -> test"``).
    masked_rows : optional
        Rows to grey out.

    Examples
    --------
    >>> drift_heatmap(np.ones((2, 3)), kind="dataset", what="a -> b").data[0].zmid
    0.0
    """
    if kind == "group":
        return heatmap(Z, title=f"Group drift{': ' + _text(what) if what else ''} (between / "
                       "within-group variance)", colorbar_title="ratio", log=True,
                       colorscale="Inferno", masked_rows=masked_rows)
    if kind == "dataset":
        return heatmap(Z, title=f"Mean shift{': ' + _text(what) if what else ''} (in pooled "
                       "stds)", colorbar_title="shift / std", colorscale="RdBu", zmid=0.0,
                       masked_rows=masked_rows)
    raise ParameterError(f"kind={kind!r} must be 'group' or 'dataset'")


def class_mean_heatmaps(stats: PixelStats, *, max_classes: int = 6, log: bool = False) -> go.Figure:
    """Class-mean spectrograms as small multiples sharing one colour scale.

    Parameters
    ----------
    stats : PixelStats
        Statistics of labelled data (``class_mean`` of shape (n_classes, n_mels, n_frames) and
        ``classes``).
    max_classes : int
        Draw at most this many classes (the first ones, in ``stats.classes`` order).
    log : bool
        log10 colour scale.

    Returns
    -------
    plotly.graph_objects.Figure
        One heatmap per class, three per line, all on the shared ``coloraxis``.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> st = SimpleNamespace(class_mean=np.ones((4, 3, 5)), classes=np.array(["a", "b", "c", "d"]))
    >>> fig = class_mean_heatmaps(st, max_classes=2)
    >>> len(fig.data), fig.data[1].coloraxis, fig.layout.annotations[1].text
    (2, 'coloraxis', 'class b')
    """
    if isinstance(max_classes, bool) or not isinstance(max_classes, int) or max_classes < 1:
        raise ParameterError(f"max_classes={max_classes!r} must be a positive integer")
    means = _stat_array(stats, "class_mean")
    if means.ndim != 3 or means.shape[0] == 0:
        raise ShapeError(f"class_mean has shape {means.shape}; expected (n_classes, n_mels, n_frames)")
    classes = [str(c) for c in np.asarray(getattr(stats, "classes", range(means.shape[0])))]
    n = min(max_classes, means.shape[0])
    n_cols = min(3, n)
    n_rows = -(-n // n_cols)
    maps = [_map2d(means[i], "class_mean") for i in range(n)]
    if log:
        floor = _log_floor(np.abs(np.stack(maps)))  # one floor: zeros look alike in every class
        maps = [_log10(m, floor)[0] for m in maps]
    finite = np.concatenate([m[np.isfinite(m)] for m in maps])
    cmin, cmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    fig = make_subplots(rows=n_rows, cols=n_cols, shared_xaxes=True, shared_yaxes=True,
                        horizontal_spacing=0.03, vertical_spacing=min(0.12, 0.2 / n_rows),
                        subplot_titles=[f"class {_text(c)}" for c in classes[:n]])
    for i, (Zc, raw) in enumerate(zip(maps, means[:n], strict=True)):
        name = _text(classes[i])
        shown_value = "customdata" if log else "z"  # the raw mean only travels when z is its log
        hover = f"class {name}<br>row %{{y}}, frame %{{x}}: %{{{shown_value}:.4g}}<extra></extra>"
        fig.add_trace(go.Heatmap(z=_wire(Zc), x=np.arange(Zc.shape[1]), y=np.arange(Zc.shape[0]),
                                 customdata=_wire(raw) if log else None, coloraxis="coloraxis",
                                 hovertemplate=hover),
                      row=i // n_cols + 1, col=i % n_cols + 1)
    shown = f" (first {n} of {means.shape[0]} classes)" if n < means.shape[0] else ""
    _style(fig, title=f"Class-mean spectrograms{shown}", height=SMALL_MULTIPLE_HEIGHT * n_rows + 70)
    fig.update_layout(coloraxis={"colorscale": _colorscale("Viridis"), "cmin": cmin, "cmax": cmax,
                                 "colorbar": _colorbar("log10 mean" if log else "mean")})
    n_mels, n_frames = means.shape[1:]
    fig.update_xaxes(range=[-0.5, n_frames - 0.5], showgrid=False, zeroline=False)
    fig.update_yaxes(range=[-0.5, n_mels - 0.5], showgrid=False, zeroline=False)
    fig.update_xaxes(title_text=_FRAME, row=n_rows)
    fig.update_yaxes(title_text="row", col=1)
    return fig


def row_profile(
    stats: PixelStats,
    *,
    which: str = "row_snr",
    masked_rows: np.ndarray | Sequence[int] | None = None,
    threshold: float | None = None,
    log: bool = False,
) -> go.Figure:
    """One horizontal bar per mel band, band 0 at the bottom like the heatmaps.

    Parameters
    ----------
    stats : PixelStats
        From :func:`sndiag.stats.compute_stats`.
    which : {"row_snr", "row_mean_snr", "row_fisher", "row_mean", "row_std"}
        The per-row statistic.
    masked_rows : np.ndarray [shape=(n_mels,), dtype=bool] or sequence of int, optional
        Rows drawn as grey bars ("masked").
    threshold : float, optional
        Drawn as a dashed vertical line; unmasked rows below it are red ("below threshold").
    log : bool
        Logarithmic value axis.

    Returns
    -------
    plotly.graph_objects.Figure
        Up to three bar traces named "rows", "below threshold" and "masked".

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> st = SimpleNamespace(row_snr=np.array([0.1, 0.2, 2.0, 3.0]))
    >>> fig = row_profile(st, masked_rows=[0], threshold=0.5)
    >>> [(t.name, [int(r) for r in t.y]) for t in fig.data]
    [('rows', [2, 3]), ('below threshold', [1]), ('masked', [0])]
    """
    if which not in _ROW_STATS:
        raise ParameterError(f"which={which!r} is not a per-row statistic; choose one of {list(_ROW_STATS)}")
    v = _stat_array(stats, which).ravel()
    v[~np.isfinite(v)] = np.nan
    n = v.size
    masked = np.zeros(n, dtype=bool)
    masked[_masked_index(masked_rows, n)] = True
    low = ~masked & (v < threshold) if threshold is not None else np.zeros(n, dtype=bool)
    title, unit = STAT_LABELS[which]
    fig = go.Figure()
    for name, sel, color in (("rows", ~masked & ~low, BAR_COLOR), ("below threshold", low, LOW_COLOR),
                             ("masked", masked, MASKED_BAR_COLOR)):
        if sel.any():
            rows = np.flatnonzero(sel)
            fig.add_trace(go.Bar(x=v[rows], y=rows, orientation="h", name=name, marker_color=color,
                                 marker_line_width=0,
                                 hovertemplate=f"row %{{y}}: %{{x:.4g}}<extra>{name}</extra>"))
    if threshold is not None:
        fig.add_vline(x=threshold, line_dash="dash", line_color="#222", line_width=1.5)
        title = f"{title}<br><sup>dashed line: threshold {threshold:.3g}</sup>"
    _style(fig, title=title, height=PROFILE_HEIGHT)
    fig.update_layout(barmode="overlay", bargap=0.06, showlegend=len(fig.data) > 1)
    fig.update_yaxes(title_text=_ROW, range=[-0.5, n - 0.5], showgrid=False, zeroline=False)
    fig.update_xaxes(title_text=unit, type="log" if log else "linear")
    return fig


def _edges(v: np.ndarray, bins: int, log_x: bool) -> np.ndarray:
    if v.size == 0:
        return np.linspace(0.0, 1.0, bins + 1)
    lo, hi = float(v.min()), float(v.max())
    if log_x:
        if lo == hi:
            lo, hi = lo / 2, hi * 2
        return np.geomspace(lo, hi, bins + 1)
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, bins + 1)


def _step_trace(v: np.ndarray, edges: np.ndarray, *, name: str, color: str) -> go.Scatter:
    counts, _ = np.histogram(v, bins=edges)
    pct = 100.0 * counts / max(int(counts.sum()), 1)
    x = edges
    y = np.append(pct, pct[-1])
    custom = np.column_stack([np.append(edges[1:], edges[-1]), np.append(counts, 0)])
    label = _text(name)
    return go.Scatter(
        x=x, y=y, mode="lines", line_shape="hv", line={"color": color, "width": 1.5},
        fill="tozeroy", opacity=0.9, name=label, customdata=custom,
        hovertemplate=("%{x:.4g} to %{customdata[0]:.4g}: %{y:.2f}% "
                       f"(%{{customdata[1]:d}} values)<extra>{label}</extra>"),
    )


def value_histogram(
    samples: Mapping[str, np.ndarray],
    *,
    log_y: bool = False,
    log_x: bool = False,
    bins: int = 80,
    title: str = "Distribution of values",
    overlay: bool = True,
    max_values: int = 200_000,
    rng_seed: int = 0,
) -> go.Figure:
    """Histograms of several arrays (e.g. before / after scaling), as % of values per bin.

    Each array is reduced to at most ``max_values`` random values by :func:`subsample_values`
    and binned with numpy, so the figure holds ``bins`` points per array whatever the data size.

    Parameters
    ----------
    samples : Mapping of str to np.ndarray
        Name -> values (any shape).
    log_y : bool
        Logarithmic count axis (heavy tails become visible).
    log_x : bool
        Logarithmic value axis with log-spaced bins; values <= 0 cannot be drawn and are left out
        (the axis title says which share).
    bins : int
        Number of bins.
    title : str
        Figure title.
    overlay : bool
        True: one panel, shared bins (compare shapes on one scale). False: one panel per array
        with its own bins (compare shapes of arrays on very different scales).
    max_values : int
        Values kept per array.
    rng_seed : int
        Seed of the subsample.

    Returns
    -------
    plotly.graph_objects.Figure
        One filled step line per array; ``customdata[:, 1]`` holds the counts per bin.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> fig = value_histogram({"before": rng.gamma(0.5, size=1000), "after": rng.normal(size=1000)},
    ...                       bins=20)
    >>> [t.name for t in fig.data], len(fig.data[0].x)
    (['before', 'after'], 21)
    """
    if not samples:
        raise ParameterError("samples is empty; give at least one named array")
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ParameterError(f"bins={bins!r} must be a positive integer")
    subs = {str(k): subsample_values(v, max_values=max_values, rng_seed=rng_seed)
            for k, v in samples.items()}
    dropped = 0.0
    if log_x:
        total = sum(s.size for s in subs.values())
        kept = {k: s[s > 0] for k, s in subs.items()}
        dropped = 1.0 - sum(s.size for s in kept.values()) / max(total, 1)
        subs = kept
    xlabel = "value"
    if log_x:
        xlabel += " (log scale" + (f"; {100 * dropped:.1f}% of values <= 0 not shown)" if dropped else ")")
    names = list(subs)
    if overlay:
        fig = go.Figure()
        edges = _edges(np.concatenate(list(subs.values())), bins, log_x)
        for i, k in enumerate(names):
            fig.add_trace(_step_trace(subs[k], edges, name=k, color=HIST_COLORS[i % len(HIST_COLORS)]))
    else:
        fig = make_subplots(rows=1, cols=len(names), subplot_titles=[_text(k) for k in names],
                            horizontal_spacing=0.08)
        for i, k in enumerate(names):
            edges = _edges(subs[k], bins, log_x)
            fig.add_trace(_step_trace(subs[k], edges, name=k, color=HIST_COLORS[i % len(HIST_COLORS)]),
                          row=1, col=i + 1)
    _style(fig, title=title, height=HIST_HEIGHT)
    fig.update_layout(showlegend=overlay and len(names) > 1, hovermode="closest")
    fig.update_xaxes(title_text=xlabel, type="log" if log_x else "linear")
    fig.update_yaxes(title_text="% of values", type="log" if log_y else "linear")
    return fig


def clip_heatmap(S: np.ndarray, *, title: str, log: bool = False, height: int = HEATMAP_HEIGHT) -> go.Figure:
    """One clip's (n_mels, n_frames) spectrogram, low bands at the bottom.

    Parameters
    ----------
    S : np.ndarray [shape=(n_mels, n_frames)]
        The spectrogram.
    title : str
        Figure title; escape clip names with :func:`html.escape` first. A long one (a deep path)
        is wrapped so a narrow figure shows it whole.
    log : bool
        log10 colour scale (power spectrograms span many decades).
    height : int
        Figure height in pixels.

    Returns
    -------
    plotly.graph_objects.Figure

    Examples
    --------
    >>> clip_heatmap(np.ones((60, 130)), title="clip").data[0].hovertemplate
    'row %{y}, frame %{x}: %{z:.4g}<extra></extra>'
    """
    fig = heatmap(S, title=_wrap_title(title), colorbar_title="value", log=log, colorscale="Magma",
                  height=height)
    if "<br>" in fig.layout.title.text:
        fig.update_layout(margin={"t": 40 + 18 * fig.layout.title.text.count("<br>")})
    return fig


def gain_and_snr(
    gain_map: np.ndarray,
    snr_map: np.ndarray,
    *,
    title: str,
    masked_rows: np.ndarray | Sequence[int] | None = None,
    constant: np.ndarray | None = None,
    height: int = PAIR_HEIGHT,
) -> go.Figure:
    """Noise gain (log10 colour) beside SNR: where gain is bright and SNR dark, noise is amplified.

    Parameters
    ----------
    gain_map : np.ndarray [shape=(n_mels, n_frames)]
        How much the scaler multiplies a small perturbation of each pixel (``gain_map()`` of a
        scaler, or :attr:`PixelStats.noise_gain`).
    snr_map : np.ndarray [shape=(n_mels, n_frames)]
        Per-pixel SNR (mean / std) of the data before scaling.
    title : str
        Figure title.
    masked_rows : np.ndarray [shape=(n_mels,), dtype=bool] or sequence of int, optional
        Rows to grey out in both panels.
    constant : np.ndarray [shape=(n_mels, n_frames), dtype=bool], optional
        Pixels without variance in the data (:attr:`PixelStats.zero_std`, e.g. padding). Their
        gain is left blank (light grey background): there is no noise there to amplify, and
        scalers give them an arbitrary gain by convention.
    height : int
        Figure height in pixels.

    Returns
    -------
    plotly.graph_objects.Figure
        Two heatmaps: gain (``x``/``y`` axes) and SNR (``x2``/``y2``), each with its colour bar.

    Examples
    --------
    >>> fig = gain_and_snr(np.full((4, 5), 2.0), np.ones((4, 5)), title="standard")
    >>> [t.type for t in fig.data], fig.data[0].colorbar.title.text
    (['heatmap', 'heatmap'], 'log10 gain')
    """
    G = _map2d(gain_map, "gain_map")
    S = _map2d(snr_map, "snr_map")
    if G.shape != S.shape:
        raise ShapeError(f"gain_map has shape {G.shape} but snr_map {S.shape}; they must match")
    masked = _masked_index(masked_rows, G.shape[0])
    notes = []
    if masked.size:
        notes.append(f"grey: {masked.size} masked row{'s' if masked.size > 1 else ''}")
    if constant is not None:
        const = np.asarray(constant, dtype=bool)
        if const.shape != G.shape:
            raise ShapeError(f"constant has shape {const.shape}; expected {G.shape} like gain_map")
        if const.any():
            G[const] = np.nan
            notes.append(f"blank gain: {int(const.sum())} constant pixels (no variance, nothing to amplify)")
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.13, shared_yaxes=False,
                        subplot_titles=("Noise gain of the scaler (log10 colour)",
                                        "SNR of the data (mean / std)"))
    fig.add_trace(_heatmap_trace(G, log=True, colorscale="Inferno", zmid=None, colorbar_title="gain",
                                 colorbar={"x": 0.435, "len": 1.0}, hoverongaps=False), row=1, col=1)
    snr_kw: dict[str, Any] = {"colorscale": "Viridis", "zmid": None}
    if _has_negative(S[np.isfinite(S)]):
        snr_kw = {"colorscale": "RdBu", "zmid": 0.0}
    fig.add_trace(_heatmap_trace(S, log=False, colorbar_title="mean / std", colorbar={"x": 1.0, "len": 1.0},
                                 **snr_kw), row=1, col=2)
    if notes:
        title = f"{title}<br><sup>{'; '.join(notes)}</sup>"
    _style(fig, title=title, height=height)
    fig.update_layout(margin={"t": 80}, plot_bgcolor="#ececec")
    _image_axes(fig, *G.shape)
    fig.update_yaxes(title_text="", col=2)
    _grey_rows(fig, masked, xref="x", yref="y")
    _grey_rows(fig, masked, xref="x2", yref="y2")
    return fig


#: Height of the distribution-checks figure (two rows of panels).
DISTRIBUTION_HEIGHT = 600


def _signed_log(v: np.ndarray) -> np.ndarray:
    """``sign(v) * log10(1 + |v|)``: kurtosis of raw power runs to 1e3 and beyond."""
    return np.sign(v) * np.log10(1.0 + np.abs(v))


def distribution_checks(dist: Any, *, title: str,
                        masked_rows: np.ndarray | Sequence[int] | None = None,
                        height: int = DISTRIBUTION_HEIGHT) -> go.Figure:
    """Per-row skew and excess kurtosis before/after (top), band correlations before/after
    (bottom).

    Parameters
    ----------
    dist : sndiag.effects.Distribution
    title : str
    masked_rows : optional
        Rows left out of the profiles (they are constant after the mask).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> d = SimpleNamespace(skew_before=np.ones(3), skew_after=np.zeros(3),
    ...                     kurtosis_before=np.full(3, 9.0), kurtosis_after=np.zeros(3),
    ...                     beyond3=0.01, corr_before=np.eye(3), corr_after=np.eye(3), n_clips=5)
    >>> [t.type for t in distribution_checks(d, title="t").data]
    ['scatter', 'scatter', 'scatter', 'scatter', 'heatmap', 'heatmap']
    """
    n = len(dist.skew_before)
    masked = _masked_index(masked_rows, n)
    rows = np.arange(n)
    keep = np.ones(n, dtype=bool)
    keep[masked] = False
    fig = make_subplots(rows=2, cols=2, horizontal_spacing=0.16, vertical_spacing=0.26,
                        subplot_titles=("Skew of each band", "Excess kurtosis of each band",
                                        "Band correlation before", "Band correlation after"))

    def line(v: np.ndarray, name: str, color: str, dash: str, group: str) -> go.Scatter:
        v = np.asarray(v, dtype=float)
        x = np.where(keep & np.isfinite(v), _signed_log(v), np.nan)
        return go.Scatter(x=x, y=rows, mode="lines", name=name, legendgroup=group,
                          connectgaps=False, customdata=v,
                          hovertemplate="row %{y}: %{customdata:.3g}<extra>" + name + "</extra>",
                          line={"color": color, "dash": dash, "width": 1.6})

    fig.add_trace(line(dist.skew_before, "before", "#9e9e9e", "dot", "before"), row=1, col=1)
    fig.add_trace(line(dist.skew_after, "after", HIST_COLORS[1], "solid", "after"), row=1, col=1)
    before_k = line(dist.kurtosis_before, "before", "#9e9e9e", "dot", "before")
    after_k = line(dist.kurtosis_after, "after", HIST_COLORS[1], "solid", "after")
    before_k.showlegend = after_k.showlegend = False
    fig.add_trace(before_k, row=1, col=2)
    fig.add_trace(after_k, row=1, col=2)
    for col, C in ((1, dist.corr_before), (2, dist.corr_after)):
        fig.add_trace(go.Heatmap(z=_wire(C), colorscale=_colorscale("RdBu"),
                                 zmin=-1.0, zmax=1.0, zmid=0.0, showscale=col == 2,
                                 colorbar={"title": {"text": "r"}, "len": 0.42, "y": 0.2},
                                 hovertemplate="bands %{y} and %{x}: r = %{z:.2f}<extra></extra>"),
                      row=2, col=col)
    note = (f"{100 * dist.beyond3:.2f}% of values beyond ±3 after scaling (normal: 0.27%); "
            f"{dist.n_clips} clips")
    _style(fig, title=f"{title}<br><sup>{note}</sup>", height=height)
    fig.update_layout(margin={"t": 90}, legend={"orientation": "h", "x": 0.5, "xanchor": "center",
                                                "y": 0.5, "yanchor": "middle",
                                                "title": {"text": "lines:"}})
    ticks = np.array([-1e3, -100.0, -10.0, -1.0, 0.0, 1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6])
    for col in (1, 2):
        fig.update_xaxes(title_text="value (signed log scale)",
                         tickvals=_signed_log(ticks).tolist(), ticktext=[f"{t:g}" for t in ticks],
                         row=1, col=col)
        fig.update_yaxes(title_text=_ROW if col == 1 else "", range=[-0.5, n - 0.5], row=1,
                         col=col)
        fig.update_xaxes(title_text=_ROW, range=[-0.5, n - 0.5], showgrid=False, row=2, col=col)
        fig.update_yaxes(title_text=_ROW if col == 1 else "", range=[-0.5, n - 0.5],
                         showgrid=False, row=2, col=col)
    return fig


# -- export ----------------------------------------------------------------------------------
_CONFIG = {"displaylogo": False, "responsive": True}


def figure_html(fig: go.Figure, *, full: bool = False, include_plotlyjs: bool | str | None = None) -> str:
    """The figure as HTML.

    Parameters
    ----------
    fig : plotly.graph_objects.Figure
    full : bool
        True: a complete, self-contained HTML document (plotly.js inlined, works offline).
        False: a ``<div>`` to embed in a page that loads plotly.js once.
    include_plotlyjs : bool or str, optional
        Override Plotly's ``include_plotlyjs`` (default: True when ``full``, else False).

    Returns
    -------
    str

    Examples
    --------
    >>> frag = figure_html(heatmap(np.ones((2, 2)), title="t"))
    >>> frag.startswith("<div"), "<html>" in frag
    (True, False)
    """
    if include_plotlyjs is None:
        include_plotlyjs = bool(full)
    return pio.to_html(fig, full_html=full, include_plotlyjs=include_plotlyjs, include_mathjax=False,
                       config=_CONFIG)


def _browser_path(explicit: str | None) -> str | None:
    from sndiag.settings import Settings

    for candidate in (explicit, Settings.from_env().browser_path, shutil.which("chromium"),
                      shutil.which("chromium-browser"), shutil.which("google-chrome"), "/usr/bin/chromium"):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def png_unavailable(browser_path: str | None = None) -> str | None:
    """Why :func:`figure_png` cannot render here, in words; None when it can try.

    Examples
    --------
    >>> print(png_unavailable("/nonexistent"))  # doctest: +NORMALIZE_WHITESPACE
    PNG export needs a Chromium browser on the server (none at /nonexistent); set BROWSER_PATH,
    or download the HTML file
    """
    try:
        import kaleido  # noqa: F401
    except ImportError:
        return ("PNG export needs the kaleido package on the server (pip install kaleido); "
                "download the HTML file instead")
    path = _browser_path(None) if browser_path is None else (
        browser_path if os.path.isfile(browser_path) else None)
    if path is None:
        where = f" (none at {browser_path})" if browser_path else ""
        return (f"PNG export needs a Chromium browser on the server{where}; set BROWSER_PATH, "
                "or download the HTML file")
    return None


def figure_png(
    fig: go.Figure,
    *,
    width: int | None = None,
    height: int | None = None,
    scale: float = 2.0,
    browser_path: str | None = None,
    timeout: float = 60.0,
) -> bytes | None:
    """The figure as PNG bytes through Kaleido, or ``None`` when it cannot render.

    Kaleido drives a headless Chromium: ``browser_path``, else ``$BROWSER_PATH``, else the first
    ``chromium`` / ``google-chrome`` on ``PATH``, else ``/usr/bin/chromium``. Any failure (no
    browser, sandbox refused, timeout) returns ``None`` instead of raising, so the caller can
    offer :func:`figure_html` instead.

    Parameters
    ----------
    fig : plotly.graph_objects.Figure
    width, height : int, optional
        Image size in CSS pixels (default: the figure's own, width 900).
    scale : float
        Device pixel ratio (2 gives crisp images).
    browser_path : str, optional
        Chromium / Chrome executable.
    timeout : float
        Seconds allowed for rendering.

    Returns
    -------
    bytes or None
        PNG file content.

    Examples
    --------
    >>> figure_png(heatmap(np.ones((2, 2)), title="t"), browser_path="/nonexistent") is None
    True
    """
    path = _browser_path(browser_path) if browser_path is None else (
        browser_path if os.path.isfile(browser_path) else None)
    if path is None:
        return None
    try:
        import kaleido

        opts = {"format": "png", "scale": float(scale),
                "width": int(width or fig.layout.width or 900),
                "height": int(height or fig.layout.height or HEATMAP_HEIGHT)}
        data = kaleido.calc_fig_sync(fig, opts=opts,
                                     kopts={"path": path, "mathjax": False, "timeout": float(timeout)})
    except Exception:  # noqa: BLE001 - no browser or a crashed renderer: the caller falls back to HTML
        return None
    return bytes(data) if isinstance(data, bytes | bytearray) and data[:8] == b"\x89PNG\r\n\x1a\n" else None


# -- experiment -------------------------------------------------------------------------------
EXPERIMENT_HEIGHT = 380
CURVES_HEIGHT = 640
NONE_COLOR = "#555555"
BEST_COLOR = "#54a24b"
CURVE_COLORS = ("#4c78a8", "#f58518", "#54a24b", "#b279a2", "#72b7b2", "#eeca3b", "#9d755d",
                "#bab0ac", "#ff9da6", "#79706e")


def _experiment(result: ExperimentResult | Mapping[str, Any]) -> ExperimentResult:
    """An :class:`~sndiag.experiment.ExperimentResult` from itself or its ``to_dict()`` form."""
    from sndiag.experiment import ExperimentResult

    return result if isinstance(result, ExperimentResult) else ExperimentResult.from_dict(result)


def _config_color(c: ConfigResult, best: ConfigResult | None) -> str:
    if c.scaler == "none" and c.mask == "none":
        return NONE_COLOR
    if c.scaler == "standard" and c.mask == "none":
        return STANDARD_COLOR
    return BEST_COLOR if c is best else BAR_COLOR


def experiment_bars(result: ExperimentResult | Mapping[str, Any]) -> go.Figure:
    """Mean held-out accuracy per configuration, with 95% CI error bars and the fold accuracies.

    Grey is the raw data ``none`` (with a dotted reference line at its mean), purple the
    question's per-pixel ``standard``, green the recommended configuration, blue the others;
    configurations finished on whole folds come first (best first), then the ones only screened
    (faded: trained on a quarter of each fold). The intervals are
    :func:`sndiag.experiment.corrected_ci`; whether two configurations differ is the paired test
    in the hover text (p vs raw), not whether their bars overlap.

    Parameters
    ----------
    result : ExperimentResult or dict
        :func:`sndiag.experiment.run_experiment` output or its ``to_dict()`` (a stored result).

    Returns
    -------
    plotly.graph_objects.Figure

    Examples
    --------
    >>> from sndiag.experiment import ConfigResult, ExperimentResult
    >>> c = ConfigResult("none", "none", "logreg", [0.5, 0.7], 0.6, 0.4, 0.8, None, 1.0)
    >>> r = ExperimentResult({}, "logreg", 2, "StratifiedKFold", [c], [10, 10], [10, 10])
    >>> fig = experiment_bars(r)
    >>> [t.type for t in fig.data], list(fig.data[0].y)
    (['bar', 'scatter'], [60.0])
    """
    res = _experiment(result)
    best = res.best
    configs = sorted(res.configurations, key=lambda c: (c.stage != "final", -c.mean))
    labels = [_text(c.label) for c in configs]
    plus = [100 * (c.ci_high - c.mean) if np.isfinite(c.ci_high) else 0.0 for c in configs]
    minus = [100 * (c.mean - c.ci_low) if np.isfinite(c.ci_low) else 0.0 for c in configs]
    hover = [
        f"{_text(c.label)}<br>mean {100 * c.mean:.1f}% (95% CI {100 * c.ci_low:.1f}-"
        f"{100 * c.ci_high:.1f}%)<br>"
        + ("the raw data" if c.p_vs_none is None else f"p vs raw = {c.p_vs_none:.3f}")
        + f"<br>fit {c.fit_seconds:.1f} s over {len(c.fold_accuracies)} "
        + ("fold" if len(c.fold_accuracies) == 1 else "folds")
        + ("<br>screened only (a quarter of each training fold)" if c.stage == "screening" else "")
        + ("<br>not converged" if not c.converged else "")
        + ("<br>not above chance" if c.at_chance else "")
        for c in configs
    ]
    fig = go.Figure()
    fig.add_bar(x=labels, y=[100 * c.mean for c in configs],
                marker_color=[_config_color(c, best) for c in configs],
                marker_opacity=[1.0 if c.stage == "final" else 0.4 for c in configs],
                error_y={"type": "data", "array": plus, "arrayminus": minus, "visible": True,
                         "color": "#222"},
                hovertext=hover, hoverinfo="text", name="mean (95% CI)")
    fig.add_scatter(x=[_text(c.label) for c in configs for _ in c.fold_accuracies],
                    y=[100 * a for c in configs for a in c.fold_accuracies], mode="markers",
                    name="folds", marker={"color": "#222", "size": 5, "opacity": 0.55},
                    hovertemplate="%{x}<br>fold accuracy %{y:.1f}%<extra></extra>")
    none = res.get("none")
    if none is not None:
        fig.add_hline(y=100 * none.mean, line_dash="dot", line_color=NONE_COLOR,
                      annotation_text="raw data", annotation_position="right",
                      annotation_font={"color": NONE_COLOR})
    if res.chance > 0:
        fig.add_hline(y=100 * res.chance, line_dash="dash", line_color="#bbb",
                      annotation_text="chance", annotation_position="right",
                      annotation_font={"color": "#999"})
    kind = "group-independent" if res.grouped else "stratified"
    if res.folds == 1:
        title = (f"Held-out accuracy on one split, {sum(res.n_test)} test clips "
                 f"({res.classifier}): 95% CI over those clips")
    else:
        title = (f"Held-out accuracy, {res.folds} {kind} folds ({res.classifier}): mean, "
                 "95% CI and folds")
    _style(fig, title=title, height=EXPERIMENT_HEIGHT)
    fig.update_layout(showlegend=False, margin={"r": 70})
    fig.update_yaxes(title_text="accuracy (%)", range=[0, 100])
    fig.update_xaxes(title_text="configuration")
    return fig


#: The question's plots draw the normalized data in purple against the original.
STANDARD_COLOR = "#7b3294"
#: The four panels of :func:`experiment_curves`: (curve key, title), in grid order.
CURVE_PANELS: tuple[tuple[str, str], ...] = (
    ("val_accuracy", "validation accuracy per epoch (%)"),
    ("train_accuracy", "training accuracy per epoch (%)"),
    ("batch_accuracy", "training accuracy per minibatch (%)"),
    ("train_loss", "training cost per epoch (validation dotted)"),
)


#: Colours of the other configurations' curves (no black, no purple: those are the question's).
OTHER_CURVE_COLORS = ("#f58518", "#4c78a8", "#54a24b", "#72b7b2", "#e45756", "#9d755d",
                      "#eeca3b", "#ff9da6")


def _curve_line(c: ConfigResult, i: int) -> dict[str, Any]:
    """Black dashed for the raw data, purple for ``standard``, the ``i``-th other colour else."""
    if c.scaler == "none" and c.mask == "none":
        return {"color": "#222", "dash": "dash", "width": 3}
    if c.scaler == "standard" and c.mask == "none":
        return {"color": STANDARD_COLOR, "width": 3}
    return {"color": OTHER_CURVE_COLORS[i % len(OTHER_CURVE_COLORS)], "width": 2}


def experiment_curves(result: ExperimentResult | Mapping[str, Any]) -> go.Figure:
    """The question's plots: one line per configuration, per epoch and per minibatch.

    Four panels, as the question draws them: validation accuracy per epoch, training accuracy per
    epoch, training accuracy per minibatch, and the training cost (cross-entropy) per epoch with
    the validation loss dotted in the same colour, on a log scale. The raw data ``none`` is black
    and dashed ("original"), the question's per-pixel ``standard`` purple ("normalized"); the values are the
    mean over folds. A classifier that records no minibatches (``mlp``) leaves that panel empty,
    and one without curves (``ridge``, ``logreg``) gives a figure that says so in its title.

    Parameters
    ----------
    result : ExperimentResult or dict

    Returns
    -------
    plotly.graph_objects.Figure

    Examples
    --------
    >>> from sndiag.experiment import ConfigResult, ExperimentResult
    >>> c = ConfigResult("none", "none", "cnn", [0.6], 0.6, 0.4, 0.8, None, 1.0,
    ...                  epochs={"val_accuracy": [0.4, 0.6], "val_loss": [1.2, 0.9],
    ...                          "train_accuracy": [0.5, 0.7], "train_loss": [1.1, 0.8],
    ...                          "batch_accuracy": [0.4, 0.6, 0.6, 0.8]})
    >>> r = ExperimentResult({}, "cnn", 1, "one split", [c], [10], [10])
    >>> fig = experiment_curves(r)
    >>> [t.name for t in fig.data][:2], list(fig.data[0].y), len(fig.data)
    (['original (none)', 'original (none)'], [40.0, 60.0], 5)
    """
    res = _experiment(result)
    fig = make_subplots(rows=2, cols=2, horizontal_spacing=0.09, vertical_spacing=0.16,
                        subplot_titles=[t for _, t in CURVE_PANELS])
    where = {key: (1 + j // 2, 1 + j % 2) for j, (key, _) in enumerate(CURVE_PANELS)}
    n = 0
    batches = False
    others = 0
    for c in res.configurations:
        if not c.epochs:
            continue
        question = c.mask == "none" and c.scaler in ("none", "standard")
        line = _curve_line(c, others)
        others += 0 if question else 1
        name = "original (none)" if c.label == "none" else (
            "normalized (standard)" if c.label == "standard" else _text(c.label))
        shown = False
        n_epochs = len(c.epochs.get("train_accuracy") or c.epochs.get("val_accuracy") or [])
        for key, _ in CURVE_PANELS:
            values = [float(v) for v in c.epochs.get(key) or []]
            if not values:
                continue
            if key == "batch_accuracy":
                batches = True
                x = [n_epochs * (j + 1) / len(values) for j in range(len(values))]
                style = {**line, "width": 1, "dash": "solid"}
            else:
                x = list(range(1, len(values) + 1))
                style = line
            scale = 1.0 if key.endswith("loss") else 100.0
            row, col = where[key]
            fig.add_scatter(x=x, y=[scale * v if np.isfinite(v) else None for v in values],
                            mode="lines", name=name, legendgroup=c.label, showlegend=not shown,
                            line=style, row=row, col=col)
            shown = True
        val_loss = [float(v) for v in c.epochs.get("val_loss") or []]
        if val_loss:
            row, col = where["train_loss"]
            fig.add_scatter(x=list(range(1, len(val_loss) + 1)),
                            y=[v if np.isfinite(v) else None for v in val_loss], mode="lines",
                            name=f"{name}, validation", legendgroup=c.label, showlegend=False,
                            line={**line, "dash": "dot"}, row=row, col=col)
        n += 1
    if n and not batches:
        fig.add_annotation(text=f"{_text(res.classifier)} records no minibatches", showarrow=False,
                           xref="x3 domain", yref="y3 domain", x=0.5, y=0.5,
                           font={"color": "#888"})
    over = ("one split" if res.folds == 1 else f"mean over {res.folds} folds")
    title = (f"The question's plots: normalized vs original per epoch, {over} ({res.classifier})"
             if n else f"No per-epoch curves: {res.classifier} records one accuracy per fold; run "
                       "the MLP or the CNN for curves")
    _style(fig, title=title, height=CURVES_HEIGHT)
    fig.update_layout(legend={"y": -0.12, "yanchor": "top", "x": 0.5, "xanchor": "center",
                              "orientation": "h"}, margin={"b": 90})
    fig.update_xaxes(title_text="epoch")
    for row in (1, 2):
        fig.update_yaxes(range=[0, 100], row=row, col=1)
    fig.update_yaxes(range=[0, 100], row=1, col=2)
    # a diverging validation loss (per-pixel standardization of raw power) would flatten the rest
    fig.update_yaxes(type="log", title_text="cross-entropy (log)", row=2, col=2)
    return fig
