"""Experiment: which compression, scaling and mask? A search on shared folds, and the answer."""

from __future__ import annotations

import json

import streamlit as st

from sndiag.errors import LimitError, SndiagError
from sndiag.experiment import (
    DEFAULT_SCALERS,
    ExperimentJob,
    ExperimentResult,
    FitExecutor,
    available_classifiers,
)
from sndiag.figures import experiment_bars, experiment_curves
from sndiag.masks import MaskSpec
from sndiag.text import markdown
from sndiag.ui import cache, router, state, widgets

JOB = "exp_job"          # the running ExperimentJob of this session
DONE = "exp_done"        # (ds_id, result dict, error) of the last run of this session
CLASSIFIER_LABELS = {
    "ridge": "Ridge, closed form (fast, always at its optimum)",
    "logreg": "Logistic regression to convergence (slow on raw power)",
    "mlp": "MLP, 128 hidden units (per-epoch curves)",
    "cnn": "Small CNN on the images (the question's network; per-epoch and per-minibatch curves)",
}
SEARCHES = {"full": f"The full search ({len(DEFAULT_SCALERS)} compressions x scalings)",
            "chosen": "Pipelines I choose"}
CNN_SEARCHES = {"full": "Raw, per-pixel standard, the ridge search's pick, BatchNorm first layer",
                "chosen": "Pipelines I choose"}
CNN_ONLY = ["batchnorm", "db+batchnorm"]

router.page_setup(
    "Experiment",
    "Which compression, scaling and mask should you use on *this* data? Every pipeline is "
    "cross-validated with the same classifier on the same folds and compared with the raw data; "
    "the best is recommended.")
ds = cache.current_dataset()
ds_id = ds.content_hash
ss = st.session_state
if ds.streamed:  # the search fits on every clip in memory
    try:
        ds = cache.in_memory(ds)
    except LimitError as exc:
        st.info(f"**The experiment needs every clip in memory; this dataset stays in its file.** "
                f"{markdown(str(exc))}. The Data, Statistics, Mask, Scalers and Export pages "
                "work on the file as it is; run the search on it with `sndiag compare FILE` "
                "(with `--scheduler` on a Dask cluster).", icon=":material/memory:")
        st.stop()
    st.caption(f"This dataset stays in its file on the server; the experiment holds its "
               f"{ds.n_clips:,} clips ({ds.X.nbytes / 2**20:,.0f} MB) in memory.")

if ds.y is None or len(ds.classes) < 2:
    st.warning("The experiment needs labelled clips of at least two classes. Load data with "
               "labels (class folders, a file-name pattern or a CSV) on the Data page.")
    st.stop()


# -- settings ---------------------------------------------------------------------------------
def _executor() -> FitExecutor | None:
    """The Dask executor when the deployment sets a scheduler (SNDIAG_SCHEDULER), else None."""
    settings = cache.settings()
    if not settings.scheduler:
        return None
    from sndiag.distributed import DaskExecutor

    return DaskExecutor(settings.scheduler, shared_dir=settings.shared_dir)


def _session_mask() -> str | None:
    """The Mask page's mask as text (SNR rule, rows by hand, auto-flagged rows), if any."""
    spec = widgets.resolved_mask(cache.pixel_stats(ds_id, ds))
    return None if spec.is_empty else spec.spec


options = list(dict.fromkeys([*DEFAULT_SCALERS, *cache.scaler_registry(), *CNN_ONLY]))
mask_options = list(dict.fromkeys([m for m in (_session_mask(), "auto", "snr<0.5", "p10") if m]))
usable = {k: v for k, v in available_classifiers().items() if v is None}
running = isinstance(ss.get(JOB), ExperimentJob) and not ss[JOB].done
n_groups = 0 if ds.groups is None else len(set(ds.groups.tolist()))

