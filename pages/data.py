"""Data: load spectrograms (audio, arrays, a server folder), check them, look and listen."""

from __future__ import annotations

import html

import streamlit as st

from sndiag.config import SpectrogramConfig, spectrogram_params
from sndiag.distributed.dataset_file import add_file
from sndiag.figures import clip_heatmap
from sndiag.io import uploads
from sndiag.text import markdown
from sndiag.ui import cache, identity, router, state, widgets

router.page_setup("Data", "Load your spectrograms, check what was read, look at and listen to "
                   "single clips.")
ds = cache.current_dataset()
ss = st.session_state
ss.setdefault("audio_sources", {})
settings = cache.settings()
limits = settings.limits
user = identity.current_user()
added_by = user.owner if user is not None else None

if ds.provenance.get("sample"):
    st.info("**The FSDD sample.** You are looking at 300 real recordings shipped with sndiag: "
            "spoken digits 0-9 (the labels) by 6 speakers (the groups), 8 kHz. Every page works "
            "before you load your own data below. " + str(ds.provenance.get("attribution", "")),
            icon=":material/record_voice_over:")
elif ds.streamed:
    st.info(f"**Read from a file on the server.** The {ds.n_clips:,} clips "
            f"({ds.X.nbytes / 2**30:.2f} GB) stay in {markdown(ds.X.where)}: each page reads "
            "the clips it shows or samples, never all of them at once. The statistics were "
            "computed once (or read from a statistics file) and are kept with the dataset.",
            icon=":material/hard_drive:")
elif ds.is_synthetic:
    st.info("**Synthetic demo.** You are looking at a synthetic demo dataset "
            "(generated spectrograms, not recordings), so every page works before you upload "
            "anything. Load your own data below.", icon=":material/science:")

# -- load -----------------------------------------------------------------------------------------
root = settings.data_root
SOURCES = {
    "folder": "Upload a folder",
    "files": "Upload audio files",
    "zip": "Upload a .zip",
    "arrays": "Upload .npy / .npz",
}
if root is not None:
    SOURCES["server"] = "Folder on the server"
    SOURCES["server_file"] = "Array file on the server"

