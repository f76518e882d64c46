"""Mask: switch off low-SNR mel bands before scaling, and see what that costs."""

from __future__ import annotations

import streamlit as st

from sndiag.figures import row_profile, stat_heatmap
from sndiag.masks import (
    Mask,
    format_ranges,
    mask_summary,
    proposed_threshold,
    snr_percentile,
    threshold_range,
)
from sndiag.ui import cache, router, state, widgets

router.page_setup("Mask", "Masked rows are set to 0 before scaling, so 1/std cannot blow up "
                   "their noise. The mask is kept for the Scalers and Export pages and in the "
                   "link.")
ds = cache.current_dataset()
stats = cache.pixel_stats(ds.content_hash, ds)
n_mels = stats.n_mels

MODES = {"off": "No SNR rule", "abs": "|row SNR| below a threshold",
         "pct": "Lowest rows by SNR (percentile)"}
slider = threshold_range(stats)
top = slider["max_value"]
spec = widgets.resolved_mask(stats)  # first visit: propose a threshold masking ~10% of the rows

left, right = st.columns([1, 2])
with left:
    mode = state.mask_widget(st.radio, "mode", "SNR rule", options=list(MODES),
                             format_func=MODES.get, valid=lambda v: v if v in MODES else "off")
    if mode == "pct":
        state.mask_widget(st.slider, "percentile", "Mask the lowest-SNR rows up to percentile",
                          min_value=0.0, max_value=100.0, step=1.0, format="%.0f",
                          valid=lambda v: float(min(max(float(v), 0.0), 100.0)),
                          help="e.g. 10 masks about the 10% of mel bands with the lowest SNR.")
    else:
        state.mask_widget(st.slider, "threshold", "Mask rows with |SNR| below", **slider,
                          seed=proposed_threshold(stats), disabled=mode == "off",
                          valid=lambda v: float(min(max(float(v), 0.0), top)),
                          help="SNR = mean / std of the band over all clips and frames. Choose "
                               "an SNR rule above to use it.")

    auto = cache.auto_flags(ds, stats)
    flagged = auto.masked_rows
    why = "; ".join(f"{r.rule}: rows {format_ranges(r.rows)}" for r in auto.reasons)

    def _toggle_auto() -> None:
        """Checking pre-selects the flagged rows in the list below; unchecking removes them."""
        now = state.mask()
        rows = set(now.rows)
        on = bool(st.session_state[state.MASK_WIDGETS["auto"]])
        rows = rows | set(flagged) if on else rows - set(flagged)
        state.set_mask(now.replace(rows=tuple(sorted(rows)), auto=on))

    def _rows_changed() -> None:
        """Removing a pre-selected flagged row by hand ends the pre-selection."""
        now = state.mask()
        chosen = set(st.session_state[state.MASK_WIDGETS["rows"]])
        if now.auto and not set(flagged) <= chosen:
            state.set_mask(now.replace(rows=tuple(sorted(chosen)), auto=False))

    state.mask_widget(st.checkbox, "auto",
                      f"Pre-select auto-flagged rows ({len(flagged)})" if flagged
                      else "Pre-select auto-flagged rows (none on this data)",
                      on_change=_toggle_auto, disabled=not flagged and not spec.auto,
                      help="Rows that carry nothing: empty (all zeros or constant), above the "
                           "recordings' Nyquist frequency (no signal was ever recorded there), "
                           "or silent (60 dB or more below the loudest row). Per-pixel scaling "
                           "turns their tiny spread into noise as loud as the signal.")
    if flagged:
        st.caption(f"Auto-flagged: {why}.")
    state.mask_widget(st.multiselect, "rows", "Rows masked by hand", options=list(range(n_mels)),
                      valid=lambda v: sorted(int(r) for r in v if 0 <= int(r) < n_mels),
                      on_change=_rows_changed, placeholder="pick mel rows (0 = lowest band)")

mask = widgets.current_mask(ds, stats)
info = mask_summary(mask if mask is not None else Mask.none(stats.shape), stats)
with left:
    c = st.columns(2)
    c[0].metric("Rows masked", f"{info['n_masked_rows']} / {n_mels}")
    c[1].metric("Pixels masked", f"{100 * info['masked_fraction']:.1f}%")
    c = st.columns(2)
    c[0].metric("Variance removed", f"{100 * info['variance_removed']:.1f}%",
                help="Share of the total pixel variance (sum of std²) in masked pixels.")
    fr = info["fisher_removed"]
    c[1].metric("Fisher removed", "n/a" if fr is None else f"{100 * fr:.1f}%",
                help="Share of the summed Fisher ratio (class separability) in masked pixels; "
                     "keep it low. Needs labels.")
    st.caption(info["rows_text"].capitalize() + ".")
    for r in info["reasons"]:
        st.caption(f"· {r['kind']}: {r['rule']}")

with right:
    with widgets.guard():
        spec = state.mask()
        masked = mask.rows if mask is not None else None
        mkey = cache.mask_key(mask)  # the figures are built once per mask (and shared, e.g. a
        # slider moved back, or the Statistics page's SNR map)
        st.plotly_chart(cache.figure((ds.content_hash, "stat", "snr", False, mkey),
                                     lambda: stat_heatmap(stats, "snr", masked_rows=masked)),
                        key="fig_mask_snr")
        if spec.mode == "abs":
            threshold = spec.threshold
        elif spec.mode == "pct":
            threshold = snr_percentile(stats, spec.percentile)
        else:
            threshold = None
        st.plotly_chart(cache.figure(
            (ds.content_hash, "profile", "row_snr", mkey, threshold, False),
            lambda: row_profile(stats, which="row_snr", masked_rows=masked, threshold=threshold)),
            key="fig_mask_profile")
