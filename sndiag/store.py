"""Persistent dataset store: datasets by content hash, written atomically, verified on load.

Layout of a :class:`FileStore` rooted at ``root``::

    root/
      <content_hash>.npz          the dataset (sndiag.io.save)
      <content_hash>.json         entry metadata: name, created, added_by, source, n_clips, ...
      <content_hash>.<kind>.json  attachments (e.g. experiment results), also atomic
      <content_hash>.stats.npz    its statistics, once computed (PixelStats.to_npz)

A dataset streamed from a file larger than memory (``Dataset.streamed``, opened with
:func:`sndiag.io.streaming.open_streamed`) is not copied: its entry records the file's path,
size and modification time instead of a ``.npz`` (``StoreEntry.file``), and loading it opens the
file again, streamed, after checking that size and time (a changed or missing file moves the
entry to quarantine: its content hash would no longer hold). Deleting such an entry never
touches the file.

Every file is written to a temporary name in the same folder, flushed, fsynced and renamed, so a
process killed mid-write leaves either the old state or the new one, never a torn file. Loading
re-hashes the dataset and refuses an entry whose content does not match its name.

A store that heals: the metadata records the size and SHA-256 of the ``.npz``. An entry whose
metadata is torn or malformed (``"created": null``), whose data is missing, or whose data does
not match (truncated, altered) is moved to ``root/quarantine/`` with a note of the reason, and
reported by :meth:`FileStore.quarantined`; the listing goes on with the others. Putting the same
dataset again verifies what is stored and rewrites it when it is damaged, so re-uploading
repairs an entry.

:class:`MemoryStore` has the same interface and keeps everything in a dict: the test double.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from sndiag.dataset import Dataset
from sndiag.errors import SndiagError, StoreError
from sndiag.io.arrays import load_arrays, save, to_npz_bytes
from sndiag.io.atomic import atomic_write
from sndiag.io.streaming import FileClips, file_fingerprint, open_streamed
from sndiag.settings import Settings
from sndiag.stats import PixelStats

__all__ = ["DatasetStore", "FileStore", "MemoryStore", "Quarantined", "StoreEntry", "default_store",
           "open_store"]

_HASH = re.compile(r"^[0-9a-f]{64}$")
_KIND = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


@dataclass(frozen=True)
class StoreEntry:
    """What the store knows of a dataset without loading it.

    Attributes
    ----------
    dataset_id : str
        The content hash.
    name : str
        The dataset's name.
    created : str
        When it was added (ISO 8601, UTC).
    n_clips, shape, n_classes, synthetic
        Its size and kind.
    added_by : str or None
        Who added it (:attr:`sndiag.auth.Identity.owner`: an e-mail address with an identity
        provider); None when nobody was signed in (an open instance, the shipped sample, or an
        entry written before this was recorded).
    source : str
        Where it came from, in words ("upload of 3 audio files", "server folder fsdd", ...).
    size, sha256 : int or None, str or None
        The stored ``.npz``'s size and SHA-256 (None for entries written before they were
        recorded, and in a :class:`MemoryStore`).
    file : dict or None
        For a dataset kept in its own file (streamed, never copied): ``{"path", "member",
        "size", "mtime_ns"}`` of that file when it was added; None for a stored ``.npz``.
    """

    dataset_id: str
    name: str
    created: str
    n_clips: int
    shape: tuple[int, int]
    n_classes: int
    synthetic: bool
    size: int | None = None
    sha256: str | None = None
    added_by: str | None = None
    source: str = ""
    file: dict[str, Any] | None = None

    @classmethod
    def for_dataset(cls, ds: Dataset, *, name: str | None = None, added_by: str | None = None,
                    source: str | None = None) -> StoreEntry:
        return cls(
            dataset_id=ds.content_hash,
            name=name or ds.name,
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            n_clips=ds.n_clips,
            shape=ds.shape,
            n_classes=len(ds.classes),
            synthetic=ds.is_synthetic,
            added_by=added_by or None,
            source=source if source is not None else _default_source(ds),
            file=_file_reference(ds),
        )

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["shape"] = list(self.shape)
        return d

    @classmethod
    def from_dict(cls, d: Any) -> StoreEntry:
        """Read :meth:`to_dict` output, checking every field's type.

        Raises
        ------
        StoreError
            Naming the first field that is missing or of the wrong type.

        Examples
        --------
        >>> StoreEntry.from_dict({"dataset_id": "a" * 64, "name": "x", "created": None,
        ...                       "n_clips": 1, "shape": [2, 2], "n_classes": 0,
        ...                       "synthetic": False})
        Traceback (most recent call last):
        ...
        sndiag.errors.StoreError: entry metadata: 'created' is None, not a str
        """
        if not isinstance(d, dict):
            raise StoreError(f"entry metadata is a {type(d).__name__}, not an object")

        def get(key: str, kind: type | tuple[type, ...], optional: bool = False) -> Any:
            value = d.get(key)
            if value is None and optional:
                return None
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                name = kind.__name__ if isinstance(kind, type) else kind[0].__name__
                raise StoreError(f"entry metadata: {key!r} is {value!r}, not a {name}")
            return value

        shape = get("shape", list)
        if len(shape) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                                      for v in shape):
            raise StoreError(f"entry metadata: 'shape' is {shape!r}, not two positive integers")
        ref = get("file", dict, optional=True)
        if ref is not None:
            member = ref.get("member")
            if not (isinstance(ref.get("path"), str) and (member is None or isinstance(member, str))
                    and all(isinstance(ref.get(k), int) and not isinstance(ref.get(k), bool)
                            for k in ("size", "mtime_ns"))):
                raise StoreError(f"entry metadata: 'file' is {ref!r}, not a path, member, size "
                                 "and mtime_ns")
            ref = {"path": ref["path"], "member": member, "size": ref["size"],
                   "mtime_ns": ref["mtime_ns"]}
        return cls(dataset_id=get("dataset_id", str), name=get("name", str),
                   created=get("created", str), n_clips=get("n_clips", int),
                   shape=(shape[0], shape[1]), n_classes=get("n_classes", int),
                   synthetic=get("synthetic", bool), size=get("size", int, optional=True),
                   sha256=get("sha256", str, optional=True),
                   added_by=get("added_by", str, optional=True),
                   source=get("source", str, optional=True) or "", file=ref)


@dataclass(frozen=True)
class Quarantined:
    """A damaged entry moved out of the listing (:meth:`FileStore.quarantined`).

    Attributes
    ----------
    dataset_id : str
    reason : str
        Why it was moved (torn metadata, missing or damaged data, ...).
    when : str
        When it was moved (UTC, ISO 8601).
    files : tuple of str
        The names of the moved files in ``root/quarantine/``.
    """

    dataset_id: str
    reason: str
    when: str
    files: tuple[str, ...] = field(default=())


def _file_digest(path: Path) -> tuple[int, str]:
    """(size, SHA-256) of a file, read 1 MB at a time."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
            size += len(block)
    return size, h.hexdigest()


