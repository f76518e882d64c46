"""Where clip labels and groups come from: class folders, a file-name pattern, or a CSV.

Every audio reader (:mod:`sndiag.io.clips`, the chunked extraction of :mod:`sndiag.distributed`)
lists its candidate clips as :class:`Item` (a relative posix name and where its bytes are), then
labels them here with :func:`assign_labels`, in this order of precedence:

* ``labels_csv``: a manifest with a header row ``path,label[,group][,split]``;
* ``label_regex``: a pattern with named groups ``label`` and optionally ``group``, searched in
  each file name (FSDD: ``(?P<label>\\d)_(?P<group>[a-z]+)_\\d+\\.wav``); a pattern with only a
  ``group`` reads the groups and leaves the labels to the class folders;
* ``labels="folder"`` (the default): the first folder level under the common root of the clip
  names, so a folder or zip of class folders works whether or not it is wrapped in one top
  folder. When no clip sits in a folder, the dataset is unlabelled. When that level holds only
  split names (``train``, ``test``, ``val``, ...), it is the split and the next level the label.

A split (which clips train, which test) comes from a ``split`` column of the CSV, a ``split``
group of the pattern, or ``train/`` / ``test/`` folders.

Clips a source cannot label are returned as :class:`~sndiag.dataset.Skipped` with the reason.
"""

from __future__ import annotations

import csv
import io
import os
import posixpath
import re
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from sndiag.config import Limits
from sndiag.dataset import Skipped
from sndiag.errors import DataError, LimitError, ParameterError
from sndiag.io.patterns import compile_pattern
from sndiag.settings import resolve_limits
from sndiag.text import clean

__all__ = ["GroupHint", "Item", "Labelled", "Labels", "assign_labels", "clean_name",
           "suggest_groups"]

Labels = Literal["folder", "none"]
Source = str | bytes | Callable[[], bytes]


@dataclass(frozen=True)
class Item:
    """One candidate clip: its name (posix, relative) and where its bytes come from."""

    name: str
    source: Source

    def __post_init__(self) -> None:
        # A file name that is not valid UTF-8 comes with lone surrogates; the name is text to
        # show, match and store, so it gets visible escapes (the source still opens the file).
        object.__setattr__(self, "name", clean(self.name))


@dataclass
class Labelled:
    """Items kept by a label source, their labels and groups, and what was skipped."""

    items: list[Item]
    y: list[str] | None
    groups: list[str] | None
    skipped: list[Skipped] = field(default_factory=list)
    how: str = "none"
    split: list[str] | None = None


def clean_name(name: str) -> str:
    """A display name in posix form, without leading slashes or ``./``.

    Examples
    --------
    >>> clean_name("/data/dog/./a.wav"), clean_name("")
    ('data/dog/a.wav', 'unnamed')
    """
    name = name.replace("\\", "/")
    name = posixpath.normpath(name) if name else name
    return name.lstrip("/") if name not in ("", ".") else "unnamed"


def _folder_labels(items: list[Item]) -> Labelled:
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
            return Labelled(items, None, None, how="none (no class folders)")
        common -= 1  # a single class folder (possibly wrapped): its name is the label
    top = {d[common] for d in dirs if len(d) > common}
    by_split = top <= SPLIT_NAMES and all(len(d) > common + 1 for d in dirs)
    level = common + 1 if by_split else common
    kept, y, split, skipped = [], [], [], []
    for it, d in zip(items, dirs, strict=True):
        if len(d) <= level:
            skipped.append(Skipped(it.name, "not inside a class folder; move it into a folder "
                                            "named after its label"))
            continue
        kept.append(it)
        y.append(d[level])
        split.append(d[common].lower())
    return Labelled(kept, y, None, skipped, how="folder" + (" (split folders)" if by_split else ""),
                    split=split if by_split else None)


