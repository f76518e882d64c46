"""Audio to spectrograms in chunks of files: incremental output, resumable, on any scheduler.

:func:`extract_chunked` is :func:`sndiag.io.from_folder` / :func:`~sndiag.io.from_files`
for data that does not fit in memory or takes hours:

1. The files are listed and labelled once, in the calling process, with the same rules as the
   in-memory functions (folder, ``label_regex`` or ``labels_csv``).
2. They are cut into chunks of ``chunk_files`` files. Each chunk is decoded and turned into
   spectrograms by :func:`~sndiag.io.from_files` -- in this process, or on a Dask worker that
   reads the same paths -- and written as ``chunks/NNNNNN.npz`` in ``out_dir`` (atomically).
3. After every chunk, ``manifest.json`` records which chunks are done (written atomically). The
   list of files, labels and the settings are in ``plan.json``; their fingerprint (file names,
   sizes, modification times, config, label options, chunk size) is in the manifest.
4. When every chunk is done, the chunks are streamed into one dataset ``.npz`` (the file
   :func:`sndiag.io.save` writes), one chunk in memory at a time. Its size and SHA-256 go into
   the manifest; a later run reuses it only if both still match (a truncated or altered file is
   assembled again).

Running the same call again after an interruption (Ctrl-C, a killed job, a lost worker) finds
the manifest, checks the fingerprint and computes only the chunks that are not done. Memory in
the calling process: one chunk of images, the list of files and labels.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sndiag.config import Limits, SpectrogramConfig
from sndiag.dataset import Dataset, Skipped, hash_labels
from sndiag.distributed.client import dask_client, parse_scheduler
from sndiag.errors import DataError, LimitError, ParameterError
from sndiag.io.arrays import now
from sndiag.io.atomic import atomic_write
from sndiag.io.clips import durations, from_files, scan_folder
from sndiag.io.feature_cache import DiskCache, FeatureCache
from sndiag.io.labels import Item, assign_labels
from sndiag.io.streaming import write_npz_chunks
from sndiag.memory import check_images_fit, check_window
from sndiag.spectrogram import DEFAULT_BATCH_SIZE

__all__ = ["ChunkedExtraction", "extract_chunked"]

MANIFEST = "manifest.json"
PLAN = "plan.json"
CHUNKS = "chunks"
#: Default output dataset name inside ``out_dir``.
DATASET = "dataset.npz"
_SCHEMA = 1
Progress = Callable[[int, int], Any]


@dataclass(frozen=True)
class ChunkedExtraction:
    """The outcome of :func:`extract_chunked`.

    Attributes
    ----------
    out_dir : Path
        Chunks, ``manifest.json`` and ``plan.json``.
    dataset_path : Path
        The assembled dataset ``.npz`` (read it with :func:`sndiag.io.load`).
    n_files : int
        Audio files given (after labelling).
    n_clips : int
        Clips in the dataset.
    n_skipped : int
        Files that could not be used (listed in the dataset's ``skipped``).
    n_chunks : int
        Chunks in all.
    n_reused : int
        Chunks found done by an earlier run and not computed again.
    n_computed : int
        Chunks computed by this call.
    content_hash : str
        :attr:`sndiag.dataset.Dataset.content_hash` of the assembled dataset.
    n_classes, n_groups : int
        Distinct labels and groups among the clips (0 when unlabelled / without groups).
    skipped : tuple of Skipped
        The first 100 skipped files with their reasons (all are in the dataset).
    """

    out_dir: Path
    dataset_path: Path
    n_files: int
    n_clips: int
    n_skipped: int
    n_chunks: int
    n_reused: int
    n_computed: int
    content_hash: str
    n_classes: int = 0
    n_groups: int = 0
    skipped: tuple[Skipped, ...] = ()

    def load(self) -> Dataset:
        """The assembled dataset, in memory."""
        from sndiag.io.arrays import load_arrays

        return load_arrays(self.dataset_path)


# -- planning: the same discovery and labelling as sndiag.io.clips -------------------------------
@dataclass
class _Plan:
    source: str
    root: str
    names: list[str]
    paths: list[str]
    y: list[str] | None
    groups: list[str] | None
    how: str
    skipped: list[Skipped]
    n_found: int
    split: list[str] | None = None


def _discover(src: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
              root: str | os.PathLike[str] | None) -> tuple[str, str, list[Any], list[Skipped]]:
    """(source, root, items, skipped) as :func:`from_folder` / :func:`from_files` find them."""
    if isinstance(src, str | os.PathLike):
        path = Path(src)
        if path.is_dir():
            if root is not None:
                raise ParameterError("root= applies to a list of files, not to a folder")
            folder = os.path.abspath(path)
            items, skipped = scan_folder(folder)
            return os.fspath(src), folder, items, skipped
        if path.suffix.lower() == ".zip":
            raise ParameterError(f"{path.name}: chunked extraction reads folders and files, not "
                                 "zip archives; unzip it first (or drop --out-dir/--scheduler to "
                                 "read it in memory)")
        src = [path]
    paths = [os.path.abspath(os.fspath(p)) for p in src]
    if not paths:
        raise DataError("no audio files given; pass at least one path")
    for p in paths:
        if not os.path.isfile(p):
            raise ParameterError(f"{p} does not exist or is not a file; give audio files or a "
                                 "folder")
    base = (os.path.abspath(os.fspath(root)) if root is not None
            else os.path.commonpath([os.path.dirname(p) for p in paths]))
    items = []
    for p in paths:
        rel = os.path.relpath(p, base)
        if rel == ".." or rel.startswith(".." + os.sep):
            raise ParameterError(f"{p} is not inside root={base!r}; give a root that contains "
                                 "every file")
        items.append(Item(Path(rel).as_posix(), p))
    return base, base, items, []


def _plan(src: Any, *, root: Any, labels: str, label_regex: str | None,
          labels_csv: str | os.PathLike[str] | None, limits: Limits) -> _Plan:
    source, base, items, skipped = _discover(src, root)
    if len(items) > limits.max_clips:
        raise LimitError(f"{len(items)} audio files exceed the limit of {limits.max_clips} clips; "
                         "split the data or raise SNDIAG_MAX_CLIPS")
    lab = assign_labels(items, labels=labels, label_regex=label_regex, labels_csv=labels_csv,
                        limits=limits)
    return _Plan(source=source, root=base, names=[it.name for it in lab.items],
                 paths=[os.fspath(it.source) for it in lab.items], y=lab.y, groups=lab.groups,
                 how=lab.how, skipped=[*skipped, *lab.skipped],
                 n_found=len(items) + len(skipped), split=lab.split)


def _fingerprint(plan: _Plan, config: SpectrogramConfig, options: dict[str, Any]) -> str:
    """Hash of everything a chunk's content depends on: files (size, mtime), config, options."""
    h = hashlib.sha256()
    h.update(json.dumps({"config": config.to_dict(), "options": options, "how": plan.how,
                         "root": plan.root}, sort_keys=True).encode())
    for name, path in zip(plan.names, plan.paths, strict=True):
        try:
            st = os.stat(path)
            h.update(f"{name}\x1f{st.st_size}\x1f{st.st_mtime_ns}\x1e".encode())
        except OSError:
            h.update(f"{name}\x1f?\x1e".encode())
    for label in (plan.y or []):
        h.update(f"{label}\x1f".encode())
    for group in (plan.groups or []):
        h.update(f"{group}\x1f".encode())
    for part in (plan.split or []):
        h.update(f"{part}\x1e".encode())
    return h.hexdigest()


# -- files written atomically -------------------------------------------------------------------
def _write_json(path: Path, payload: Any) -> None:
    atomic_write(path, json.dumps(payload))


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_chunk(path: Path, result: dict[str, np.ndarray]) -> None:
    atomic_write(path, lambda fh: np.savez(fh, **result))


def _read_chunk(path: Path, n_files: int, *, images: bool = False) -> dict[str, np.ndarray] | None:
    """A chunk file's per-file arrays (and ``X`` when ``images``); None when missing or damaged."""
    keys = ("ok", "seconds", "reasons", "X") if images else ("ok", "seconds", "reasons")
    try:
        with np.load(path, allow_pickle=False) as z:
            out = {k: z[k] for k in keys}
            # the files' own sample rates (chunks written before they were recorded: unknown)
            out["rates"] = z["rates"] if "rates" in z.files else np.full(n_files, np.nan)
    except Exception:  # noqa: BLE001 - OSError, ValueError, KeyError, BadZipFile, zlib.error...
        return None
    if out["ok"].shape != (n_files,) or (images and out["X"].shape[0] != int(out["ok"].sum())):
        return None
    return out


def _damaged(out: Path, state: dict[str, Any], i: int, path: Path) -> DataError:
    """Forget a damaged chunk (so the next run computes it again) and say so."""
    path.unlink(missing_ok=True)
    state["done"] = [j for j in state["done"] if j != i]
    state["complete"] = False
    _write_json(out / MANIFEST, state)
    return DataError(f"{path} was missing or damaged and is now forgotten; run the same command "
                     "again to compute that chunk anew")


def _file_digest(path: Path) -> tuple[int, str]:
    """(size, SHA-256) of a file, read 1 MB at a time."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
            size += len(block)
    return size, h.hexdigest()


def _intact(path: Path, recorded: dict[str, Any]) -> bool:
    """Whether the assembled dataset is the file the manifest recorded (size, then SHA-256):
    a truncated or altered ``dataset.npz`` is assembled again rather than reported as reused."""
    try:
        if path.stat().st_size != recorded.get("size"):
            return False
        return _file_digest(path)[1] == recorded.get("sha256")
    except OSError:
        return False


# -- one chunk (runs in this process or on a worker) ------------------------------------------
_NO_CLIP = re.compile(r"^no clip could be used \(\d+ skipped\): ")


def _extract_chunk(paths: list[str], names: list[str], root: str, config: SpectrogramConfig,
                   cache: FeatureCache | None, limits: Limits, n_jobs: int, batch_size: int,
                   progress: Progress | None = None) -> dict[str, np.ndarray]:
    """Spectrograms of one chunk of files with :func:`sndiag.io.from_files`.

    Returns ``X`` (the usable clips, in order), and per file ``ok``, ``seconds`` and ``rates``
    (the file's own sample rate; NaN when skipped or unknown) and ``reasons`` ("" when used).
    """
    missing = [p for p in paths[:1] if not os.path.exists(p)]
    if missing:
        import socket

        raise DataError(f"{missing[0]} is not visible on {socket.gethostname()}; every Dask "
                        "worker must reach the audio files at the same path (a shared file "
                        "system or a mounted bucket)")
    k = len(paths)
    ok = np.zeros(k, dtype=bool)
    seconds = np.full(k, np.nan)
    rates = np.full(k, np.nan)
    reasons = np.array([""] * k, dtype=object)
    try:
        ds = from_files(paths, root=root, config=config, labels="none", cache=cache,
                        limits=limits, progress=progress, n_jobs=n_jobs, batch_size=batch_size)
    except DataError as exc:
        if not _NO_CLIP.match(str(exc)):
            raise
        # Every file failed: ask each on its own for its reason.
        for i, path in enumerate(paths):
            try:
                from_files([path], root=root, config=config, labels="none", cache=cache,
                           limits=limits, n_jobs=1)
            except DataError as one:
                text = _NO_CLIP.sub("", str(one))
                reasons[i] = text[len(names[i]) + 2:] if text.startswith(f"{names[i]}: ") else text
        X = np.zeros((0, *config.shape), dtype=np.float32)
    else:
        where = {name: i for i, name in enumerate(names)}
        kept = [where[str(name)] for name in ds.names]
        ok[kept] = True
        durations = ds.provenance.get("durations") or {}
        seconds[kept] = durations.get("seconds", [np.nan] * len(kept))
        rates[kept] = [np.nan if r is None else r
                       for r in durations.get("rates", [None] * len(kept))]
        for s in ds.skipped:
            if s.name in where:
                reasons[where[s.name]] = s.reason
        X = ds.X
    return {"X": X, "ok": ok, "seconds": seconds, "rates": rates, "reasons": reasons.astype(str)}


# -- the driver -------------------------------------------------------------------------------
def _check_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ParameterError(f"{name}={value!r} must be a positive integer")
    return int(value)


def extract_chunked(src: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
                    out_dir: str | os.PathLike[str], *,
                    config: SpectrogramConfig = SpectrogramConfig(),  # noqa: B008 - frozen
                    labels: str = "folder", label_regex: str | None = None,
                    labels_csv: str | os.PathLike[str] | None = None,
                    root: str | os.PathLike[str] | None = None,
                    cache: FeatureCache | str | os.PathLike[str] | None = None,
                    limits: Limits = Limits(),  # noqa: B008 - frozen
                    n_jobs: int = 2, batch_size: int = DEFAULT_BATCH_SIZE,
                    chunk_files: int = 256, scheduler: Any = None, resume: bool = True,
                    output: str | os.PathLike[str] | None = None,
                    progress: Progress | None = None,
                    on_chunk: Callable[[int, int], Any] | None = None) -> ChunkedExtraction:
    """Spectrograms of many audio files, written chunk by chunk to ``out_dir``; resumable.

    Parameters
    ----------
    src : folder, file, or sequence of files
        As :func:`sndiag.io.from_folder` (a folder, recursive) or
        :func:`~sndiag.io.from_files` (files); zip archives are not supported here.
    out_dir : str or Path
        Folder for the chunks, ``manifest.json`` and ``plan.json`` (created if missing).
    config, labels, label_regex, labels_csv, root, limits, batch_size
        As :func:`sndiag.io.from_files`; labels are assigned once over all files.
    cache : FeatureCache, folder path or None
        Spectrogram cache; with a scheduler give a folder (a :class:`DiskCache`) the workers
        share.
    n_jobs : int
        Decoding threads per chunk in-process; each Dask task uses one (a worker per core).
    chunk_files : int
        Files per chunk: the unit of work, of output and of resumption (memory: one chunk of
        images, ~8 MB per 256 clips of 60 x 130). A multiple of ``batch_size`` (64) gives
        spectrograms bit-identical to the in-memory functions, batch for batch.
    scheduler : None, str or distributed.Client
        ``None``/``"none"`` (in-process), ``"local[:N]"``, ``"tcp://host:8786"`` or a client;
        see :func:`sndiag.distributed.parse_scheduler`. Workers must reach the files, and the
        cache folder, at the same paths; the chunks are written by this process.
    resume : bool
        Reuse the chunks of an earlier run whose manifest has the same fingerprint (same files,
        sizes, modification times, config, labels and chunk size). False deletes them and starts
        over. With ``resume=True``, a manifest of *other* inputs raises :class:`ParameterError`.
    output : str or Path, optional
        The assembled dataset ``.npz``; default ``out_dir / "dataset.npz"``.
    progress : callable(done, total), optional
        Files done so far (within a chunk too, in-process).
    on_chunk : callable(done_chunks, n_chunks), optional
        Called after each chunk is written and recorded (a hook for tests and logs; an exception
        raised here stops the run like an interruption, leaving a resumable state).

    Returns
    -------
    ChunkedExtraction

    Raises
    ------
    DataError
        No audio files, or none could be used.
    ParameterError
        Bad options, Dask missing, or ``out_dir`` holds another extraction.

    Examples
    --------
    >>> import tempfile, soundfile as sf
    >>> src = Path(tempfile.mkdtemp())
    >>> for label in ("yes", "no"):
    ...     (src / label).mkdir()
    ...     for i in range(3):
    ...         sf.write(src / label / f"{i}.wav", np.zeros(4000), 8000)
    >>> out = Path(tempfile.mkdtemp())
    >>> res = extract_chunked(src, out, config=SpectrogramConfig(sr=8000), chunk_files=2)
    >>> res.n_clips, res.n_chunks, res.n_computed, sorted(p.name for p in out.iterdir())
    (6, 3, 3, ['chunks', 'dataset.npz', 'manifest.json', 'plan.json'])
    >>> extract_chunked(src, out, config=SpectrogramConfig(sr=8000), chunk_files=2).n_reused
    3
    """
    if not isinstance(config, SpectrogramConfig):
        raise ParameterError(f"config={config!r} must be a SpectrogramConfig")
    chunk_files = _check_int(chunk_files, "chunk_files")
    batch_size = _check_int(batch_size, "batch_size")
    n_jobs = _check_int(n_jobs, "n_jobs")
    spec = parse_scheduler(scheduler)
    if isinstance(cache, str | os.PathLike):
        cache = DiskCache(cache)
    if not spec.in_process and cache is not None and not isinstance(cache, DiskCache):
        raise ParameterError("with a scheduler the cache must be a folder (DiskCache) that the "
                             "workers share; an in-memory cache cannot travel to them")
    check_window(config)
    plan = _plan(src, root=root, labels=labels, label_regex=label_regex, labels_csv=labels_csv,
                 limits=limits)
    check_images_fit(min(chunk_files, max(1, len(plan.names))), config.shape, limits,
                     where=f"a chunk of {chunk_files} files", streaming_hint="lower --chunk-files")
    options = {"labels": labels, "label_regex": label_regex,
               "labels_csv": None if labels_csv is None else os.fspath(labels_csv),
               "chunk_files": chunk_files, "batch_size": batch_size}
    fingerprint = _fingerprint(plan, config, options)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / CHUNKS).mkdir(exist_ok=True)
    final = Path(output) if output is not None else out / DATASET
    for stale in [*(out / CHUNKS).glob(".*.tmp"), *out.glob(".*.tmp"),
                  *final.parent.glob(f".{final.name}.*.tmp")]:
        stale.unlink(missing_ok=True)  # left by a killed run (sndiag.io.atomic's temp names)
    n = len(plan.names)
    bounds = [(s, min(n, s + chunk_files)) for s in range(0, n, chunk_files)]
    files = [out / CHUNKS / f"{i:06d}.npz" for i in range(len(bounds))]
    manifest = _read_json(out / MANIFEST) if (out / MANIFEST).exists() else None
    done: set[int] = set()
    if manifest is not None and resume:
        if not isinstance(manifest, dict) or manifest.get("fingerprint") != fingerprint:
            raise ParameterError(
                f"{out} holds an extraction of other files or settings (its manifest does not "
                "match these inputs, config, labels and chunk size); give another output folder, "
                "or start over with resume=False (--no-resume)")
        done = {i for i in manifest.get("done", []) if isinstance(i, int) and 0 <= i < len(files)
                and files[i].exists()}
    elif manifest is not None or not resume:
        for old in (out / CHUNKS).glob("*.npz"):
            old.unlink()
        (out / MANIFEST).unlink(missing_ok=True)
    if manifest is None or not resume or not (out / PLAN).exists():
        _write_json(out / PLAN, {
            "schema": _SCHEMA, "source": plan.source, "root": plan.root, "how": plan.how,
            "names": plan.names, "y": plan.y, "groups": plan.groups, "split": plan.split,
            "skipped": [s.to_dict() for s in plan.skipped]})
    state = {"schema": _SCHEMA, "kind": "sndiag-extract", "fingerprint": fingerprint,
             "config": config.to_dict(), "options": options, "n_files": n,
             "n_chunks": len(bounds), "done": sorted(done), "complete": False, "dataset": None}
    reused = len(done)
    if manifest is not None and resume and isinstance(manifest.get("dataset"), dict):
        state["dataset"] = manifest["dataset"]
        state["complete"] = bool(manifest.get("complete")) and len(done) == len(bounds)
    _write_json(out / MANIFEST, state)

    files_done = sum(bounds[i][1] - bounds[i][0] for i in done)
    if progress is not None:
        progress(files_done, n)

    def record(i: int, result: dict[str, np.ndarray]) -> None:
        nonlocal files_done
        _write_chunk(files[i], result)
        done.add(i)
        state["done"] = sorted(done)
        _write_json(out / MANIFEST, state)
        files_done += bounds[i][1] - bounds[i][0]
        if progress is not None:
            progress(files_done, n)
        if on_chunk is not None:
            on_chunk(len(done), len(bounds))

    todo = [i for i in range(len(bounds)) if i not in done]
    args = (plan.root, config, cache, limits)
    if todo and spec.in_process:
        for i in todo:
            s, e = bounds[i]
            sub = None if progress is None else (
                lambda d, _t, base=files_done: progress(base + d, n))  # type: ignore[misc]
            record(i, _extract_chunk(plan.paths[s:e], plan.names[s:e], *args, n_jobs,
                                     batch_size, sub))
    elif todo:
        with dask_client(scheduler) as client:
            from dask.distributed import as_completed

            futures = {client.submit(_extract_chunk, plan.paths[bounds[i][0]:bounds[i][1]],
                                     plan.names[bounds[i][0]:bounds[i][1]], *args, 1,
                                     batch_size, pure=False): i for i in todo}
            try:
                for fut, result in as_completed(list(futures), with_results=True):
                    record(futures[fut], result)
            finally:
                client.cancel(list(futures))
    return _assemble(out, plan, state, bounds, files, config, reused, len(todo),
                     Path(output) if output is not None else out / DATASET)


def _assemble(out: Path, plan: _Plan, state: dict[str, Any], bounds: list[tuple[int, int]],
              files: list[Path], config: SpectrogramConfig, reused: int, computed: int,
              dataset_path: Path) -> ChunkedExtraction:
    """Stream the chunks into one dataset ``.npz`` (skipped when it is already there)."""
    n = len(plan.names)
    ok = np.zeros(n, dtype=bool)
    seconds = np.full(n, np.nan)
    rates = np.full(n, np.nan)
    skipped = list(plan.skipped)
    for i, ((s, e), path) in enumerate(zip(bounds, files, strict=True)):
        chunk = _read_chunk(path, e - s)
        if chunk is None:
            raise _damaged(out, state, i, path)
        ok[s:e] = chunk["ok"]
        seconds[s:e] = chunk["seconds"]
        rates[s:e] = chunk["rates"]
        skipped += [Skipped(plan.names[s + j], str(r)) for j, r in enumerate(chunk["reasons"])
                    if not chunk["ok"][j]]
    skipped.sort(key=lambda sk: sk.name)
    keep = np.flatnonzero(ok)
    if keep.size == 0:
        first = "; ".join(f"{sk.name}: {sk.reason}" for sk in skipped[:5]) or "no audio files"
        raise DataError(f"no clip could be used ({len(skipped)} skipped): {first}")
    names = np.array([plan.names[i] for i in keep], dtype=str)
    y = None if plan.y is None else np.array([plan.y[i] for i in keep], dtype=str)
    groups = None if plan.groups is None else np.array([plan.groups[i] for i in keep], dtype=str)
    split = None if plan.split is None else np.array([plan.split[i] for i in keep], dtype=str)
    previous = state.get("dataset") or {}
    if (state.get("complete") and previous.get("path") == os.fspath(dataset_path.absolute())
            and _intact(dataset_path, previous)):
        content_hash = str(previous.get("content_hash"))
    else:
        provenance = {
            "source": plan.source, "kind": "audio", "config": config.to_dict(),
            "labels": plan.how, "n_files": plan.n_found, "n_skipped": len(skipped),
            "durations": durations(seconds[keep], config, rates[keep]), "created": now(),
            "chunked": {"chunks": len(bounds), "chunk_files": state["options"]["chunk_files"],
                        "out_dir": os.fspath(out.absolute())},
        }
        meta = {"provenance": provenance, "skipped": [sk.to_dict() for sk in skipped]}
        h = hashlib.sha256(repr((int(keep.size), *config.shape)).encode())

        def images() -> Any:
            for i, ((s, e), path) in enumerate(zip(bounds, files, strict=True)):
                chunk = _read_chunk(path, e - s, images=True)
                if chunk is None:
                    raise _damaged(out, state, i, path)
                h.update(np.ascontiguousarray(chunk["X"], dtype=np.float32).tobytes())
                yield chunk["X"]

        arrays: dict[str, np.ndarray] = {"names": names}
        if y is not None:
            arrays["y"] = y
        if groups is not None:
            arrays["groups"] = groups
        if split is not None:
            arrays["split"] = split
        arrays["meta"] = np.array(json.dumps(meta))
        write_npz_chunks(dataset_path, images(), n=int(keep.size), row_shape=config.shape,
                         arrays=arrays)
        hash_labels(h, y=y, groups=groups, names=names, split=split)
        content_hash = h.hexdigest()
        size, digest = _file_digest(dataset_path)
        state["dataset"] = {"path": os.fspath(dataset_path.absolute()),
                            "content_hash": content_hash, "n_clips": int(keep.size),
                            "size": size, "sha256": digest}
        state["complete"] = True
        with contextlib.suppress(OSError):
            _write_json(out / MANIFEST, state)
    return ChunkedExtraction(out_dir=out, dataset_path=dataset_path, n_files=n,
                             n_clips=int(keep.size), n_skipped=len(skipped),
                             n_chunks=len(bounds), n_reused=reused, n_computed=computed,
                             content_hash=content_hash,
                             n_classes=0 if y is None else int(np.unique(y).size),
                             n_groups=0 if groups is None else int(np.unique(groups).size),
                             skipped=tuple(skipped[:100]))
