"""Audio files, folders, zip archives and array files -> :class:`~sndiag.dataset.Dataset`.

Audio goes through one pipeline (:func:`from_files`; :func:`from_folder` and :func:`from_zip`
only gather the files): labels are assigned first, then clips are decoded in a thread pool
(libsndfile and soxr release the GIL), padded/cropped to ``config.n_samples``, and turned into
spectrograms by one batched :func:`sndiag.spectrogram.melspectrogram` call per batch (one FFT
over the active frames of all its clips, equal to librosa's to 1e-5), also in the pool. A clip
that cannot be used is recorded in ``Dataset.skipped`` with the reason and the run goes on.

Labels come from, in this order of precedence:

* ``labels_csv``: a manifest with a header row ``path,label[,group]``;
* ``label_regex``: a pattern with named groups ``label`` and optionally ``group``, searched in
  each file name (FSDD: ``(?P<label>\\d)_(?P<group>[a-z]+)_\\d+\\.wav``);
* ``labels="folder"`` (the default): the first folder level under the common root of the clip
  names, so a folder or zip of class folders works whether or not it is wrapped in one top
  folder. When no clip sits in a folder, the dataset is unlabelled.

Arrays (``.npy``/``.npz``) go through :func:`load_arrays`, which never unpickles anything.
:func:`load` dispatches on the kind of input.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import posixpath
import re
import stat
import threading
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Literal

import numpy as np

from sndiag import audio
from sndiag.config import Limits, SpectrogramConfig
from sndiag.dataset import Dataset, Skipped
from sndiag.errors import (
    ArchiveError,
    DataError,
    DecodeError,
    LimitError,
    ParameterError,
    ShapeError,
)
from sndiag.spectrogram import (
    DEFAULT_BATCH_SIZE,
    FeatureCache,
    cache_key,
    fix_length,
    melspectrogram,
)

__all__ = [
    "ARCHIVE_EXTENSIONS",
    "AUDIO_EXTENSIONS",
    "from_files",
    "from_folder",
    "from_zip",
    "load",
    "load_arrays",
    "scan_folder",
]

#: File name endings read as audio (case-insensitive).
AUDIO_EXTENSIONS = (".aif", ".aiff", ".flac", ".mp3", ".oga", ".ogg", ".wav")
#: Archives found inside a zip are reported, never opened.
ARCHIVE_EXTENSIONS = (".zip", ".tar", ".tgz", ".gz", ".bz2", ".xz", ".7z", ".rar", ".npz")
#: Bytes per MB in every ``*_mb`` limit.
MB = 1024 * 1024
#: Zip members smaller than this are exempt from the compression-ratio check: a second of digital
#: silence deflates ~1000:1 yet cannot hurt; the total-size limit still bounds them.
RATIO_CHECK_MIN_BYTES = 1 * MB
#: Defaults of every entry point (frozen, so sharing them is safe).
DEFAULT_CONFIG = SpectrogramConfig()
DEFAULT_LIMITS = Limits()

Labels = Literal["folder", "none"]
FileSpec = str | os.PathLike[str] | tuple[str, bytes]
Progress = Callable[[int, int], Any]
_Source = str | bytes | Callable[[], bytes]


@dataclass(frozen=True)
class _Item:
    """One candidate clip: its name (posix, relative) and where its bytes come from."""

    name: str
    source: _Source


@dataclass
class _Labelled:
    items: list[_Item]
    y: list[str] | None
    groups: list[str] | None
    skipped: list[Skipped] = field(default_factory=list)
    how: str = "none"


# -- small helpers ----------------------------------------------------------------------------
def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _is_audio(name: str) -> bool:
    return name.lower().endswith(AUDIO_EXTENSIONS)


def _is_archive(name: str) -> bool:
    return name.lower().endswith(ARCHIVE_EXTENSIONS)


def _not_audio_reason(name: str) -> str:
    suffix = posixpath.splitext(name)[1].lower() or "no extension"
    return f"not an audio file ({suffix}); accepted: {' '.join(AUDIO_EXTENSIONS)}"


def _clean_name(name: str) -> str:
    """A display name in posix form, without leading slashes or ``./``."""
    name = name.replace("\\", "/")
    name = posixpath.normpath(name) if name else name
    return name.lstrip("/") if name not in ("", ".") else "unnamed"


def _reason(exc: BaseException, name: str) -> str:
    text = str(exc)
    prefix = f"{name}: "
    return text[len(prefix):] if text.startswith(prefix) else text


def _check_n_jobs(n_jobs: int) -> int:
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0 or n_jobs < -1:
        raise ParameterError(f"n_jobs={n_jobs!r} must be a positive integer or -1 (all cores)")
    return (os.cpu_count() or 1) if n_jobs == -1 else n_jobs


# -- labels -----------------------------------------------------------------------------------
def _folder_labels(items: list[_Item]) -> _Labelled:
    """Label = first folder under the names' common root; unlabelled when no clip is in one.

    The common root is the longest folder prefix shared by every clip, so one wrapper folder
    (``data/dog/a.wav``, ``data/cat/b.wav``) is looked through. When every clip sits directly in
    that root, its last folder is the (single) label; when only some do, they are skipped.
    """
    dirs = [it.name.split("/")[:-1] for it in items]
    common = 0
    while all(len(d) > common for d in dirs) and len({d[common] for d in dirs}) == 1:
        common += 1
    if not any(len(d) > common for d in dirs):
        if common == 0:
            return _Labelled(items, None, None, how="none (no class folders)")
        common -= 1  # a single class folder (possibly wrapped): its name is the label
    kept, y, skipped = [], [], []
    for it, d in zip(items, dirs, strict=True):
        if len(d) <= common:
            skipped.append(Skipped(it.name, "not inside a class folder; move it into a folder "
                                            "named after its label"))
            continue
        kept.append(it)
        y.append(d[common])
    return _Labelled(kept, y, None, skipped, how="folder")


def _regex_labels(items: list[_Item], pattern: str) -> _Labelled:
    try:
        rx = re.compile(pattern)
    except re.error as exc:
        raise ParameterError(f"label_regex={pattern!r} is not a valid regular expression ({exc})"
                             ) from None
    if "label" not in rx.groupindex:
        raise ParameterError(
            f"label_regex={pattern!r} has no named group 'label'; write e.g. "
            r"'(?P<label>\d)_(?P<group>[a-z]+)_\d+\.wav'"
        )
    has_group = "group" in rx.groupindex
    kept, y, groups, skipped = [], [], [], []
    for it in items:
        m = rx.search(posixpath.basename(it.name))
        if m is None or not m.group("label"):
            skipped.append(Skipped(it.name, f"file name does not match label_regex {pattern!r}"))
            continue
        kept.append(it)
        y.append(m.group("label"))
        groups.append((m.group("group") or "") if has_group else "")
    return _Labelled(kept, y, groups if has_group else None, skipped, how=f"regex {pattern}")


_PATH_COLUMNS = ("path", "file", "filename")


def _read_csv(labels_csv: str | os.PathLike[str] | bytes) -> tuple[list[dict[str, str]], str]:
    if isinstance(labels_csv, bytes | bytearray):
        raw, where = bytes(labels_csv), "labels CSV"
    else:
        where = Path(labels_csv).name
        try:
            raw = Path(labels_csv).read_bytes()
        except OSError as exc:
            raise ParameterError(f"labels_csv={os.fspath(labels_csv)!r} cannot be read "
                                 f"({exc.strerror or exc}); check the path") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    reader = csv.DictReader(io.StringIO(text))
    try:
        columns = [c.strip().lower() for c in (reader.fieldnames or []) if c is not None]
        path_col = next((c for c in _PATH_COLUMNS if c in columns), None)
        if path_col is None or "label" not in columns:
            raise ParameterError(
                f"{where} has columns {columns}; it needs a header row 'path,label' "
                "(optionally ',group'), then one row per file"
            )
        rows = []
        for row in reader:
            norm = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()
                    if isinstance(v, str | type(None))}
            rows.append({"path": norm.get(path_col, ""), "label": norm.get("label", ""),
                         "group": norm.get("group", "")})
    except csv.Error as exc:  # e.g. a field above csv.field_size_limit(), an unclosed quote
        raise ParameterError(f"{where} is not a readable CSV ({exc}); it needs a header row "
                             "'path,label' (optionally ',group'), then one row per file") from None
    return rows, where


def _csv_labels(items: list[_Item], labels_csv: str | os.PathLike[str] | bytes) -> _Labelled:
    rows, where = _read_csv(labels_csv)
    has_group = any(r["group"] for r in rows)
    table: dict[str, tuple[str, str]] = {}
    skipped: list[Skipped] = []
    for r in rows:
        if not r["path"]:
            continue
        key = _clean_name(r["path"])
        if not r["label"]:
            skipped.append(Skipped(key, f"empty label in {where}"))
            continue
        entry = (r["label"], r["group"])
        if key in table and table[key] != entry:
            raise DataError(f"{where} lists {key!r} twice with different labels "
                            f"({table[key][0]!r}, {entry[0]!r}); keep one row per file")
        table[key] = entry
    used: set[str] = set()
    kept, y, groups = [], [], []
    for it in items:
        parts = it.name.split("/")
        # The CSV path may be relative to the root, to a wrapper folder, or a bare file name.
        key = next(("/".join(parts[k:]) for k in range(len(parts))
                    if "/".join(parts[k:]) in table), None)
        if key is None:
            skipped.append(Skipped(it.name, f"not listed in {where}"))
            continue
        used.add(key)
        kept.append(it)
        y.append(table[key][0])
        groups.append(table[key][1])
    for key in table:
        if key not in used:
            skipped.append(Skipped(key, f"listed in {where} but no such audio file was found"))
    return _Labelled(kept, y, groups if has_group else None, skipped, how=f"csv {where}")


def _assign_labels(items: list[_Item], *, labels: str, label_regex: str | None,
                   labels_csv: str | os.PathLike[str] | bytes | None) -> _Labelled:
    if labels not in ("folder", "none"):
        raise ParameterError(f"labels={labels!r} must be 'folder' or 'none' (use label_regex or "
                             "labels_csv for the other sources)")
    if label_regex is not None and labels_csv is not None:
        raise ParameterError("give label_regex or labels_csv, not both")
    if labels_csv is not None:
        return _csv_labels(items, labels_csv)
    if label_regex is not None:
        return _regex_labels(items, label_regex)
    if labels == "folder":
        return _folder_labels(items)
    return _Labelled(items, None, None, how="none")


# -- decoding pipeline ------------------------------------------------------------------------
@dataclass
class _Loaded:
    seconds: float
    y: np.ndarray | None = None  # fixed-length signal, awaiting the batched spectrogram
    S: np.ndarray | None = None  # a cache hit
    key: str | None = None


def _read_bytes(item: _Item) -> bytes:
    src = item.source
    if callable(src):
        return src()
    if isinstance(src, bytes):
        return src
    try:
        with open(src, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise DecodeError(f"{item.name}: cannot be read ({exc.strerror or exc})") from None


def _check_size(item: _Item, limits: Limits) -> None:
    src = item.source
    if callable(src):
        return  # a zip member: bounded by the archive checks
    try:
        size = len(src) if isinstance(src, bytes) else os.path.getsize(src)
    except OSError as exc:
        raise DecodeError(f"{item.name}: cannot be read ({exc.strerror or exc})") from None
    if size > limits.max_upload_mb * MB:
        raise LimitError(f"{item.name}: {size / MB:.3g} MB, above the limit of "
                         f"{limits.max_upload_mb:g} MB; split it or raise SNDIAG_MAX_UPLOAD_MB")


def _load_one(item: _Item, config: SpectrogramConfig, cache: FeatureCache | None,
              limits: Limits) -> _Loaded:
    """Decode one clip (in a worker thread); a cache hit skips decoding."""
    max_seconds = limits.max_clip_seconds
    _check_size(item, limits)
    if cache is None:
        src = item.source() if callable(item.source) else item.source
        y = audio.decode(src, sr=config.sr, max_seconds=max_seconds, name=item.name)
        return _Loaded(seconds=y.size / config.sr, y=fix_length(y, config=config))
    data = _read_bytes(item)
    key = cache_key(data, config)
    S = cache.get(key)
    if S is not None and S.shape == config.shape:
        seconds = audio.duration(data, name=item.name)
        if seconds > max_seconds:
            raise LimitError(f"{item.name}: lasts {seconds:.1f} s, above the limit of "
                             f"{max_seconds:g} s; trim the clip or raise SNDIAG_MAX_CLIP_SECONDS")
        return _Loaded(seconds=seconds, S=np.asarray(S, dtype=np.float32))
    y = audio.decode(data, sr=config.sr, max_seconds=max_seconds, name=item.name)
    return _Loaded(seconds=y.size / config.sr, y=fix_length(y, config=config), key=key)


def _mel_batch(ys: list[np.ndarray], keys: list[str | None], config: SpectrogramConfig,
               cache: FeatureCache | None) -> np.ndarray:
    S = melspectrogram(np.stack(ys), config=config)
    if cache is not None:
        for key, s in zip(keys, S, strict=True):
            if key is not None:
                cache.put(key, s)
    return S


def _single_threaded_blas() -> contextlib.AbstractContextManager[Any]:
    """Limit BLAS to one thread while the pool runs (as scikit-learn's KMeans does).

    The pool already keeps every core busy; OpenBLAS threads started by the mel projection
    inside it only spin-wait and steal those cores: FSDD extraction took 2.5-5 s instead of 1.5 s.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - a scikit-learn dependency, normally present
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


@dataclass
class _Run:
    X: np.ndarray
    ok: np.ndarray
    seconds: np.ndarray
    errors: dict[int, str]


class _Pipeline:
    """Decode clips and compute their spectrograms in one thread pool, a few batches at a time.

    Clips are decoded by the pool; when all clips of a batch are in, the batch's spectrograms are
    computed by one task in the same pool. At most ``n_jobs + 1`` batches are open at once, so
    memory stays at a few batches of signals whatever the number of clips. Results and
    ``progress`` calls happen in the calling thread.
    """

    def __init__(self, items: list[_Item], *, config: SpectrogramConfig,
                 cache: FeatureCache | None, limits: Limits, progress: Progress | None,
                 n_jobs: int, batch_size: int) -> None:
        n = len(items)
        self.items, self.config, self.cache, self.limits = items, config, cache, limits
        self.progress, self.n_jobs = progress, n_jobs
        self.run = _Run(np.empty((n, *config.shape), dtype=np.float32), np.zeros(n, dtype=bool),
                        np.full(n, np.nan), {})
        self.batches = [list(range(i, min(i + batch_size, n))) for i in range(0, n, batch_size)]
        self.waiting = [len(b) for b in self.batches]
        self.signals: list[dict[int, tuple[np.ndarray, str | None]]] = [{} for _ in self.batches]
        self.futures: dict[Future[Any], tuple[str, int, int]] = {}
        self.next_batch = 0
        self.done = 0

    def __call__(self) -> _Run:
        if self.progress is not None:
            self.progress(0, len(self.items))
        pool = ThreadPoolExecutor(max_workers=self.n_jobs, thread_name_prefix="sndiag-ingest")
        try:
            with _single_threaded_blas():
                for _ in range(min(self.n_jobs + 1, len(self.batches))):
                    self._open_batch(pool)
                while self.futures:
                    finished, _ = wait(list(self.futures), return_when=FIRST_COMPLETED)
                    for fut in finished:
                        kind, b, i = self.futures.pop(fut)
                        if kind == "mel":
                            self._mel_done(pool, fut, b)
                        else:
                            self._clip_done(pool, fut, b, i)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return self.run

    def _open_batch(self, pool: ThreadPoolExecutor) -> None:
        if self.next_batch >= len(self.batches):
            return
        b = self.next_batch
        self.next_batch += 1
        for i in self.batches[b]:
            fut = pool.submit(_load_one, self.items[i], self.config, self.cache, self.limits)
            self.futures[fut] = ("clip", b, i)

    def _clip_done(self, pool: ThreadPoolExecutor, fut: Future[_Loaded], b: int, i: int) -> None:
        try:
            loaded = fut.result()
        except (DecodeError, LimitError) as exc:
            self.run.errors[i] = _reason(exc, self.items[i].name)
        else:
            self.run.seconds[i] = loaded.seconds
            if loaded.S is not None:
                self.run.X[i] = loaded.S
                self.run.ok[i] = True
            elif loaded.y is not None:
                self.signals[b][i] = (loaded.y, loaded.key)
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, len(self.items))
        self.waiting[b] -= 1
        if self.waiting[b] == 0:
            if self.signals[b]:
                idx = sorted(self.signals[b])
                ys = [self.signals[b][k][0] for k in idx]
                keys = [self.signals[b][k][1] for k in idx]
                mel = pool.submit(_mel_batch, ys, keys, self.config, self.cache)
                self.futures[mel] = ("mel", b, -1)
            else:
                self._open_batch(pool)

    def _mel_done(self, pool: ThreadPoolExecutor, fut: Future[np.ndarray], b: int) -> None:
        idx = sorted(self.signals[b])
        self.run.X[idx] = fut.result()
        self.run.ok[idx] = True
        self.signals[b].clear()
        self._open_batch(pool)