with st.expander("Load data", expanded=ds.is_synthetic or bool(ds.provenance.get("sample")),
                 icon=":material/upload:"):
    src = state.widget(st.radio, "load_source", "Source", options=list(SOURCES),
                       format_func=SOURCES.get, horizontal=True, default="folder",
                       valid=lambda v: v if v in SOURCES else "folder")
    files: list = []
    server_rel = file_rel = stats_rel = None
    if src == "folder":
        files = st.file_uploader("A folder with one sub-folder per class (labels = folder names)",
                                 accept_multiple_files="directory", key="up_folder") or []
    elif src == "files":
        files = st.file_uploader("Audio files (wav, flac, ogg, mp3, aiff); label them with a "
                                 "file-name pattern or a CSV below",
                                 accept_multiple_files=True, key="up_files",
                                 type=["wav", "flac", "ogg", "oga", "mp3", "aif", "aiff"]) or []
    elif src == "zip":
        up = st.file_uploader("A .zip of class folders (e.g. dog/1.wav, cat/2.wav)", type=["zip"],
                              key="up_zip")
        files = [up] if up is not None else []
    elif src == "arrays":
        up = st.file_uploader("Spectrograms X of shape (N, n_mels, n_frames) as .npy, or an .npz "
                              "with X and optionally y, groups, names", type=["npy", "npz"],
                              key="up_arrays")
        files = [up] if up is not None else []
        nan_policy = state.widget(st.radio, "nan_policy", "NaN / Inf values",
                                  options=["raise", "zero"], horizontal=True, default="raise",
                                  format_func={"raise": "refuse the file",
                                               "zero": "replace by 0 (and count them)"}.get)
    elif src == "server_file":
        found = uploads.list_server_arrays(root)
        if found.datasets:
            file_rel = state.widget(st.selectbox, "server_file", f"Dataset file under {root}",
                                    options=found.datasets,
                                    valid=lambda v: v if v in found.datasets else found.datasets[0])
            beside = found.stats_beside(file_rel)
            stats_rel = state.widget(
                st.selectbox, "server_stats", "Statistics", options=["", *beside], default="",
                format_func=lambda v: v or "compute them (one pass over the file)",
                valid=lambda v: v if v in beside else "",
                help="A file written by sndiag stats FILE -o stats.npz (for instance with "
                     "--scheduler on a Dask cluster), in the same folder as the dataset file.")
        else:
            st.info(f"No .npy or .npz file under {root}.")
    else:
        folders = uploads.list_server_folders(root)
        server_rel = state.widget(st.selectbox, "server_folder",
                                  f"Folder under {root} (class sub-folders = labels)",
                                  options=folders, default=".",
                                  valid=lambda v: v if v in folders else folders[0])

    if src == "server_file":
        st.caption("The file stays where it is, whatever its size: pages read the clips they "
                   "show, never all of them at once. Uncompressed .npy/.npz (sndiag extract, "
                   "the dataset.npz of extract --out-dir, np.savez). Opening it the first time "
                   "reads it once, for its content hash and, without a statistics file, its "
                   f"statistics; at most {limits.max_clips:,} clips.")
    else:
        st.caption(f"At most {limits.max_upload_mb:g} MB per load, all files together (the "
                   "uploader's per-file limit is checked first; several files must also fit "
                   f"together), and at most {limits.max_clips:,} clips.")

    if src not in ("arrays", "server_file"):
        with st.expander("Extraction settings", icon=":material/settings:"):
            cfg: dict = {}
            params = spectrogram_params()
            for row in (params[:5], params[5:10], params[10:]):
                cols = st.columns(5)
                for col, prm in zip(cols, row, strict=False):
                    if prm.choices:
                        cfg[prm.name] = state.widget(
                            col.selectbox, f"cfg_{prm.name}", prm.label, options=list(prm.choices),
                            default=prm.default, help=prm.help,
                            valid=lambda v, p=prm: v if v in p.choices else p.default)
                    else:
                        number = prm.kind(prm.default if prm.default is not None else 0)
                        cfg[prm.name] = state.widget(
                            col.number_input, f"cfg_{prm.name}", prm.label, default=number,
                            min_value=prm.kind(prm.low) if prm.low is not None else None,
                            max_value=prm.kind(prm.high) if prm.high is not None else None,
                            step=prm.kind(prm.step) if prm.step is not None else None,
                            help=prm.help)
            cfg["fmax"] = float(cfg["fmax"]) or None  # 0 = sr/2
            st.caption(f"Each clip is padded or cropped to hop_length × (n_frames − 1) / sr = "
                       f"{cfg['hop_length'] * (cfg['n_frames'] - 1) / cfg['sr']:.3f} s of audio.")
        labels_mode = state.widget(st.radio, "label_mode", "Labels from", horizontal=True,
                                   options=list(uploads.LABEL_MODES), default="folder",
                                   format_func=uploads.LABEL_MODES.get)
        label_regex, label_csv = "", None
        if labels_mode == "regex":
            label_regex = state.widget(
                st.text_input, "label_regex", "Pattern with named groups label (and group)",
                default=r"(?P<label>\d)_(?P<group>[a-z]+)_\d+\.wav",
                help="Searched in each file name; e.g. FSDD's 3_jackson_12.wav gives label 3 "
                     "and group (speaker) jackson.")
        elif labels_mode == "csv":
            up_csv = st.file_uploader("CSV manifest with a header row path,label[,group]",
                                      type=["csv"], key="up_csv")
            label_csv = up_csv.getvalue() if up_csv is not None else None

    ready = bool(files) or src == "server" or (src == "server_file" and bool(file_rel))
    clicked = st.button("Load", type="primary", key="btn_load", disabled=not ready,
                        icon=":material/play_arrow:")
    if clicked and src == "server_file":
        slot = st.empty()
        with widgets.guard():
            bar = slot.progress(0.0, text="Reading the file...")

            def reading(done: int, total: int) -> None:
                bar.progress(done / max(total, 1), text=f"Reading the file once: {done:,} / "
                             f"{total:,} clips")

            entry, read = add_file(
                cache.store(), uploads.resolve_server_file(root, file_rel),
                stats_path=uploads.resolve_server_file(root, stats_rel) if stats_rel else None,
                added_by=added_by, source=f"server file {file_rel}", limits=limits,
                progress=reading)
            cache.pixel_stats.clear()  # the store may hold new statistics for this id
            state.open_dataset(entry.dataset_id)
            state.notice(f"Opened **{markdown(entry.name)}**: {entry.n_clips:,} clips of "
                         f"{entry.shape[0]} × {entry.shape[1]}, read from the file when needed"
                         + ("." if read else " (already in the store: not read again)."),
                         "success")
            st.rerun()
        slot.empty()  # only reached when opening failed (the error is shown above)
    elif clicked:
        slot = st.empty()
        with widgets.guard():
            uploads.check_upload_size([(u.name, u.size) for u in files], limits)
            bar = slot.progress(0.0, text="Reading...")

            def progress(done: int, total: int) -> None:
                bar.progress(done / max(total, 1), text=f"Extracting spectrograms: {done} / "
                             f"{total} clips")

            source = None
            if src == "arrays":
                new = uploads.load_array_upload(files[0].name, files[0].getvalue(),
                                                nan_policy=nan_policy, limits=limits)
            else:
                config = SpectrogramConfig(**cfg)
                kw = dict(config=config, labels=uploads.label_options(
                    labels_mode, regex=label_regex, csv=label_csv), limits=limits,
                    cache=cache.feature_cache(), progress=progress)
                if src == "zip":
                    new, source = uploads.load_zip_upload(files[0].name, files[0].getvalue(),
                                                          **kw)
                elif src == "server":
                    new, source = uploads.load_server_folder(root, server_rel, **kw)
                else:
                    new, source = uploads.load_audio_uploads(
                        [(u.name, u.getvalue()) for u in files], **kw)
            bar.progress(1.0, text="Saving to the store...")
            origin = {"folder": f"upload of a folder ({len(files)} files)",
                      "files": f"upload of {len(files)} audio files",
                      "server": f"server folder {server_rel}"}.get(
                          src, f"upload of {files[0].name}" if files else "upload")
            entry = cache.store().put(new, added_by=added_by, source=origin)
            if source is not None:
                ss["audio_sources"][entry.dataset_id] = source
            state.open_dataset(entry.dataset_id)
            state.notice(f"Loaded **{markdown(new.name)}**: {new.n_clips} clips of {new.shape[0]} × "
                         f"{new.shape[1]}, {len(new.skipped)} skipped.", "success")
            st.rerun()
        slot.empty()  # only reached when loading failed (the error is shown above)