def _regex_labels(items: list[Item], pattern: str) -> Labelled:
    rx, groupindex = compile_pattern(pattern)  # RE2: linear time, whatever the pattern
    if "label" not in groupindex and "group" not in groupindex:
        raise ParameterError(
            f"label_regex={pattern!r} has no named group 'label' (or 'group'); write e.g. "
            r"'(?P<label>\d)_(?P<group>[a-z]+)_\d+\.wav'"
        )
    if "label" not in groupindex:
        return _regex_groups(_folder_labels(items), rx, pattern)
    has_group = "group" in groupindex
    has_split = "split" in groupindex
    kept, y, groups, split, skipped = [], [], [], [], []
    for it in items:
        m = rx.search(posixpath.basename(it.name))
        if m is None or not m.group("label"):
            skipped.append(Skipped(it.name, f"file name does not match label_regex {pattern!r}"))
            continue
        kept.append(it)
        y.append(m.group("label"))
        groups.append((m.group("group") or "") if has_group else "")
        split.append((m.group("split") or "").lower() if has_split else "")
    return Labelled(kept, y, groups if has_group else None, skipped, how=f"regex {pattern}",
                    split=split if has_split else None)


def _regex_groups(lab: Labelled, rx: Any, pattern: str) -> Labelled:
    """Folder labels, with groups from a pattern that has only a ``group``."""
    kept, y, groups, split, skipped = [], [], [], [], list(lab.skipped)
    for i, it in enumerate(lab.items):
        m = rx.search(posixpath.basename(it.name))
        if m is None or not m.group("group"):
            skipped.append(Skipped(it.name, f"file name does not match label_regex {pattern!r}"))
            continue
        kept.append(it)
        if lab.y is not None:
            y.append(lab.y[i])
        if lab.split is not None:
            split.append(lab.split[i])
        groups.append(m.group("group"))
    return Labelled(kept, y if lab.y is not None else None, groups, skipped,
                    how=f"{lab.how}, groups by regex {pattern}",
                    split=split if lab.split is not None else None)


# -- group suggestions ------------------------------------------------------------------------
#: Separators tried, strongest first, when looking for a group in file names.
_SEPARATORS = ("__", "_", "-", " ", ".")


@dataclass(frozen=True)
class GroupHint:
    """A part of the clip names that looks like a group (speaker, kit, session): see
    :func:`suggest_groups`.

    Attributes
    ----------
    how : str
        Which part, in words (``"the 2nd '_'-separated part of the file name"``).
    groups : tuple of str
        The group of each clip, in the order of the names given.
    pattern : str or None
        A ``label_regex`` with only a ``group`` that reads it (labels stay the class folders);
        None for a folder level.
    """

    how: str
    groups: tuple[str, ...]
    pattern: str | None

    @property
    def n_groups(self) -> int:
        return len(set(self.groups))

    @property
    def examples(self) -> list[str]:
        """The most frequent values (at most 4)."""
        values, counts = np.unique(np.asarray(self.groups), return_counts=True)
        return [str(v) for v in values[np.argsort(-counts, kind="stable")][:4]]


def _ordinal(i: int) -> str:
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(i, f"{i}th")


def _candidates(names: list[str]) -> list[tuple[str, list[str], str | None]]:
    out: list[tuple[str, list[str], str | None]] = []
    dirs = [n.split("/")[:-1] for n in names]
    depth = min((len(d) for d in dirs), default=0)
    for k in range(depth):
        out.append((f"folder level {k + 1} of the names", [d[k] for d in dirs], None))
    stems = [posixpath.splitext(posixpath.basename(n))[0] for n in names]
    for sep in _SEPARATORS:
        if sum(sep in s for s in stems) < 0.95 * len(stems):
            continue
        parts = [s.split(sep) for s in stems]
        width = min(len(p) for p in parts)
        esc = re.escape(sep)
        for i in range(min(width, 4)):
            values = [p[i] for p in parts]
            skip = rf"(?:.*?{esc}){{{i}}}" if i else ""
            pattern = rf"^{skip}(?P<group>.+?)(?:{esc}|\.[^.]*$|$)"
            out.append((f"the {_ordinal(i + 1)} {sep!r}-separated part of the file name",
                        values, pattern))
        if sep == "__":  # a strong separator: do not split its parts any further
            break
    return out


