"""Shared pieces of every page: error display, the sidebar, the mask in use, scaler options."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import numpy as np
import streamlit as st

from sndiag.dataset import Dataset
from sndiag.errors import ParameterError, SndiagError
from sndiag.masks import MaskSpec
from sndiag.text import markdown
from sndiag.ui import cache, state

__all__ = [
    "compact_pair",
    "current_mask",
    "error_message",
    "guard",
    "resolved_mask",
    "scaler_options",
    "show_error",
    "sidebar",
    "steady_range",
]

log = logging.getLogger("sndiag.ui")


def error_message(exc: BaseException) -> str:
    """The text shown for an exception: sndiag's own message, or a short generic line.

    Examples
    --------
    >>> from sndiag.errors import DataError
    >>> error_message(DataError("X holds no clips; give at least one"))
    'X holds no clips; give at least one'
    >>> error_message(KeyError("x"))
    'Something went wrong (KeyError). The app is still usable; try other settings or reload the page.'
    """
    if isinstance(exc, SndiagError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "Not enough memory for this operation; try a smaller dataset or fewer scalers."
    return (f"Something went wrong ({type(exc).__name__}). The app is still usable; try other "
            "settings or reload the page.")


def show_error(exc: BaseException) -> None:
    """``st.error`` with :func:`error_message`; unexpected errors are also logged server-side."""
    if not isinstance(exc, SndiagError):
        log.exception("unexpected error in the dashboard", exc_info=exc)
    st.error(markdown(error_message(exc)), icon=":material/error:")


@contextlib.contextmanager
def guard() -> Iterator[None]:
    """Show any error raised inside the block with :func:`show_error` and carry on.

    Streamlit's own control flow (``st.rerun``, ``st.stop``) derives from ``BaseException``
    and passes through untouched.
    """
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - the page must stay usable
        show_error(exc)


def resolved_mask(stats: Any) -> MaskSpec:
    """The session's mask with a proposed threshold made explicit for ``stats`` (kept)."""
    spec = state.mask()
    if spec.mode == "abs" and spec.threshold is None:
        spec = spec.resolved(stats)
        state.set_mask(spec)
    return spec


def current_mask(ds: Dataset, stats: Any) -> Any:
    """The session's mask built on ``ds`` (:meth:`MaskSpec.build`), or None when it masks nothing.

    Rows by hand beyond the dataset's mel bands (from a link made for another dataset) are
    dropped from the spec.
    """
    spec = resolved_mask(stats)
    rows = tuple(r for r in spec.rows if r < ds.shape[0])
    if rows != spec.rows:
        spec = spec.replace(rows=rows)
        state.set_mask(spec)
    m = cache.mask(ds, spec, stats)
    return m if m.n_masked_pixels else None


def steady_range(fig: Any, Z: Any) -> Any:
    """Give a (nearly) constant map a fixed colour range around its value.

    After per-pixel standardization the mean map is 0 up to float rounding (1e-8) and the std
    map is 1; Plotly's automatic range would stretch that rounding noise over the whole colour
    scale and make it look like structure.
    """
    z = np.asarray(Z, dtype=float)
    z = z[np.isfinite(z)]
    if z.size == 0:
        return fig
    lo, hi = float(z.min()), float(z.max())
    centre = (lo + hi) / 2
    if hi - lo <= 1e-6 * max(1.0, abs(centre)):
        half = max(1.0, abs(centre)) * 0.5
        fig.update_traces(zmin=centre - half, zmax=centre + half, selector={"type": "heatmap"})
        title = fig.layout.title.text or ""
        note = f"≈ {centre:.3g} everywhere" if abs(centre) >= 1e-6 else "≈ 0 everywhere"
        if title.endswith("</sup>"):
            title = f"{title[: -len('</sup>')]} · {note}</sup>"
        else:
            title = f"{title}<br><sup>{note}</sup>"
        fig.update_layout(title_text=title)
    return fig


def compact_pair(fig: Any) -> Any:
    """Fit :func:`sndiag.figures.gain_and_snr` into half the page width.

    The builder lays the two maps out for a full-width figure; in a half-width column the first
    colour bar and its title run into the second map. Shorter panel titles, thinner untitled
    colour bars (the panel titles name the quantities) and narrower map domains fix that.
    """
    titles = ("Noise gain (log10 colour)", "SNR of the data (mean / std)")
    for ann, text in zip(fig.layout.annotations[:2], titles, strict=False):
        ann.update(text=text, font={"size": 12})
    fig.update_layout(xaxis={"domain": [0.0, 0.39]}, xaxis2={"domain": [0.54, 0.93]},
                      yaxis2={"showticklabels": False}, margin={"l": 50, "r": 10})
    if len(fig.data) >= 2:
        fig.data[0].colorbar.update(x=0.405, thickness=10, title_text="")
        fig.data[1].colorbar.update(x=0.945, thickness=10, title_text="")
    return fig


