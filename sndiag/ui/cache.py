"""Streamlit caches around sndiag's pure functions, keyed by dataset content hash + parameters.

Nothing here computes anything itself: each function is a thin ``st.cache_resource`` /
``st.cache_data`` wrapper, so moving a slider reruns the page script but never recomputes the
statistics of a dataset, and switching scalers back and forth never refits one.

* Datasets are immutable and large: ``st.cache_resource`` (shared, not copied), keyed by the
  store location and the content hash.
* Statistics, masks, effects and exports are small results: ``st.cache_data`` keyed by the
  content hash (``ds_id``) and every parameter; the unhashable inputs (``_ds``, ``_stats``,
  ``_mask``) are underscore-prefixed, so they are not hashed - the key already identifies them.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import streamlit as st

from sndiag.dataset import Dataset
from sndiag.errors import SndiagError, StoreError

__all__ = [
    "auto_flag_rows",
    "current_dataset",
    "dataset",
    "demo_dataset",
    "effect",
    "exported",
    "feature_cache",
    "figure",
    "mask",
    "mask_key",
    "params_key",
    "pixel_stats",
    "report_html",
    "scaler_options",
    "scaler_registry",
    "stats_npz_bytes",
    "store",
    "summary",
]


# -- store and datasets ------------------------------------------------------------------------
def _store_location() -> str:
    return os.environ.get("SNDIAG_STORE", "")


def _code_version() -> int:
    """Identity of the loaded :class:`Dataset` class.

    Shared objects (``st.cache_resource``) outlive a reload of the sndiag modules (Streamlit
    re-imports them when a source file changes); keying them by the class identity keeps an
    object of the old class from meeting ``isinstance`` checks of the new one.
    """
    return id(Dataset)


@st.cache_resource(show_spinner=False, max_entries=4)
def _store(location: str, version: int) -> Any:
    from sndiag.store import default_store

    return default_store({"SNDIAG_STORE": location} if location else None)


def store() -> Any:
    """The dataset store of ``$SNDIAG_STORE`` (one instance per location)."""
    return _store(_store_location(), _code_version())


@st.cache_resource(show_spinner="Building the synthetic demo dataset...", max_entries=2)
def _demo(location: str, version: int) -> Dataset:
    from sndiag.demo import make_demo

    ds = make_demo()
    _store(location, version).put(ds)
    return ds


def demo_dataset() -> Dataset:
    """The built-in synthetic demo (built once per process, and put in the store)."""
    return _demo(_store_location(), _code_version())


@st.cache_resource(show_spinner="Loading the dataset from the store...", max_entries=6)
def _dataset(location: str, ds_id: str, version: int) -> Dataset:
    return _store(location, version).get(ds_id)


def dataset(ds_id: str) -> Dataset:
    """The dataset ``ds_id`` from the store (loaded and hash-verified once, then shared)."""
    demo = demo_dataset()
    if ds_id == demo.content_hash:
        return demo
    return _dataset(_store_location(), ds_id, _code_version())


def current_dataset() -> Dataset:
    """The dataset of this session's view (``ds_id``), falling back to the demo with a notice."""
    from sndiag.ui import state

    ds_id = st.session_state.get("ds_id")
    if ds_id:
        try:
            return dataset(ds_id)
        except SndiagError as exc:
            if isinstance(exc, StoreError) and ds_id not in store():
                msg = (f"Dataset {ds_id[:12]}… from the link is not in this server's store (it "
                       "may have been loaded on another server, or removed). Showing the "
                       "synthetic demo instead — load the data again to share it.")
            else:
                msg = f"Dataset {ds_id[:12]}… cannot be opened: {exc}. Showing the demo instead."
            state.notice(msg)
    demo = demo_dataset()
    state.set_value("ds_id", demo.content_hash)
    return demo


@st.cache_data(show_spinner=False, max_entries=16)
def summary(ds_id: str, _ds: Dataset) -> dict[str, Any]:
    """:meth:`Dataset.summary` (value range, scale guess, ...), once per dataset."""
    return _ds.summary()


def feature_cache() -> Any:
    """Spectrograms by audio content (``$SNDIAG_FEATURE_CACHE``, default ``<store>/features``),
    so loading the same recordings again skips decoding."""
    from sndiag.spectrogram import DiskCache

    where = os.environ.get("SNDIAG_FEATURE_CACHE") or os.path.join(str(store().root), "features")
    return DiskCache(where)


# -- statistics, masks, effects ----------------------------------------------------------------
@st.cache_data(show_spinner="Computing per-pixel statistics (once per dataset)...", max_entries=8)
def pixel_stats(ds_id: str, _ds: Dataset) -> Any:
    """:func:`sndiag.stats.compute_stats` of a dataset (with labels and exact quantiles)."""
    from sndiag.stats import compute_stats

    return compute_stats(_ds.X, _ds.y)


def mask_key(mask: Any) -> str:
    """A short content key of a :class:`~sndiag.masks.Mask` (``"none"`` for no mask)."""
    if mask is None:
        return "none"
    h = hashlib.sha1(np.packbits(np.asarray(mask.rows)).tobytes())
    h.update(np.packbits(np.asarray(mask.pixels)).tobytes())
    return h.hexdigest()[:16]


def params_key(params: dict[str, Any] | None) -> str:
    return json.dumps(params or {}, sort_keys=True)


