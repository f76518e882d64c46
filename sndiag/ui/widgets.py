"""Shared pieces of every page: error display, the sidebar, page header, the mask in use."""

from __future__ import annotations

import contextlib
import html
import logging
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import streamlit as st

from sndiag.dataset import Dataset
from sndiag.errors import SndiagError
from sndiag.ui import cache, state

__all__ = [
    "ROUTED",
    "compact_pair",
    "current_mask",
    "error_message",
    "guard",
    "page_setup",
    "proposed_threshold",
    "threshold_slider",
    "resolve_threshold",
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
    st.error(error_message(exc), icon=":material/error:")


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


ROUTED = "_routed"


def _ensure_router() -> None:
    """Run the page through ``app.py`` when Streamlit ran this page script on its own.

    With a ``pages/`` folder next to the entry point, the first script run of a fresh server
    process (and every ``AppTest`` run) uses Streamlit's legacy folder-based navigation, which
    executes the requested page file *without* ``app.py``: no view state from the link, no
    sidebar, no URL sync. ``app.py`` marks its runs with :data:`ROUTED`; when the mark is
    missing, this switches the process to ``st.navigation`` mode and executes ``app.py`` in
    place (which runs this page again, routed), then stops the unrouted run. Nothing is rerun,
    so a button click of this run is not lost.
    """
    if st.session_state.get(ROUTED):
        return
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    PagesManager.uses_pages_directory = False
    ctx = get_script_run_ctx()
    if ctx is None:  # bare execution (python pages/x.py): nothing to route
        return
    main = str(ctx.pages_manager.main_script_path)
    with open(main, encoding="utf-8") as fh:
        code = compile(fh.read(), main, "exec")
    exec(code, {"__name__": "__main__", "__file__": main})  # noqa: S102 - our own entry point
    st.stop()


def page_setup(title: str, caption: str | None = None) -> None:
    """Title and pending notices (e.g. an unknown dataset in the link), under the router."""
    _ensure_router()
    st.title(title)
    if caption:
        st.caption(caption)
    for kind, text in state.pop_notices():
        getattr(st, kind if kind in ("warning", "info", "success", "error") else "warning")(text)


def proposed_threshold(stats: Any, share: float = 0.10) -> float:
    """A |row SNR| threshold that masks about the ``share`` lowest-SNR rows (2 digits, rounded
    up so the rows at the cut are included).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> proposed_threshold(SimpleNamespace(row_snr=np.array([0.0083, 0.0084, 0.5, 0.6, 1.0])),
    ...                    share=0.4)
    0.0089
    """
    a = np.sort(np.abs(np.asarray(stats.row_snr, dtype=float)))
    a = a[np.isfinite(a)]
    if a.size == 0:
        return 0.5
    k = max(1, math.ceil(share * a.size))
    x = float(a[k - 1]) * 1.05
    if x <= 0:
        return 0.01
    scale = 10 ** (math.floor(math.log10(x)) - 1)
    return float(f"{math.ceil(x / scale) * scale:.2g}")


def threshold_slider(stats: Any) -> dict[str, Any]:
    """``max_value``, ``step`` and ``format`` of the |row SNR| threshold slider for ``stats``.

    The end sits just above the largest row SNR. The step is fine enough to hold
    :func:`proposed_threshold` exactly (a tenth of its leading digit), so the proposed value is on
    the slider's grid and shown as it is (0.0089, not 0.01), and depends only on the data, so the
    slider keeps its identity while it moves.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> threshold_slider(SimpleNamespace(row_snr=np.r_[[0.0083] * 6, np.linspace(0.5, 3.0, 54)]))
    {'min_value': 0.0, 'max_value': 3.2, 'step': 0.0001, 'format': '%.4f'}
    """
    a = np.abs(np.asarray(stats.row_snr, dtype=float))
    a = a[np.isfinite(a)]
    hi = float(a.max()) if a.size else 0.0
    top = float(f"{hi * 1.05:.2g}") if hi > 0 else 1.0
    proposed = proposed_threshold(stats)
    step = top / 200
    if proposed > 0:
        step = min(step, 10 ** (math.floor(math.log10(proposed)) - 1))
    step = float(f"{step:.1g}")
    decimals = max(2, -math.floor(math.log10(step)))
    return {"min_value": 0.0, "max_value": top, "step": step, "format": f"%.{decimals}f"}


def resolve_threshold(stats: Any) -> None:
    """Replace the default |SNR| threshold by :func:`proposed_threshold` once per dataset."""
    ss = st.session_state
    if ss.get("snr_abs_auto", True):
        state.set_value("snr_abs", proposed_threshold(stats))
        ss["snr_abs_auto"] = False


def current_mask(ds: Dataset, stats: Any) -> Any:
    """The session's mask on ``ds`` (SNR rule + hand-picked rows), or None when it masks nothing."""
    resolve_threshold(stats)
    ss = st.session_state
    n_mels = ds.shape[0]
    rows = tuple(sorted(r for r in ss.get("mask_rows", []) if 0 <= int(r) < n_mels))
    m = cache.mask(ds.content_hash, ss.get("mask_mode", "off"), float(ss.get("snr_abs", 0.5)),
                   float(ss.get("snr_pct", 10.0)), rows, stats)
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
        name = html.escape(ds.name)
        st.markdown(f"**Dataset:** {name}")
        tag = "synthetic demo" if ds.is_synthetic else f"id `{ds.content_hash[:12]}`"
        st.caption(f"{ds.n_clips} clips · {ds.shape[0]}×{ds.shape[1]} · {tag}")
        ss = st.session_state
        parts = []
        mode = ss.get("mask_mode", "off")
        if mode == "abs" and ss.get("snr_abs_auto", True):
            resolve_threshold(cache.pixel_stats(ds.content_hash, ds))
        if mode == "abs":
            parts.append(f"|row SNR| < {float(ss['snr_abs']):.3g}")
        elif mode == "pct":
            parts.append(f"lowest {float(ss['snr_pct']):g}% SNR rows")
        if ss.get("mask_rows"):
            parts.append(f"rows {state.format_rows(ss['mask_rows'])}")
        st.markdown("**Mask:** " + (" + ".join(parts) if parts else "none"))
        st.caption("Share this view: copy the address bar — the link holds the dataset, page, "
                   "mask, scalers and clip.")


def scaler_options(names: list[str]) -> dict[str, dict[str, Any]]:
    """Option widgets of the selected scalers; returns name -> non-default parameters.

    Values live in ``st.session_state["scaler_params"]`` (and so in the link); only options that
    differ from the scaler's defaults are kept, so the effect cache is shared with anyone using
    the defaults.
    """
    ss = st.session_state
    specs = cache.scaler_options()
    registry = cache.scaler_registry()
    sp = _clean_params(ss.get("scaler_params") or {}, specs)
    with_options = [n for n in names if n in specs]
    if with_options:
        with st.expander("Scaler options", icon=":material/tune:"):
            cols = st.columns(min(len(with_options), 4))
            for i, name in enumerate(with_options):
                with cols[i % len(cols)]:
                    st.markdown(f"**{registry[name]['title']}**")
                    for spec in specs[name]:
                        param, default = spec["param"], spec["default"]
                        key = f"opt_{name}_{param}"
                        ss[key] = sp.get(name, {}).get(param, default)
                        label = param.replace("_", " ")
                        if spec["kind"] == "slider":
                            value = state.widget(
                                st.slider, key, label, min_value=spec["min"],
                                max_value=spec["max"], step=spec["step"], help=spec["help"],
                                valid=lambda v, s=spec: float(min(max(float(v), s["min"]),
                                                                  s["max"])))
                        elif spec["kind"] == "bool":
                            value = state.widget(st.checkbox, key, label, valid=bool)
                        elif spec["kind"] == "int":
                            value = state.widget(st.number_input, key, label, step=1,
                                                 valid=lambda v: int(v))
                        else:
                            value = state.widget(st.number_input, key, label, format="%g",
                                                 valid=lambda v: float(v))
                        if value == default:
                            sp.get(name, {}).pop(param, None)
                        else:
                            sp.setdefault(name, {})[param] = value
    sp = {k: v for k, v in sp.items() if v}
    if sp != ss.get("scaler_params"):
        ss["scaler_params"] = sp
    return {n: dict(sp.get(n, {})) for n in names}


def _clean_params(given: dict[str, Any], specs: dict[str, list[dict[str, Any]]]
                  ) -> dict[str, dict[str, Any]]:
    """Keep only known options with values of the right type (links can be hand-edited)."""
    out: dict[str, dict[str, Any]] = {}
    for name, options in given.items():
        if name not in specs or not isinstance(options, dict):
            continue
        kinds = {s["param"]: s for s in specs[name]}
        for param, value in options.items():
            spec = kinds.get(param)
            if spec is None:
                continue
            try:
                if spec["kind"] == "bool":
                    if not isinstance(value, bool):
                        continue
                elif spec["kind"] == "int":
                    value = int(value)
                else:
                    value = float(value)
                    if spec["kind"] == "slider" and not spec["min"] <= value <= spec["max"]:
                        continue
            except (TypeError, ValueError):
                continue
            out.setdefault(name, {})[param] = value
    return out