def _durations(seconds: np.ndarray, config: SpectrogramConfig) -> dict[str, Any]:
    samples = np.rint(seconds * config.sr)
    return {
        "min": float(seconds.min()),
        "median": float(np.median(seconds)),
        "max": float(seconds.max()),
        "mean": float(seconds.mean()),
        "window": config.duration,
        "n_padded": int((samples < config.n_samples).sum()),
        "n_cropped": int((samples > config.n_samples).sum()),
        "seconds": [round(float(s), 4) for s in seconds],
    }


def _build(items: list[_Item], *, source: str, config: SpectrogramConfig, labels: str,
           label_regex: str | None, labels_csv: str | os.PathLike[str] | bytes | None,
           cache: FeatureCache | None, limits: Limits, progress: Progress | None, n_jobs: int,
           batch_size: int, skipped: Iterable[Skipped] = (),
           extra: Mapping[str, Any] | None = None) -> Dataset:
    if not isinstance(config, SpectrogramConfig):
        raise ParameterError(f"config={config!r} must be a SpectrogramConfig")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise ParameterError(f"batch_size={batch_size!r} must be a positive integer")
    n_jobs = _check_n_jobs(n_jobs)
    if len(items) > limits.max_clips:
        raise LimitError(f"{len(items)} audio files exceed the limit of {limits.max_clips} clips; "
                         "split the data or raise SNDIAG_MAX_CLIPS")
    skipped = list(skipped)
    lab = _assign_labels(items, labels=labels, label_regex=label_regex, labels_csv=labels_csv)
    all_skipped = [*skipped, *lab.skipped]
    run = _Pipeline(lab.items, config=config, cache=cache, limits=limits, progress=progress,
                    n_jobs=n_jobs, batch_size=batch_size)()
    all_skipped += [Skipped(lab.items[i].name, r) for i, r in sorted(run.errors.items())]
    all_skipped.sort(key=lambda s: s.name)
    keep = np.flatnonzero(run.ok)
    if keep.size == 0:
        first = "; ".join(f"{s.name}: {s.reason}" for s in all_skipped[:5]) or "no audio files"
        raise DataError(f"no clip could be used ({len(all_skipped)} skipped): {first}")

    def pick(values: list[str] | None) -> list[str] | None:
        return None if values is None else [values[i] for i in keep]

    provenance: dict[str, Any] = {
        "source": source,
        "kind": "audio",
        "config": config.to_dict(),
        "labels": lab.how,
        "n_files": len(items) + len(skipped),
        "n_skipped": len(all_skipped),
        "durations": _durations(run.seconds[keep], config),
        "created": _now(),
        **(extra or {}),
    }
    return Dataset(run.X[keep], y=pick(lab.y), groups=pick(lab.groups),
                   names=[lab.items[i].name for i in keep], provenance=provenance,
                   skipped=tuple(all_skipped))