def _file_reference(ds: Dataset) -> dict[str, Any] | None:
    """``StoreEntry.file`` of a dataset streamed from a file; None for one in memory."""
    if not ds.streamed:
        return None
    X = ds.X
    if not isinstance(X, FileClips):
        raise StoreError(f"{ds.name} is read on demand from a {type(X).__name__}, not a file; "
                         "a store keeps datasets in memory or in their own .npy/.npz file")
    f = X.file
    for what, mine, its in (("labels", ds.y, f.y), ("groups", ds.groups, f.groups),
                            ("split", ds.split, f.split),
                            ("names", ds.names, f.names if f.names is not None else ds.names)):
        if (mine is None) != (its is None) or (mine is not None and not np.array_equal(mine, its)):
            raise StoreError(f"{ds.name} is stored as a reference to its file {X.path.name}, but "
                             f"its {what} differ from the file's; write them into the file "
                             "(sndiag.io.save) and open it again")
    return {"path": str(Path(X.path).resolve()), "member": X.member, **X.fingerprint}


def _check_reference(entry: StoreEntry) -> Path:
    """The referenced file's path when it is still the file the entry was made from; StoreError
    with the reason otherwise."""
    ref = entry.file or {}
    path = Path(ref.get("path", ""))
    try:
        now = file_fingerprint(path)
    except SndiagError:
        raise StoreError(f"its file {path} is missing or unreadable") from None
    if now != {"size": ref.get("size"), "mtime_ns": ref.get("mtime_ns")}:
        raise StoreError(f"its file {path} changed since it was added (size or modification "
                         "time)")
    return path


