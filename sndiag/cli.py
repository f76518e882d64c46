"""The ``sndiag`` command line: extract, stats, demo, scale, scalers, compare.

Every command reads and writes plain files; errors on bad input are one line on stderr with a
non-zero exit code (2), never a traceback.

Examples
--------
::

    sndiag demo -o demo.npz
    sndiag extract recordings/ --label-regex '(?P<label>\\d)_(?P<group>[a-z]+)_\\d+\\.wav' -o fsdd.npz
    sndiag stats fsdd.npz --json
    sndiag extract big/ --label-regex '...' --out-dir big.parts --scheduler local:4
    sndiag stats big.parts/dataset.npz --scheduler tcp://scheduler:8786
    sndiag scale fsdd.npz --scaler std_floor --floor-percentile 25 --mask-snr 0.5 -o params.npz
"""

from __future__ import annotations

import functools
import inspect
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from sndiag.config import SpectrogramConfig, spectrogram_params
from sndiag.errors import SndiagError
from sndiag.settings import Settings
from sndiag.text import printable

app = typer.Typer(
    name="sndiag",
    help="Should I normalize my spectrograms, and how? Scaling diagnostics for audio ML.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

OutOpt = Annotated[Path, typer.Option("-o", "--output", help="Output file.")]


def _progress(description: str):
    """A rich progress bar that fits sndiag's ``progress(done, total)`` callbacks."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    bar = Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
        TimeRemainingColumn(), transient=True, disable=not sys.stderr.isatty(),
    )
    task = bar.add_task(description, total=None)

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    return bar, update


def _echo_json(payload: Any) -> None:
    # ASCII JSON: file names and labels come escaped (control characters, non-UTF-8 bytes).
    typer.echo(json.dumps(payload, indent=2, ensure_ascii=True))


def _say(text: str, *, err: bool = False) -> None:
    """Print one line; names inside it (files, labels, paths) cannot break it or forge another
    (control characters and undecodable bytes are escaped, :func:`sndiag.text.printable`)."""
    typer.echo(printable(text), err=err)


def _say_lines(text: str) -> None:
    """Print sndiag's own multi-line text (a table, a verdict), every line made printable."""
    for line in str(text).split("\n"):
        _say(line)


def _settings() -> Settings:
    """The deployment settings (environment), read once per command."""
    return Settings.from_env()


def config_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Give a command one option per :class:`SpectrogramConfig` field, and a ``config`` argument.

    Names, defaults, help and choices come from the dataclass (:func:`spectrogram_params`), so
    they are written once; the command receives ``config=SpectrogramConfig(...)``.
    """
    own = [p for name, p in inspect.signature(func, eval_str=True).parameters.items()
           if name != "config"]
    added = []
    for prm in spectrogram_params():
        kind: Any = prm.kind if prm.default is not None else prm.kind | None
        help_ = prm.help + (f" One of: {', '.join(prm.choices)}." if prm.choices else "")
        added.append(inspect.Parameter(prm.name, inspect.Parameter.KEYWORD_ONLY,
                                       default=prm.default,
                                       annotation=Annotated[kind, typer.Option(*prm.cli,
                                                                               help=help_)]))
    names = [p.name for p in added]

    @functools.wraps(func)
    def command(**kwargs: Any) -> Any:
        config = SpectrogramConfig(**{k: kwargs.pop(k) for k in names})
        return func(config=config, **kwargs)

    command.__signature__ = inspect.Signature([*own, *added])  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in [*own, *added]}
    return command


def _mask_spec(mask: str | None, mask_snr: float | None, mask_percentile: float | None,
               mask_rows: str | None) -> Any:
    """One :class:`~sndiag.masks.MaskSpec` from ``--mask`` text and the shorthand options."""
    from sndiag.masks import MaskSpec, parse_rows

    spec = MaskSpec.parse(mask or "none")
    if mask_snr is not None and mask_percentile is not None:
        raise SndiagError("give --mask-snr or --mask-percentile, not both (one SNR rule per mask)")
    if mask_snr is not None:
        spec = spec.replace(mode="abs", threshold=mask_snr)
    if mask_percentile is not None:
        spec = spec.replace(mode="pct", percentile=mask_percentile)
    if mask_rows:
        spec = spec.replace(rows=(*spec.rows, *parse_rows(mask_rows)))
    return spec


def _load(path: Path, settings: Settings) -> Any:
    from sndiag.io.arrays import load_arrays

    return load_arrays(path, limits=settings.limits)


SchedulerOpt = Annotated[str | None, typer.Option(
    help="Where to run: none (in-process, default), local or local:N (a local Dask cluster of N "
         "processes), or a Dask scheduler address like tcp://host:8786. Needs "
         "pip install 'sndiag\\[dask]'.")]


@app.command()
@config_options
def extract(
    src: Annotated[list[Path], typer.Argument(help="Audio files, folders or .zip archives.")],
    output: Annotated[Path | None, typer.Option(
        "-o", "--output", help="Output dataset (.npz).")] = None,
    label_regex: Annotated[str | None, typer.Option(
        help="Regex on file names with named groups 'label' and optional 'group'.")] = None,
    labels_csv: Annotated[Path | None, typer.Option(help="CSV manifest path,label[,group].")] = None,
    no_labels: Annotated[bool, typer.Option(
        "--no-labels", help="Do not take labels from folder names.")] = False,
    cache: Annotated[Path | None, typer.Option(help="Feature cache folder.")] = None,
    jobs: Annotated[int, typer.Option(help="Parallel decoding threads.")] = 2,
    out_dir: Annotated[Path | None, typer.Option(
        help="Extract out of core: write chunks + manifest.json to this folder as they finish "
             "(resumable), then assemble -o (default DIR/dataset.npz). With --scheduler and "
             "no --out-dir: OUT.npz.parts.")] = None,
    chunk_files: Annotated[int, typer.Option(
        help="Files per chunk with --out-dir/--scheduler (unit of output and of resuming).")]
        = 256,
    resume: Annotated[bool, typer.Option(
        help="Reuse finished chunks of an interrupted run in --out-dir (same inputs and "
             "settings); --no-resume starts over.")] = True,
    scheduler: SchedulerOpt = None,
    *,
    config: SpectrogramConfig,
) -> None:
    """Turn audio clips into an (N, n_mels, n_frames) dataset (.npz)."""
    from sndiag.io.feature_cache import DiskCache

    settings = _settings()
    for p in src:
        if not p.exists():
            raise SndiagError(f"{p} does not exist; give audio files, a folder or a .zip")
    if output is None and out_dir is None:
        raise SndiagError("give the output: -o OUT.npz, or --out-dir DIR for a chunked, "
                          "resumable extraction (or both)")
    if out_dir is not None or scheduler is not None:
        _extract_chunked(src, output, out_dir or Path(f"{output}.parts"), config=config,
                         label_regex=label_regex, labels_csv=labels_csv, no_labels=no_labels,
                         cache=cache, jobs=jobs, chunk_files=chunk_files, resume=resume,
                         scheduler=scheduler, settings=settings)
        return
    assert output is not None
    from sndiag.io.arrays import save
    from sndiag.io.clips import from_files, from_folder, from_zip

    kw: dict[str, Any] = dict(config=config, label_regex=label_regex, labels_csv=labels_csv,
                              cache=DiskCache(cache) if cache else None, limits=settings.limits,
                              n_jobs=jobs)
    if no_labels:
        kw["labels"] = "none"
    bar, update = _progress("extracting")
    with bar:
        if len(src) == 1 and src[0].is_dir():
            ds = from_folder(src[0], progress=update, **kw)
        elif len(src) == 1 and src[0].suffix.lower() == ".zip":
            ds = from_zip(src[0], progress=update, **kw)
        else:
            ds = from_files([str(p) for p in src], progress=update, **kw)
    save(ds, output)
    _echo_skipped(ds.skipped, len(ds.skipped))
    n_groups = 0 if ds.groups is None else len(np.unique(ds.groups))
    _say(f"wrote {output}: X {ds.X.shape}, {len(ds.classes)} labels, {n_groups} groups, "
               f"{len(ds.skipped)} skipped, hash {ds.content_hash[:12]}")
    _echo_advice(ds.provenance, ds.names, ds.y, ds.groups, label_regex)


def _echo_advice(provenance: Any, names: Any, y: Any, groups: Any,
                 label_regex: str | None) -> None:
    """After an extraction: a grid that fits the clips, and a group the names seem to carry."""
    from sndiag.diagnostics import suggest_from_provenance
    from sndiag.io.labels import suggest_groups

    grid = suggest_from_provenance(provenance)
    if grid is not None:
        base = SpectrogramConfig.from_dict(provenance["config"])
        typer.echo(f"advice: {grid.reason} Extract again with: {grid.cli_options(base)}")
    if groups is None and names is not None:
        hints = suggest_groups([str(n) for n in names], None if y is None else list(y))
        if hints:
            h = hints[0]
            how = ("add (?P<group>...) for it to your --label-regex" if label_regex
                   else f"add --label-regex '{h.pattern}' (labels stay the folder names)"
                   if h.pattern else "give a labels CSV with a group column")
            typer.echo(f"hint: {h.how} looks like a group ({h.n_groups} values, e.g. "
                       f"{', '.join(h.examples[:3])}); group-wise folds need one: {how}")


def _echo_skipped(skipped: Any, total: int) -> None:
    for s in list(skipped)[:20]:
        _say(f"skipped {s.name}: {s.reason}", err=True)
    if total > 20:
        _say(f"... and {total - 20} more skipped", err=True)


def _extract_chunked(src: list[Path], output: Path | None, out_dir: Path, *, config: Any,
                     label_regex: str | None, labels_csv: Path | None, no_labels: bool,
                     cache: Path | None, jobs: int, chunk_files: int, resume: bool,
                     scheduler: str | None, settings: Settings) -> None:
    """``extract --out-dir``: chunks written as they finish, resumable, then one .npz."""
    from sndiag.distributed import extract_chunked

    source: Any = src[0] if len(src) == 1 else [str(p) for p in src]
    bar, update = _progress("extracting")
    try:
        with bar:
            res = extract_chunked(source, out_dir, config=config, label_regex=label_regex,
                                  labels_csv=labels_csv, labels="none" if no_labels else "folder",
                                  cache=cache, limits=settings.limits, n_jobs=jobs,
                                  chunk_files=chunk_files, scheduler=scheduler, resume=resume,
                                  output=output, progress=update)
    except KeyboardInterrupt:
        _say(f"finished chunks are kept in {out_dir}; run the same command again to "
                   "resume", err=True)
        raise
    _echo_skipped(res.skipped, res.n_skipped)
    _say(f"wrote {res.dataset_path}: X ({res.n_clips}, {config.n_mels}, {config.n_frames}), "
               f"{res.n_classes} labels, {res.n_groups} groups, {res.n_skipped} skipped, "
               f"hash {res.content_hash[:12]}; {res.n_chunks} chunks in {out_dir} "
               f"({res.n_reused} reused, {res.n_computed} computed)")
    from sndiag.io.streaming import open_array_file

    af = open_array_file(res.dataset_path)
    _echo_advice(af.provenance, af.names, af.y, af.groups, label_regex)


@app.command()
def stats(
    input: Annotated[Path, typer.Argument(help="Dataset .npz/.npy.")],
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write PixelStats .npz.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
    csv: Annotated[Path | None, typer.Option(help="Write per-pixel statistics as CSV.")] = None,
    chunk_size: Annotated[int, typer.Option(help="Clips per streaming chunk.")] = 512,
    sample_size: Annotated[int, typer.Option(
        help="Clips sampled for the quantiles (median, IQR, MAD); exact when >= the number of "
             "clips; 0 skips them.")] = 2000,
    scheduler: SchedulerOpt = None,
) -> None:
    """Per-pixel and per-row scaling statistics (mean, std, SNR, quantiles, Fisher).

    The file is streamed chunk by chunk (memory: one chunk plus the quantile sample), never
    loaded whole; an uncompressed .npz (what sndiag writes) is read in place like a .npy.
    """
    from sndiag.distributed import stats_file

    bar, update = _progress("statistics")
    with bar:
        res = stats_file(input, scheduler=scheduler, chunk_size=chunk_size,
                         sample_size=sample_size, progress=update)
    st = res.stats
    if output:
        st.to_npz(output)
    if csv:
        from sndiag.io.atomic import atomic_write

        atomic_write(csv, st.to_csv())
    from sndiag.diagnostics import diagnose_dataset

    diagnostics = diagnose_dataset(st, res.file.provenance)
    if as_json:
        _echo_json({"dataset": res.summary(), **st.to_json_summary(),
                    "diagnostics": [d.to_dict() for d in diagnostics]})
        return
    s = st.to_json_summary()
    row_snr = np.asarray(s["row_snr"])
    _say(f"{res.file.name}: n={st.n}, shape={st.shape}, values {s['global_min']:.4g}.."
               f"{s['global_max']:.4g}")
    _say(f"pixel mean {st.mean.min():.4g}..{st.mean.max():.4g}, "
               f"pixel std {st.std.min():.4g}..{st.std.max():.4g}, "
               f"zero-std pixels {int(st.zero_std.sum())}")
    from sndiag.masks import format_ranges, lowest_snr_rows

    low = lowest_snr_rows(row_snr)
    _say(f"lowest-SNR rows: {format_ranges(low)} (|SNR| <= {np.abs(row_snr[low]).max():.2g}; "
               f"median row {np.median(np.abs(row_snr)):.2g})")
    if st.has_quantiles and not st.quantiles_exact:
        _say(f"quantiles from a sample of {st.n_quantile_clips} of {st.n} clips "
                   "(--sample-size for more)")
    for d in diagnostics:
        typer.echo(f"{d.kind}: {d.reason}")


@app.command()
def demo(output: OutOpt, seed: Annotated[int, typer.Option(help="Random seed.")] = 0) -> None:
    """Write the built-in synthetic demo dataset."""
    from sndiag.demo import make_demo
    from sndiag.io.arrays import save

    ds = make_demo(seed=seed)
    save(ds, output)
    _say(f"wrote {output}: synthetic demo, X {ds.X.shape}, {len(ds.classes)} classes")


@app.command()
def scalers() -> None:
    """List the scaler names, what each does, and how to chain them."""
    from sndiag.scalers import SCALERS

    width = max(map(len, SCALERS))
    for name, info in SCALERS.items():
        _say(f"{name:<{width}}  {info.description}")
    stateless = ", ".join(n for n, i in SCALERS.items() if i.stateless and n != "none")
    _say("")
    _say(f"Chain with '+': stateless steps ({stateless}) first, then at most one fitted "
               "scaler, e.g. db+band, log1p+standard, pcen+global.")


MaskOpt = Annotated[str | None, typer.Option(
    "--mask", help="Mask as text: snr<X or pP, rows:0-4,17, auto (empty bands), joined by '+', "
                   "e.g. 'p10+rows:43-59'.")]


@app.command()
def scale(
    input: Annotated[Path, typer.Argument(help="Training dataset .npz/.npy.")],
    output: OutOpt,
    scaler: Annotated[str, typer.Option(help="Scaler name (see `sndiag scalers`); a+b composes.")],
    std_floor: Annotated[float | None, typer.Option(help="Absolute std floor (std_floor).")] = None,
    floor_percentile: Annotated[float | None, typer.Option(
        help="Std floor as a percentile of the std map (std_floor).")] = None,
    mask: MaskOpt = None,
    mask_snr: Annotated[float | None, typer.Option(help="Mask rows with SNR below this.")] = None,
    mask_percentile: Annotated[float | None, typer.Option(
        help="Mask rows with SNR below this percentile.")] = None,
    mask_rows: Annotated[str | None, typer.Option(help="Rows to mask, e.g. '0-4,17'.")] = None,
) -> None:
    """Fit a scaler (and optional mask) on a training set; write its parameters (.npz or .json)."""
    from sndiag.export import fit_and_export

    params: dict[str, Any] = {}
    if std_floor is not None:
        params["floor"] = std_floor
    if floor_percentile is not None:
        params["floor_percentile"] = floor_percentile
    spec = _mask_spec(mask, mask_snr, mask_percentile, mask_rows)
    ds = _load(input, _settings())
    result = fit_and_export(ds, scaler=scaler, scaler_params=params, mask=spec, path=output)
    _say(f"wrote {output}: {result}")


@app.command()
def compare(
    input: Annotated[Path, typer.Argument(help="Labelled dataset .npz/.npy.")],
    scalers: Annotated[str | None, typer.Option(
        help="Comma-separated scalers and chains, e.g. 'none,standard,db+band' (default: the "
             "full search, compression {none,db,log1p,pcen} x scaling {none,standard,std_floor,"
             "band,global,robust,median,minmax}); 'none' is always added as the baseline. With "
             "--classifier cnn also batchnorm (the raw data into a BatchNorm first layer) or "
             "db+batchnorm.")] = None,
    mask: Annotated[list[str] | None, typer.Option(
        "--mask", help="Also run every scaler with this mask (repeatable): snr<X or pP, "
                       "rows:0-4,17, auto, joined by '+', e.g. 'p10+rows:43-59'. Default: auto "
                       "(the auto-flagged rows; left out when it flags none).")] = None,
    mask_snr: Annotated[float | None, typer.Option(
        help="Also run every scaler with rows of SNR below this masked.")] = None,
    mask_percentile: Annotated[float | None, typer.Option(
        help="Also run every scaler with the lowest P% SNR rows masked.")] = None,
    folds: Annotated[int | None, typer.Option(
        help="Outer folds (default: one per group with up to 10 groups, else 5; cnn: the first "
             "of those splits only).")] = None,
    classifier: Annotated[str, typer.Option(
        help="ridge (closed form, default), logreg (to convergence; slow on raw power), mlp "
             "(per-epoch curves) or cnn (a small CNN, PyTorch: pip install 'sndiag\\[cnn]'; by "
             "default raw, standard, the ridge search's pick and a BatchNorm first layer on one "
             "group split, a few minutes on 3000 clips).")] = "ridge",
    epochs: Annotated[int | None, typer.Option(
        help="Training epochs: mlp 20, cnn at most 15 (it stops early).")] = None,
    ignore_groups: Annotated[bool, typer.Option(
        "--ignore-groups", help="Ignore clip groups (e.g. speakers): folds are then NOT "
                                "group-independent.")] = False,
    jobs: Annotated[int, typer.Option(help="Parallel fits (processes; without --scheduler).")]
        = 2,
    seed: Annotated[int, typer.Option(help="Random seed of splits and classifiers.")] = 0,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the result as JSON.")]
        = None,
    scheduler: SchedulerOpt = None,
    shared_dir: Annotated[Path | None, typer.Option(
        help="With --scheduler: a folder this machine and every Dask worker see at the same "
             "path; the clips are written there once for the workers, then deleted (default: "
             "SNDIAG_SHARED_DIR, else the temporary folder for local, the dataset's folder for "
             "a remote scheduler).")] = None,
) -> None:
    """Which compression, scaling and mask? Search them against the raw data, and recommend one."""
    from sndiag.experiment import DEFAULT_MASKS, format_table, run_experiment
    from sndiag.masks import MaskSpec

    masks = [MaskSpec.parse(m) for m in (mask if mask is not None else DEFAULT_MASKS)]
    if mask_snr is not None:
        masks.append(MaskSpec(mode="abs", threshold=mask_snr))
    if mask_percentile is not None:
        masks.append(MaskSpec(mode="pct", percentile=mask_percentile))
    names = None if scalers is None else [s for s in scalers.split(",") if s.strip()]
    settings = _settings()
    executor = _executor(scheduler, shared_dir or settings.shared_dir, input)
    ds = _load(input, settings)
    bar, update = _progress("training (epochs)" if classifier == "cnn" else "fitting")
    with bar:
        result = run_experiment(ds, scalers=names, masks=masks,
                                classifier=classifier,  # type: ignore[arg-type]
                                folds=folds, epochs=epochs, n_jobs=jobs, random_state=seed,
                                groups="none" if ignore_groups else "auto", progress=update,
                                executor=executor)
    if json_out is not None:
        from sndiag.io.atomic import atomic_write

        atomic_write(json_out, json.dumps(result.to_dict(), indent=2))
    _say(f"{ds.name}: {ds.n_clips} clips, {result.splitter}, {result.classifier}"
         + (f" on {result.device}" if result.device else "")
         + (f", fits on {result.search.get('runs_on')}" if executor is not None else "")
         + f", {result.seconds:.1f} s")
    _say_lines(format_table(result))
    for note in result.notes:
        _say(f"note: {note}")
    for c in result.configurations:
        for note in c.notes:
            if c.stage == "final" and not note.startswith(("the same model as", "not above")):
                _say(f"note: {c.label}: {note}")
    _say("")
    _say_lines(result.verdict)
    rec = result.recommended
    if rec is not None:
        _say("")
        mask_opt = "" if rec["mask"] == "none" else f" --mask '{rec['mask']}'"
        steps = rec["scaler"].split("+")
        if steps[-1] == "batchnorm":
            _say("use it: put a BatchNorm layer first in the network"
                 + (f", after {'+'.join(steps[:-1])}" if len(steps) > 1 else
                    ", on the raw input") + "; there is no scaler to export")
        else:
            _say(f"export it: sndiag scale {input} --scaler {rec['scaler']}{mask_opt} "
                 "-o params.npz")
    if json_out is not None:
        _say(f"wrote {json_out}")


def _executor(scheduler: str | None, shared_dir: Path | None, data: Path) -> Any:
    """The Dask executor of ``compare --scheduler`` (None in-process); without a shared folder,
    a remote cluster uses the dataset's own folder (which its workers must see anyway)."""
    from sndiag.distributed import parse_scheduler

    spec = parse_scheduler(scheduler)
    if spec.in_process:
        return None
    from sndiag.distributed import DaskExecutor

    if shared_dir is None and spec.kind != "local":
        shared_dir = data.absolute().parent
    return DaskExecutor(scheduler, shared_dir=shared_dir)


def main() -> None:
    """Entry point: typer reports usage errors itself; sndiag errors become one line, exit 2."""
    try:
        app()
    except SndiagError as exc:
        _say(f"error: {exc}", err=True)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        _say("interrupted", err=True)
        raise SystemExit(130) from None
    except OSError as exc:
        _say(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), err=True)
        raise SystemExit(2) from None
    except Exception as exc:  # noqa: BLE001 - last line of defence: one line, never a traceback
        _say(f"error: unexpected {type(exc).__name__}: {exc} (please report this)", err=True)
        raise SystemExit(1) from None


if __name__ == "__main__":  # pragma: no cover
    main()