# -- public audio entry points ----------------------------------------------------------------
def from_files(files: Sequence[FileSpec], *, config: SpectrogramConfig = DEFAULT_CONFIG,
               labels: Labels = "folder", label_regex: str | None = None,
               labels_csv: str | os.PathLike[str] | bytes | None = None,
               root: str | os.PathLike[str] | None = None, cache: FeatureCache | None = None,
               limits: Limits = DEFAULT_LIMITS, progress: Progress | None = None, n_jobs: int = 2,
               batch_size: int = DEFAULT_BATCH_SIZE, source: str | None = None) -> Dataset:
    """Spectrograms of a list of audio files or uploads.

    Parameters
    ----------
    files : sequence of path or (name, bytes)
        Audio files on disk, or uploads as ``(name, content)`` pairs (the name may hold folders,
        e.g. ``"dog/a.wav"``). Every entry is tried, whatever its extension.
    config : SpectrogramConfig
        Extraction parameters; the dataset's images have shape ``config.shape``.
    labels : {"folder", "none"}
        ``"folder"``: the first folder under the common root of the names (see the module
        docstring); ``"none"``: unlabelled. Overridden by ``label_regex`` or ``labels_csv``.
    label_regex : str, optional
        Pattern with named groups ``label`` (required) and ``group`` (optional), searched in each
        file name; files that do not match are skipped.
    labels_csv : path or bytes, optional
        CSV with a header row ``path,label[,group]``; paths relative to ``root``, to a wrapper
        folder, or bare file names; extra columns are ignored. Files not listed, and rows without
        a file, are reported in ``skipped``.
    root : path, optional
        Folder the names of files on disk are relative to; defaults to their common folder.
    cache : FeatureCache, optional
        Spectrograms by content (e.g. :class:`~sndiag.spectrogram.DiskCache`); a hit skips
        decoding.
    limits : Limits
        ``max_clips`` is checked before anything is decoded; ``max_clip_seconds`` per clip from
        its header (longer clips are skipped).
    progress : callable(done, total), optional
        Called from the calling thread as clips finish (first with ``done=0``).
    n_jobs : int
        Worker threads (``-1``: one per core).
    batch_size : int
        Clips per batched spectrogram call.
    source : str, optional
        Description stored as ``provenance["source"]``.

    Returns
    -------
    Dataset
        ``X`` float32 (n_clips, n_mels, n_frames) in the order of ``files``; ``provenance``
        holds the config, the label source and the original clip durations
        (``provenance["durations"]``: min/median/max/mean seconds, counts of padded and cropped
        clips, and ``seconds``, one entry per clip).

    Raises
    ------
    DataError
        No clip could be decoded (the message lists the first reasons).
    LimitError
        More files than ``limits.max_clips``.
    ParameterError
        Bad options (e.g. a ``label_regex`` without a ``label`` group).

    Examples
    --------
    >>> import io, soundfile as sf
    >>> def wav(freq):
    ...     buf = io.BytesIO()
    ...     t = np.arange(8000) / 8000
    ...     sf.write(buf, np.sin(2 * np.pi * freq * t), 8000, format="WAV")
    ...     return buf.getvalue()
    >>> files = [("low/a.wav", wav(200)), ("high/b.wav", wav(2000)), ("high/c.txt", b"hi")]
    >>> ds = from_files(files, config=SpectrogramConfig(sr=8000))
    >>> ds.X.shape, ds.y.tolist(), [s.name for s in ds.skipped]
    ((2, 60, 130), ['low', 'high'], ['high/c.txt'])
    """
    if isinstance(files, str | bytes | os.PathLike):
        raise ParameterError(f"files={files!r} must be a list of paths or (name, bytes) pairs; "
                             "use load() or from_folder() for a single path")
    specs = list(files)
    paths = [os.path.abspath(os.fspath(f)) for f in specs if not isinstance(f, tuple)]
    base = (os.path.abspath(os.fspath(root)) if root is not None
            else os.path.commonpath([os.path.dirname(p) for p in paths]) if paths else "")
    items: list[_Item] = []
    for spec in specs:
        if isinstance(spec, tuple):
            if len(spec) != 2 or not isinstance(spec[1], bytes | bytearray):
                raise ParameterError("an upload must be a (name, bytes) pair")
            items.append(_Item(_clean_name(str(spec[0])), bytes(spec[1])))
            continue
        path = os.path.abspath(os.fspath(spec))
        rel = os.path.relpath(path, base)
        if rel == ".." or rel.startswith(".." + os.sep):
            raise ParameterError(f"{path} is not inside root={os.fspath(root or base)!r}; "
                                 "give a root that contains every file")
        items.append(_Item(Path(rel).as_posix(), path))
    if not items:
        raise DataError("no audio files given; pass at least one path or upload")
    return _build(items, source=source or (base or "uploads"), config=config, labels=labels,
                  label_regex=label_regex, labels_csv=labels_csv, cache=cache, limits=limits,
                  progress=progress, n_jobs=n_jobs, batch_size=batch_size)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _walk(root: str) -> tuple[list[tuple[str, str]], list[Skipped]]:
    """Visible files under ``root`` as (relative posix name, path), and what was left out.

    Hidden entries (``.*``) and ``__MACOSX`` are ignored; a symbolic link is followed only when
    its target lies inside ``root`` and (for folders) is not one of its own ancestors.
    """
    root_real = os.path.realpath(root)
    files: list[tuple[str, str]] = []
    skipped: list[Skipped] = []
    stack: list[tuple[str, str, tuple[str, ...]]] = [(root, "", (root_real,))]
    while stack:
        folder, rel, chain = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            skipped.append(Skipped(rel or ".", f"folder cannot be listed ({exc.strerror or exc})"))
            continue
        for entry in entries:
            if entry.name.startswith(".") or entry.name == "__MACOSX":
                continue
            name = f"{rel}{entry.name}"
            try:
                is_link = entry.is_symlink()
                target = os.path.realpath(entry.path) if is_link else entry.path
                if is_link and not _inside(target, root_real):
                    skipped.append(Skipped(name, "symbolic link to outside the folder; "
                                                 "not followed"))
                    continue
                if entry.is_dir():
                    real = os.path.realpath(entry.path)
                    if real in chain or len(chain) > 64:
                        skipped.append(Skipped(name, "symbolic link loop; not followed"))
                        continue
                    stack.append((entry.path, f"{name}/", (*chain, real)))
                elif entry.is_file():
                    files.append((name, entry.path))
            except OSError as exc:
                skipped.append(Skipped(name, f"cannot be read ({exc.strerror or exc})"))
    files.sort()
    return files, skipped


