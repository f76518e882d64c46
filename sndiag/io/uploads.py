"""Uploads and server folders as the dashboard's Data page receives them.

Every function here takes plain values (names, bytes, paths) and returns a
:class:`~sndiag.dataset.Dataset` or plain data, raising :class:`~sndiag.errors.SndiagError`
subclasses with a user-facing message; the page shows them with ``st.error``. Nothing here
imports Streamlit, so the upload paths are tested without a browser.

Audio previews: an upload's bytes are kept in the user's session only (:class:`AudioSource`);
a server folder is read again from disk, and only inside the data root
(``SNDIAG_DATA_ROOT``, :attr:`sndiag.settings.Settings.data_root`).
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sndiag.config import Limits, SpectrogramConfig
from sndiag.dataset import Dataset
from sndiag.errors import DecodeError, LimitError, ParameterError
from sndiag.io import audio
from sndiag.io.arrays import load_arrays
from sndiag.io.clips import from_files, from_folder, from_zip
from sndiag.io.labels import GroupHint, clean_name
from sndiag.io.streaming import is_stats_file
from sndiag.io.zips import MB
from sndiag.settings import resolve_limits

__all__ = [
    "AudioSource",
    "LABEL_MODES",
    "check_upload_size",
    "clip_audio",
    "holdout_split",
    "label_options",
    "ServerFiles",
    "list_server_arrays",
    "list_server_folders",
    "load_array_upload",
    "load_audio_uploads",
    "load_server_folder",
    "load_zip_upload",
    "reextract",
    "resolve_server_file",
    "resolve_server_folder",
    "with_groups",
]

#: Label sources offered for audio: value -> label shown.
LABEL_MODES = {
    "folder": "Class folder names",
    "regex": "File-name pattern (regex)",
    "csv": "CSV manifest (path,label[,group])",
    "none": "No labels",
}
Progress = Callable[[int, int], Any]


@dataclass
class AudioSource:
    """Where the audio of a dataset's clips can be read back for listening.

    ``kind`` is ``"files"`` (upload bytes by clip name, session only), ``"zip"`` (the uploaded
    archive's bytes, session only) or ``"folder"`` (a folder under the data root).
    """

    kind: str
    files: dict[str, bytes] = field(default_factory=dict)
    archive: bytes | None = None
    root: str | None = None


# -- limits -----------------------------------------------------------------------------------
def check_upload_size(sizes: Sequence[tuple[str, int]], limits: Limits) -> None:
    """Refuse uploads whose total size exceeds ``limits.max_upload_mb`` (before reading them).

    Examples
    --------
    >>> check_upload_size([("a.wav", 10)], Limits(max_upload_mb=1))
    >>> check_upload_size([("a.npy", 3 * MB)], Limits(max_upload_mb=1))
    Traceback (most recent call last):
    ...
    sndiag.errors.LimitError: the upload is 3.0 MB (a.npy), above the limit of 1 MB; ...
    """
    total = sum(int(s) for _, s in sizes)
    if total > limits.max_upload_mb * MB:
        biggest = max(sizes, key=lambda t: t[1])[0] if sizes else ""
        what = biggest if len(sizes) == 1 else f"{len(sizes)} files, largest {biggest}"
        raise LimitError(f"the upload is {total / MB:.1f} MB ({what}), above the limit of "
                         f"{limits.max_upload_mb:g} MB; upload less at once, or ask the admin to "
                         "raise SNDIAG_MAX_UPLOAD_MB")


# -- labels -----------------------------------------------------------------------------------
def label_options(mode: str, *, regex: str = "", csv: bytes | None = None) -> dict[str, Any]:
    """Keyword arguments of :func:`sndiag.io.from_files` for a label source.

    Examples
    --------
    >>> label_options("regex", regex=r"(?P<label>\\d)_")
    {'labels': 'none', 'label_regex': '(?P<label>\\\\d)_'}
    """
    if mode == "folder":
        return {"labels": "folder"}
    if mode == "none":
        return {"labels": "none"}
    if mode == "regex":
        if not regex.strip():
            raise ParameterError("give a file-name pattern with a named group 'label', e.g. "
                                 r"(?P<label>\d)_(?P<group>[a-z]+)_\d+\.wav")
        return {"labels": "none", "label_regex": regex.strip()}
    if mode == "csv":
        if not csv:
            raise ParameterError("upload the CSV manifest (header path,label[,group]) first")
        return {"labels": "none", "labels_csv": bytes(csv)}
    raise ParameterError(f"label source {mode!r} must be one of {list(LABEL_MODES)}")


# -- loaders ----------------------------------------------------------------------------------
def load_array_upload(name: str, data: bytes, *, nan_policy: str = "raise",
                      limits: Limits | None = None) -> Dataset:
    """An uploaded ``.npy``/``.npz`` -> Dataset (never unpickles; bad files raise DataError)."""
    limits = resolve_limits(limits)
    check_upload_size([(name, len(data))], limits)
    if not name.lower().endswith((".npy", ".npz")):
        raise ParameterError(f"{name} is not a .npy or .npz file; upload arrays saved with "
                             "numpy.save / numpy.savez")
    buf = io.BytesIO(data)
    buf.name = clean_name(name)  # messages name the user's file, not "upload"
    ds = load_arrays(buf, nan_policy=nan_policy, expected_shape=None, limits=limits)  # type: ignore[arg-type]
    return _named(ds, name, kind="arrays")


def _named(ds: Dataset, name: str, **extra: Any) -> Dataset:
    prov = dict(ds.provenance)
    if not prov.get("name"):
        prov["name"] = name
    for k, v in extra.items():
        prov.setdefault(k, v)
    return ds.replace(provenance=prov)


def load_audio_uploads(files: Sequence[tuple[str, bytes]], *, config: SpectrogramConfig,
                       labels: dict[str, Any], limits: Limits | None = None, cache: Any = None,
                       progress: Progress | None = None, name: str | None = None
                       ) -> tuple[Dataset, AudioSource]:
    """Uploaded audio files (or a folder upload) -> (Dataset, its audio for previews)."""
    limits = resolve_limits(limits)
    check_upload_size([(n, len(b)) for n, b in files], limits)
    if not files:
        raise ParameterError("choose audio files to upload first")
    ds = from_files(list(files), config=config, cache=cache, limits=limits, progress=progress,
                    source="upload", **labels)
    label = name or _common_folder([n for n, _ in files]) or f"{len(files)} uploaded files"
    source = AudioSource("files", files={clean_name(n): b for n, b in files})
    return _named(ds, label), source


def _common_folder(names: Sequence[str]) -> str:
    tops = {clean_name(n).split("/")[0] for n in names if "/" in clean_name(n)}
    return tops.pop() if len(tops) == 1 else ""


def load_zip_upload(name: str, data: bytes, *, config: SpectrogramConfig,
                    labels: dict[str, Any], limits: Limits | None = None, cache: Any = None,
                    progress: Progress | None = None) -> tuple[Dataset, AudioSource]:
    """An uploaded zip of class folders -> (Dataset, its audio for previews)."""
    limits = resolve_limits(limits)
    check_upload_size([(name, len(data))], limits)
    ds = from_zip(data, name=name, config=config, cache=cache, limits=limits, progress=progress,
                  **labels)
    return _named(ds, name), AudioSource("zip", archive=data)


# -- splits -------------------------------------------------------------------------------------
def holdout_split(ds: Dataset, groups: Sequence[str]) -> Dataset:
    """``ds`` with a split: the clips of ``groups`` are the test part, the rest the train part.

    Examples
    --------
    >>> d = Dataset(np.zeros((4, 2, 2)), groups=["a", "a", "b", "c"])
    >>> holdout_split(d, ["b"]).split.tolist()
    ['train', 'train', 'test', 'train']
    """
    if ds.groups is None:
        raise ParameterError("the dataset has no groups to hold out; load it with a group "
                             "(a file-name pattern or a CSV with a group column)")
    held = {str(g) for g in groups}
    unknown = held - set(ds.groups.tolist())
    if unknown or not held:
        raise ParameterError(f"hold out some of the dataset's groups; {sorted(unknown)} are not "
                             "among them" if unknown else "choose at least one group to hold out")
    if held >= set(ds.groups.tolist()):
        raise ParameterError("holding out every group leaves nothing to train on; keep one")
    split = np.where(np.isin(ds.groups, list(held)), "test", "train")
    prov = {**ds.provenance, "split": f"groups {', '.join(sorted(held))} held out as test"}
    return ds.replace(split=split, provenance=prov)


def with_groups(ds: Dataset, hint: GroupHint) -> Dataset:
    """``ds`` with the groups of a :func:`~sndiag.io.labels.suggest_groups` hint.

    Examples
    --------
    >>> from sndiag.io.labels import suggest_groups
    >>> names = [f"{d}_{s}_{n}.wav" for d in "01" for s in ("ann", "bob") for n in "01"]
    >>> d = Dataset(np.zeros((8, 2, 2)), y=[n[0] for n in names], names=names)
    >>> with_groups(d, suggest_groups(d.names, d.y)[0]).groups.tolist()
    ['ann', 'ann', 'bob', 'bob', 'ann', 'ann', 'bob', 'bob']
    """
    if len(hint.groups) != ds.n_clips:
        raise ParameterError(f"the hint has {len(hint.groups)} groups for {ds.n_clips} clips; "
                             "suggest groups on this dataset's names")
    prov = {**ds.provenance, "groups": f"from {hint.how}"}
    return ds.replace(groups=np.asarray(hint.groups, dtype=str), provenance=prov)


def reextract(ds: Dataset, source: AudioSource | None, *, config: SpectrogramConfig,
              data_root_dir: Path | None = None, limits: Limits | None = None,
              cache: Any = None, progress: Progress | None = None) -> Dataset:
    """The same audio files as ``ds``, extracted again with ``config``.

    Labels, groups and split are carried over by clip name (a clip that fails now is skipped).
    The audio comes from the session's ``source`` (uploads, a zip), the shipped sample, or the
    dataset's server folder inside ``data_root_dir``.

    Raises
    ------
    DataError
        When the audio is not available here (arrays, or uploads of another session).
    """
    from sndiag.errors import DataError

    if ds.config is None or ds.provenance.get("kind") not in ("audio", None) and \
            not ds.provenance.get("sample"):
        raise DataError("this dataset was not extracted from audio here, so it cannot be "
                        "extracted again; load the audio files with the new settings")
    limits = resolve_limits(limits)
    kw: dict[str, Any] = dict(config=config, labels="none", cache=cache, limits=limits,
                              progress=progress)
    if ds.provenance.get("sample"):
        from sndiag.demo import sample_folder

        folder = sample_folder()
        new = from_files([str(w) for w in sorted(folder.glob("*.wav"))], root=folder,
                         source="sndiag sample (FSDD)", **kw)
    elif source is not None and source.kind == "files" and source.files:
        new = from_files(list(source.files.items()), source="upload", **kw)
    elif source is not None and source.kind == "zip" and source.archive is not None:
        new = from_zip(source.archive, name=ds.name, **kw)
    else:
        folder = source.root if source is not None and source.kind == "folder" \
            else ds.provenance.get("source")
        path = Path(str(folder)).resolve() if folder else None
        if path is None or data_root_dir is None or not path.is_dir() \
                or not path.is_relative_to(data_root_dir.resolve()):
            raise DataError("the audio of this dataset is not available in this session (it was "
                            "uploaded in another one); upload it again with the new settings")
        new = from_folder(path, source=str(path), **kw)
    where = {str(n): i for i, n in enumerate(ds.names)} if ds.names is not None else {}
    keep = [j for j, n in enumerate(new.names) if str(n) in where]
    if not keep:
        raise DataError("none of the clips could be matched to the dataset's clips by name")
    old = np.array([where[str(new.names[j])] for j in keep])

    def carry(values: np.ndarray | None) -> np.ndarray | None:
        return None if values is None else np.asarray(values)[old]

    prov = {**ds.provenance, **{k: v for k, v in new.provenance.items()
                                if k in ("config", "durations", "created", "n_files",
                                         "n_skipped")},
            "name": f"{ds.name} (re-extracted)", "reextracted_from": ds.content_hash}
    return Dataset(new.X[keep], y=carry(ds.y), groups=carry(ds.groups),
                   names=[str(new.names[j]) for j in keep], provenance=prov,
                   skipped=new.skipped, split=carry(ds.split))


# -- server folders ---------------------------------------------------------------------------
def list_server_folders(root: Path, *, max_depth: int = 2, limit: int = 500) -> list[str]:
    """Sub-folders of ``root`` (relative posix paths, ``"."`` for the root itself).

    Hidden folders are skipped; symbolic links are listed only when they resolve inside root.
    """
    out = ["."]
    stack: list[tuple[Path, int]] = [(root, 0)]
    while stack and len(out) < limit:
        folder, depth = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name, reverse=True)
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith(".") or not entry.is_dir():
                continue
            path = Path(entry.path)
            if not path.resolve().is_relative_to(root):
                continue
            rel = path.relative_to(root).as_posix()
            out.append(rel)
            if depth + 1 < max_depth:
                stack.append((path, depth + 1))
    return sorted(out[:limit])


def resolve_server_folder(root: Path, rel: str) -> Path:
    """``root / rel`` resolved, refusing anything outside ``root`` (``..``, links, absolute)."""
    root = root.resolve()
    target = (root / rel).resolve()
    if not target.is_relative_to(root):
        raise ParameterError(f"{rel!r} is outside the data folder; pick one of the listed folders")
    if not target.is_dir():
        raise ParameterError(f"{rel!r} is not a folder under the data folder")
    return target


@dataclass(frozen=True)
class ServerFiles:
    """Array files under the data root (:func:`list_server_arrays`), as relative posix paths.

    Attributes
    ----------
    datasets : list of str
        ``.npy``/``.npz`` files holding spectrograms (an ``extract --out-dir`` folder's
        ``dataset.npz`` among them).
    stats : list of str
        Statistics files written by ``sndiag stats FILE -o stats.npz``.
    """

    datasets: list[str]
    stats: list[str]

    def stats_beside(self, rel: str) -> list[str]:
        """The statistics files in the folder of dataset file ``rel``.

        Examples
        --------
        >>> ServerFiles(["a/x.npz", "y.npy"], ["a/stats.npz", "s.npz"]).stats_beside("a/x.npz")
        ['a/stats.npz']
        """
        folder = rel.rpartition("/")[0]
        return [s for s in self.stats if s.rpartition("/")[0] == folder]


def list_server_arrays(root: Path, *, max_depth: int = 3, limit: int = 500) -> ServerFiles:
    """The ``.npy``/``.npz`` files under ``root`` the Data page offers, datasets and statistics
    apart (an ``.npz`` is told by its zip directory; nothing else is read).

    Hidden files and folders are skipped, and so are the ``chunks/`` of an ``extract --out-dir``
    folder (its ``dataset.npz`` is the dataset); symbolic links only when they resolve inside
    ``root``.
    """
    datasets: list[str] = []
    stats: list[str] = []
    stack: list[tuple[Path, int]] = [(root, 0)]
    while stack and len(datasets) + len(stats) < limit:
        folder, depth = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        out_dir = any(e.name == "manifest.json" for e in entries)
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            try:
                inside = path.resolve().is_relative_to(root.resolve())
                is_dir, is_file = entry.is_dir(), entry.is_file()
            except OSError:
                continue
            if not inside:
                continue
            if is_dir:
                if depth + 1 < max_depth and not (out_dir and entry.name == "chunks"):
                    stack.append((path, depth + 1))
            elif is_file and entry.name.lower().endswith((".npy", ".npz")):
                rel = path.relative_to(root).as_posix()
                (stats if is_stats_file(path) else datasets).append(rel)
    return ServerFiles(sorted(datasets)[:limit], sorted(stats)[:limit])


def resolve_server_file(root: Path, rel: str) -> Path:
    """``root / rel`` resolved, refusing anything outside ``root`` or that is not a file."""
    root = root.resolve()
    target = (root / rel).resolve()
    if not target.is_relative_to(root):
        raise ParameterError(f"{rel!r} is outside the data folder; pick one of the listed files")
    if not target.is_file():
        raise ParameterError(f"{rel!r} is not a file under the data folder")
    return target


def load_server_folder(root: Path, rel: str, *, config: SpectrogramConfig,
                       labels: dict[str, Any], limits: Limits | None = None, cache: Any = None,
                       progress: Progress | None = None) -> tuple[Dataset, AudioSource]:
    folder = resolve_server_folder(root, rel)
    limits = resolve_limits(limits)
    ds = from_folder(folder, config=config, cache=cache, limits=limits, progress=progress,
                     source=str(folder), **labels)
    name = rel if rel != "." else root.name
    return _named(ds, name), AudioSource("folder", root=str(folder))


# -- audio preview ----------------------------------------------------------------------------
def _read_member(archive: bytes, name: str, limit: int) -> bytes | None:
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        for info in zf.infolist():
            member = info.filename.replace("\\", "/")
            if member == name or clean_name(member) == name:
                if info.file_size > limit:
                    return None
                return zf.read(info)
    return None


def clip_audio(ds: Dataset, index: int, source: AudioSource | None, *,
               data_root_dir: Path | None = None, limits: Limits | None = None
               ) -> tuple[np.ndarray, int] | None:
    """The decoded audio of clip ``index`` as ``(signal, sample_rate)``, or None.

    None when the dataset has no audio (arrays, demo) or the source is not available in this
    session. A server folder is read only when it lies inside ``data_root_dir``.
    """
    limits = resolve_limits(limits)
    name = str(ds.names[index]) if ds.names is not None else ""
    config = ds.config
    if config is None:  # arrays of unknown origin: no audio to play
        return None
    sr = config.sr
    data: bytes | str | None = None
    if source is not None and source.kind == "files":
        data = source.files.get(name)
        if data is None:  # names may have lost a wrapper folder
            matches = [b for n, b in source.files.items() if n.endswith("/" + name) or n == name]
            data = matches[0] if len(matches) == 1 else None
    elif source is not None and source.kind == "zip" and source.archive is not None:
        data = _read_member(source.archive, name, int(limits.max_upload_mb * MB))
    elif ds.provenance.get("sample"):  # the shipped FSDD sample
        from sndiag.demo import sample_folder

        path = sample_folder() / name
        data = str(path) if path.is_file() and path.parent == sample_folder() else None
    else:
        folder = source.root if source is not None and source.kind == "folder" \
            else ds.provenance.get("source")
        if folder and data_root_dir is not None and ds.provenance.get("kind") == "audio":
            path = (Path(folder) / name).resolve()
            if path.is_relative_to(data_root_dir.resolve()) and path.is_file():
                data = str(path)
    if data is None:
        return None
    try:
        y = audio.decode(data, sr=sr, max_seconds=limits.max_clip_seconds, name=name)
    except (DecodeError, LimitError):
        return None
    return y, sr
