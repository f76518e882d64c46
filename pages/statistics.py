"""Statistics: where is the signal, where is the noise? Per-pixel maps and per-band profiles."""

from __future__ import annotations

import numpy as np
import streamlit as st

from sndiag.figures import (
    class_mean_heatmaps,
    drift_heatmap,
    row_profile,
    stat_heatmap,
    value_histogram,
)
from sndiag.masks import format_ranges, lowest_snr_rows
from sndiag.stats import SAMPLE_CLIPS
from sndiag.ui import cache, router, state, widgets

router.page_setup("Statistics", "Each pixel's mean and standard deviation over all clips, and "
                   "their ratio, the SNR. Per-pixel standardization divides by the std, so "
                   "wherever SNR is low it multiplies mostly noise.")
ds = cache.current_dataset()
stats = cache.pixel_stats(ds.content_hash, ds)
mask = widgets.current_mask(ds, stats)
masked = mask.rows if mask is not None else None
mkey = cache.mask_key(mask)
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
with st.expander("Why the SNR is low where it is", expanded=True, icon=":material/troubleshoot:"):
    widgets.show_diagnostics(cache.diagnostics(ds, stats))
    grid = cache.grid_suggestion(ds)
    if grid is not None:
        st.caption("The Data page suggests extraction settings that fit these clips: "
                   f"{grid.cli_options(ds.config)}.")
if mask is not None:
    st.caption(f"Grey bands: the {mask.n_masked_rows} rows masked on the Mask page.")

cols = st.columns(3)
for col, which in zip(cols, ("mean", "std", "snr"), strict=True):
    with col, widgets.guard():
        st.plotly_chart(cache.figure((ds.content_hash, "stat", which, bool(log), mkey),
                                     lambda w=which: stat_heatmap(stats, w, log=log,
                                                                  masked_rows=masked)),
                        key=f"fig_{which}")

OTHERS = {
    "median": "Median",
    "iqr": "IQR",
    "fisher": "Fisher ratio",
    "class_mean": "Class means",
    "noise_gain": "Noise gain (1/std)",
    "zero_fraction": "Zero fraction",
    "group_drift": "Group drift",
    "dataset_drift": "Drift between datasets",
}


def _group_drift() -> None:
    n_groups = 0 if ds.groups is None else len(set(ds.groups.tolist()))
    if n_groups < 2:
        st.info("Needs groups (e.g. speakers): a file-name pattern or a CSV with a group column "
                "on the Data page, which also suggests one when the file names carry it.")
        return
    st.plotly_chart(cache.figure(
        (ds.content_hash, "group_drift", mkey),
        lambda: drift_heatmap(cache.group_drift(ds.content_hash, ds), kind="group",
                              what=f"{n_groups} groups", masked_rows=masked)),
        key="fig_group_drift")
    st.caption("Per pixel, how much the group means (speakers, kits, sessions) differ compared "
               "with the spread inside a group. Where it is high, a model trained on some groups "
               "meets shifted values on new ones; per-pixel scaling fitted on the training "
               "groups does not remove that shift. When stratified folds and group folds "
               "disagree, this is where.")


def _dataset_drift() -> None:
    options: dict[str, str] = {}
    if ds.split is not None and {"train", "test"} <= set(ds.split.tolist()):
        options["split"] = "This dataset's train part -> its test part"
    others = [e for e in cache.store().entries()
              if e.dataset_id != ds.content_hash and tuple(e.shape) == tuple(ds.shape)]
    for e in others[:50]:
        options[e.dataset_id] = f"This dataset -> {e.name} ({e.n_clips} clips)"
    if not options:
        st.info("Compare two parts or two datasets of the same image shape: give this dataset a "
                "train/test split on the Data page, or load a second dataset (e.g. another "
                "recording campaign).")
        return
    choice = state.widget(st.selectbox, "drift_with", "Compare", options=list(options),
                          format_func=options.get, valid=lambda v: v if v in options
                          else next(iter(options)))
    if choice == "split":
        Z, what = cache.split_drift(ds.content_hash, ds), "train -> test"
    else:
        other = cache.dataset(choice)
        Z = cache.dataset_drift(ds.content_hash, choice, stats,
                                cache.pixel_stats(choice, other))
        what = f"this -> {other.name}"
    st.plotly_chart(drift_heatmap(Z, kind="dataset", what=what, masked_rows=masked),
                    key="fig_dataset_drift")
    st.caption("Per pixel, how far the mean moved, in units of the pooled std (Cohen's d). "
               "|d| above ~0.5 is a shift a scaler fitted on one side will not undo on the other.")


# Only the selected tab is drawn (a click on another reruns the page): the hidden ones cost
# their statistics on the server and their figures on the wire (the class means alone: 10 maps).
tabs = st.tabs(list(OTHERS.values()), key="w_stat_tab", on_change="rerun")
for tab, which in zip(tabs, OTHERS, strict=True):
    if not tab.open:
        continue
    with tab, widgets.guard():
        if which in ("fisher", "class_mean") and not stats.has_labels:
            st.info("Needs labels: load the data with class folders, a file-name pattern or a "
                    "CSV manifest.")
        elif which == "class_mean":
            st.plotly_chart(cache.figure((ds.content_hash, "class_mean", bool(log)),
                                         lambda: class_mean_heatmaps(stats, log=log,
                                                                     max_classes=12)),
                            key="fig_class_mean")
        elif which == "group_drift":
            _group_drift()
        elif which == "dataset_drift":
            _dataset_drift()
        else:
            st.plotly_chart(cache.figure((ds.content_hash, "stat", which, bool(log), mkey),
                                         lambda w=which: stat_heatmap(stats, w, log=log,
                                                                      masked_rows=masked)),
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
    st.plotly_chart(cache.figure(
        (ds.content_hash, "profile", which, mkey, threshold, bool(profile_log)),
        lambda: row_profile(stats, which=which, masked_rows=masked, threshold=threshold,
                            log=profile_log)), key="fig_profile")

st.subheader("Distribution of values")
c1, c2, _ = st.columns([1, 1, 2])
hist_log_y = state.widget(c1.toggle, "hist_log_y", "Log count axis", default=True)
hist_log_x = state.widget(c2.toggle, "hist_log_x", "Log value axis", default=False)
with widgets.guard():
    sample = (f"values of {SAMPLE_CLIPS} random clips" if ds.streamed and ds.n_clips > SAMPLE_CLIPS
              else "random sample")
    st.plotly_chart(cache.figure(
        (ds.content_hash, "values", bool(hist_log_y), bool(hist_log_x)),
        lambda: value_histogram({"all pixel values": ds.X}, log_y=hist_log_y, log_x=hist_log_x,
                                title=f"All pixel values ({sample})")), key="fig_hist")