def scan_folder(folder: str) -> tuple[list[_Item], list[Skipped]]:
    """The audio files under ``folder`` (recursive, sorted by relative name) and the rest, skipped.

    Hidden files and folders and ``__MACOSX`` are ignored, symbolic links followed only inside
    ``folder``; other files (``.txt``, nested ``.zip``) come back as skipped with the reason.
    :func:`from_folder` and the chunked extraction of :mod:`sndiag.distributed` list folders
    with it.

    Raises
    ------
    DataError
        When the folder holds no audio file.
    """
    found, skipped = _walk(folder)
    items = [_Item(name, path) for name, path in found if _is_audio(name)]
    skipped += [Skipped(name, "nested archives are not read" if _is_archive(name)
                        else _not_audio_reason(name))
                for name, _ in found if not _is_audio(name)]
    if not items:
        raise DataError(f"no audio files found in {folder} (accepted: "
                        f"{' '.join(AUDIO_EXTENSIONS)}); {len(skipped)} other files")
    return items, skipped


def from_folder(root: str | os.PathLike[str], **kw: Any) -> Dataset:
    """Spectrograms of every audio file under ``root`` (recursive), labelled by class folder.

    Files are taken in sorted order of their relative names; hidden files and folders and
    ``__MACOSX`` are ignored; symbolic links are followed only inside ``root``. Files with another
    extension (``.txt``, ``.zip``, ...) are reported in ``skipped``.

    Parameters
    ----------
    root : str or Path
        The folder; clip names are paths relative to it.
    **kw
        Options of :func:`from_files` (``config``, ``labels``, ``label_regex``, ``labels_csv``,
        ``cache``, ``limits``, ``progress``, ``n_jobs``, ``batch_size``, ``source``).

    Returns
    -------
    Dataset

    Examples
    --------
    >>> import tempfile, soundfile as sf
    >>> root = Path(tempfile.mkdtemp())
    >>> for label in ("yes", "no"):
    ...     (root / label).mkdir()
    ...     sf.write(root / label / "1.wav", np.zeros(4000), 8000)
    >>> ds = from_folder(root, config=SpectrogramConfig(sr=8000))
    >>> ds.names.tolist(), ds.y.tolist()
    (['no/1.wav', 'yes/1.wav'], ['no', 'yes'])
    """
    if "root" in kw:
        raise ParameterError("from_folder takes the folder as its first argument, not root=")
    folder = os.fspath(root)
    if not os.path.isdir(folder):
        raise ParameterError(f"{folder} is not a folder; give a folder of audio files")
    items, skipped = scan_folder(folder)
    kw.setdefault("source", folder)
    return _build_kw(items, skipped=skipped, **kw)