def sidebar(ds: Dataset | None, container: Any = None) -> None:
    """Dataset in view, mask in use, and how to share the view (in ``container``)."""
    with container if container is not None else st.sidebar:
        if ds is None:
            return
        st.markdown(f"**Dataset:** {markdown(ds.name)}")
        tag = ("synthetic demo" if ds.is_synthetic
               else "real audio, CC BY-SA 4.0" if ds.provenance.get("sample")
               else f"id `{ds.content_hash[:12]}`")
        st.caption(f"{ds.n_clips} clips · {ds.shape[0]}×{ds.shape[1]} · {tag}")
        spec = state.mask()
        if spec.mode == "abs" and spec.threshold is None:
            spec = resolved_mask(cache.pixel_stats(ds.content_hash, ds))
        st.markdown("**Mask:** " + spec.describe())
        st.caption("Share this view: copy the address bar — the link holds the dataset, page, "
                   "mask, scalers and clip.")


def _option_widget(name: str, spec: dict[str, Any], value: Any) -> Any:
    """One scaler option's widget (slider, checkbox or number input within its range)."""
    key = f"opt_{name}_{spec['param']}"
    st.session_state[key] = value
    label = spec["param"].replace("_", " ")
    lo, hi = spec["min"], spec["max"]

    def clamp(v: Any) -> float:
        v = float(v)
        return min(max(v, lo if lo is not None else v), hi if hi is not None else v)

    if spec["kind"] == "bool":
        return state.widget(st.checkbox, key, label, valid=bool, help=spec["help"])
    if spec["slider"]:
        return state.widget(st.slider, key, label, min_value=lo, max_value=hi,
                            step=spec["step"], help=spec["help"], valid=clamp)
    if spec["kind"] == "int":
        return state.widget(st.number_input, key, label, step=1, min_value=lo, max_value=hi,
                            help=spec["help"], valid=lambda v: int(clamp(v)))
    return state.widget(st.number_input, key, label, format="%g", min_value=lo,
                        max_value=hi, step=spec["step"], help=spec["help"], valid=clamp)


def scaler_options(names: list[str]) -> dict[str, dict[str, Any]]:
    """Option widgets of the selected scalers; returns name -> non-default parameters.

    The options, their defaults and ranges are the registry's (:class:`sndiag.scalers.Option`).
    Values live in ``st.session_state["scaler_params"]`` (and so in the link); only options that
    differ from the scaler's defaults are kept, so the effect cache is shared with anyone using
    the defaults.
    """
    ss = st.session_state
    specs = cache.scaler_options()
    registry = cache.scaler_registry()
    sp = _clean_params(ss.get("scaler_params") or {})
    with_options = [n for n in names if n in specs]
    if with_options:
        with st.expander("Scaler options", icon=":material/tune:"):
            cols = st.columns(min(len(with_options), 4))
            for i, name in enumerate(with_options):
                with cols[i % len(cols)]:
                    st.markdown(f"**{registry[name]['title']}**")
                    for spec in specs[name]:
                        param, default = spec["param"], spec["default"]
                        value = _option_widget(name, spec, sp.get(name, {}).get(param, default))
                        if value == default:
                            sp.get(name, {}).pop(param, None)
                        else:
                            sp.setdefault(name, {})[param] = value
    sp = {k: v for k, v in sp.items() if v}
    if sp != ss.get("scaler_params"):
        ss["scaler_params"] = sp
    return {n: dict(sp.get(n, {})) for n in names}


def _clean_params(given: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Keep only declared options with values in their range (links can be hand-edited)."""
    from sndiag.scalers import SCALERS

    out: dict[str, dict[str, Any]] = {}
    for name, options in given.items():
        if name not in SCALERS or not isinstance(options, dict):
            continue
        for param, value in options.items():
            try:
                out.setdefault(name, {}).update(SCALERS[name].check_options({param: value}))
            except ParameterError:
                continue
    return {k: v for k, v in out.items() if v}


#: How each diagnostic kind is shown: (title, Material icon).
DIAGNOSTIC_LOOK = {
    "padding": ("Padding", ":material/space_bar:"),
    "above_nyquist": ("Above the recordings' Nyquist frequency", ":material/graphic_eq:"),
    "silent": ("Silent bands", ":material/volume_off:"),
    "constant": ("Constant pixels", ":material/horizontal_rule:"),
}


def show_diagnostics(diagnostics: list[Any], *, kinds: tuple[str, ...] | None = None) -> None:
    """One line per :class:`sndiag.diagnostics.Diagnostic`: what, why, and its share of pixels."""
    shown = [d for d in diagnostics if kinds is None or d.kind in kinds]
    if not shown:
        st.caption("No padding, empty or silent bands, or constant pixels found.")
        return
    for d in shown:
        title, icon = DIAGNOSTIC_LOOK.get(d.kind, (d.kind, ":material/info:"))
        st.markdown(f"{icon} **{title}** ({100 * d.fraction:.0f}% of pixels): "
                    f"{d.reason}")  # built from numbers only, no user text
