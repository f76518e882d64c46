"""Audio files, folders and zip archives -> :class:`~sndiag.dataset.Dataset`.

Audio goes through one pipeline (:func:`from_files`; :func:`from_folder` and :func:`from_zip`
only gather the files): labels are assigned first (:mod:`sndiag.io.labels`), then clips are
decoded in a thread pool (libsndfile and soxr release the GIL; :mod:`sndiag.io.audio`),
padded/cropped to ``config.n_samples``, and turned into spectrograms by one batched
:func:`sndiag.spectrogram.melspectrogram` call per batch (one FFT over the active frames of all
its clips, equal to librosa's to 1e-5), also in the pool. A clip that cannot be used is recorded
in ``Dataset.skipped`` with the reason and the run goes on.
"""

from __future__ import annotations

import contextlib
import io
import os
import posixpath
import threading
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sndiag.config import Limits, SpectrogramConfig
from sndiag.dataset import Dataset, Skipped
from sndiag.errors import ArchiveError, DataError, DecodeError, LimitError, ParameterError
from sndiag.io import audio
from sndiag.io.arrays import now
from sndiag.io.feature_cache import FeatureCache, cache_key
from sndiag.io.labels import Item, Labels, assign_labels, clean_name
from sndiag.io.zips import MB, check_archive, member_name, member_reader
from sndiag.memory import batch_clips, check_images_fit, check_window
from sndiag.settings import resolve_limits
from sndiag.spectrogram import DEFAULT_BATCH_SIZE, melspectrogram

__all__ = [
    "ARCHIVE_EXTENSIONS",
    "AUDIO_EXTENSIONS",
    "FileSpec",
    "durations",
    "from_files",
    "from_folder",
    "from_zip",
    "is_audio",
    "scan_folder",
]

#: File name endings read as audio (case-insensitive).
AUDIO_EXTENSIONS = (".aif", ".aiff", ".flac", ".mp3", ".oga", ".ogg", ".wav")
#: Archives found inside a zip are reported, never opened.
ARCHIVE_EXTENSIONS = (".zip", ".tar", ".tgz", ".gz", ".bz2", ".xz", ".7z", ".rar", ".npz")
#: The default extraction (frozen, so sharing it is safe).
DEFAULT_CONFIG = SpectrogramConfig()

FileSpec = str | os.PathLike[str] | tuple[str, bytes]
Progress = Callable[[int, int], Any]


# -- small helpers ----------------------------------------------------------------------------
def is_audio(name: str) -> bool:
    """Whether ``name`` ends with an audio extension (:data:`AUDIO_EXTENSIONS`)."""
    return name.lower().endswith(AUDIO_EXTENSIONS)


def _is_archive(name: str) -> bool:
    return name.lower().endswith(ARCHIVE_EXTENSIONS)


def _not_audio_reason(name: str) -> str:
    suffix = posixpath.splitext(name)[1].lower() or "no extension"
    return f"not an audio file ({suffix}); accepted: {' '.join(AUDIO_EXTENSIONS)}"


def _reason(exc: BaseException, name: str) -> str:
    text = str(exc)
    prefix = f"{name}: "
    return text[len(prefix):] if text.startswith(prefix) else text


def _check_n_jobs(n_jobs: int) -> int:
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0 or n_jobs < -1:
        raise ParameterError(f"n_jobs={n_jobs!r} must be a positive integer or -1 (all cores)")
    return (os.cpu_count() or 1) if n_jobs == -1 else n_jobs


# -- decoding pipeline ------------------------------------------------------------------------
@dataclass
class _Loaded:
    seconds: float
    rate: float = float("nan")  # the file's own sample rate (NaN when its header cannot say)
    y: np.ndarray | None = None  # fixed-length signal, awaiting the batched spectrogram
    S: np.ndarray | None = None  # a cache hit
    key: str | None = None


def _read_bytes(item: Item) -> bytes:
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


def _check_size(item: Item, limits: Limits) -> None:
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


def _load_one(item: Item, config: SpectrogramConfig, cache: FeatureCache | None,
              limits: Limits) -> _Loaded:
    """Decode one clip's window (in a worker thread); a cache hit skips decoding."""
    max_seconds = limits.max_clip_seconds
    _check_size(item, limits)
    if cache is None:
        src = item.source() if callable(item.source) else item.source
        w = audio.decode_window(src, config=config, max_seconds=max_seconds, name=item.name)
        return _Loaded(seconds=w.seconds, rate=_source_rate(src, item.name), y=w.y)
    data = _read_bytes(item)
    key = cache_key(data, config)
    S = cache.get(key)
    if S is not None and S.shape == config.shape:
        seconds, rate = audio.header(data, name=item.name)
        if seconds > max_seconds:
            raise LimitError(f"{item.name}: lasts {seconds:.1f} s, above the limit of "
                             f"{max_seconds:g} s; trim the clip or raise SNDIAG_MAX_CLIP_SECONDS")
        return _Loaded(seconds=seconds, rate=rate, S=np.asarray(S, dtype=np.float32))
    w = audio.decode_window(data, config=config, max_seconds=max_seconds, name=item.name)
    return _Loaded(seconds=w.seconds, rate=_source_rate(data, item.name), y=w.y, key=key)