def _build_kw(items: list[_Item], *, skipped: list[Skipped],
              extra: Mapping[str, Any] | None = None,
              config: SpectrogramConfig = DEFAULT_CONFIG, labels: Labels = "folder",
              label_regex: str | None = None,
              labels_csv: str | os.PathLike[str] | bytes | None = None,
              cache: FeatureCache | None = None, limits: Limits = DEFAULT_LIMITS,
              progress: Progress | None = None, n_jobs: int = 2,
              batch_size: int = DEFAULT_BATCH_SIZE, source: str = "") -> Dataset:
    return _build(items, source=source, config=config, labels=labels, label_regex=label_regex,
                  labels_csv=labels_csv, cache=cache, limits=limits, progress=progress,
                  n_jobs=n_jobs, batch_size=batch_size, skipped=skipped, extra=extra)


# -- zip archives -----------------------------------------------------------------------------
def _member_name(info: zipfile.ZipInfo) -> str:
    """The member's name in posix form; names zipped as UTF-8 without the flag are recovered."""
    name = info.filename
    if not info.flag_bits & 0x800:
        try:
            name = name.encode("cp437").decode("utf-8")
        except UnicodeError:
            pass  # a legacy code page: keep zipfile's cp437 reading, it never fails
    return name.replace("\\", "/")


def _unsafe(name: str) -> bool:
    parts = name.split("/")
    return (name.startswith("/") or bool(re.match(r"^[A-Za-z]:", name)) or ".." in parts
            or "\x00" in name)


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def _check_archive(infos: list[zipfile.ZipInfo], names: list[str], limits: Limits) -> None:
    """Refuse an unsafe archive from its directory alone, before any member is read."""
    if len(infos) > limits.max_zip_members:
        raise ArchiveError(f"the archive has {len(infos)} entries, above the limit of "
                           f"{limits.max_zip_members}; split it or raise SNDIAG_MAX_ZIP_MEMBERS")
    bad = [n for n in names if _unsafe(n)]
    if bad:
        raise ArchiveError(f"{len(bad)} archive members have absolute paths or '..' "
                           f"(first: {bad[0]!r}); refusing the archive (path traversal)")
    links = [n for i, n in zip(infos, names, strict=True) if _is_symlink(i)]
    if links:
        raise ArchiveError(f"{len(links)} archive members are symbolic links (first: "
                           f"{links[0]!r}); refusing the archive, zip the files themselves")
    total = sum(i.file_size for i in infos)
    if total > limits.max_unzipped_mb * MB:
        raise ArchiveError(f"the archive expands to {total / MB:.1f} MB, above the limit of "
                           f"{limits.max_unzipped_mb:g} MB; split it or raise "
                           "SNDIAG_MAX_UNZIPPED_MB")
    for info, name in zip(infos, names, strict=True):
        if info.file_size < RATIO_CHECK_MIN_BYTES:
            continue
        ratio = info.file_size / max(info.compress_size, 1)
        if ratio > limits.max_zip_ratio:
            raise ArchiveError(f"archive member {name!r} expands {ratio:.0f}:1 "
                               f"({info.file_size / MB:.1f} MB), above the limit of "
                               f"{limits.max_zip_ratio:g}:1; this looks like a zip bomb "
                               "(if it is not, raise SNDIAG_MAX_ZIP_RATIO)")


def _member_reader(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str,
                   lock: threading.Lock) -> Callable[[], bytes]:
    def read() -> bytes:
        try:
            with lock, zf.open(info) as fh:
                data = fh.read(info.file_size + 1)
        except Exception as exc:  # BadZipFile (CRC), zlib.error, NotImplementedError, ...
            raise DecodeError(f"{name}: cannot be read from the archive ({exc})") from None
        if len(data) > info.file_size:
            raise ArchiveError(f"archive member {name!r} holds more than the {info.file_size} "
                               "bytes its header states; refusing the archive")
        return data

    return read


