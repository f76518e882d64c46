"""Experiment: does normalization help on this data? Cross-validated scalers vs the raw data."""

from __future__ import annotations

import json

import streamlit as st

from sndiag.errors import SndiagError
from sndiag.experiment import (
    DEFAULT_SCALERS,
    ExperimentJob,
    ExperimentResult,
    available_classifiers,
)
from sndiag.figures import experiment_bars, experiment_curves
from sndiag.masks import MaskSpec
from sndiag.ui import cache, router, state, widgets

JOB = "exp_job"          # the running ExperimentJob of this session
DONE = "exp_done"        # (ds_id, result dict, error) of the last run of this session
CLASSIFIER_LABELS = {
    "logreg": "Logistic regression (fast, one point per fold)",
    "mlp": "MLP, 128 hidden units (per-epoch curves)",
    "cnn": "Small CNN (PyTorch)",
}

router.page_setup(
    "Experiment",
    "Does normalization help on *this* data? The same classifier is cross-validated once per "
    "scaler (x mask), on the same folds, and each scaler is compared with the raw data.")
ds = cache.current_dataset()
ds_id = ds.content_hash
ss = st.session_state

if ds.y is None or len(ds.classes) < 2:
    st.warning("The experiment needs labelled clips of at least two classes. Load data with "
               "labels (class folders, a file-name pattern or a CSV) on the Data page.")
    st.stop()


# -- settings ---------------------------------------------------------------------------------
def _scaler_options() -> list[str]:
    names = list(cache.scaler_registry())
    combos = [f"{a}+{b}" for a in ("db", "log1p") for b in ("standard", "band")
              if a in names and b in names]
    return list(dict.fromkeys([*DEFAULT_SCALERS, *names, *combos]))


def _session_mask() -> str | None:
    """The Mask page's mask as text (SNR rule, rows by hand, auto-flagged rows), if any."""
    spec = widgets.resolved_mask(cache.pixel_stats(ds_id, ds))
    return None if spec.is_empty else spec.spec


options = _scaler_options()
mask_options = list(dict.fromkeys([m for m in (_session_mask(), "snr<0.5", "p10") if m]))
usable = {k: v for k, v in available_classifiers().items() if v is None}
running = isinstance(ss.get(JOB), ExperimentJob) and not ss[JOB].done

with st.expander("Settings", expanded=not running, icon=":material/tune:"):
    left, right = st.columns(2)
    with left:
        scalers = state.widget(
            st.multiselect, "exp_scalers", "Scalers ('none' = the raw data, always included)",
            options=options, default=list(DEFAULT_SCALERS),
            valid=lambda v: [s for s in (v or []) if s in options])
        masks = state.widget(
            st.multiselect, "exp_masks", "Also run every scaler with these row masks "
            "(fitted on training folds only)", options=mask_options,
            default=[_session_mask()] if _session_mask() else [],
            valid=lambda v: [m for m in (v or []) if m in mask_options],
            help="snr<X masks mel rows whose SNR (mean/std) is below X; pP the P% lowest-SNR "
                 "rows; rows:… rows by hand; auto the empty bands. The mask set on the Mask "
                 "page is offered first, whole.")
    with right:
        classifier = state.widget(st.radio, "exp_classifier", "Classifier", options=list(usable),
                                  format_func=CLASSIFIER_LABELS.get, default="logreg",
                                  valid=lambda v: v if v in usable else "logreg")
        if "cnn" not in usable:
            st.caption("The CNN needs PyTorch (`pip install 'sndiag[torch]'`).")
        folds = state.widget(st.slider, "exp_folds", "Folds", min_value=2, max_value=10,
                             default=5)
        epochs = state.widget(st.slider, "exp_epochs", "Epochs (MLP / CNN)", min_value=1,
                              max_value=100, default=20, disabled=classifier == "logreg")
    n_groups = 0 if ds.groups is None else len(set(ds.groups.tolist()))
    if n_groups >= 2:
        st.caption(f"The clips have {n_groups} groups (e.g. speakers): folds are group-wise, so "
                   "the estimate is group-independent.")
    n_configs = (1 + len([s for s in scalers if s != "none"])) * (1 + len(masks))
    st.caption(f"{n_configs} configurations x {folds} folds = {n_configs * folds} fits.")
    start = st.button("Run experiment", key="exp_run", type="primary", disabled=running,
                      icon=":material/play_arrow:")