def suggest_groups(names: Sequence[str], labels: Sequence[str] | None = None, *,
                   max_hints: int = 3) -> list[GroupHint]:
    """Parts of the clip names that look like a group: a speaker, a kit, a session.

    A part qualifies when it takes between 2 and ``n/2`` values, most clips share their value
    with others, it is not the label itself, and (given labels) its groups mix classes rather
    than each holding one. Words rank before numbers (a take number is rarely a group), fewer
    groups before more.

    Parameters
    ----------
    names : sequence of str
        Clip names (relative posix paths, e.g. ``Dataset.names``).
    labels : sequence of str, optional
        The clips' labels.
    max_hints : int
        Most hints returned, best first.

    Examples
    --------
    >>> names = [f"{d}_{s}_{n}.wav" for d in "0123" for s in ("george", "lucas") for n in "012"]
    >>> hint = suggest_groups(names, [n[0] for n in names])[0]
    >>> hint.how, hint.n_groups, hint.examples
    ("the 2nd '_'-separated part of the file name", 2, ['george', 'lucas'])
    >>> print(hint.pattern)
    ^(?:.*?_){1}(?P<group>.+?)(?:_|\\.[^.]*$|$)
    """
    names = [clean_name(str(n)) for n in names]
    n = len(names)
    if n < 4:
        return []
    y = None if labels is None else [str(v) for v in labels]
    scored = []
    seen: set[tuple[str, ...]] = set()
    for how, values, pattern in _candidates(names):
        key = tuple(values)
        if key in seen:
            continue
        seen.add(key)
        uniq, inverse, counts = np.unique(np.asarray(values), return_inverse=True,
                                          return_counts=True)
        if not 2 <= uniq.size <= n // 2 or (counts[inverse] >= 2).mean() < 0.8:
            continue
        if y is not None:
            if len(set(zip(values, y, strict=True))) == uniq.size:  # each group one class
                continue
            if len(set(y)) >= 2 and len(set(zip(values, y, strict=True))) == len(set(y)) \
                    and uniq.size == len(set(y)):
                continue  # the label again
        if pattern is not None:
            rx, _ = compile_pattern(pattern)
            got = [(m.group("group") if (m := rx.search(posixpath.basename(nm))) else None)
                   for nm in names]
            if got != values:
                pattern = None
        numeric = all(v.isdigit() for v in uniq.tolist())
        scored.append(((numeric, uniq.size), GroupHint(how, tuple(values), pattern)))
    scored.sort(key=lambda t: t[0])
    return [h for _, h in scored[:max_hints]]


_PATH_COLUMNS = ("path", "file", "filename")
MB = 1024 * 1024
#: Folder names read as a split rather than a label.
SPLIT_NAMES = frozenset({"train", "test", "val", "valid", "validation", "dev", "eval"})


#: Longest line of a labels CSV (bytes): a row is a path, a label, a group and a split.
MAX_CSV_LINE = 65536


def _long_line(raw: bytes) -> int | None:
    """The number of the first line longer than :data:`MAX_CSV_LINE` bytes, or None."""
    start, line = 0, 1
    while start <= len(raw):
        end = raw.find(b"\n", start)
        end = len(raw) if end == -1 else end
        if end - start > MAX_CSV_LINE:
            return line
        start, line = end + 1, line + 1
    return None