def _default_source(ds: Dataset) -> str:
    """The source of a dataset in words, from its provenance."""
    prov = ds.provenance
    if prov.get("sample"):
        return "the shipped FSDD sample"
    if ds.is_synthetic:
        return "synthetic demo"
    kind = str(prov.get("kind") or "").strip()
    where = str(prov.get("source") or prov.get("path") or "").strip()
    if kind and where:
        return f"{kind} from {where}"
    return kind or where or "unknown"


class DatasetStore(Protocol):
    """What the dashboard needs from a store."""

    def put(self, ds: Dataset, *, name: str | None = None, added_by: str | None = None,
            source: str | None = None) -> StoreEntry: ...
    def get(self, dataset_id: str) -> Dataset: ...
    def delete(self, dataset_id: str) -> None: ...
    def entries(self) -> list[StoreEntry]: ...
    def entry(self, dataset_id: str) -> StoreEntry | None: ...
    def __contains__(self, dataset_id: object) -> bool: ...
    def put_attachment(self, dataset_id: str, kind: str, payload: dict[str, Any]) -> None: ...
    def get_attachment(self, dataset_id: str, kind: str) -> dict[str, Any] | None: ...
    def put_stats(self, dataset_id: str, stats: PixelStats) -> None: ...
    def get_stats(self, dataset_id: str) -> PixelStats | None: ...
    def find_file(self, path: str | os.PathLike[str]) -> StoreEntry | None: ...
    def quarantined(self) -> list[Quarantined]: ...


def _check_id(dataset_id: str) -> str:
    if not isinstance(dataset_id, str) or not _HASH.match(dataset_id):
        raise StoreError(f"dataset id {dataset_id!r} is not a 64-character hex content hash")
    return dataset_id


def _check_kind(kind: str) -> str:
    if not _KIND.match(kind):
        raise StoreError(f"attachment kind {kind!r} must be lower-case letters, digits, - or _")
    return kind