# -- summary --------------------------------------------------------------------------------------
s = cache.summary(ds.content_hash, ds)
prov = ds.provenance
st.subheader(markdown(ds.name) + (" (synthetic)" if ds.is_synthetic
                                  and "synthetic" not in ds.name.lower() else ""))
c = st.columns(5)
c[0].metric("Clips", f"{ds.n_clips:,}")
c[1].metric("Image shape", f"{ds.shape[0]} × {ds.shape[1]}", help="mel bands × frames")
c[2].metric("Classes", len(s["classes"]) or "unlabelled")
c[3].metric("Groups", s["n_groups"] or "none", help="e.g. speakers; used for group-wise CV")
c[4].metric("Skipped files", len(ds.skipped))
c = st.columns(5)
c[0].metric("Min value", f"{s['min']:.3g}")
c[1].metric("Max value", f"{s['max']:.3g}")
scale_text = {"db": "dB", "linear": "linear"}.get(s["scale_guess"], "unknown")
c[2].metric("Scale (guess)", scale_text, help="linear = power or magnitude (>= 0, heavy-tailed); "
            "dB = negative values within ~100 dB. Guessed from the value range.")
n_nan = int(prov.get("nan_replaced", 0) or 0)
c[3].metric("NaN / Inf", n_nan, help="Refused or replaced by 0 when the data was read; "
            "the dataset itself holds none.")
durations = prov.get("durations") or {}
if durations:
    c[4].metric("Clip duration", f"{durations['median']:.2f} s",
                help=f"Median; min {durations['min']:.2f} s, max {durations['max']:.2f} s. "
                     f"Each clip was padded or cropped to {durations['window']:.2f} s "
                     f"({durations['n_padded']} padded, {durations['n_cropped']} cropped).")
else:
    c[4].metric("Clip duration", "n/a", help="Only known for audio extracted by sndiag.")
st.caption(f"Content hash `{ds.content_hash}` — the id of this dataset in links and in the store.")

grid = None if ds.streamed else cache.grid_suggestion(ds)
if grid is not None:
    with st.container(border=True):
        st.markdown(f":material/tune: **A grid that fits these clips.** {grid.reason}")
        st.caption("Same files, labels and groups; the image stays "
                   f"{grid.config.n_mels} × {grid.config.n_frames}. Command line: "
                   f"`sndiag extract ... {grid.cli_options(ds.config)}`.")
        if st.button("Re-extract with these settings", key="btn_reextract",
                     icon=":material/refresh:"):
            slot = st.empty()
            with widgets.guard():
                bar = slot.progress(0.0, text="Re-extracting...")

                def _progress(done: int, total: int) -> None:
                    bar.progress(done / max(total, 1), text=f"Re-extracting: {done} / {total}")

                source = ss["audio_sources"].get(ds.content_hash)
                new = uploads.reextract(ds, source, config=grid.config,
                                        data_root_dir=settings.data_root, limits=limits,
                                        cache=cache.feature_cache(), progress=_progress)
                entry = cache.store().put(new, added_by=added_by, source=(
                    f"re-extraction of {ds.content_hash[:12]} ({grid.cli_options(ds.config)})"))
                if source is not None:
                    ss["audio_sources"][entry.dataset_id] = source
                state.open_dataset(entry.dataset_id)
                state.notice(f"Re-extracted **{markdown(new.name)}** with "
                             f"{grid.cli_options(ds.config)}.",
                             "success")
                st.rerun()
            slot.empty()

