"""Streamlit caches around sndiag's pure functions, keyed by dataset content hash + parameters.

Nothing here computes anything itself: each function is a thin ``st.cache_resource`` /
``st.cache_data`` wrapper around a function of the package (statistics, :meth:`MaskSpec.build`,
:func:`~sndiag.effects.evaluate_scaler`, :func:`~sndiag.export.fit_export`, ...), so moving a
slider reruns the page script but never recomputes the statistics of a dataset, and switching
scalers back and forth never refits one.

* Datasets are immutable and large: ``st.cache_resource`` (shared, not copied), keyed by the
  store location and the content hash.
* Statistics, masks, effects and exports are small results: ``st.cache_data`` keyed by the
  content hash (``ds_id``) and every parameter; the unhashable inputs (``_ds``, ``_stats``,
  ``_mask``) are underscore-prefixed, so they are not hashed - the key already identifies them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import streamlit as st

from sndiag.dataset import Dataset
from sndiag.errors import SndiagError, StoreError
from sndiag.masks import MaskSpec
from sndiag.settings import Settings
from sndiag.text import markdown

__all__ = [
    "auto_flags",
    "current_dataset",
    "dataset",
    "dataset_drift",
    "delete_dataset",
    "demo_dataset",
    "diagnostics",
    "effect",
    "exported",
    "feature_cache",
    "figure",
    "grid_suggestion",
    "group_drift",
    "group_hints",
    "in_memory",
    "mask",
    "mask_key",
    "params_key",
    "pixel_stats",
    "report_html",
    "scaler_chains",
    "scaler_options",
    "scaler_registry",
    "scaler_title",
    "settings",
    "spec_key",
    "split_drift",
    "store",
    "summary",
]


# -- settings, store and datasets ----------------------------------------------------------------
def settings() -> Settings:
    """The deployment settings (:meth:`Settings.from_env`), read at each script run."""
    return Settings.from_env()


def _store_location() -> str:
    return str(settings().store)


def _code_version() -> int:
    """Identity of the loaded :class:`Dataset` class.

    Shared objects (``st.cache_resource``) outlive a reload of the sndiag modules (Streamlit
    re-imports them when a source file changes); keying them by the class identity keeps an
    object of the old class from meeting ``isinstance`` checks of the new one.
    """
    return id(Dataset)


@st.cache_resource(show_spinner=False, max_entries=4)
def _store(location: str, version: int) -> Any:
    from sndiag.store import FileStore

    return FileStore(location)


def store() -> Any:
    """The dataset store of ``$SNDIAG_STORE`` (one instance per location)."""
    return _store(_store_location(), _code_version())


@st.cache_resource(show_spinner="Reading the FSDD sample (300 spoken digits)...", max_entries=2)
def _demo(location: str, version: int) -> Dataset:
    from sndiag.demo import load_sample

    ds = load_sample(cache=feature_cache())
    _store(location, version).put(ds)
    return ds


def demo_dataset() -> Dataset:
    """The dataset the dashboard opens on: the shipped FSDD sample, real audio (read once per
    process, and put in the store)."""
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


def delete_dataset(ds_id: str) -> None:
    """Delete ``ds_id`` from the store and drop the loaded datasets shared by the sessions, so
    a link to it no longer opens it."""
    store().delete(ds_id)
    _dataset.clear()


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
                       "FSDD sample instead — load the data again to share it.")
            else:
                msg = f"Dataset {ds_id[:12]}… cannot be opened: {exc}. Showing the FSDD sample instead."
            state.notice(markdown(msg))  # quotes the link's id
    demo = demo_dataset()
    state.set_value("ds_id", demo.content_hash)
    return demo


@st.cache_data(show_spinner=False, max_entries=16)
def summary(ds_id: str, _ds: Dataset) -> dict[str, Any]:
    """:meth:`Dataset.summary` (value range, scale guess, ...), once per dataset; the value
    range of a streamed dataset comes from its statistics (no pass over its clips)."""
    return _ds.summary(stats=pixel_stats(ds_id, _ds) if _ds.streamed else None)


@st.cache_resource(show_spinner="Reading every clip into memory...", max_entries=2)
def _in_memory(location: str, ds_id: str, version: int, _ds: Dataset) -> Dataset:
    from sndiag.io.streaming import load_whole

    return load_whole(_ds, limits=settings().limits)


def in_memory(ds: Dataset) -> Dataset:
    """``ds`` with its clips in memory (itself when not streamed), for the pages that need every
    clip at once (the experiment); LimitError beyond ``SNDIAG_MAX_DATASET_MB``."""
    if not ds.streamed:
        return ds
    return _in_memory(_store_location(), ds.content_hash, _code_version(), ds)


def feature_cache() -> Any:
    """Spectrograms by audio content (``$SNDIAG_FEATURE_CACHE``, default ``<store>/features``),
    so loading the same recordings again skips decoding."""
    from sndiag.io.feature_cache import DiskCache

    return DiskCache(settings().feature_cache)


# -- statistics, masks, effects ----------------------------------------------------------------
@st.cache_data(show_spinner="Computing per-pixel statistics (once per dataset)...", max_entries=8)
def pixel_stats(ds_id: str, _ds: Dataset) -> Any:
    """The dataset's statistics: those kept in the store beside it, else
    :func:`sndiag.stats.compute_stats` (with labels; exact quantiles in memory, sampled for a
    streamed dataset), then kept there, so a restarted server reads them back."""
    from sndiag.stats import compute_stats

    with contextlib.suppress(SndiagError):
        kept = store().get_stats(ds_id)
        if kept is not None and int(kept.n) == _ds.n_clips:
            return kept
    stats = compute_stats(_ds.X, _ds.y)
    with contextlib.suppress(SndiagError):
        if ds_id in store():
            store().put_stats(ds_id, stats)
    return stats


def spec_key(spec: MaskSpec) -> str:
    """A cache key naming every field of a :class:`MaskSpec` (also the unselected rule's)."""
    return json.dumps(dataclasses.asdict(spec), sort_keys=True)


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
def _mask(ds_id: str, key: str, _spec: MaskSpec, _stats: Any, _provenance: Any) -> Any:
    return _spec.build(_stats, provenance=_provenance)


def mask(ds: Dataset, spec: MaskSpec, stats: Any) -> Any:
    """:meth:`MaskSpec.build` on the dataset's statistics (and provenance, for the rows above
    the recordings' Nyquist frequency), once per (dataset, spec)."""
    return _mask(ds.content_hash, spec_key(spec), spec, stats, ds.provenance)


@st.cache_data(show_spinner=False, max_entries=8)
def _auto_flags(ds_id: str, _stats: Any, _provenance: Any) -> Any:
    from sndiag.masks import auto_flags

    return auto_flags(_stats, pixels=False, provenance=_provenance)


def auto_flags(ds: Dataset, stats: Any) -> Any:
    """:func:`sndiag.masks.auto_flags` rows of the dataset (a :class:`~sndiag.masks.Mask`)."""
    return _auto_flags(ds.content_hash, stats, ds.provenance)


@st.cache_data(show_spinner=False, max_entries=8)
def _diagnostics(ds_id: str, _stats: Any, _provenance: Any) -> list[Any]:
    from sndiag.diagnostics import diagnose_dataset

    return diagnose_dataset(_stats, _provenance)


def diagnostics(ds: Dataset, stats: Any) -> list[Any]:
    """:func:`sndiag.diagnostics.diagnose_dataset`, once per dataset."""
    return _diagnostics(ds.content_hash, stats, ds.provenance)


@st.cache_data(show_spinner="Computing the group drift map (once per dataset)...", max_entries=4)
def group_drift(ds_id: str, _ds: Dataset) -> np.ndarray:
    """:func:`sndiag.drift.group_drift` of a dataset's groups; for a streamed dataset (a pass
    over its file) kept in the store beside it, so a restarted server reads it back."""
    from sndiag.drift import group_drift as drift

    if not _ds.streamed:
        return drift(_ds.X, _ds.groups)
    with contextlib.suppress(SndiagError, KeyError, TypeError, ValueError):
        kept = store().get_attachment(ds_id, "group_drift")
        if kept is not None:
            Z = np.array(kept["drift"], dtype=np.float64)
            if Z.shape == tuple(_ds.shape):
                return Z
    Z = drift(_ds.X, _ds.groups)
    with contextlib.suppress(SndiagError):
        if ds_id in store():
            store().put_attachment(ds_id, "group_drift", {"drift": Z.tolist()})
    return Z


@st.cache_data(show_spinner="Comparing the two parts...", max_entries=4)
def split_drift(ds_id: str, _ds: Dataset) -> np.ndarray:
    """:func:`sndiag.drift.split_drift`, train -> test."""
    from sndiag.drift import split_drift as drift

    return drift(_ds.X, _ds.split)


@st.cache_data(show_spinner="Comparing the two datasets...", max_entries=4)
def dataset_drift(ds_id: str, other_id: str, _a: Any, _b: Any) -> np.ndarray:
    """:func:`sndiag.drift.dataset_drift` between two datasets' statistics."""
    from sndiag.drift import dataset_drift as drift

    return drift(_a, _b)


@st.cache_data(show_spinner=False, max_entries=8)
def _grid(ds_id: str, _provenance: Any) -> Any:
    from sndiag.diagnostics import suggest_from_provenance

    return suggest_from_provenance(_provenance)


def grid_suggestion(ds: Dataset) -> Any:
    """:func:`sndiag.diagnostics.suggest_from_provenance` (None when the grid fits)."""
    return _grid(ds.content_hash, ds.provenance)


@st.cache_data(show_spinner=False, max_entries=8)
def _group_hints(ds_id: str, _ds: Dataset) -> list[Any]:
    from sndiag.io.labels import suggest_groups

    if _ds.groups is not None or _ds.names is None:
        return []
    return suggest_groups([str(n) for n in _ds.names], None if _ds.y is None else list(_ds.y))


def group_hints(ds: Dataset) -> list[Any]:
    """:func:`sndiag.io.labels.suggest_groups` for a dataset without groups."""
    return _group_hints(ds.content_hash, ds)


@st.cache_data(show_spinner=False, max_entries=32)  # ~4 MB each (histogram samples)
def effect(ds_id: str, name: str, params: str, mkey: str, example_index: int, _ds: Dataset,
           _stats: Any, _mask: Any) -> Any:
    """:func:`sndiag.effects.evaluate_scaler`, cached by (dataset, scaler, params, mask, clip)."""
    from sndiag.effects import evaluate_scaler

    return evaluate_scaler(name, _ds.X, params=json.loads(params), stats=_stats,
                           example_index=example_index, mask=_mask, config=_ds.config)


@st.cache_data(show_spinner="Fitting the scaler for export...", max_entries=16)
def _exported(ds_id: str, name: str, params: str, key: str, _ds: Dataset, _spec: MaskSpec,
              _stats: Any) -> Any:
    from sndiag.export import fit_export

    return fit_export(_ds, scaler=name, params=json.loads(params), mask=_spec, stats=_stats)


def exported(ds: Dataset, name: str, params: dict[str, Any], spec: MaskSpec, stats: Any) -> Any:
    """:func:`sndiag.export.fit_export` of ``name`` after ``spec``, once per (dataset, scaler,
    options, mask)."""
    return _exported(ds.content_hash, name, params_key(params), spec_key(spec), ds, spec, stats)


@st.cache_data(show_spinner="Writing the report...", max_entries=4)
def report_html(ds_id: str, mkey: str, effects_key: str, _ds: Dataset, _stats: Any, _mask: Any,
                _effects: Any, _experiment: Any) -> str:
    from sndiag.report import build_report

    return build_report(dataset=_ds, stats=_stats, mask=_mask, effects=_effects,
                        experiment=_experiment)


@st.cache_data(show_spinner=False, max_entries=1)
def scaler_options() -> dict[str, list[dict[str, Any]]]:
    """name -> the options the registry declares (:class:`sndiag.scalers.Option`) as plain data,
    with their defaults; options whose default is None (an absolute floor, say) are left out."""
    from sndiag.scalers import SCALERS

    out: dict[str, list[dict[str, Any]]] = {}
    for name, info in SCALERS.items():
        defaults = info.defaults()
        opts = [{"param": o.name, "default": defaults[o.name], "kind": o.kind, "min": o.low,
                 "max": o.high, "step": o.step, "help": o.help, "slider": o.slider}
                for o in info.options if defaults[o.name] is not None]
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


@st.cache_data(show_spinner=False, max_entries=1)
def scaler_chains() -> list[str]:
    """The compress-then-scale chains of the experiment's search (``db+band``, ...)."""
    from sndiag.experiment import DEFAULT_SCALERS

    return [n for n in DEFAULT_SCALERS if "+" in n]


@st.cache_data(show_spinner=False, max_entries=64)
def scaler_title(name: str) -> str:
    """The title of a scaler or chain (``"Decibels (power_to_db), then Per-band ..."``)."""
    from sndiag.scalers import scaler_info

    return str(scaler_info(name).title)


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