class FileStore:
    """Datasets on disk under ``root``, by content hash.

    Examples
    --------
    >>> import numpy as np, tempfile
    >>> store = FileStore(tempfile.mkdtemp())
    >>> entry = store.put(Dataset(np.ones((2, 3, 4)), provenance={"name": "ones"}))
    >>> [e.name for e in store.entries()], store.get(entry.dataset_id).n_clips
    (['ones'], 2)
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the store folder {self.root}: {exc.strerror}; "
                             "set SNDIAG_STORE to a writable folder") from None

    def _paths(self, dataset_id: str) -> tuple[Path, Path]:
        _check_id(dataset_id)
        return self.root / f"{dataset_id}.npz", self.root / f"{dataset_id}.json"

    # -- health ------------------------------------------------------------------------------
    @property
    def quarantine_dir(self) -> Path:
        """Where damaged entries are moved."""
        return self.root / "quarantine"

    def _quarantine(self, dataset_id: str, reason: str) -> Quarantined:
        """Move an entry's files (data, metadata, attachments) to ``quarantine/`` with a note."""
        when = datetime.now(UTC).isoformat(timespec="seconds")
        stamp = when.replace(":", "").replace("-", "")
        folder = self.quarantine_dir
        moved: list[str] = []
        try:
            folder.mkdir(exist_ok=True)
            for path in sorted(self.root.glob(f"{dataset_id}.*")):
                target = folder / f"{stamp}.{path.name}"
                with contextlib.suppress(FileNotFoundError):  # another process moved it first
                    os.replace(path, target)
                    moved.append(target.name)
            atomic_write(folder / f"{stamp}.{dataset_id}.reason.json",
                         json.dumps({"dataset_id": dataset_id, "reason": reason, "when": when,
                                     "files": moved}))
        except OSError as exc:
            raise StoreError(f"store entry {dataset_id[:12]}… is damaged ({reason}) and cannot "
                             f"be moved to {folder}: {exc.strerror or exc}; check permissions"
                             ) from None
        return Quarantined(dataset_id, reason, when, tuple(moved))

    def quarantined(self) -> list[Quarantined]:
        """Entries moved to ``quarantine/`` (newest first), with the reason.

        Examples
        --------
        >>> import numpy as np, tempfile
        >>> store = FileStore(tempfile.mkdtemp())
        >>> e = store.put(Dataset(np.ones((1, 2, 2))))
        >>> _ = (store.root / f"{e.dataset_id}.json").write_text('{"created": null')
        >>> store.entries(), [q.reason[:13] for q in store.quarantined()]
        ([], ['torn metadata'])
        """
        out = []
        for note in self.quarantine_dir.glob("*.reason.json"):
            try:
                d = json.loads(note.read_text(encoding="utf-8"))
                out.append(Quarantined(str(d["dataset_id"]), str(d["reason"]), str(d["when"]),
                                       tuple(map(str, d.get("files") or ()))))
            except (OSError, ValueError, KeyError, TypeError):
                continue
        return sorted(out, key=lambda q: q.when, reverse=True)

    def _read_entry(self, dataset_id: str) -> StoreEntry:
        """The entry's checked metadata; StoreError with the reason when it is damaged."""
        _, meta_path = self._paths(dataset_id)
        try:
            raw = json.loads(meta_path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise StoreError(f"metadata unreadable ({exc.strerror or exc})") from None
        except ValueError as exc:
            raise StoreError(f"torn metadata ({exc})") from None
        entry = StoreEntry.from_dict(raw)
        if entry.dataset_id != dataset_id:
            raise StoreError(f"metadata names another dataset ({entry.dataset_id[:12]}…)")
        return entry

    def _data_intact(self, entry: StoreEntry) -> bool:
        """Whether the stored ``.npz`` is the one the metadata recorded (size, SHA-256); entries
        without a recorded checksum are loaded and re-hashed. A file reference: whether the file
        is unchanged."""
        data_path, _ = self._paths(entry.dataset_id)
        if entry.file is not None and not data_path.exists():
            try:
                _check_reference(entry)
            except StoreError:
                return False
            return True
        try:
            if entry.sha256 is None:
                return load_arrays(data_path).content_hash == entry.dataset_id
            if data_path.stat().st_size != entry.size:
                return False
            return _file_digest(data_path)[1] == entry.sha256
        except (SndiagError, OSError, ValueError):
            return False

    # -- the interface ------------------------------------------------------------------------
    def put(self, ds: Dataset, *, name: str | None = None, added_by: str | None = None,
            source: str | None = None) -> StoreEntry:
        """Store ``ds`` and return its entry.

        Idempotent: the same content is written once. An existing entry is verified first (its
        metadata, and its data against the recorded size and checksum); a damaged one is
        written anew, so putting a dataset again repairs its entry. An intact entry keeps who
        added it first.

        A streamed dataset (``ds.streamed``, clips in their own file) is not copied: the entry
        records the file (``StoreEntry.file``).
        """
        data_path, meta_path = self._paths(ds.content_hash)
        if meta_path.exists() and (data_path.exists() or ds.streamed):
            try:
                entry = self._read_entry(ds.content_hash)
            except StoreError:
                entry = None
            if entry is not None and (data_path.exists() or entry.file is not None) \
                    and self._data_intact(entry):
                return entry
        entry = StoreEntry.for_dataset(ds, name=name, added_by=added_by, source=source)
        try:
            if entry.file is not None:
                atomic_write(meta_path, json.dumps(entry.to_dict()))
                return entry
            save(ds, data_path)
            size, digest = _file_digest(data_path)
            entry = StoreEntry(**{**entry.__dict__, "size": size, "sha256": digest})
            # The metadata goes last: an entry is listed only once its data is complete.
            atomic_write(meta_path, json.dumps(entry.to_dict()))
        except OSError as exc:
            raise StoreError(f"cannot write to the store at {self.root}: "
                             f"{getattr(exc, 'strerror', None) or exc}; check free disk space and "
                             "permissions") from None
        return entry

    def get(self, dataset_id: str) -> Dataset:
        """Load a dataset, verifying its content against its id.

        A damaged entry (unreadable, or content that does not match the id) is moved to
        ``quarantine/``; loading the data again repairs it.
        """
        data_path, meta_path = self._paths(dataset_id)
        if not data_path.exists() and meta_path.exists():
            return self._get_reference(dataset_id)
        if not data_path.exists():
            raise StoreError(f"no dataset {dataset_id[:12]}… in the store; it may have been "
                             "created on another server — load the data again")
        try:
            ds = load_arrays(data_path)
        except (SndiagError, OSError, ValueError) as exc:
            self._quarantine(dataset_id, f"unreadable data ({exc})")
            raise StoreError(f"store entry {dataset_id[:12]}… is unreadable ({exc}); it was "
                             "moved to quarantine — load the data again") from None
        if ds.content_hash != dataset_id:
            self._quarantine(dataset_id, "the data does not match its content hash")
            raise StoreError(f"store entry {dataset_id[:12]}… does not match its content hash; "
                             "it was modified on disk and moved to quarantine — load the data "
                             "again")
        return ds

    def _get_reference(self, dataset_id: str) -> Dataset:
        """Open the file a streamed dataset's entry refers to (checked unchanged first)."""
        try:
            entry = self._read_entry(dataset_id)
        except StoreError as exc:
            self._quarantine(dataset_id, str(exc))
            raise StoreError(f"store entry {dataset_id[:12]}… is damaged ({exc}); it was moved "
                             "to quarantine — load the data again") from None
        if entry.file is None:
            self._quarantine(dataset_id, "the data file is missing")
            raise StoreError(f"store entry {dataset_id[:12]}… has lost its data; it was moved "
                             "to quarantine — load the data again")
        try:
            path = _check_reference(entry)
            ds = open_streamed(path, content_hash=dataset_id)
        except SndiagError as exc:
            self._quarantine(dataset_id, str(exc))
            raise StoreError(f"store entry {dataset_id[:12]}…: {exc}; it was moved to "
                             "quarantine — open the file again") from None
        if ds.n_clips != entry.n_clips or tuple(ds.shape) != tuple(entry.shape):
            self._quarantine(dataset_id, "its file holds other clips than recorded")
            raise StoreError(f"store entry {dataset_id[:12]}…: its file holds other clips than "
                             "recorded; it was moved to quarantine — open the file again")
        return ds

    def find_file(self, path: str | os.PathLike[str]) -> StoreEntry | None:
        """The entry of the dataset streamed from file ``path``, when that file is unchanged
        since it was added (so opening it again needs no pass over its clips); else None."""
        want = str(Path(path).resolve())
        for entry in self.entries():
            if entry.file is not None and entry.file["path"] == want:
                try:
                    _check_reference(entry)
                except StoreError:
                    continue
                return entry
        return None

    def entry(self, dataset_id: str) -> StoreEntry | None:
        """The entry of ``dataset_id``, or None when it is not (completely) stored."""
        if dataset_id not in self:
            return None
        try:
            return self._read_entry(dataset_id)
        except StoreError:
            return None

    def delete(self, dataset_id: str) -> None:
        """Remove a dataset and its attachments. The metadata goes first, so a process killed
        midway leaves the entry unlisted (and :meth:`put` writes it again in full)."""
        data_path, meta_path = self._paths(dataset_id)
        if not meta_path.exists() and not data_path.exists():
            raise StoreError(f"no dataset {dataset_id[:12]}… in the store")
        try:
            meta_path.unlink(missing_ok=True)
            data_path.unlink(missing_ok=True)  # a streamed dataset's own file is left alone
            for extra in [*self.root.glob(f"{dataset_id}.*.json"), self._stats_path(dataset_id)]:
                extra.unlink(missing_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot delete {dataset_id[:12]}… from the store at {self.root}: "
                             f"{exc.strerror or exc}") from None

    def entries(self) -> list[StoreEntry]:
        """Complete entries, newest first.

        Foreign files and data still being written (no metadata yet) are ignored; an entry
        with torn or malformed metadata, or without its data, is moved to ``quarantine/``
        (:meth:`quarantined`) and left out.
        """
        out = []
        for meta_path in self.root.glob("*.json"):
            stem = meta_path.name[: -len(".json")]
            if not _HASH.match(stem):
                continue
            try:
                entry = self._read_entry(stem)
                if not (self.root / f"{stem}.npz").exists():
                    if entry.file is None:
                        raise StoreError("the data file is missing")
                    if not Path(entry.file["path"]).is_file():
                        raise StoreError(f"its file {entry.file['path']} is missing")
            except StoreError as exc:
                if meta_path.exists():  # not removed meanwhile by another process
                    self._quarantine(stem, str(exc))
                continue
            out.append(entry)
        return sorted(out, key=lambda e: e.created, reverse=True)

    def __contains__(self, dataset_id: object) -> bool:
        if not isinstance(dataset_id, str) or not _HASH.match(dataset_id):
            return False
        data_path, meta_path = self._paths(dataset_id)
        if not meta_path.exists():
            return False
        if data_path.exists():
            return True
        try:
            return self._read_entry(dataset_id).file is not None
        except StoreError:
            return False

    def _stats_path(self, dataset_id: str) -> Path:
        return self.root / f"{_check_id(dataset_id)}.stats.npz"

    def put_stats(self, dataset_id: str, stats: PixelStats) -> None:
        """Keep the statistics of a stored dataset beside it (computed once, even for 100 000
        clips streamed from a file, then read back after a restart)."""
        entry = self.entry(dataset_id)
        if entry is None:
            raise StoreError(f"no dataset {dataset_id[:12]}… in the store")
        if int(stats.n) != entry.n_clips or tuple(stats.shape) != tuple(entry.shape):
            raise StoreError(f"statistics of {stats.n} clips of {tuple(stats.shape)} do not "
                             f"describe dataset {dataset_id[:12]}…")
        try:
            atomic_write(self._stats_path(dataset_id), stats.to_npz_bytes())
        except OSError as exc:
            raise StoreError(f"cannot write to the store at {self.root}: "
                             f"{getattr(exc, 'strerror', None) or exc}") from None

    def get_stats(self, dataset_id: str) -> PixelStats | None:
        """The statistics kept by :meth:`put_stats`, or None (none kept, or unreadable: an
        unreadable file is removed, so they are computed again)."""
        path = self._stats_path(dataset_id)
        if not path.exists():
            return None
        try:
            return PixelStats.from_npz(path)
        except (SndiagError, OSError, ValueError, KeyError, TypeError):
            with contextlib.suppress(OSError):
                path.unlink()
            return None

    def put_attachment(self, dataset_id: str, kind: str, payload: dict[str, Any]) -> None:
        """Store JSON ``payload`` (e.g. experiment results) beside a dataset."""
        _check_id(dataset_id)
        path = self.root / f"{dataset_id}.{_check_kind(kind)}.json"
        atomic_write(path, json.dumps(payload))

    def get_attachment(self, dataset_id: str, kind: str) -> dict[str, Any] | None:
        _check_id(dataset_id)
        path = self.root / f"{dataset_id}.{_check_kind(kind)}.json"
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return None


class MemoryStore:
    """In-memory store with the :class:`FileStore` interface (tests, ephemeral sessions).

    Examples
    --------
    >>> import numpy as np
    >>> store = MemoryStore()
    >>> e = store.put(Dataset(np.zeros((1, 2, 2))))
    >>> e.dataset_id in store
    True
    """

    def __init__(self) -> None:
        self._data: dict[str, tuple[bytes | Dataset, StoreEntry]] = {}
        self._attachments: dict[tuple[str, str], str] = {}
        self._stats: dict[str, PixelStats] = {}

    def put(self, ds: Dataset, *, name: str | None = None, added_by: str | None = None,
            source: str | None = None) -> StoreEntry:
        if ds.content_hash not in self._data:
            entry = StoreEntry.for_dataset(ds, name=name, added_by=added_by, source=source)
            # a streamed dataset is kept as it is (its clips stay where they are)
            self._data[ds.content_hash] = (ds if ds.streamed else to_npz_bytes(ds), entry)
        return self._data[ds.content_hash][1]

    def entry(self, dataset_id: str) -> StoreEntry | None:
        item = self._data.get(dataset_id)
        return None if item is None else item[1]

    def delete(self, dataset_id: str) -> None:
        if self._data.pop(_check_id(dataset_id), None) is None:
            raise StoreError(f"no dataset {dataset_id[:12]}… in the store")
        self._stats.pop(dataset_id, None)
        for key in [k for k in self._attachments if k[0] == dataset_id]:
            del self._attachments[key]

    def get(self, dataset_id: str) -> Dataset:
        _check_id(dataset_id)
        if dataset_id not in self._data:
            raise StoreError(f"no dataset {dataset_id[:12]}… in the store; load the data again")
        data = self._data[dataset_id][0]
        return data if isinstance(data, Dataset) else load_arrays(data)

    def put_stats(self, dataset_id: str, stats: PixelStats) -> None:
        if _check_id(dataset_id) not in self._data:
            raise StoreError(f"no dataset {dataset_id[:12]}… in the store")
        self._stats[dataset_id] = stats

    def get_stats(self, dataset_id: str) -> PixelStats | None:
        return self._stats.get(dataset_id)

    def find_file(self, path: str | os.PathLike[str]) -> StoreEntry | None:
        want = str(Path(path).resolve())
        for _, entry in self._data.values():
            if entry.file is not None and entry.file["path"] == want:
                try:
                    _check_reference(entry)
                except StoreError:
                    continue
                return entry
        return None

    def entries(self) -> list[StoreEntry]:
        return sorted((e for _, e in self._data.values()), key=lambda e: e.created, reverse=True)

    def __contains__(self, dataset_id: object) -> bool:
        return dataset_id in self._data

    def put_attachment(self, dataset_id: str, kind: str, payload: dict[str, Any]) -> None:
        self._attachments[(_check_id(dataset_id), _check_kind(kind))] = json.dumps(payload)

    def get_attachment(self, dataset_id: str, kind: str) -> dict[str, Any] | None:
        raw = self._attachments.get((_check_id(dataset_id), _check_kind(kind)))
        return None if raw is None else json.loads(raw)

    def quarantined(self) -> list[Quarantined]:
        """Always empty: nothing in memory can be torn."""
        return []


def default_store(settings: Settings | None = None) -> FileStore:
    """The store of ``settings`` (``$SNDIAG_STORE``, default ``./.sndiag/store``)."""
    return FileStore((settings or Settings.from_env()).store)


def open_store(location: str | os.PathLike[str] | None) -> DatasetStore:
    """``":memory:"`` gives a :class:`MemoryStore`, a path a :class:`FileStore`, None the default."""
    if location is None:
        return default_store()
    if str(location) == ":memory:":
        return MemoryStore()
    return FileStore(location)