with st.expander("Settings", expanded=not running, icon=":material/tune:"):
    left, right = st.columns(2)
    with right:
        classifier = state.widget(st.radio, "exp_classifier", "Classifier", options=list(usable),
                                  format_func=CLASSIFIER_LABELS.get, default="ridge",
                                  valid=lambda v: v if v in usable else "ridge")
        if "cnn" not in usable:
            st.caption(f"The CNN is not available here: {available_classifiers()['cnn']}")
        cnn = classifier == "cnn"
        fold_options = ["auto", *range(2, 11)]
        folds = state.widget(st.selectbox, "exp_folds", "Folds", options=fold_options,
                             default="auto", valid=lambda v: v if v in fold_options else "auto",
                             format_func=lambda v: ("auto: one group split" if cnn else
                                                    "auto: one per group" if n_groups and
                                                    n_groups <= 10 else "auto: 5") if v == "auto"
                             else str(v))
        if cnn:
            epochs = state.widget(st.slider, "exp_cnn_epochs", "Epochs (CNN: at most; it stops "
                                  "early)", min_value=1, max_value=100, default=15)
        else:
            epochs = state.widget(st.slider, "exp_epochs", "Epochs (MLP / CNN)", min_value=1,
                                  max_value=100, default=20,
                                  disabled=classifier in ("ridge", "logreg"))
    searches = CNN_SEARCHES if cnn else SEARCHES
    with left:
        search = state.widget(st.radio, "exp_search", "Search", options=list(SEARCHES),
                              format_func=searches.get, default="full", horizontal=True,
                              valid=lambda v: v if v in SEARCHES else "full")
        scalers = state.widget(
            st.multiselect, "exp_scalers", "Pipelines ('none' = the raw data, always included; "
            "'db+band' = decibels, then per-band standardization"
            + ("; batchnorm = a BatchNorm first layer, CNN only" if cnn else "") + ")",
            options=options if cnn else [o for o in options if o not in CNN_ONLY],
            default=["standard", "db+standard", "db+band"], disabled=search == "full",
            valid=lambda v: [s for s in (v or []) if s in options and (cnn or s not in CNN_ONLY)])
        masks = state.widget(
            st.multiselect, "exp_masks", "Also run every pipeline with these masks (built on "
            "training folds only)" + ("; with the CNN's default, masks the ridge search tries"
                                      if cnn else ""), options=mask_options,
            default=[m for m in (_session_mask(), "auto") if m],
            valid=lambda v: [m for m in (v or []) if m in mask_options],
            help="The mask of the Mask page is offered first, whole (SNR rule, rows by hand, "
                 "auto-flagged rows); auto = the auto-flagged rows; snr<X = rows whose SNR "
                 "(mean/std) is below X; pP = the P% lowest-SNR rows. A mask that masks nothing "
                 "is left out.")
    if n_groups >= 2:
        st.caption(f"The clips have {n_groups} groups (e.g. speakers): folds are group-wise, so "
                   "the estimate is for groups the model has not seen"
                   + (" (one fold per group)." if n_groups <= 10 and folds == "auto" and not cnn
                      else "."))
    if cnn:
        n_cfg = 4 if search == "full" else (2 + len([s for s in scalers
                                                     if s not in ("none", "standard")])) * (
            1 + len(masks))
        st.caption(
            f"{n_cfg} configurations, each trained up to {epochs} epochs here on the server"
            + (", after a ridge search for its pick" if search == "full" else "")
            + ". On 2 CPU cores an epoch over 2000 clips takes about 2-4 s: the default on 3000 "
            "clips takes 2-5 minutes. Progress counts the ridge fits, then the CNN's epochs.")
    else:
        n_pipes = (len(DEFAULT_SCALERS) if search == "full"
                   else 1 + len([s for s in scalers if s != "none"])) * (1 + len(masks))
        st.caption(f"{n_pipes} pipelines, each screened on a quarter of every training fold; "
                   "the best are finished on whole folds. The full search on 3000 clips takes "
                   "about a minute with ridge.")
    try:
        executor = _executor()
    except SndiagError as exc:
        executor = None
        widgets.show_error(exc)
    if executor is not None:
        st.caption(f"The fits run on {executor.where} (SNDIAG_SCHEDULER)"
                   + ("; the CNN trains here on the server." if cnn else "."))
    start = st.button("Run experiment", key="exp_run", type="primary", disabled=running,
                      icon=":material/play_arrow:")

if start:
    try:
        job = ExperimentJob(ds, scalers=None if search == "full" else ["none", *scalers],
                            masks=[MaskSpec(), *(MaskSpec.parse(m) for m in masks)],
                            classifier=classifier, folds=None if folds == "auto" else int(folds),
                            epochs=int(epochs), n_jobs=2, stats=cache.pixel_stats(ds_id, ds),
                            executor=executor)
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
            state.notice(markdown(f"The result could not be saved with the dataset: {exc}"))


