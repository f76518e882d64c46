"""Export: the fitted scaler + mask for a training script, the statistics, figures, a report."""

from __future__ import annotations

import re

import streamlit as st

from sndiag.export import params_json, params_npz_bytes, training_snippet
from sndiag.figures import (
    figure_html,
    figure_png,
    gain_and_snr,
    png_unavailable,
    row_profile,
    stat_heatmap,
)
from sndiag.masks import MaskSpec
from sndiag.ui import cache, router, state, widgets

router.page_setup("Export", "Take the result into your training code: fit on the training set "
                   "only, apply the same parameters to validation and test data.")
ds = cache.current_dataset()
stats = cache.pixel_stats(ds.content_hash, ds)
mask = widgets.current_mask(ds, stats)
registry = cache.scaler_registry()
ss = st.session_state
clip = min(max(int(ss.get("clip", 0) or 0), 0), ds.n_clips - 1)  # reuse the Scalers page's effects
stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", ds.name).strip("_.")[:40] or "dataset"

# -- scaler + mask --------------------------------------------------------------------------------
st.subheader("Scaler parameters and mask")
chains = cache.scaler_chains()
chosen = [n for n in ss.get("scalers", []) if n in registry or n in chains]
options = list(dict.fromkeys([*chosen, *registry, *chains]))
c1, c2 = st.columns([2, 1], vertical_alignment="bottom")
name = state.widget(c1.selectbox, "export_scaler", "Scaler", options=options,
                    format_func=lambda n: f"{cache.scaler_title(n)}  ·  {n}",
                    default=options[0] if options else None,
                    valid=lambda v: v if v in options else (options[0] if options else None))
use_mask = state.widget(c2.checkbox, "export_mask",
                        f"Include the mask ({mask.n_masked_rows} rows)" if mask is not None
                        else "Include the mask (empty)", default=True, disabled=mask is None)
export_mask = mask if (use_mask and mask is not None) else None
export_spec = widgets.resolved_mask(stats) if export_mask is not None else MaskSpec()
params = dict((ss.get("scaler_params") or {}).get(name, {}))
if params:
    st.caption("Options: " + ", ".join(f"{k}={v}" for k, v in params.items())
               + " (set on the Scalers page)")
with widgets.guard():
    ex = cache.exported(ds, name, params, export_spec, stats)
    c = st.columns([1, 1, 2])
    c[0].download_button("Parameters + mask (.npz)", params_npz_bytes(ex),
                         file_name="sndiag_params.npz", mime="application/octet-stream",
                         key="dl_params_npz", icon=":material/download:", on_click="ignore")
    c[1].download_button("Parameters + mask (JSON)", params_json(ex),
                         file_name="sndiag_params.json", mime="application/json",
                         key="dl_params_json", icon=":material/download:", on_click="ignore")
    st.caption(f"Parameters fitted on {ex.fitted_on}."
               + ("" if ds.split is not None else " Give the data a train/test split (Data "
                  "page) to fit them on the training part only."))
    st.markdown("Apply it in your training script:")
    st.code(training_snippet(name=name, params_file="sndiag_params.npz"), language="python")

# -- statistics -----------------------------------------------------------------------------------
st.subheader("Per-pixel statistics")
c = st.columns([1, 1, 2])
c[0].download_button("Statistics (CSV, one line per pixel)", lambda: stats.to_csv(),
                     file_name=f"{stem}_stats.csv", mime="text/csv", key="dl_stats_csv",
                     icon=":material/download:", on_click="ignore")
c[1].download_button("Statistics (.npz, every array)", stats.to_npz_bytes,
                     file_name=f"{stem}_stats.npz", mime="application/octet-stream",
                     key="dl_stats_npz", icon=":material/download:", on_click="ignore")

# -- figures --------------------------------------------------------------------------------------
st.subheader("Figures")
masked = mask.rows if mask is not None else None
FIGURES = {
    "snr": ("SNR map", lambda: stat_heatmap(stats, "snr", masked_rows=masked)),
    "mean": ("Mean map", lambda: stat_heatmap(stats, "mean", masked_rows=masked)),
    "std": ("Std map", lambda: stat_heatmap(stats, "std", masked_rows=masked)),
    "profile": ("Row SNR profile", lambda: row_profile(stats, masked_rows=masked)),
    "gain": (f"Noise gain vs SNR ({name})", lambda: gain_and_snr(
        cache.effect(ds.content_hash, name, cache.params_key(params), cache.mask_key(export_mask),
                     clip, ds, stats, export_mask).gain, stats.snr, title=f"Noise gain vs SNR — {name}",
        masked_rows=masked)),
}
c1, c2, c3 = st.columns([2, 1, 1], vertical_alignment="bottom")
fig_key = state.widget(c1.selectbox, "export_figure", "Figure", options=list(FIGURES),
                       format_func=lambda k: FIGURES[k][0], default="snr",
                       valid=lambda v: v if v in FIGURES else "snr")
with widgets.guard():
    fig = FIGURES[fig_key][1]()
    c2.download_button("HTML (interactive)", figure_html(fig, full=True),
                       file_name=f"{stem}_{fig_key}.html", mime="text/html", key="dl_fig_html",
                       icon=":material/download:", on_click="ignore")
    png_key = (ds.content_hash, fig_key, name, cache.mask_key(mask))
    if ss.get("_png", (None, None))[0] == png_key:
        png = ss["_png"][1]
        if png is None:
            c3.caption((png_unavailable() or "Chromium could not render this figure here")
                       + ".")
        else:
            c3.download_button("PNG", png, file_name=f"{stem}_{fig_key}.png", mime="image/png",
                               key="dl_fig_png", icon=":material/download:", on_click="ignore")
    elif c3.button("Render PNG", key="btn_png", icon=":material/image:"):
        with st.spinner("Rendering PNG..."):
            ss["_png"] = (png_key, figure_png(fig))
        st.rerun()
    st.plotly_chart(fig, key="fig_export_preview")

# -- report ---------------------------------------------------------------------------------------
st.subheader("Report")
st.caption("One self-contained HTML file (opens offline): dataset, statistics, the mask, the "
           "scalers chosen on the Scalers page and, when run, the experiment.")
apply = bool(ss.get("apply_mask")) and mask is not None
effect_mask = mask if apply else None
scalers = [n for n in ss.get("scalers", []) if n in registry]
scaler_params = ss.get("scaler_params") or {}


store = cache.store()
experiment = store.get_attachment(ds.content_hash, "experiment") \
    if ds.content_hash in store else None


def _report() -> str:
    """Built when the button is clicked (in a worker thread; effects come from the cache)."""
    try:
        effects = [cache.effect(ds.content_hash, n, cache.params_key(scaler_params.get(n, {})),
                                cache.mask_key(effect_mask), clip, ds, stats, effect_mask)
                   for n in scalers]
        key = ",".join(f"{n}:{cache.params_key(scaler_params.get(n, {}))}" for n in scalers)
        key += f"|{cache.mask_key(effect_mask)}|{cache.params_key(experiment)}"
        return cache.report_html(ds.content_hash, cache.mask_key(mask), key, ds, stats, mask,
                                 effects, experiment)
    except Exception as exc:  # noqa: BLE001 - the download must still be a readable file
        return f"<!DOCTYPE html><p>The report could not be built: {widgets.error_message(exc)}</p>"


st.download_button("Report (HTML)", _report, file_name=f"{stem}_sndiag_report.html",
                   mime="text/html", key="dl_report", icon=":material/description:",
                   type="primary", on_click="ignore")
