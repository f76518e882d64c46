"""The :class:`Dataset`: spectrograms, labels, groups, clip names, provenance, content hash.

A dataset is an immutable value. It knows nothing of files: :mod:`sndiag.io` reads and writes
it (``sndiag.io.save(ds, path)``, ``sndiag.io.load(path)``), and its images are checked by the
same :func:`sndiag.images.check_images` every reader uses.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sndiag.clip_array import ClipArray
from sndiag.config import SpectrogramConfig
from sndiag.errors import DataError, ParameterError, ShapeError
from sndiag.images import check_images
from sndiag.text import clean

__all__ = ["Dataset", "Skipped", "hash_labels"]


@dataclass(frozen=True)
class Skipped:
    """A clip that was not turned into a spectrogram, and why.

    Examples
    --------
    >>> Skipped("a.wav", "not audio").to_dict()
    {'name': 'a.wav', 'reason': 'not audio'}
    """

    name: str
    reason: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", clean(self.name))
        object.__setattr__(self, "reason", clean(self.reason))

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "reason": self.reason}


def _as_str_array(values: Sequence[Any] | np.ndarray | None, n: int, what: str) -> np.ndarray | None:
    if values is None:
        return None
    arr = np.asarray(values)
    if arr.dtype == object or arr.dtype.kind in "biufUS":
        # clean: lone surrogates (a file name that is not UTF-8) cannot be written as UTF-8
        arr = np.array([clean(str(v)) for v in arr.ravel()], dtype=str)
    else:
        raise DataError(f"{what} has dtype {arr.dtype}; give integers or strings")
    if arr.shape != (n,):
        raise ShapeError(f"{what} has {arr.size} entries but X has {n} clips; they must match")
    return arr


def _clean_json(value: Any) -> Any:
    """A JSON value with every string (and key) passed through :func:`sndiag.text.clean`."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {clean(k): _clean_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean_json(v) for v in value]
    return value


_ESCAPES = str.maketrans({"\x1b": "\x1bE", "\x1f": "\x1bU", "\x1e": "\x1bR", "\x00": "\x1bN"})


def _escape(text: str) -> str:
    r"""A label/name with the hash's separators escaped, so the encoding is injective.

    Text without control characters is unchanged (so are the hashes of ordinary datasets).

    Examples
    --------
    >>> _escape("yes"), _escape("a\x1fb")
    ('yes', 'a\x1bUb')
    """
    return text.translate(_ESCAPES)


def hash_labels(h: Any, *, y: np.ndarray | None, groups: np.ndarray | None,
                names: np.ndarray | None, split: np.ndarray | None) -> None:
    """Feed the label arrays into ``h`` (a hashlib object) as :attr:`Dataset.content_hash` does,
    after the shape and the float32 images; a writer that streams the images uses it too."""
    for part in (y, groups, names):
        h.update(b"\x00" if part is None else "\x1f".join(map(_escape, part.tolist())).encode())
        h.update(b"\x1e")
    if split is not None:  # datasets without a split keep their earlier hashes
        h.update(b"split\x1e" + "\x1f".join(map(_escape, split.tolist())).encode())