@st.fragment(run_every=1.0)
def progress_panel() -> None:
    job = ss.get(JOB)
    if not isinstance(job, ExperimentJob):
        return
    if job.done:
        _collect(job)
        st.rerun()
    done, total = job.progress()
    unit = "steps (ridge fits, then CNN epochs)" if job.kwargs.get("classifier") == "cnn" \
        else "fits"
    text = ("Cancelling after the fits in progress..." if job.cancelling
            else f"{done} of {total or '?'} {unit} done")
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
            st.error(markdown(error), icon=":material/error:")
        if payload is not None and payload["configurations"]:
            return ExperimentResult.from_dict(payload), "this session"
        if payload is not None:
            st.info("The run was cancelled before any configuration finished all its folds.")
    stored = cache.store().get_attachment(ds_id, "experiment")
    if stored:
        return ExperimentResult.from_dict(stored), "stored with the dataset"
    return None, ""


def _use(rec: dict) -> None:
    """Show the recommended pipeline on the Scalers and Export pages (and in the link)."""
    name, spec = rec["scaler"], MaskSpec.parse(rec["mask"])
    shown = [s for s in ss.get("scalers", []) if s != name]
    state.set_value("scalers", [name, *[s for s in shown if s == "standard"]])
    state.set_mask(spec)
    state.set_value("apply_mask", not spec.is_empty)
    state.set_value("export_scaler", name)
    state.set_value("export_mask", not spec.is_empty)
    state.notice(f"The Scalers and Export pages now show **{name}**"
                 + ("" if spec.is_empty else f" with the mask {spec.describe()}")
                 + ", and the link holds it.", "success")


with widgets.guard():
    result, origin = _result_for_view()
    if result is None:
        if not isinstance(ss.get(JOB), ExperimentJob):
            st.info("No experiment on this dataset yet: choose settings and press **Run "
                    "experiment**.", icon=":material/science:")
        st.stop()

    rec = result.recommended
    (st.success if rec is not None else st.warning)(markdown(result.verdict),
                                                    icon=":material/gavel:")
    c1, c2 = st.columns([1, 3], vertical_alignment="center")
    if rec is not None and rec["scaler"].split("+")[-1] == "batchnorm":
        c1.caption("A layer of the network, not a scaler: put BatchNorm first in your model; "
                   "there is nothing to export.")
    elif rec is not None:
        c1.button("Use this", key="exp_use", type="primary", icon=":material/check:",
                  on_click=_use, args=(rec,),
                  help="Set the Scalers and Export pages (and the link) to the recommended "
                       "pipeline and mask.")
    runs_on = result.search.get("runs_on")
    c2.caption(f"Result {origin}: {result.classifier}"
               + (f" on {result.device}" if result.device else "")
               + (f", fits on {runs_on}" if runs_on and "Dask" in runs_on else "")
               + f", {result.splitter}, {result.seconds:.0f} s"
               + (" — cancelled, partial" if result.cancelled else ""))

    st.plotly_chart(experiment_bars(result), key="exp_bars")
    if any(c.epochs for c in result.configurations):
        st.plotly_chart(experiment_curves(result), key="exp_curves")

    rows = [{
        "configuration": c.label,
        "mean accuracy %": round(100 * c.mean, 1),
        "95% CI %": f"{100 * c.ci_low:.1f} – {100 * c.ci_high:.1f}",
        "p vs raw": None if c.p_vs_none is None else round(c.p_vs_none, 4),
        "stage": c.stage,
        "converged": c.converged,
        "above chance": not c.at_chance,
        "folds %": ", ".join(f"{100 * a:.0f}" for a in c.fold_accuracies),
        "notes": "; ".join(c.notes),
    } for c in sorted(result.configurations, key=lambda c: (c.stage != "final", -c.mean))]
    st.dataframe(rows, key="exp_table", hide_index=True,
                 column_config={"notes": st.column_config.TextColumn(
                     width="large", help="In full below, under 'Why configurations are flagged'")})
    flagged = [c for c in result.configurations if c.notes]
    if flagged:
        with st.expander(f"Why configurations are flagged ({len(flagged)})",
                         icon=":material/flag:"):
            for c in sorted(flagged, key=lambda c: (c.stage != "final", -c.mean)):
                st.markdown(f"- **{markdown(c.label)}** ({100 * c.mean:.1f}%): "
                            + markdown("; ".join(c.notes)))
    if result.notes:
        with st.expander("Notes", icon=":material/info:"):
            for note in result.notes:
                st.markdown(f"- {markdown(note)}")
    st.download_button("Download result (JSON)", json.dumps(result.to_dict(), indent=2),
                       file_name=f"experiment-{ds_id[:12]}.json", mime="application/json",
                       key="exp_download", icon=":material/download:")