def _read_bounded(path: str | os.PathLike[str], max_bytes: int) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``; a FIFO, a device (``/dev/zero``)
    or a folder is refused before it is read, so nothing can block or stream forever."""
    shown = os.fspath(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise ParameterError(f"labels_csv={shown!r} cannot be read ({exc.strerror or exc}); "
                             "check the path") from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ParameterError(f"labels_csv={shown!r} is not a regular file (a pipe, a device "
                                 "or a folder); give a CSV file")
        if st.st_size > max_bytes:
            raise LimitError(f"labels_csv={shown!r} is {st.st_size / MB:.1f} MB, above the limit "
                             f"of {max_bytes / MB:g} MB; split it or raise SNDIAG_MAX_LABELS_MB")
        raw = fh.read(max_bytes + 1)
    if len(raw) > max_bytes:  # it grew while read
        raise LimitError(f"labels_csv={shown!r} is above the limit of {max_bytes / MB:g} MB; "
                         "split it or raise SNDIAG_MAX_LABELS_MB")
    return raw


def _read_csv(labels_csv: str | os.PathLike[str] | bytes,
              limits: Limits) -> tuple[list[dict[str, str]], str]:
    max_bytes = int(limits.max_labels_mb * MB)
    if isinstance(labels_csv, bytes | bytearray):
        raw, where = bytes(labels_csv), "labels CSV"
        if len(raw) > max_bytes:
            raise LimitError(f"the labels CSV is {len(raw) / MB:.1f} MB, above the limit of "
                             f"{limits.max_labels_mb:g} MB; split it or raise "
                             "SNDIAG_MAX_LABELS_MB")
    else:
        where = Path(labels_csv).name
        raw = _read_bounded(labels_csv, max_bytes)
    n_rows = raw.count(b"\n")
    if n_rows > limits.max_clips + 1:
        raise LimitError(f"{where} has {n_rows} rows, more than the limit of {limits.max_clips} "
                         "clips; split the data or raise SNDIAG_MAX_CLIPS")
    line = _long_line(raw)
    if line is not None:
        raise ParameterError(f"{where} is not a readable CSV: line {line} is longer than "
                             f"{MAX_CSV_LINE} bytes, where a labels CSV has one short row per "
                             "file (path,label[,group][,split])")
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
                         "group": norm.get("group", ""), "split": norm.get("split", "").lower()})
    except csv.Error as exc:  # e.g. a field above csv.field_size_limit(), an unclosed quote
        raise ParameterError(f"{where} is not a readable CSV ({exc}); it needs a header row "
                             "'path,label' (optionally ',group'), then one row per file") from None
    return rows, where


def _csv_labels(items: list[Item], labels_csv: str | os.PathLike[str] | bytes,
                limits: Limits) -> Labelled:
    rows, where = _read_csv(labels_csv, limits)
    has_group = any(r["group"] for r in rows)
    has_split = any(r["split"] for r in rows)
    table: dict[str, tuple[str, str, str]] = {}
    skipped: list[Skipped] = []
    for r in rows:
        if not r["path"]:
            continue
        key = clean_name(r["path"])
        if not r["label"]:
            skipped.append(Skipped(key, f"empty label in {where}"))
            continue
        entry = (r["label"], r["group"], r["split"])
        if key in table and table[key] != entry:
            raise DataError(f"{where} lists {key!r} twice with different labels "
                            f"({table[key][0]!r}, {entry[0]!r}); keep one row per file")
        table[key] = entry
    used: set[str] = set()
    kept, y, groups, split = [], [], [], []
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
        split.append(table[key][2])
    for key in table:
        if key not in used:
            skipped.append(Skipped(key, f"listed in {where} but no such audio file was found"))
    return Labelled(kept, y, groups if has_group else None, skipped, how=f"csv {where}",
                    split=split if has_split else None)


def assign_labels(items: list[Item], *, labels: str, label_regex: str | None,
                  labels_csv: str | os.PathLike[str] | bytes | None,
                  limits: Limits | None = None) -> Labelled:
    """Label ``items`` from the one source given (see the module docstring).

    A labels CSV must be a regular file of at most ``limits.max_labels_mb``, with lines of at
    most :data:`MAX_CSV_LINE` bytes and no more rows than ``limits.max_clips``; a label pattern
    is matched in linear time (:func:`sndiag.io.patterns.compile_pattern`).

    Examples
    --------
    >>> items = [Item("dog/a.wav", b""), Item("cat/b.wav", b""), Item("c.wav", b"")]
    >>> lab = assign_labels(items, labels="folder", label_regex=None, labels_csv=None)
    >>> lab.y, [s.name for s in lab.skipped]
    (['dog', 'cat'], ['c.wav'])
    """
    if labels not in ("folder", "none"):
        raise ParameterError(f"labels={labels!r} must be 'folder' or 'none' (use label_regex or "
                             "labels_csv for the other sources)")
    if label_regex is not None and labels_csv is not None:
        raise ParameterError("give label_regex or labels_csv, not both")
    if labels_csv is not None:
        return _csv_labels(items, labels_csv, resolve_limits(limits))
    if label_regex is not None:
        return _regex_labels(items, label_regex)
    if labels == "folder":
        return _folder_labels(items)
    return Labelled(items, None, None, how="none")