def from_zip(source: str | os.PathLike[str] | bytes, *, name: str | None = None,
             **kw: Any) -> Dataset:
    """Spectrograms of the audio files in a zip archive, read in memory (never extracted).

    The archive's directory is checked before any member is read: more than
    ``limits.max_zip_members`` entries, a member with ``..`` or an absolute path, a symbolic
    link, a total uncompressed size above ``limits.max_unzipped_mb``, or a member (of 1 MB or
    more) compressed more than ``limits.max_zip_ratio``:1 refuses the whole archive. Members are
    then read with a bound of their declared size. ``__MACOSX/`` and dotfiles are ignored; nested
    archives and other files are reported in ``skipped``. Labels come from the first folder level
    under the archive's common root (class folders, possibly wrapped in one top folder).

    Parameters
    ----------
    source : str, Path or bytes
        The archive file, or its content (an upload).
    name : str, optional
        Description stored as ``provenance["source"]`` (defaults to the file name).
    **kw
        Options of :func:`from_files`; ``limits`` also bounds the archive itself
        (``max_upload_mb``).

    Returns
    -------
    Dataset

    Raises
    ------
    ArchiveError
        The file is not a zip, or is unsafe (see above).
    LimitError
        The archive is larger than ``limits.max_upload_mb``.

    Examples
    --------
    >>> import io, zipfile, soundfile as sf
    >>> buf = io.BytesIO()
    >>> with zipfile.ZipFile(buf, "w") as zf:
    ...     for label in ("cat", "dog"):
    ...         wav = io.BytesIO()
    ...         sf.write(wav, np.zeros(800), 8000, format="WAV")
    ...         zf.writestr(f"pets/{label}/1.wav", wav.getvalue())
    ...     zf.writestr("pets/inner.zip", b"PK")
    >>> ds = from_zip(buf.getvalue(), config=SpectrogramConfig(sr=8000))
    >>> ds.y.tolist(), ds.skipped[0].reason
    (['cat', 'dog'], 'nested archives are not read')
    """
    if "root" in kw:
        raise ParameterError("from_zip reads names relative to the archive; root= does not apply")
    limits: Limits = kw.get("limits", DEFAULT_LIMITS)
    if isinstance(source, bytes | bytearray):
        size, label = len(source), name or "upload.zip"
        handle: Any = io.BytesIO(bytes(source))
    else:
        label = name or Path(source).name
        try:
            size = os.path.getsize(source)
        except OSError as exc:
            raise ArchiveError(f"{os.fspath(source)} cannot be read ({exc.strerror or exc})"
                               ) from None
        handle = os.fspath(source)
    if size > limits.max_upload_mb * MB:
        raise LimitError(f"{label} is {size / MB:.1f} MB, above the limit of "
                         f"{limits.max_upload_mb:g} MB; split it or raise SNDIAG_MAX_UPLOAD_MB")
    try:
        zf = zipfile.ZipFile(handle)
    except UnicodeDecodeError:
        raise ArchiveError(f"{label}: member names are flagged UTF-8 but are not; re-create the "
                           "archive with a current zip tool") from None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise ArchiveError(f"{label} is not a valid zip file ({exc}); upload a .zip of audio "
                           "files") from None
    with zf:
        # not ZipInfo.is_dir(): it raises IndexError on a member with an empty name
        infos = [i for i in zf.infolist() if not i.filename.endswith("/")]
        names = [_member_name(i) for i in infos]
        _check_archive(zf.infolist(), [_member_name(i) for i in zf.infolist()], limits)
        lock = threading.Lock()
        items: list[_Item] = []
        skipped: list[Skipped] = []
        for info, member in zip(infos, names, strict=True):
            parts = member.split("/")
            if parts[0] == "__MACOSX" or any(p.startswith(".") for p in parts):
                continue
            if _is_archive(member):
                skipped.append(Skipped(member, "nested archives are not read"))
            elif not _is_audio(member):
                skipped.append(Skipped(member, _not_audio_reason(member)))
            elif info.flag_bits & 0x1:
                skipped.append(Skipped(member, "encrypted; zip it again without a password"))
            else:
                items.append(_Item(member, _member_reader(zf, info, member, lock)))
        if not items:
            raise DataError(f"{label} holds no audio files (accepted: "
                            f"{' '.join(AUDIO_EXTENSIONS)}); {len(skipped)} other members")
        items.sort(key=lambda it: it.name)
        kw.setdefault("source", label)
        return _build_kw(items, skipped=skipped, extra={"archive_members": len(infos)}, **kw)


# -- arrays -----------------------------------------------------------------------------------
_ARRAY_KEYS = ("X", "y", "groups", "names", "meta")


def _array_layout(X: np.ndarray, expected: tuple[int, int] | None, where: str
                  ) -> tuple[np.ndarray, str]:
    """(N, a, b), (N, a, b, 1) or (N, 1, a, b) -> (N, a, b), with the layout's name."""
    ok3 = X.ndim == 3 and (expected is None or X.shape[1:] == tuple(expected))
    if ok3:
        return X, "(N, n_mels, n_frames)"
    if X.ndim == 4 and X.shape[-1] == 1 and (expected is None or X.shape[1:3] == tuple(expected)):
        return X[..., 0], "(N, n_mels, n_frames, 1)"
    if X.ndim == 4 and X.shape[1] == 1 and (expected is None or X.shape[2:] == tuple(expected)):
        return X[:, 0], "(N, 1, n_mels, n_frames)"
    a, b = expected if expected is not None else ("a", "b")
    accepted = f"(N, {a}, {b}), (N, {a}, {b}, 1) or (N, 1, {a}, {b})"
    hint = ""
    if expected is not None and X.ndim == 3 and X.shape[1:] == (b, a):
        hint = "; it looks transposed: save X.transpose(0, 2, 1)"
    elif expected is not None and X.shape == tuple(expected):
        hint = "; a single image: save X[None] to make it (1, ...)"
    elif expected is not None and X.ndim in (3, 4):
        hint = "; pass expected_shape=None to accept another image size"
    raise ShapeError(f"{where}: X has shape {X.shape}; accepted shapes are {accepted}{hint}")


def _read_npz_array(npz: Any, key: str, where: str) -> np.ndarray:
    try:
        return np.asarray(npz[key])
    except ValueError as exc:
        if "pickle" in str(exc).lower() or "object" in str(exc).lower():
            raise DataError(f"{where}: array {key!r} contains pickled Python objects; save it with "
                            "a numeric dtype (e.g. X.astype(np.float32)) or strings") from None
        raise DataError(f"{where}: array {key!r} is not a valid .npy/.npz file ({exc})") from None
    except Exception as exc:  # OSError, EOFError, BadZipFile, zlib.error on a corrupt member
        raise DataError(f"{where}: array {key!r} is not a valid .npy/.npz file ({exc})") from None


def _parse_meta(meta: np.ndarray) -> dict[str, Any] | None:
    """The provenance/skipped JSON written by ``Dataset.to_npz_bytes``, or None."""
    if meta.shape != () or meta.dtype.kind not in "US":
        return None
    try:
        parsed = json.loads(str(meta[()]))
    except (ValueError, TypeError):
        return None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("provenance"), dict):
        return None
    return parsed


_PROV_NUMBERS = ("min", "median", "max", "mean", "window", "n_padded", "n_cropped")


def _checked_provenance(prov: dict[str, Any]) -> dict[str, Any]:
    """A saved provenance with its well-known fields of the wrong type dropped.

    ``meta`` comes from the file, so a hand-made or tampered one may hold anything; readers (the
    dashboard's Data page, audio previews) rely on the types :func:`_build` writes.
    """
    out = dict(prov)
    for key in ("name", "source", "kind", "labels", "layout", "created"):
        if key in out and not isinstance(out[key], str):
            out.pop(key)
    if "synthetic" in out and not isinstance(out["synthetic"], bool):
        out.pop("synthetic")
    n = out.get("nan_replaced")
    if "nan_replaced" in out and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
        out.pop("nan_replaced")
    d = out.get("durations")
    if "durations" in out and not (isinstance(d, dict) and all(
            isinstance(d.get(k), int | float) and not isinstance(d.get(k), bool)
            for k in _PROV_NUMBERS)):
        out.pop("durations")
    cfg = out.get("config")
    if cfg is not None and not (isinstance(cfg, dict) and isinstance(cfg.get("sr", 1), int)
                                and not isinstance(cfg.get("sr"), bool) and cfg.get("sr", 1) > 0):
        out["config"] = None
    return out


