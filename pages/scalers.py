"""Scalers: what each normalization does to the data, side by side."""

from __future__ import annotations

import html

import streamlit as st

from sndiag.figures import (
    clip_heatmap,
    distribution_checks,
    gain_and_snr,
    heatmap,
    value_histogram,
)
from sndiag.ui import cache, router, state, widgets

router.page_setup("Scalers", "Each scaler is fitted on all clips. Watch the noise-gain map: "
                   "where it is bright and the SNR map is dark, the scaler amplifies noise.")
ds = cache.current_dataset()
stats = cache.pixel_stats(ds.content_hash, ds)
ss = st.session_state
registry = cache.scaler_registry()

chains = cache.scaler_chains()
options = list(dict.fromkeys([*registry, *chains, *ss.get("scalers", [])]))
c1, c2 = st.columns([3, 2])
with c1:
    names = state.widget(st.multiselect, "scalers", "Scalers to compare (chains such as db+band "
                         "compress, then scale)", options=options,
                         valid=lambda v: [n for n in v if n in options],
                         help="\n".join(f"- **{n}**: {r['title']}" for n, r in registry.items()))
with c2:
    clip = state.widget(st.number_input, "clip", f"Example clip (0 … {ds.n_clips - 1})",
                        min_value=0, max_value=ds.n_clips - 1, step=1,
                        valid=lambda v: min(max(int(v or 0), 0), ds.n_clips - 1))

mask = widgets.current_mask(ds, stats)
c1, c2, c3 = st.columns([2, 1, 1])
with c1:
    label = ("Apply the current mask first"
             + (f" ({mask.n_masked_rows} rows)" if mask is not None else " (the mask is empty)"))
    apply_mask = state.widget(st.checkbox, "apply_mask", label, disabled=mask is None,
                              help="Set on the Mask page; masked rows are zeroed before fitting.")
with c2:
    log = state.widget(st.toggle, "scaler_log_before", "Log colour for raw clips",
                       default=cache.summary(ds.content_hash, ds)["scale_guess"] == "linear")
with c3:
    hist_log = state.widget(st.toggle, "scaler_hist_log", "Log count axis", default=True)
use_mask = mask if (apply_mask and mask is not None) else None

params = widgets.scaler_options(names)

c1, c2 = st.columns(2, gap="large")
with c1, widgets.guard():
    st.plotly_chart(cache.figure(
        (ds.content_hash, "before", int(clip), bool(log)),
        lambda: clip_heatmap(ds.X[clip], title=f"Clip {clip} before scaling: "
                             f"{html.escape(str(ds.names[clip]))}", log=log, height=280)),
        key="fig_before")
with c2:
    st.markdown("**How to read the columns below**")
    st.markdown(
        "- **Reading**: what the scaler does to the low-SNR rows compared with the rest.\n"
        "- **Clip after**: the clip above, transformed.\n"
        "- **Mean / std after**: a per-pixel scaler makes every pixel mean 0, std 1 — "
        "including pixels that were pure noise.\n"
        "- **Noise gain vs SNR**: the factor each pixel's noise is multiplied by; bright gain "
        "where SNR is dark means amplified noise.\n"
        "- **Values before / after**: the distribution of all pixel values.\n"
        "- **Distribution checks**: skew and excess kurtosis of each band, the share of values "
        "beyond ±3, and how the bands correlate, before and after.")

if not names:
    st.info("Pick one or more scalers above.")


def _effect_key(name: str) -> tuple:
    return (ds.content_hash, name, cache.params_key(params.get(name, {})), cache.mask_key(use_mask),
            int(clip))


def _effect(name: str):
    return cache.effect(*_effect_key(name), ds, stats, use_mask)


# Two scalers per row; each figure type gets its own row of columns so the figures line up.
FIGURES = (
    ("after", lambda e, n: heatmap(e.example_after, title=f"Clip {clip} after {n}",
                                   colorbar_title="value", colorscale="Magma", height=280,
                                   masked_rows=e.masked_rows)),
    ("mean", lambda e, n: widgets.steady_range(
        heatmap(e.mean_after, title="Mean of each pixel after scaling", colorbar_title="mean",
                colorscale="RdBu", zmid=0.0, height=280, masked_rows=e.masked_rows),
        e.mean_after)),
    ("std", lambda e, n: widgets.steady_range(
        heatmap(e.std_after, title="Std of each pixel after scaling", colorbar_title="std",
                height=280, masked_rows=e.masked_rows), e.std_after)),
    ("gain", lambda e, n: widgets.compact_pair(gain_and_snr(
        e.gain, stats.snr, title=f"Noise gain vs SNR — {n}", masked_rows=e.masked_rows))),
    ("hist", lambda e, n: value_histogram({"before": e.hist_before, "after": e.hist_after},
                                          log_y=hist_log, overlay=False,
                                          title="Values before / after")),
    ("shape", lambda e, n: distribution_checks(e.distribution, title=f"Distribution checks — {n}",
                                               masked_rows=e.masked_rows)),
)
for start in range(0, len(names), 2):
    pair = names[start:start + 2]
    effects = {}
    st.divider()
    cols = st.columns(2, gap="large")
    for col, name in zip(cols, pair, strict=False):
        with col, widgets.guard():
            effects[name] = eff = _effect(name)
            st.markdown(f"#### {html.escape(eff.title or name)}")
            st.caption(f"`{name}`")
            st.caption(html.escape(eff.description)
                       + (f" Fitted on {eff.fitted_on}." if eff.fitted_on else ""))
            (st.warning if not eff.finite else st.info)(eff.reading, icon=":material/lightbulb:")
    for kind, build in FIGURES:
        cols = st.columns(2, gap="large")
        for col, name in zip(cols, pair, strict=False):
            if name in effects:
                with col, widgets.guard():
                    eff = effects[name]
                    fig = cache.figure((*_effect_key(name), kind, kind == "hist" and bool(hist_log)),
                                       lambda eff=eff, name=name, build=build: build(eff, name))
                    st.plotly_chart(fig, key=f"fig_{name}_{kind}")