if start:
    try:
        job = ExperimentJob(ds, scalers=["none", *scalers],
                            masks=[MaskSpec(), *(MaskSpec.parse(m) for m in masks)],
                            classifier=classifier, folds=int(folds), epochs=int(epochs),
                            n_jobs=2, stats=cache.pixel_stats(ds_id, ds))
        ss[JOB] = job.start()
        ss["exp_job_ds"] = ds_id
        ss.pop(DONE, None)
        st.rerun()
    except SndiagError as exc:
        widgets.show_error(exc)


# -- the running job --------------------------------------------------------------------------
def _collect(job: ExperimentJob) -> None:
    """Move a finished job's outcome into the session and the store."""
    job_ds = ss.pop("exp_job_ds", ds_id)
    ss.pop(JOB, None)
    payload = None if job.result is None else job.result.to_dict()
    ss[DONE] = (job_ds, payload, job.error)
    if job.result is not None and not job.result.cancelled:
        try:
            cache.store().put_attachment(job_ds, "experiment", payload)
        except SndiagError as exc:
            state.notice(f"The result could not be saved with the dataset: {exc}")


@st.fragment(run_every=1.0)
def progress_panel() -> None:
    job = ss.get(JOB)
    if not isinstance(job, ExperimentJob):
        return
    if job.done:
        _collect(job)
        st.rerun()
    done, total = job.progress()
    text = ("Cancelling after the fits in progress..." if job.cancelling
            else f"{done} of {total or '?'} fold fits done")
    st.progress(job.fraction(), text=text)
    if st.button("Cancel", key="exp_cancel", disabled=job.cancelling, icon=":material/stop:"):
        job.cancel()


if isinstance(ss.get(JOB), ExperimentJob):
    if ss.get("exp_job_ds") != ds_id:
        st.info("An experiment on another dataset is running; its result is saved with that "
                "dataset.")
    progress_panel()


# -- results ----------------------------------------------------------------------------------
def _result_for_view() -> tuple[ExperimentResult | None, str]:
    done = ss.get(DONE)
    if done and done[0] == ds_id:
        _, payload, error = done
        if error:
            st.error(error, icon=":material/error:")
        if payload is not None and payload["configurations"]:
            return ExperimentResult.from_dict(payload), "this session"
        if payload is not None:
            st.info("The run was cancelled before any configuration finished all its folds.")
    stored = cache.store().get_attachment(ds_id, "experiment")
    if stored:
        return ExperimentResult.from_dict(stored), "stored with the dataset"
    return None, ""


with widgets.guard():
    result, origin = _result_for_view()
    if result is None:
        if not isinstance(ss.get(JOB), ExperimentJob):
            st.info("No experiment on this dataset yet: choose settings and press **Run "
                    "experiment**. With logistic regression the default grid takes about a "
                    "minute on 3000 clips.", icon=":material/science:")
        st.stop()

    best, none = result.best, result.get("none")
    helps = False
    if best is not None and none is not None and best is not none:
        diff, p = result.compare(best, none)
        helps = diff > 0 and p < 0.05  # a scaler beats the raw data beyond fold-to-fold noise
    (st.success if helps else st.warning)(result.verdict, icon=":material/gavel:")
    st.caption(f"Result {origin}: {result.classifier}, {result.splitter}, {result.seconds:.0f} s"
               + (" — cancelled, partial" if result.cancelled else ""))

    st.plotly_chart(experiment_bars(result), key="exp_bars")
    if any(c.epochs for c in result.configurations):
        st.plotly_chart(experiment_curves(result), key="exp_curves")

    rows = [{
        "configuration": c.label,
        "mean accuracy %": round(100 * c.mean, 1),
        "95% CI %": f"{100 * c.ci_low:.1f} – {100 * c.ci_high:.1f}",
        "p vs none": None if c.p_vs_none is None else round(c.p_vs_none, 4),
        "fit s": round(c.fit_seconds, 1),
        "folds %": ", ".join(f"{100 * a:.0f}" for a in c.fold_accuracies),
        "notes": "; ".join(c.notes),
    } for c in result.configurations]
    st.dataframe(rows, key="exp_table", hide_index=True)
    if result.notes:
        with st.expander("Notes", icon=":material/info:"):
            for note in result.notes:
                st.markdown(f"- {note}")
    st.download_button("Download result (JSON)", json.dumps(result.to_dict(), indent=2),
                       file_name=f"experiment-{ds_id[:12]}.json", mime="application/json",
                       key="exp_download", icon=":material/download:")