def _peek(handle: Any, n: int = 6) -> bytes:
    """The first ``n`` bytes of a path or seekable file, leaving a file at its start."""
    if isinstance(handle, str | os.PathLike):
        try:
            with open(handle, "rb") as fh:
                return fh.read(n)
        except OSError as exc:
            raise DataError(f"cannot read {handle}: {exc.strerror}") from None
    pos = handle.tell()
    head = handle.read(n)
    handle.seek(pos)
    return head


def _open_arrays(source: str | os.PathLike[str] | bytes | BinaryIO
                 ) -> tuple[Any, str]:
    if isinstance(source, bytes | bytearray):
        return io.BytesIO(bytes(source)), "upload"
    if hasattr(source, "read"):
        return source, str(getattr(source, "name", "upload"))
    path = Path(source)
    if not path.is_file():
        raise DataError(f"{path} does not exist or is not a file; give a .npy or .npz file")
    return path, path.name


def load_arrays(source: str | os.PathLike[str] | bytes | BinaryIO, *,
                config: SpectrogramConfig | None = None,
                nan_policy: Literal["raise", "zero"] = "raise",
                expected_shape: tuple[int, int] | None = (60, 130),
                limits: Limits | None = None) -> Dataset:
    """Read spectrograms from a ``.npy`` or ``.npz`` file, never unpickling anything.

    Parameters
    ----------
    source : path, bytes or binary file
        A ``.npy`` (the array is ``X``) or an ``.npz`` with ``X`` (or exactly one array) and
        optionally ``y``, ``groups``, ``names`` and ``meta`` (the JSON written by
        :meth:`Dataset.save`, so a saved dataset reads back exactly, whatever its image shape).
    config : SpectrogramConfig, optional
        How the arrays were made, recorded in the provenance.
    nan_policy : {"raise", "zero"}
        NaN/Inf values raise :class:`DataError` (with their count and first positions) or are
        replaced by 0 and counted in ``provenance["nan_replaced"]``.
    expected_shape : (int, int) or None
        Image shape ``(n_mels, n_frames)``; accepted layouts are ``(N, a, b)``,
        ``(N, a, b, 1)`` and ``(N, 1, a, b)``. ``None`` accepts any image size.
    limits : Limits, optional
        ``max_clips`` bounds N; ``max_unzipped_mb`` and ``max_zip_ratio`` bound the compressed
        members of an .npz, checked before any is inflated (default: ``Limits.from_env()``,
        so ``SNDIAG_MAX_CLIPS`` applies to the CLI too).

    Returns
    -------
    Dataset

    Raises
    ------
    DataError
        Not a valid .npy/.npz, pickled objects, complex/string/bool values, NaN/Inf, values
        beyond the float32 range, no arrays.
    ArchiveError
        A compressed .npz member expands beyond the limits (a zip bomb).
    ShapeError
        Another layout, or ``y``/``groups``/``names`` whose length differs from N.

    Examples
    --------
    >>> buf = io.BytesIO()
    >>> np.savez(buf, X=np.ones((4, 60, 130, 1), dtype=np.float32), y=np.array([0, 1, 0, 1]))
    >>> ds = load_arrays(buf.getvalue())
    >>> ds.X.shape, ds.y.tolist(), ds.provenance["layout"]
    ((4, 60, 130), ['0', '1', '0', '1'], '(N, n_mels, n_frames, 1)')
    >>> buf = io.BytesIO()
    >>> np.save(buf, np.array([{"a": 1}]), allow_pickle=True)
    >>> load_arrays(buf.getvalue())
    Traceback (most recent call last):
    ...
    sndiag.errors.DataError: upload contains pickled Python objects; save it with a numeric ...
    """
    if nan_policy not in ("raise", "zero"):
        raise ParameterError(f"nan_policy={nan_policy!r} must be 'raise' or 'zero'")
    if expected_shape is not None:
        expected_shape = tuple(int(v) for v in expected_shape)  # type: ignore[assignment]
        if len(expected_shape) != 2:
            raise ParameterError(f"expected_shape={expected_shape} must be (n_mels, n_frames)")
    limits = Limits.from_env() if limits is None else limits
    handle, where = _open_arrays(source)
    head = _peek(handle)
    if head[:1] == b"\x80":  # a raw pickle stream (protocol 2+), e.g. pickle.dump(X, f)
        raise DataError(f"{where} is a pickled Python object, not a .npy/.npz file; save it with "
                        "np.save(path, X.astype(np.float32))")
    if not (head.startswith(b"\x93NUMPY") or head.startswith(b"PK")):
        raise DataError(f"{where} is not a valid .npy/.npz file (it starts with neither the .npy "
                        "header nor a zip header); save arrays with np.save or np.savez")
    try:
        loaded = np.load(handle, allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc).lower() or "object" in str(exc).lower():
            raise DataError(f"{where} contains pickled Python objects; save it with a numeric "
                            "dtype (e.g. np.save(path, X.astype(np.float32)))") from None
        raise DataError(f"{where} is not a valid .npy/.npz file ({exc})") from None
    except Exception as exc:  # OSError, EOFError, BadZipFile, UnicodeError, ...
        raise DataError(f"{where} is not a valid .npy/.npz file ({type(exc).__name__}: {exc})"
                        ) from None
    arrays: dict[str, np.ndarray] = {}
    ignored: list[str] = []
    if isinstance(loaded, np.ndarray):
        arrays["X"] = loaded
    else:
        with loaded as npz:
            # An .npz is a zip: refuse a bomb from its directory, before any array is inflated.
            # Stored members (np.savez, Dataset.save) cannot expand: only compressed ones count.
            packed = [i for i in npz.zip.infolist() if i.compress_type != zipfile.ZIP_STORED]
            try:
                _check_archive(packed, [_member_name(i) for i in packed], limits)
            except ArchiveError as exc:
                raise ArchiveError(f"{where}: {exc}") from None
            keys = list(npz.files)
            if not keys:
                raise DataError(f"{where} is an empty .npz (no arrays); save X in it")
            if "X" not in keys and len(keys) != 1:
                raise DataError(f"{where} holds arrays {keys} but no 'X'; name the spectrogram "
                                "array X (np.savez(path, X=X, y=y))")
            for key in keys:
                if key in _ARRAY_KEYS or len(keys) == 1:
                    arrays["X" if len(keys) == 1 else key] = _read_npz_array(npz, key, where)
                else:
                    ignored.append(key)
    X = arrays["X"]
    meta = _parse_meta(arrays["meta"]) if "meta" in arrays else None
    if X.dtype.kind == "c":
        raise DataError(f"{where}: X has complex dtype {X.dtype}; save the magnitude or power "
                        "(np.abs(X) ** 2) as float32")
    if X.dtype.kind == "b":
        raise DataError(f"{where}: X has dtype bool; that is a mask, not spectrograms")
    if X.dtype.kind not in "iuf":
        raise DataError(f"{where}: X has dtype {X.dtype}; save spectrograms as real numbers "
                        "(float32)")
    X, layout = _array_layout(X, None if meta is not None else expected_shape, where)
    if X.shape[0] == 0:
        raise DataError(f"{where}: X holds no clips (shape {X.shape}); save at least one")
    if X.shape[0] > limits.max_clips:
        raise LimitError(f"{where}: {X.shape[0]} clips exceed the limit of {limits.max_clips}; "
                         "raise SNDIAG_MAX_CLIPS")
    n_bad = 0
    if X.dtype.kind == "f":
        bad = ~np.isfinite(X)
        n_bad = int(bad.sum())
        if n_bad and nan_policy == "raise":
            first = [tuple(int(i) for i in p) for p in np.argwhere(bad)[:3]]
            raise DataError(f"{where}: X has {n_bad} NaN/Inf values (first at {first}); fix the "
                            "source or load with nan_policy='zero'")
        if n_bad:
            X = np.where(bad, np.float32(0), X)
        if X.dtype.itemsize > 4:  # float64/longdouble: finite values may overflow float32
            n_big = int((np.abs(X) > np.finfo(np.float32).max).sum())
            if n_big:
                raise DataError(f"{where}: X has {n_big} values beyond the float32 range "
                                f"(largest |x| = {float(np.abs(X).max()):.3g} > 3.4e38); sndiag "
                                "keeps spectrograms as float32: rescale them (e.g. to dB) first")
    N = X.shape[0]
    for key in ("y", "groups", "names"):
        v = arrays.get(key)
        if v is not None and v.size != N:
            raise ShapeError(f"{where}: {key} has {v.size} entries but X has {N} clips; "
                             "they must match")
    if meta is not None:
        provenance = _checked_provenance(meta.get("provenance") or {})
        skipped = tuple(Skipped(str(s.get("name", "")), str(s.get("reason", "")))
                        for s in meta.get("skipped") or [] if isinstance(s, dict))
    else:
        provenance = {"source": where, "kind": "arrays", "layout": layout,
                      "config": None if config is None else config.to_dict(),
                      "created": _now()}
        skipped = ()
    if config is not None and meta is not None:
        provenance.setdefault("config", config.to_dict())
    if ignored:
        provenance["ignored_arrays"] = ignored
    if n_bad:
        provenance["nan_replaced"] = n_bad
    return Dataset(X, y=arrays.get("y"), groups=arrays.get("groups"), names=arrays.get("names"),
                   provenance=provenance, skipped=skipped)