def _source_rate(source: Any, name: str) -> float:
    """The file's own sample rate from its header; NaN when only a fallback decoder reads it."""
    try:
        return float(audio.header(source, name=name)[1])
    except DecodeError:
        return float("nan")


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
    rates: np.ndarray
    errors: dict[int, str]


class _Pipeline:
    """Decode clips and compute their spectrograms in one thread pool, a few batches at a time.

    Clips are decoded by the pool; when all clips of a batch are in, the batch's spectrograms are
    computed by one task in the same pool. At most ``n_jobs + 1`` batches are open at once, so
    memory stays at a few batches of signals whatever the number of clips. Results and
    ``progress`` calls happen in the calling thread.
    """

    def __init__(self, items: list[Item], *, config: SpectrogramConfig,
                 cache: FeatureCache | None, limits: Limits, progress: Progress | None,
                 n_jobs: int, batch_size: int) -> None:
        n = len(items)
        self.items, self.config, self.cache, self.limits = items, config, cache, limits
        self.progress, self.n_jobs = progress, n_jobs
        self.run = _Run(np.empty((n, *config.shape), dtype=np.float32), np.zeros(n, dtype=bool),
                        np.full(n, np.nan), np.full(n, np.nan), {})
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
            self.run.rates[i] = loaded.rate
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


def durations(seconds: np.ndarray, config: SpectrogramConfig,
              rates: np.ndarray | None = None) -> dict[str, Any]:
    """Per-clip durations against the grid, and the files' own sample rates, for provenance.

    ``source_sr`` (when ``rates`` are given and any is known): ``min``, ``max`` and ``counts``
    (rate in Hz -> clips) of the files' own sample rates; ``rates`` one per clip (None when
    unknown), like ``seconds``.
    """
    samples = np.rint(seconds * config.sr)
    out = {
        "min": float(seconds.min()),
        "median": float(np.median(seconds)),
        "max": float(seconds.max()),
        "mean": float(seconds.mean()),
        "window": config.duration,
        "n_padded": int((samples < config.n_samples).sum()),
        "n_cropped": int((samples > config.n_samples).sum()),
        "seconds": [round(float(s), 4) for s in seconds],
    }
    known = np.asarray(rates, dtype=np.float64) if rates is not None else np.zeros(0)
    known = known[np.isfinite(known)]
    if known.size:
        values, counts = np.unique(known.astype(np.int64), return_counts=True)
        out["source_sr"] = {"min": int(values.min()), "max": int(values.max()),
                            "counts": {str(v): int(c) for v, c in zip(values, counts, strict=True)}}
        out["rates"] = [int(r) if np.isfinite(r) else None for r in np.asarray(rates, float)]
    return out


