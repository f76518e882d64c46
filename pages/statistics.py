"""Statistics: where is the signal, where is the noise? Per-pixel maps and per-band profiles."""

from __future__ import annotations

import numpy as np
import streamlit as st

from sndiag.figures import class_mean_heatmaps, row_profile, stat_heatmap, value_histogram
from sndiag.masks import format_ranges, lowest_snr_rows
from sndiag.ui import cache, router, state, widgets

router.page_setup("Statistics", "Each pixel's mean and standard deviation over all clips, and "
                   "their ratio, the SNR. Per-pixel standardization divides by the std, so "
                   "wherever SNR is low it multiplies mostly noise.")
ds = cache.current_dataset()
stats = cache.pixel_stats(ds.content_hash, ds)
mask = widgets.current_mask(ds, stats)
masked = mask.rows if mask is not None else None
summary = cache.summary(ds.content_hash, ds)

log = state.widget(st.toggle, "stat_log", "Log colour scale (for heavy-tailed linear power)",
                   default=summary["scale_guess"] == "linear")

row_snr = np.abs(np.asarray(stats.row_snr, dtype=float))
low = lowest_snr_rows(stats)
text = (f"Mel-band SNR (mean / std of each band) runs from **{row_snr.min():.2g}** to "
        f"**{row_snr.max():.2g}** (median {np.median(row_snr):.2g}); the lowest-SNR rows are "
        f"**{format_ranges(low)}** (≤ {row_snr[low].max():.2g}; the same rows the Scalers page "
        f"and the experiment's verdict discuss). {stats.n_zero_std} pixels have zero std "
        "(constant: 1/std is undefined there).")
if summary["scale_guess"] == "db":
    text += (" The data looks like **decibels**: mean/std of dB values is measured from an "
             "arbitrary 0 dB reference, so read the SNR map with care.")
st.markdown(text)
if mask is not None:
    st.caption(f"Grey bands: the {mask.n_masked_rows} rows masked on the Mask page.")

cols = st.columns(3)
for col, which in zip(cols, ("mean", "std", "snr"), strict=True):
    with col, widgets.guard():
        st.plotly_chart(stat_heatmap(stats, which, log=log, masked_rows=masked), key=f"fig_{which}")

OTHERS = {
    "median": "Median",
    "iqr": "IQR",
    "fisher": "Fisher ratio",
    "class_mean": "Class means",
    "noise_gain": "Noise gain (1/std)",
    "zero_fraction": "Zero fraction",
}
tabs = st.tabs(list(OTHERS.values()))
for tab, which in zip(tabs, OTHERS, strict=True):
    with tab, widgets.guard():
        if which in ("fisher", "class_mean") and not stats.has_labels:
            st.info("Needs labels: load the data with class folders, a file-name pattern or a "
                    "CSV manifest.")
        elif which == "class_mean":
            st.plotly_chart(class_mean_heatmaps(stats, log=log, max_classes=12),
                            key="fig_class_mean")
        else:
            st.plotly_chart(stat_heatmap(stats, which, log=log, masked_rows=masked),
                            key=f"fig_{which}")
            if which == "fisher":
                st.caption("Between-class over within-class variance: how much each pixel "
                           "separates the classes. Masking rows with high Fisher ratio costs "
                           "accuracy.")

st.subheader("Per mel band")
PROFILES = {"row_snr": "SNR of the band (pooled)", "row_mean_snr": "mean of pixel SNRs",
            "row_fisher": "Fisher ratio of the band"}
if not stats.has_labels:
    PROFILES.pop("row_fisher")
c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
which = state.widget(c1.selectbox, "profile_stat", "Statistic", options=list(PROFILES),
                     format_func=PROFILES.get, default="row_snr",
                     valid=lambda v: v if v in PROFILES else "row_snr")
profile_log = state.widget(c2.toggle, "profile_log", "Log axis", default=False)
spec = state.mask()
threshold = spec.threshold if spec.mode == "abs" and which != "row_fisher" else None
with widgets.guard():
    st.plotly_chart(row_profile(stats, which=which, masked_rows=masked, threshold=threshold,
                                log=profile_log), key="fig_profile")

st.subheader("Distribution of values")
c1, c2, _ = st.columns([1, 1, 2])
hist_log_y = state.widget(c1.toggle, "hist_log_y", "Log count axis", default=True)
hist_log_x = state.widget(c2.toggle, "hist_log_x", "Log value axis", default=False)
with widgets.guard():
    st.plotly_chart(value_histogram({"all pixel values": ds.X}, log_y=hist_log_y, log_x=hist_log_x,
                                    title="All pixel values (random sample)"), key="fig_hist")