# -- dispatch ---------------------------------------------------------------------------------
_AUDIO_ONLY = ("labels", "label_regex", "labels_csv", "root", "cache", "progress", "n_jobs",
               "batch_size", "source")
_ARRAYS_ONLY = ("nan_policy", "expected_shape")


def _sniff(head: bytes, name: str) -> str:
    lower = name.lower()
    if lower.endswith(".zip"):
        return "zip"
    if lower.endswith((".npy", ".npz")):
        return "arrays"
    if _is_audio(lower):
        return "audio"
    if head.startswith(b"\x93NUMPY"):
        return "arrays"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip-or-npz"
    return "audio"


def _is_npz(data: bytes | str) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data) if isinstance(data, bytes) else data) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError, UnicodeDecodeError):
        return False
    return bool(names) and all(n.endswith(".npy") for n in names)


def load(source: str | os.PathLike[str] | bytes | BinaryIO | Sequence[FileSpec], *,
         name: str | None = None, **kw: Any) -> Dataset:
    """Any supported input -> Dataset: dispatch on what ``source`` is.

    ============================  ================================
    ``source``                    read by
    ============================  ================================
    a folder                      :func:`from_folder`
    ``*.zip`` (path or bytes)     :func:`from_zip`
    ``*.npy`` / ``*.npz``         :func:`load_arrays`
    an audio file (path/bytes)    :func:`from_files`
    a list of paths or uploads    :func:`from_files`
    ============================  ================================

    Bytes and file objects are recognised by ``name`` (e.g. the upload's file name) or by their
    first bytes. Options that do not apply to the kind found raise :class:`ParameterError`,
    except execution options (``progress``, ``cache``, ``n_jobs``, ``batch_size``, ``limits``),
    which arrays ignore.

    Examples
    --------
    >>> buf = io.BytesIO()
    >>> np.save(buf, np.zeros((3, 60, 130), dtype=np.float32))
    >>> load(buf.getvalue(), progress=print).X.shape
    (3, 60, 130)
    """
    if isinstance(source, list | tuple):
        return from_files(source, **_only(kw, "audio"))
    if isinstance(source, bytes | bytearray) or hasattr(source, "read"):
        data = bytes(source) if isinstance(source, bytes | bytearray) else source.read()  # type: ignore[union-attr]
        given = name or os.path.basename(str(getattr(source, "name", "") or "")) or None
        kind = _sniff(data[:8], given or "")
        if kind == "zip-or-npz":
            kind = "arrays" if _is_npz(data) else "zip"
        if kind == "arrays":
            return _renamed(load_arrays(data, **_only(kw, "arrays")), given)
        if kind == "zip":
            return from_zip(data, name=given, **_only(kw, "audio"))
        label = given or "upload"
        return from_files([(label, data)], **{"source": label, **_only(kw, "audio")})
    path = Path(os.fspath(source))  # type: ignore[arg-type]
    if path.is_dir():
        return from_folder(path, **_only(kw, "audio"))
    if not path.is_file():
        raise ParameterError(f"{path} does not exist; give a folder, a .zip, a .npy/.npz or "
                             "audio files")
    with open(path, "rb") as fh:
        head = fh.read(8)
    kind = _sniff(head, path.name)
    if kind == "zip-or-npz":
        kind = "arrays" if _is_npz(str(path)) else "zip"
    if kind == "arrays":
        return load_arrays(path, **_only(kw, "arrays"))
    if kind == "zip":
        return from_zip(path, name=name, **_only(kw, "audio"))
    return from_files([path], **{"source": name or str(path), **_only(kw, "audio")})


def _renamed(ds: Dataset, name: str | None) -> Dataset:
    if name is None or ds.provenance.get("source") != "upload":
        return ds
    return Dataset(ds.X, y=ds.y, groups=ds.groups, names=ds.names,
                   provenance={**ds.provenance, "source": name}, skipped=ds.skipped)


def _only(kw: dict[str, Any], kind: Literal["audio", "arrays"]) -> dict[str, Any]:
    """The options that apply to ``kind``; a label or layout option that does not -> error."""
    if kind == "audio":
        wrong = [k for k in _ARRAYS_ONLY if k in kw]
        if wrong:
            raise ParameterError(f"options {wrong} apply to .npy/.npz arrays, not to audio input")
        return kw
    wrong = [k for k in ("labels", "label_regex", "labels_csv", "root")
             if kw.get(k) not in (None, "folder", "none")]
    if wrong:
        raise ParameterError(f"options {wrong} apply to audio input, not to .npy/.npz arrays "
                             "(their labels are the array y)")
    return {k: v for k, v in kw.items() if k not in _AUDIO_ONLY}