def _compact(X: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """``X[keep]`` (``keep`` sorted) moved to the front of ``X`` in place: no second copy of
    the images (100 000 clips: 3 GB)."""
    for j, i in enumerate(keep.tolist()):
        if i != j:
            X[j] = X[i]
    return X[:keep.size]


def _build(items: list[Item], *, source: str, config: SpectrogramConfig, labels: str,
           label_regex: str | None, labels_csv: str | os.PathLike[str] | bytes | None,
           cache: FeatureCache | None, limits: Limits | None, progress: Progress | None,
           n_jobs: int, batch_size: int, skipped: Iterable[Skipped] = (),
           extra: Mapping[str, Any] | None = None) -> Dataset:
    if not isinstance(config, SpectrogramConfig):
        raise ParameterError(f"config={config!r} must be a SpectrogramConfig")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise ParameterError(f"batch_size={batch_size!r} must be a positive integer")
    n_jobs = _check_n_jobs(n_jobs)
    limits = resolve_limits(limits)
    if len(items) > limits.max_clips:
        raise LimitError(f"{len(items)} audio files exceed the limit of {limits.max_clips} clips; "
                         "split the data or raise SNDIAG_MAX_CLIPS")
    check_window(config)
    check_images_fit(len(items), config.shape, limits, where=f"{len(items)} audio files",
                     streaming_hint="extract with --out-dir (Python: sndiag.distributed."
                     "extract_chunked), which holds one chunk in memory")
    batch_size = batch_clips(config, batch_size)
    skipped = list(skipped)
    lab = assign_labels(items, labels=labels, label_regex=label_regex, labels_csv=labels_csv,
                        limits=limits)
    all_skipped = [*skipped, *lab.skipped]
    run = _Pipeline(lab.items, config=config, cache=cache, limits=limits, progress=progress,
                    n_jobs=n_jobs, batch_size=batch_size)()
    all_skipped += [Skipped(lab.items[i].name, r) for i, r in sorted(run.errors.items())]
    all_skipped.sort(key=lambda s: s.name)
    keep = np.flatnonzero(run.ok)
    if keep.size == 0:
        first = "; ".join(f"{s.name}: {s.reason}" for s in all_skipped[:5]) or "no audio files"
        raise DataError(f"no clip could be used ({len(all_skipped)} skipped): {first}")
    X = _compact(run.X, keep)

    def pick(values: list[str] | None) -> list[str] | None:
        return None if values is None else [values[i] for i in keep]

    provenance: dict[str, Any] = {
        "source": source,
        "kind": "audio",
        "config": config.to_dict(),
        "labels": lab.how,
        "n_files": len(items) + len(skipped),
        "n_skipped": len(all_skipped),
        "durations": durations(run.seconds[keep], config, run.rates[keep]),
        "created": now(),
        **(extra or {}),
    }
    return Dataset(X, y=pick(lab.y), groups=pick(lab.groups),
                   names=[lab.items[i].name for i in keep], provenance=provenance,
                   skipped=tuple(all_skipped), split=pick(lab.split))


# -- public audio entry points ----------------------------------------------------------------
def from_files(files: Sequence[FileSpec], *, config: SpectrogramConfig = DEFAULT_CONFIG,
               labels: Labels = "folder", label_regex: str | None = None,
               labels_csv: str | os.PathLike[str] | bytes | None = None,
               root: str | os.PathLike[str] | None = None, cache: FeatureCache | None = None,
               limits: Limits | None = None, progress: Progress | None = None, n_jobs: int = 2,
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
        CSV with a header row ``path,label[,group][,split]``; paths relative to ``root``, to a wrapper
        folder, or bare file names; extra columns are ignored. Files not listed, and rows without
        a file, are reported in ``skipped``.
    root : path, optional
        Folder the names of files on disk are relative to; defaults to their common folder.
    cache : FeatureCache, optional
        Spectrograms by content (e.g. :class:`~sndiag.io.feature_cache.DiskCache`); a hit skips
        decoding.
    limits : Limits, optional
        ``max_clips`` is checked before anything is decoded; ``max_clip_seconds`` per clip from
        its header (longer clips are skipped). Default: the environment's
        (:class:`~sndiag.settings.Settings`).
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
    items: list[Item] = []
    for spec in specs:
        if isinstance(spec, tuple):
            if len(spec) != 2 or not isinstance(spec[1], bytes | bytearray):
                raise ParameterError("an upload must be a (name, bytes) pair")
            items.append(Item(clean_name(str(spec[0])), bytes(spec[1])))
            continue
        path = os.path.abspath(os.fspath(spec))
        rel = os.path.relpath(path, base)
        if rel == ".." or rel.startswith(".." + os.sep):
            raise ParameterError(f"{path} is not inside root={os.fspath(root or base)!r}; "
                                 "give a root that contains every file")
        items.append(Item(Path(rel).as_posix(), path))
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


def scan_folder(folder: str) -> tuple[list[Item], list[Skipped]]:
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
    items = [Item(name, path) for name, path in found if is_audio(name)]
    skipped += [Skipped(name, "nested archives are not read" if _is_archive(name)
                        else _not_audio_reason(name))
                for name, _ in found if not is_audio(name)]
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


def _build_kw(items: list[Item], *, skipped: list[Skipped],
              extra: Mapping[str, Any] | None = None,
              config: SpectrogramConfig = DEFAULT_CONFIG, labels: Labels = "folder",
              label_regex: str | None = None,
              labels_csv: str | os.PathLike[str] | bytes | None = None,
              cache: FeatureCache | None = None, limits: Limits | None = None,
              progress: Progress | None = None, n_jobs: int = 2,
              batch_size: int = DEFAULT_BATCH_SIZE, source: str = "") -> Dataset:
    return _build(items, source=source, config=config, labels=labels, label_regex=label_regex,
                  labels_csv=labels_csv, cache=cache, limits=limits, progress=progress,
                  n_jobs=n_jobs, batch_size=batch_size, skipped=skipped, extra=extra)


# -- zip archives -----------------------------------------------------------------------------
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
    limits = resolve_limits(kw.get("limits"))
    kw["limits"] = limits
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
        names = [member_name(i) for i in infos]
        check_archive(zf.infolist(), limits)
        lock = threading.Lock()
        items: list[Item] = []
        skipped: list[Skipped] = []
        for info, member in zip(infos, names, strict=True):
            parts = member.split("/")
            if parts[0] == "__MACOSX" or any(p.startswith(".") for p in parts):
                continue
            if _is_archive(member):
                skipped.append(Skipped(member, "nested archives are not read"))
            elif not is_audio(member):
                skipped.append(Skipped(member, _not_audio_reason(member)))
            elif info.flag_bits & 0x1:
                skipped.append(Skipped(member, "encrypted; zip it again without a password"))
            else:
                items.append(Item(member, member_reader(zf, info, member, lock)))
        if not items:
            raise DataError(f"{label} holds no audio files (accepted: "
                            f"{' '.join(AUDIO_EXTENSIONS)}); {len(skipped)} other members")
        items.sort(key=lambda it: it.name)
        kw.setdefault("source", label)
        return _build_kw(items, skipped=skipped, extra={"archive_members": len(infos)}, **kw)