hints = [] if ds.streamed else cache.group_hints(ds)
if hints:
    with st.container(border=True):
        pick = 0
        if len(hints) > 1:
            pick = st.selectbox("Group", options=range(len(hints)), key="group_hint",
                                format_func=lambda i: f"{hints[i].how} ({hints[i].n_groups} "
                                                      "values)")
        h = hints[pick]
        st.markdown(f":material/groups: **The file names seem to carry a group**: "
                    f"{markdown(h.how)}, {h.n_groups} values (e.g. "
                    f"{markdown(', '.join(h.examples[:3]))}). With groups, the "
                    "experiment's folds keep each group out of its own training folds, as a "
                    "model meeting new speakers or kits would be tested.")
        if st.button("Use it as the groups", key="btn_use_groups", icon=":material/check:"):
            with widgets.guard():
                entry = cache.store().put(uploads.with_groups(ds, h), added_by=added_by,
                                          source=f"groups from the names of {ds.content_hash[:12]}")
                source = ss["audio_sources"].get(ds.content_hash)
                if source is not None:
                    ss["audio_sources"][entry.dataset_id] = source
                state.open_dataset(entry.dataset_id)
                state.notice(f"Groups set from {markdown(h.how)}.", "success")
                st.rerun()

with st.expander("Train / test split" + (f": {', '.join(f'{n} {k}' for k, n in s['split'].items())}"
                                         if s.get("split") else ": none"),
                 icon=":material/call_split:"):
    if s.get("split"):
        st.markdown("The Export page fits the mask and the scaler on the **train** part only, "
                    "as your training script will; the experiment cross-validates every clip.")
    else:
        st.markdown("No split: the Export page fits on every clip. A `split` column in the "
                    "labels CSV, or `train/` and `test/` folders, give one when loading.")
        if ds.streamed:
            st.caption("This dataset stays in its file: give it a split there (a split array "
                       "in the .npz, see sndiag.io.save) and open it again.")
        elif ds.groups is not None and len(set(ds.groups.tolist())) >= 2:
            held = state.widget(st.multiselect, "holdout_groups", "Hold out these groups as the "
                                "test part", options=sorted(set(ds.groups.tolist())), default=[],
                                valid=lambda v: [g for g in (v or []) if g in set(ds.groups)])
            if st.button("Make the split", key="btn_split", disabled=not held,
                         icon=":material/call_split:"):
                with widgets.guard():
                    new = uploads.holdout_split(ds, held)
                    entry = cache.store().put(new, added_by=added_by, source=(
                        f"split of {ds.content_hash[:12]} ({', '.join(held)} held out)"))
                    state.open_dataset(entry.dataset_id)
                    state.notice(f"Split made: {markdown(', '.join(held))} held out as the "
                                 "test part.",
                                 "success")
                    st.rerun()

left, right = st.columns([1, 2])
with left:
    if s["classes"]:
        st.markdown("**Classes**")
        st.dataframe([{"class": k, "clips": v, "share": f"{100 * v / ds.n_clips:.1f}%"}
                      for k, v in s["classes"].items()], hide_index=True, key="tbl_classes",
                     height=min(38 + 35 * len(s["classes"]), 320))
    else:
        st.caption("Unlabelled: the Fisher ratio and class means need labels.")
with right:
    if ds.skipped:
        st.markdown(f"**Skipped files** ({len(ds.skipped)})")
        st.dataframe([{"file": sk.name, "reason": sk.reason} for sk in ds.skipped],
                     hide_index=True, key="tbl_skipped", height=min(38 + 35 * len(ds.skipped), 320))
    else:
        st.markdown("**Skipped files**: none")
    with st.expander("Provenance", icon=":material/info:"):
        shown = {k: v for k, v in prov.items() if k != "durations"}
        if durations:
            shown["durations"] = {k: v for k, v in durations.items() if k != "seconds"}
        st.json(shown, expanded=False)