@st.cache_data(show_spinner=False, max_entries=16)
def mask(ds_id: str, mode: str, threshold: float, percentile: float, rows: tuple[int, ...],
         _stats: Any) -> Any:
    """The combined mask: SNR rule (``mode``) united with the hand-picked ``rows``."""
    from sndiag.masks import manual_mask, snr_mask

    m = manual_mask(_stats.shape, rows=rows)
    if mode == "abs":
        m = m.union(snr_mask(_stats, threshold=threshold))
    elif mode == "pct":
        m = m.union(snr_mask(_stats, percentile=percentile))
    return m


@st.cache_data(show_spinner=False, max_entries=8)
def auto_flag_rows(ds_id: str, _stats: Any) -> list[int]:
    from sndiag.masks import auto_flags

    return auto_flags(_stats).masked_rows


@st.cache_data(show_spinner=False, max_entries=32)  # ~4 MB each (histogram samples)
def effect(ds_id: str, name: str, params: str, mkey: str, example_index: int, _ds: Dataset,
           _stats: Any, _mask: Any) -> Any:
    """:func:`sndiag.effects.evaluate_scaler`, cached by (dataset, scaler, params, mask, clip)."""
    from sndiag.effects import evaluate_scaler

    return evaluate_scaler(name, _ds.X, params=json.loads(params), stats=_stats,
                           example_index=example_index, mask=_mask)


@st.cache_data(show_spinner="Fitting the scaler for export...", max_entries=16)
def exported(ds_id: str, name: str, params: str, mkey: str, _ds: Dataset, _mask: Any) -> Any:
    """The fitted scaler (+ mask) reduced to arrays by :func:`sndiag.export.export_params`."""
    from sndiag.export import export_params
    from sndiag.scalers import make_scaler

    p = json.loads(params)
    X = _ds.X if _mask is None else _mask.apply(_ds.X, mode="zero")
    fitted = make_scaler(name, **p).fit(X)
    return export_params(fitted, name=name, params=p, X_train=X, mask=_mask)


def stats_npz_bytes(ds_id: str, stats: Any) -> bytes:
    """:meth:`PixelStats.to_npz` as bytes (it writes to a path; a temporary file bridges)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="sndiag-") as tmp:
        path = os.path.join(tmp, f"{ds_id[:12]}_stats.npz")
        stats.to_npz(path)
        with open(path, "rb") as fh:
            return fh.read()


@st.cache_data(show_spinner="Writing the report...", max_entries=4)
def report_html(ds_id: str, mkey: str, effects_key: str, _ds: Dataset, _stats: Any, _mask: Any,
                _effects: Any, _experiment: Any) -> str:
    from sndiag.report import build_report

    return build_report(dataset=_ds, stats=_stats, mask=_mask, effects=_effects,
                        experiment=_experiment)


#: Options shown as sliders (name -> param -> (min, max, step, help)); other numeric and boolean
#: constructor parameters get a number input or a checkbox.
SLIDERS: dict[str, dict[str, tuple[float, float, float, str]]] = {
    "std_floor": {"floor_percentile": (0.0, 100.0, 1.0,
                                       "The std floor is this percentile of the positive "
                                       "per-pixel stds: higher = less gain on quiet pixels.")},
}


@st.cache_data(show_spinner=False, max_entries=1)
def scaler_options() -> dict[str, list[dict[str, Any]]]:
    """name -> editable constructor options ``{param, default, kind, min, max, step, help}``.

    Only numbers and booleans are offered (``shape`` is set by the data; tuples and ``None``
    defaults, e.g. an absolute floor, stay at their defaults).
    """
    from sndiag.scalers import SCALERS

    out: dict[str, list[dict[str, Any]]] = {}
    for name, info in SCALERS.items():
        opts = []
        for param, default in sorted(info.cls().get_params(deep=False).items()):
            if param == "shape":
                continue
            if param in SLIDERS.get(name, {}):
                lo, hi, step, help_ = SLIDERS[name][param]
                opts.append({"param": param, "default": float(default), "kind": "slider",
                             "min": lo, "max": hi, "step": step, "help": help_})
            elif isinstance(default, bool):
                opts.append({"param": param, "default": default, "kind": "bool"})
            elif isinstance(default, int | float):
                opts.append({"param": param, "default": default,
                             "kind": "int" if isinstance(default, int) else "float"})
        if opts:
            out[name] = opts
    return out


@st.cache_data(show_spinner=False, max_entries=1)
def scaler_registry() -> dict[str, dict[str, Any]]:
    """name -> {title, description, ...} of every registered scaler (plain data)."""
    from sndiag.scalers import SCALERS

    out = {}
    for name, info in SCALERS.items():
        out[name] = {
            "title": str(getattr(info, "title", name)),
            "description": str(getattr(info, "description", "")),
            "stateless": bool(getattr(info, "stateless", False)),
            "invertible": bool(getattr(info, "invertible", True)),
        }
    return out


# -- figures -------------------------------------------------------------------------------------
@st.cache_resource(show_spinner=False, max_entries=128)  # ~0.1-0.3 MB each
def _figure(key: str, _build: Callable[[], Any]) -> Any:
    return _build()


def figure(key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
    """The Plotly figure ``build()`` returns, built once per ``key`` and shared read-only.

    Building a Plotly figure validates every property (20-60 ms for one heatmap), more than the
    rest of a rerun; ``st.plotly_chart`` only reads the figure, so the same object can serve every
    rerun and session. ``key`` must name everything ``build`` depends on - the dataset's content
    hash first, so one dataset's figure is never shown for another.
    """
    return _figure(json.dumps(key, default=str), build)