@dataclass(frozen=True, eq=False)
class Dataset:
    """Spectrogram images with their labels, groups, names and provenance.

    Parameters
    ----------
    X : np.ndarray [shape=(n_clips, n_mels, n_frames), dtype=float32] or ClipArray
        Finite spectrogram images (converted to float32 C-contiguous on construction), or a
        :class:`~sndiag.clip_array.ClipArray` of clips read from a file when needed and never
        held whole (:func:`sndiag.io.streaming.open_streamed`; its values are checked as they
        are read).
    y : np.ndarray [shape=(n_clips,)] or None
        Class labels as strings; ``None`` when the data is unlabelled.
    groups : np.ndarray [shape=(n_clips,)] or None
        Group of each clip (e.g. speaker) as strings, used for group-wise cross-validation.
    names : np.ndarray [shape=(n_clips,)] or None
        Clip names (file paths relative to the source); defaults to ``clip0000`` ...
    provenance : dict
        JSON-ready description of where the data came from and every extraction parameter.
    skipped : tuple of Skipped
        Clips that could not be used, with the reason.
    split : np.ndarray [shape=(n_clips,)] or None
        Which part each clip belongs to (``"train"``, ``"test"``, ...), when the data came with
        a split (a ``split`` column of the labels CSV, ``train/`` and ``test/`` folders):
        scalers are exported fitted on the training part only.

    Attributes
    ----------
    content_hash : str
        SHA-256 over X, y, groups and names: two datasets with the same hash hold the same data.

    Examples
    --------
    >>> X = np.zeros((2, 3, 4), dtype=np.float32)
    >>> ds = Dataset(X, y=["a", "b"], provenance={"source": "doc"})
    >>> ds.n_clips, ds.shape, ds.classes.tolist()
    (2, (3, 4), ['a', 'b'])
    >>> len(ds.content_hash)
    64
    """

    X: np.ndarray
    y: np.ndarray | None = None
    groups: np.ndarray | None = None
    names: np.ndarray | None = None
    provenance: Mapping[str, Any] = field(default_factory=dict)
    skipped: tuple[Skipped, ...] = ()
    split: np.ndarray | None = None

    def __post_init__(self) -> None:
        X = self.X if isinstance(self.X, ClipArray) else check_images(self.X, where="X").X
        n = X.shape[0]
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "y", _as_str_array(self.y, n, "y"))
        object.__setattr__(self, "groups", _as_str_array(self.groups, n, "groups"))
        names = self.names if self.names is not None else [f"clip{i:04d}" for i in range(n)]
        object.__setattr__(self, "names", _as_str_array(names, n, "names"))
        object.__setattr__(self, "split", _as_str_array(self.split, n, "split"))
        object.__setattr__(self, "provenance",
                           _clean_json(json.loads(json.dumps(dict(self.provenance)))))
        object.__setattr__(self, "skipped", tuple(self.skipped))

    # -- derived --------------------------------------------------------------------------
    @property
    def streamed(self) -> bool:
        """True when ``X`` is a :class:`~sndiag.clip_array.ClipArray` (clips read on demand)."""
        return isinstance(self.X, ClipArray)

    @property
    def n_clips(self) -> int:
        return int(self.X.shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_mels, n_frames)`` of one image."""
        return (int(self.X.shape[1]), int(self.X.shape[2]))

    @property
    def classes(self) -> np.ndarray:
        """Sorted unique labels (empty when unlabelled)."""
        return np.array([], dtype=str) if self.y is None else np.unique(self.y)

    @property
    def class_counts(self) -> dict[str, int]:
        if self.y is None:
            return {}
        labels, counts = np.unique(self.y, return_counts=True)
        return {str(k): int(v) for k, v in zip(labels, counts, strict=True)}

    @property
    def content_hash(self) -> str:
        cached = self.__dict__.get("_hash")
        if cached is None:
            h = hashlib.sha256()
            h.update(repr(tuple(self.X.shape)).encode())
            if isinstance(self.X, ClipArray):  # one pass, one chunk in memory
                for _, chunk in self.X.chunks():
                    h.update(memoryview(np.ascontiguousarray(chunk)).cast("B"))
            else:
                h.update(memoryview(self.X).cast("B"))  # no copy: X is C-contiguous
            hash_labels(h, y=self.y, groups=self.groups, names=self.names, split=self.split)
            cached = h.hexdigest()
            object.__setattr__(self, "_hash", cached)
        return cached

    def trusted(self, content_hash: str) -> Dataset:
        """This dataset with its content hash given instead of computed.

        For a streamed dataset whose hash was computed when its file was first read (one pass
        over the clips, :func:`sndiag.distributed.dataset_file.open_dataset_file`) and recorded
        with the file's size and modification time (:class:`sndiag.store.FileStore`). A changed
        dataset (:meth:`replace`, :meth:`subset`) computes its own hash again.
        """
        if not isinstance(content_hash, str) or len(content_hash) != 64:
            raise ParameterError(f"content_hash={content_hash!r} is not a 64-character hex hash")
        object.__setattr__(self, "_hash", content_hash)
        return self

    @property
    def name(self) -> str:
        """Human name: provenance ``name`` or ``source``, else the short hash."""
        return str(self.provenance.get("name") or self.provenance.get("source") or self.content_hash[:12])

    @property
    def is_synthetic(self) -> bool:
        return bool(self.provenance.get("synthetic", False))

    @property
    def config(self) -> SpectrogramConfig | None:
        """How the images were extracted (``provenance["config"]``), or None when unknown.

        Steps that depend on the audio's time base (PCEN's time constant, playback) take their
        ``sr`` and ``hop_length`` from here.

        Examples
        --------
        >>> X = np.zeros((1, 60, 130), dtype=np.float32)
        >>> Dataset(X, provenance={"config": {"sr": 8000, "hop_length": 64}}).config.hop_length
        64
        >>> Dataset(X).config is None
        True
        """
        cfg = self.provenance.get("config")
        if not isinstance(cfg, Mapping):
            return None
        try:
            return SpectrogramConfig.from_dict(cfg)
        except (ParameterError, TypeError):
            return None

    def replace(self, **changes: Any) -> Dataset:
        """A copy with some fields changed (``provenance=...``, ``y=...``), checked like a new one.

        Examples
        --------
        >>> ds = Dataset(np.zeros((1, 2, 2)), provenance={"name": "a"})
        >>> ds.replace(provenance={"name": "b"}).name
        'b'
        """
        return dataclasses.replace(self, **changes)

    def subset(self, index: np.ndarray | Sequence[int]) -> Dataset:
        """Dataset of the clips at ``index`` (same provenance, no skipped list)."""
        idx = np.asarray(index)

        def pick(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[idx]

        provenance = {**self.provenance, "subset_of": self.content_hash}
        durations = provenance.get("durations")
        if isinstance(durations, dict) and isinstance(durations.get("seconds"), list):
            seconds = np.asarray(durations["seconds"])[idx].tolist()
            provenance["durations"] = {**durations, "seconds": seconds}
        return Dataset(self.X[idx], y=pick(self.y), groups=pick(self.groups), names=pick(self.names),
                       provenance=provenance, split=pick(self.split))

    @property
    def train_index(self) -> np.ndarray:
        """Clips of the training part: where ``split`` is ``"train"`` (every clip without a
        split, or when no clip is marked ``"train"``)."""
        if self.split is None or not np.any(self.split == "train"):
            return np.arange(self.n_clips)
        return np.flatnonzero(self.split == "train")

    def summary(self, stats: Any = None) -> dict[str, Any]:
        """JSON-ready summary: size, shape, classes, groups, value range, scale guess.

        Parameters
        ----------
        stats : PixelStats, optional
            Statistics of this dataset: the value range comes from them (no pass over the
            clips). Without them a streamed dataset is read once, a chunk at a time.
        """
        if stats is not None:
            lo, hi = float(stats.global_min), float(stats.global_max)
        elif isinstance(self.X, ClipArray):
            lo, hi = np.inf, -np.inf
            for _, chunk in self.X.chunks():
                lo, hi = min(lo, float(chunk.min())), max(hi, float(chunk.max()))
        else:
            lo, hi = float(self.X.min()), float(self.X.max())
        return {
            "name": self.name,
            "content_hash": self.content_hash,
            "n_clips": self.n_clips,
            "shape": list(self.shape),
            "classes": self.class_counts,
            "n_groups": 0 if self.groups is None else int(np.unique(self.groups).size),
            "min": lo,
            "max": hi,
            "scale_guess": guess_scale(np.array([lo, hi])),
            "synthetic": self.is_synthetic,
            "n_skipped": len(self.skipped),
            "split": None if self.split is None else {
                str(k): int(v) for k, v in zip(*np.unique(self.split, return_counts=True),
                                               strict=True)},
        }

def guess_scale(X: np.ndarray) -> str:
    """Guess whether spectrogram values are linear power/magnitude or decibels.

    Negative values with a range below ~200 look like dB; non-negative heavy-tailed values look
    linear.

    Examples
    --------
    >>> guess_scale(np.array([[-80.0, -3.0]]))
    'db'
    >>> guess_scale(np.array([[0.0, 0.01, 1954.0]]))
    'linear'
    """
    lo, hi = float(np.min(X)), float(np.max(X))
    if lo < 0 and hi - lo <= 250:
        return "db"
    if lo >= 0:
        return "linear"
    return "unknown"