# -- preview --------------------------------------------------------------------------------------
st.subheader("Preview a clip")
c1, c2 = st.columns([1, 3])
with c1:
    clip = state.widget(st.number_input, "clip", f"Clip (0 … {ds.n_clips - 1})", min_value=0,
                        max_value=ds.n_clips - 1, step=1,
                        valid=lambda v: min(max(int(v or 0), 0), ds.n_clips - 1))
    name = str(ds.names[clip])
    st.markdown(f"**{markdown(name)}**")
    if ds.y is not None:
        st.caption(f"label {markdown(ds.y[clip])}"
                   + (f" · group {markdown(ds.groups[clip])}" if ds.groups is not None else ""))
    log_clip = state.widget(st.toggle, "clip_log", "Log colour scale",
                            default=s["scale_guess"] == "linear")
    with widgets.guard():
        sound = uploads.clip_audio(ds, clip, ss["audio_sources"].get(ds.content_hash),
                                   data_root_dir=root, limits=limits)
        if sound is not None:
            st.audio(sound[0], sample_rate=sound[1])
        elif ds.is_synthetic:
            st.caption("No audio: the demo is generated spectrograms.")
        elif prov.get("kind") == "audio":
            st.caption("No audio here: uploads are kept only in the session that loaded them.")
        else:
            st.caption("No audio: the dataset was loaded from arrays.")
with c2, widgets.guard():
    st.plotly_chart(clip_heatmap(ds.X[clip], title=f"Clip {clip}: {html.escape(name)}",
                                 log=log_clip), key="fig_clip")

# -- store ----------------------------------------------------------------------------------------
st.subheader("Datasets in the store")
entries = cache.store().entries()
policy = identity.access().policy
st.caption("Every dataset loaded here is kept on the server by its content hash; a link with "
           "its id opens it for anyone with access to this dashboard."
           + (" You may delete the datasets you added; admins may delete any."
              if user is not None and user.verified else ""))
if entries:
    st.dataframe([{"name": e.name, "added": e.created.replace("T", " ").split("+")[0],
                   "added by": e.added_by or "—", "source": e.source or "—",
                   "clips": e.n_clips, "shape": f"{e.shape[0]} × {e.shape[1]}",
                   "classes": e.n_classes, "id": e.dataset_id[:12]}
                  for e in entries], hide_index=True, key="tbl_store",
                 height=min(38 + 35 * len(entries), 360))
    ids = [e.dataset_id for e in entries]
    by_id = {e.dataset_id: e for e in entries}
    labels = {e.dataset_id: f"{e.name} · {e.n_clips} clips · {e.dataset_id[:12]}" for e in entries}
    c1, c2, c3 = st.columns([3, 1, 1], vertical_alignment="bottom")
    pick = c1.selectbox("Dataset", options=ids, format_func=labels.get,
                        key=f"store_pick_{ds.content_hash[:12]}",
                        index=ids.index(ds.content_hash) if ds.content_hash in ids else 0)
    if c2.button("Open", key="btn_open", disabled=pick == ds.content_hash,
                 icon=":material/open_in_new:"):
        state.open_dataset(pick)
        st.rerun()
    demo_id = cache.demo_dataset().content_hash
    allowed = pick != demo_id and policy.may_delete(user, by_id[pick].added_by)
    why = ("The shipped sample stays." if pick == demo_id else None if allowed
           else f"Added by {markdown(by_id[pick].added_by or 'sndiag')}: only they or an admin "
                "may delete it.")
    with c3.popover("Delete", icon=":material/delete:", disabled=not allowed, help=why,
                    width="stretch"):
        st.markdown(f"Delete **{markdown(by_id[pick].name)}** (`{pick[:12]}`) for everyone? "
                    "Links to it stop working.")
        if st.button("Delete for everyone", key="btn_delete", type="primary"):
            with widgets.guard():
                policy.check_delete(user, by_id[pick].added_by)
                cache.delete_dataset(pick)
                if pick == ds.content_hash:
                    state.open_dataset(demo_id)
                state.notice(f"Deleted **{markdown(by_id[pick].name)}** from the store.", "success")
                st.rerun()
else:
    st.caption("The store is empty.")
bad = cache.store().quarantined()
if bad:
    st.warning(f"{len(bad)} damaged store entries were moved to the store's quarantine folder "
               "(load their data again to repair them): "
               + markdown("; ".join(f"{q.dataset_id[:12]}: {q.reason}" for q in bad[:5])),
               icon=":material/healing:")
