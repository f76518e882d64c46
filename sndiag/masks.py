"""Masks of low-SNR mel rows and pixels: build, explain, apply, and fit them in a pipeline.

A :class:`Mask` marks mel rows and single pixels to be zeroed (or, for rows, dropped) before
scaling, so per-pixel standardization cannot blow up their noise. Masks come from

* :func:`snr_mask` - rows or pixels whose SNR (``mean / std`` from :class:`~sndiag.stats.PixelStats`)
  is below a threshold or a percentile of the SNR map;
* :func:`manual_mask` - rows chosen by hand;
* :func:`auto_flags` - empty mel bands and near-constant pixels;

combine with :meth:`Mask.union`, and each keeps the reasons it masks what it masks.
:func:`mask_summary` says how much variance and class separability a mask removes, and
:class:`SNRMask` is the scikit-learn transformer that fits the mask on training data only.

:class:`MaskSpec` is the mask as a user chooses it - an SNR rule (threshold or percentile), rows
by hand, the auto-flagged rows - independent of any data. It is what the dashboard's session,
the shared link, the CLI, the experiment and the export carry; :meth:`MaskSpec.build` is the one
place that turns it into a :class:`Mask` for some statistics (the whole data on the Mask page,
each training fold in the experiment). Row lists are read and written by :func:`parse_rows`
and :func:`format_ranges`.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted

from sndiag.config import DEFAULT_SHAPE
from sndiag.diagnostics import above_nyquist_rows, context_from_provenance, silent_rows
from sndiag.errors import DataError, ParameterError, ShapeError
from sndiag.ranges import format_ranges
from sndiag.stats import PixelStats, compute_stats

__all__ = [
    "MASK_MODES",
    "Mask",
    "MaskReason",
    "MaskSpec",
    "SNRMask",
    "auto_flags",
    "format_ranges",
    "lowest_snr_rows",
    "manual_mask",
    "mask_summary",
    "parse_rows",
    "proposed_threshold",
    "snr_mask",
    "snr_percentile",
    "threshold_range",
]

Level = Literal["row", "pixel"]
Mode = Literal["zero", "drop"]
Use = Literal["abs", "signed"]


#: Most row numbers a row list may name (a link is hand-editable: "0-999999999" is refused).
MAX_ROWS = 4096
_RANGE = re.compile(r"(\d+)(?:\s*-\s*(\d+))?")


def parse_rows(text: str | None, *, n_rows: int | None = None) -> list[int]:
    """Read a row list like ``"0-4, 17"`` (what :func:`format_ranges` writes).

    Parameters
    ----------
    text : str or None
        Comma-separated rows and ranges ``a-b`` (inclusive); empty or None gives ``[]``.
    n_rows : int, optional
        Number of mel rows: rows must lie in ``0 .. n_rows - 1`` (else below :data:`MAX_ROWS`).

    Raises
    ------
    ParameterError
        On anything else, naming the bad part.

    Examples
    --------
    >>> parse_rows("0-2, 5", n_rows=60)
    [0, 1, 2, 5]
    >>> parse_rows("3-3,1")
    [1, 3]
    >>> parse_rows("0-60", n_rows=60)
    Traceback (most recent call last):
    ...
    sndiag.errors.ParameterError: rows '0-60' are out of range 0-59
    """
    if not text:
        return []
    limit = MAX_ROWS if n_rows is None else int(n_rows)
    rows: set[int] = set()
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        m = _RANGE.fullmatch(part)
        if not m:
            raise ParameterError(f"row spec {part!r} is not a row or a range like 0-4")
        lo, hi = int(m[1]), int(m[2] or m[1])
        if lo > hi:
            raise ParameterError(f"row range {part!r} runs backwards; write {hi}-{lo}")
        if hi >= limit:
            raise ParameterError(f"rows {part!r} are out of range 0-{limit - 1}")
        rows.update(range(lo, hi + 1))
    return sorted(rows)


def _as_shape(shape: Any) -> tuple[int, int]:
    try:
        out = tuple(int(s) for s in shape)
    except TypeError:
        raise ParameterError(f"shape={shape!r} must be (n_mels, n_frames), e.g. (60, 130)") from None
    if len(out) != 2 or min(out) <= 0:
        raise ParameterError(f"shape={shape!r} must be (n_mels, n_frames) of positive integers, "
                             "e.g. (60, 130)")
    return out  # type: ignore[return-value]


@dataclass(frozen=True)
class MaskReason:
    """Why some rows or pixels of a :class:`Mask` are masked.

    Parameters
    ----------
    kind : {"threshold", "percentile", "manual", "auto"}
        Which rule produced the entry.
    level : {"row", "pixel"}
        Whether the rule masks whole mel rows or single pixels.
    rule : str
        Human-readable rule, e.g. ``"|row SNR| < 0.5"``.
    rows : tuple of int
        Rows masked by the rule (row level) or rows holding pixels it masks (pixel level).
    n_pixels : int
        Pixels masked by the rule (a row counts ``n_frames`` pixels).

    Examples
    --------
    >>> MaskReason("manual", "row", "chosen by hand", (0, 1), 260).to_dict()["rows"]
    [0, 1]
    """

    kind: str
    level: str
    rule: str
    rows: tuple[int, ...]
    n_pixels: int

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "level": self.level, "rule": self.rule,
                "rows": [int(r) for r in self.rows], "n_pixels": int(self.n_pixels)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MaskReason:
        try:
            return cls(str(d["kind"]), str(d["level"]), str(d["rule"]),
                       tuple(int(r) for r in d["rows"]), int(d["n_pixels"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"mask reason {dict(d)!r} is malformed ({exc}); give the output of "
                            "MaskReason.to_dict()") from None


@dataclass(frozen=True, eq=False)
class Mask:
    """Mel rows and pixels to mask (True = masked), with the reasons.

    Parameters
    ----------
    rows : np.ndarray [shape=(n_mels,), dtype=bool]
        Whole mel rows to mask.
    pixels : np.ndarray [shape=(n_mels, n_frames), dtype=bool]
        Single pixels to mask (independent of ``rows``; see :attr:`combined`).
    reasons : tuple of MaskReason
        Why; one entry per rule that masked something.

    See Also
    --------
    snr_mask, manual_mask, auto_flags, mask_summary

    Examples
    --------
    >>> m = manual_mask((4, 3), rows=[1]).union(Mask.none((4, 3)))
    >>> m.n_masked_rows, m.n_masked_pixels, m.masked_rows
    (1, 3, [1])
    >>> X = np.ones((2, 4, 3), dtype=np.float32)
    >>> m.apply(X, mode="zero")[0, :, 0], m.apply(X, mode="drop").shape
    (array([1., 0., 1., 1.], dtype=float32), (2, 3, 3))
    """

    rows: np.ndarray
    pixels: np.ndarray
    reasons: tuple[MaskReason, ...] = ()

    def __post_init__(self) -> None:
        rows = np.array(self.rows, dtype=bool)
        pixels = np.array(self.pixels, dtype=bool)
        if rows.ndim != 1 or pixels.ndim != 2 or pixels.shape[0] != rows.shape[0]:
            raise ShapeError(f"mask rows {rows.shape} and pixels {pixels.shape} must be (n_mels,) "
                             "and (n_mels, n_frames)")
        rows.setflags(write=False)
        pixels.setflags(write=False)
        object.__setattr__(self, "rows", rows)
        object.__setattr__(self, "pixels", pixels)
        object.__setattr__(self, "reasons", tuple(self.reasons))

    # -- constructors ---------------------------------------------------------------------
    @classmethod
    def none(cls, shape: Sequence[int]) -> Mask:
        """A mask that masks nothing.

        Examples
        --------
        >>> Mask.none((60, 130)).n_masked_pixels
        0
        """
        n_mels, n_frames = _as_shape(shape)
        return cls(np.zeros(n_mels, bool), np.zeros((n_mels, n_frames), bool))

    # -- derived --------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        """``(n_mels, n_frames)``."""
        return (int(self.pixels.shape[0]), int(self.pixels.shape[1]))

    @property
    def combined(self) -> np.ndarray:
        """Every masked pixel: ``rows[:, None] | pixels`` [shape=(n_mels, n_frames)]."""
        return self.rows[:, None] | self.pixels

    @property
    def n_masked_rows(self) -> int:
        return int(self.rows.sum())

    @property
    def n_masked_pixels(self) -> int:
        """Masked pixels, counting every pixel of a masked row."""
        return int(self.combined.sum())

    @property
    def masked_rows(self) -> list[int]:
        return [int(r) for r in np.flatnonzero(self.rows)]

    def why(self, row: int) -> list[str]:
        """The rules that mask (some of) ``row``.

        Examples
        --------
        >>> manual_mask((3, 2), rows=[2]).why(2)
        ['manual: chosen by hand']
        """
        return [f"{r.kind}: {r.rule}" for r in self.reasons if int(row) in r.rows]

    # -- operations -----------------------------------------------------------------------
    def union(self, other: Mask) -> Mask:
        """Mask everything either mask masks; reasons are concatenated."""
        if not isinstance(other, Mask):
            raise ParameterError(f"cannot unite a Mask with {type(other).__name__}; give a Mask")
        if other.shape != self.shape:
            raise ShapeError(f"cannot unite masks of shapes {self.shape} and {other.shape}; build "
                             "both for the same (n_mels, n_frames)")
        reasons = self.reasons + tuple(r for r in other.reasons if r not in self.reasons)
        return Mask(self.rows | other.rows, self.pixels | other.pixels, reasons)

    def apply(self, X: np.ndarray, *, mode: Mode = "zero") -> np.ndarray:
        """Return a masked copy of ``X`` [shape=(..., n_mels, n_frames)] (same dtype).

        Parameters
        ----------
        X : np.ndarray [shape=(..., n_mels, n_frames)]
        mode : {"zero", "drop"}
            ``"zero"`` sets every masked pixel to 0. ``"drop"`` removes masked rows, giving
            (..., n_kept_rows, n_frames); pixel masks cannot be dropped from an image, so masked
            pixels of kept rows are zeroed.

        Raises
        ------
        ShapeError
            When the last two axes of ``X`` are not the mask's shape.
        """
        X = np.asarray(X)
        if X.ndim < 2 or X.shape[-2:] != self.shape:
            raise ShapeError(f"X has shape {X.shape}; a mask of shape {self.shape} applies to "
                             f"(..., {self.shape[0]}, {self.shape[1]})")
        if mode == "zero":
            return np.where(self.combined, X.dtype.type(0), X)
        if mode == "drop":
            keep = ~self.rows
            out = X[..., keep, :]  # fancy indexing: a copy
            px = self.pixels[keep]
            if px.any():
                out[..., px] = 0
            return out
        raise ParameterError(f"mode={mode!r} must be 'zero' or 'drop'")

    # -- serialisation --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``shape``, masked ``rows``, masked ``pixels`` as flat indices
        ``row * n_frames + frame``, and ``reasons``.

        Examples
        --------
        >>> manual_mask((2, 3), rows=[1]).to_dict()["rows"]
        [1]
        """
        return {
            "shape": list(self.shape),
            "rows": self.masked_rows,
            "pixels": [int(i) for i in np.flatnonzero(self.pixels)],
            "reasons": [r.to_dict() for r in self.reasons],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Mask:
        """Rebuild a mask from :meth:`to_dict` output.

        Raises
        ------
        DataError
            On missing keys or indices out of range.
        """
        try:
            shape = _as_shape(d["shape"])
            rows = np.asarray(d.get("rows", []), dtype=np.int64).ravel()
            pixels = np.asarray(d.get("pixels", []), dtype=np.int64).ravel()
        except (KeyError, TypeError, ValueError, ParameterError) as exc:
            raise DataError(f"mask dict is malformed ({exc}); give the output of Mask.to_dict()") \
                from None
        n_mels, n_frames = shape
        if rows.size and (rows.min() < 0 or rows.max() >= n_mels):
            raise DataError(f"mask rows {rows.tolist()} fall outside 0..{n_mels - 1}")
        if pixels.size and (pixels.min() < 0 or pixels.max() >= n_mels * n_frames):
            raise DataError(f"mask pixel indices fall outside 0..{n_mels * n_frames - 1}")
        r = np.zeros(n_mels, bool)
        r[rows] = True
        p = np.zeros(n_mels * n_frames, bool)
        p[pixels] = True
        reasons = tuple(MaskReason.from_dict(x) for x in d.get("reasons", []))
        return cls(r, p.reshape(shape), reasons)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """``{"mask_rows": bool (n_mels,), "mask_pixels": bool (n_mels, n_frames)}`` for npz."""
        return {"mask_rows": self.rows.copy(), "mask_pixels": self.pixels.copy()}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> Mask:
        """Rebuild from :meth:`to_arrays` output (reasons are not stored in arrays)."""
        try:
            return cls(np.asarray(arrays["mask_rows"]), np.asarray(arrays["mask_pixels"]))
        except KeyError as exc:
            raise DataError(f"mask arrays lack {exc}; give 'mask_rows' and 'mask_pixels'") from None


def _reason(kind: str, level: str, rule: str, rows: np.ndarray, pixels: np.ndarray,
            n_frames: int) -> MaskReason:
    if level == "row":
        return MaskReason(kind, level, rule, tuple(int(r) for r in np.flatnonzero(rows)),
                          int(rows.sum()) * n_frames)
    return MaskReason(kind, level, rule, tuple(int(r) for r in np.flatnonzero(pixels.any(axis=1))),
                      int(pixels.sum()))


# -- builders ---------------------------------------------------------------------------------
def _check_stats(stats: Any) -> PixelStats:
    if not isinstance(stats, PixelStats):
        raise ParameterError(f"stats is a {type(stats).__name__}; give sndiag.stats.compute_stats(X)")
    return stats


def snr_percentile(stats: PixelStats, percentile: float, *, level: str = "row",
                   use: str = "abs") -> float:
    """The SNR value below which :func:`snr_mask` with ``percentile`` masks (its cut).

    Examples
    --------
    >>> from sndiag.stats import compute_stats
    >>> X = np.random.default_rng(0).gamma(2.0, 1.0, size=(50, 4, 6))
    >>> X[:, 1] *= np.random.default_rng(1).gamma(0.1, 1.0, size=(50, 6))
    >>> st = compute_stats(X)
    >>> cut = snr_percentile(st, 30)
    >>> snr_mask(st, percentile=30).masked_rows == np.flatnonzero(np.abs(st.row_snr) < cut).tolist()
    True
    """
    stats = _check_stats(stats)
    p = float(percentile)
    if not 0 <= p <= 100:
        raise ParameterError(f"percentile={percentile!r} must be in [0, 100], e.g. 10 for the "
                             "10% lowest-SNR rows")
    if level not in ("row", "pixel"):
        raise ParameterError(f"level={level!r} must be 'row' or 'pixel'")
    if use not in ("abs", "signed"):
        raise ParameterError(f"use={use!r} must be 'abs' or 'signed' (see snr_mask's Notes on dB data)")
    snr = np.asarray(stats.row_snr if level == "row" else stats.snr, dtype=np.float64)
    return float(np.percentile(np.abs(snr) if use == "abs" else snr, p))


def snr_mask(stats: PixelStats, *, threshold: float | None = None, percentile: float | None = None,
             level: Level = "row", use: Use = "abs") -> Mask:
    """Mask mel rows (or pixels) whose SNR is below a threshold or a percentile of the SNR map.

    Parameters
    ----------
    stats : PixelStats
        From :func:`sndiag.stats.compute_stats` on the *training* data.
    threshold : float or None
        Mask where ``SNR < threshold``.
    percentile : float or None
        Mask where ``SNR < np.percentile(SNR, percentile)``, i.e. about the ``percentile`` %
        lowest-SNR rows (pixels); in [0, 100]. When both are given, a row is masked if either
        rule masks it.
    level : {"row", "pixel"}
        ``"row"`` uses ``stats.row_snr`` (each mel band pooled over frames and clips);
        ``"pixel"`` uses ``stats.snr``.
    use : {"abs", "signed"}
        Compare ``|SNR|`` (default) or the signed SNR.

    Returns
    -------
    Mask

    Raises
    ------
    ParameterError
        When neither rule is given or a value is out of range.

    Notes
    -----
    Rows and pixels flagged ``zero_std`` have SNR 0 by convention, so any positive threshold
    masks them; they carry no information.

    On linear power or magnitude spectrograms every mean is >= 0 and ``"abs"`` equals
    ``"signed"``. On dB data means are negative, so with ``"signed"`` every row has SNR < 0
    and any positive threshold masks everything; ``"abs"`` avoids that. But ``|mean| / std``
    of dB values is *not* a signal-to-noise ratio: the mean is measured from the arbitrary
    0 dB reference (``ref`` of ``power_to_db``), so a quiet band near the -80 dB floor gets a
    *large* ``|SNR|``. For dB data compute the statistics on linear power
    (``librosa.db_to_power(X)``, i.e. ``10 ** (X / 10)``), build the mask from those, and apply
    it to the dB data (the mask only depends on positions).

    Examples
    --------
    >>> from sndiag.stats import compute_stats
    >>> rng = np.random.default_rng(0)
    >>> X = rng.gamma(4.0, 1.0, size=(200, 5, 3))
    >>> X[:, 1] = rng.normal(0.1, 1.0, size=(200, 3))      # a noisy band
    >>> X[:, 3] = 0.0                                        # a silent band
    >>> m = snr_mask(compute_stats(X), threshold=0.5)
    >>> m.masked_rows, m.why(1)
    ([1, 3], ['threshold: |row SNR| < 0.5'])
    >>> snr_mask(compute_stats(X), percentile=40).masked_rows
    [1, 3]
    """
    stats = _check_stats(stats)
    if threshold is None and percentile is None:
        raise ParameterError("give threshold (e.g. 0.5) or percentile (e.g. 10) to build an SNR mask")
    if level not in ("row", "pixel"):
        raise ParameterError(f"level={level!r} must be 'row' or 'pixel'")
    if use not in ("abs", "signed"):
        raise ParameterError(f"use={use!r} must be 'abs' or 'signed' (see the Notes on dB data)")
    snr = np.asarray(stats.row_snr if level == "row" else stats.snr, dtype=np.float64)
    values = np.abs(snr) if use == "abs" else snr
    name = ("|row SNR|" if level == "row" else "|pixel SNR|") if use == "abs" \
        else ("row SNR" if level == "row" else "pixel SNR")
    rules: list[tuple[str, str, np.ndarray]] = []
    if threshold is not None:
        t = float(threshold)
        if not np.isfinite(t) or (use == "abs" and t < 0):
            raise ParameterError(f"threshold={threshold!r} must be a finite number"
                                 + (" >= 0 with use='abs'" if use == "abs" else ""))
        rules.append(("threshold", f"{name} < {t:g}", values < t))
    if percentile is not None:
        p = float(percentile)
        cut = snr_percentile(stats, p, level=level, use=use)
        rules.append(("percentile", f"{name} < {p:g}th percentile ({cut:.3g})", values < cut))
    mask = Mask.none(stats.shape)
    for kind, rule, hit in rules:
        if not hit.any():
            continue
        if level == "row":
            part = Mask(hit, np.zeros(stats.shape, bool),
                        (_reason(kind, "row", rule, hit, hit[:, None], stats.n_frames),))
        else:
            part = Mask(np.zeros(stats.n_mels, bool), hit,
                        (_reason(kind, "pixel", rule, hit.any(axis=1), hit, stats.n_frames),))
        mask = mask.union(part)
    return mask


def manual_mask(shape: Sequence[int], *, rows: Iterable[int] = (),
                pixels: np.ndarray | None = None) -> Mask:
    """Mask the given mel ``rows`` (and optionally a boolean ``pixels`` map) by hand.

    Parameters
    ----------
    shape : (int, int)
        ``(n_mels, n_frames)``.
    rows : iterable of int
        Row indices in ``0 .. n_mels - 1``.
    pixels : np.ndarray [shape=(n_mels, n_frames), dtype=bool] or None

    Raises
    ------
    ParameterError
        On a row index out of range.

    Examples
    --------
    >>> m = manual_mask((60, 130), rows=[0, 1, 2, 59])
    >>> m.masked_rows, m.reasons[0].rule
    ([0, 1, 2, 59], 'chosen by hand')
    """
    n_mels, n_frames = _as_shape(shape)
    idx = [int(r) for r in rows]
    bad = [r for r in idx if not 0 <= r < n_mels]
    if bad:
        raise ParameterError(f"rows {bad} are outside 0..{n_mels - 1}; mel rows are numbered from "
                             "0 (lowest band)")
    r = np.zeros(n_mels, bool)
    r[idx] = True
    p = np.zeros((n_mels, n_frames), bool) if pixels is None else np.asarray(pixels, dtype=bool)
    if p.shape != (n_mels, n_frames):
        raise ShapeError(f"pixels has shape {p.shape}; expected {(n_mels, n_frames)}")
    reasons = []
    if r.any():
        reasons.append(_reason("manual", "row", "chosen by hand", r, r[:, None], n_frames))
    if p.any():
        reasons.append(_reason("manual", "pixel", "chosen by hand", p.any(axis=1), p, n_frames))
    return Mask(r, p, tuple(reasons))


def auto_flags(stats: PixelStats, *, empty_tol: float = 0.0, pixels: bool = True,
               provenance: Mapping[str, Any] | None = None) -> Mask:
    """Flag rows that carry nothing (empty, silent, above the source's Nyquist) and constant pixels.

    A row is flagged when it is

    * *empty*: all zeros, pooled std 0 up to float64 rounding (``stats.row_zero_std``), or
      ``row_max - row_min <= empty_tol * max(1, |row_min|, |row_max|)`` (a flat band);
    * *silent*: its mean energy is :data:`sndiag.diagnostics.SILENT_DB` dB or more below the
      loudest row's (:func:`sndiag.diagnostics.silent_rows`);
    * *above Nyquist*: with ``provenance`` recording the files' own sample rates, its mel filter
      lies above the lowest one's Nyquist frequency (:func:`sndiag.diagnostics.above_nyquist_rows`).

    A pixel is *near-constant* when ``stats.zero_std`` (see :func:`sndiag.stats.is_constant`);
    pixels of flagged rows are not repeated in the pixel mask.

    Parameters
    ----------
    stats : PixelStats
    empty_tol : float
        Relative range below which a row counts as empty; 0 flags exactly constant rows only.
    pixels : bool
        Also flag near-constant pixels.
    provenance : Mapping, optional
        The dataset's provenance (how it was extracted), for the rows above Nyquist.

    Examples
    --------
    >>> from sndiag.stats import compute_stats
    >>> X = np.random.default_rng(0).random((20, 4, 3))
    >>> X[:, 0] = 0.0
    >>> X[:, 1] *= 1e-7
    >>> X[:, 2, 1] = 7.0
    >>> m = auto_flags(compute_stats(X))
    >>> m.masked_rows, np.argwhere(m.pixels).tolist(), [r.rule for r in m.reasons]
    ([0, 1], [[2, 1]], ['empty mel band', 'silent mel band', 'near-constant pixel'])
    """
    stats = _check_stats(stats)
    tol = float(empty_tol)
    if not np.isfinite(tol) or tol < 0:
        raise ParameterError(f"empty_tol={empty_tol!r} must be a finite number >= 0")
    lo, hi = np.asarray(stats.row_min), np.asarray(stats.row_max)
    scale = np.maximum(1.0, np.maximum(np.abs(lo), np.abs(hi)))
    empty = (stats.row_zero_fraction >= 1.0) | np.asarray(stats.row_zero_std) \
        | (hi - lo <= tol * scale)
    silent = np.zeros(stats.n_mels, dtype=bool)
    silent[list(silent_rows(stats))] = True
    silent &= ~empty
    above = np.zeros(stats.n_mels, dtype=bool)
    nyquist = 0.0
    ctx = context_from_provenance(provenance)
    if "config" in ctx and "source_sr" in ctx and ctx["config"].shape == tuple(stats.shape):
        above[list(above_nyquist_rows(ctx["config"], ctx["source_sr"]))] = True
        nyquist = ctx["source_sr"] / 2
    above &= ~empty
    silent &= ~above
    rows = empty | silent | above
    px = np.asarray(stats.zero_std) & ~rows[:, None] if pixels else np.zeros(stats.shape, bool)
    reasons = []
    for flags, rule in ((empty, "empty mel band"),
                        (above, f"above the recordings' Nyquist frequency ({nyquist:g} Hz)"
                         if above.any() else ""),
                        (silent, "silent mel band")):
        if flags.any():
            reasons.append(_reason("auto", "row", rule, flags, flags[:, None], stats.n_frames))
    if px.any():
        reasons.append(_reason("auto", "pixel", "near-constant pixel", px.any(axis=1), px,
                               stats.n_frames))
    return Mask(rows, px, tuple(reasons))


def mask_summary(mask: Mask, stats: PixelStats) -> dict[str, Any]:
    """What a mask removes, as a JSON-ready dict.

    Keys: ``masked_rows`` (list), ``n_masked_rows``, ``rows_text`` (e.g. ``"rows 0-4, 17"``,
    ``"no rows"``), ``n_masked_pixels`` (including masked rows), ``masked_fraction`` (of all
    pixels), ``variance_removed`` (``sum(std**2)`` over masked pixels / over all pixels; 0 when
    the data is constant), ``fisher_removed`` (same with the Fisher ratio; None without labels)
    and ``reasons`` (list of dicts).

    Examples
    --------
    >>> from sndiag.stats import compute_stats
    >>> X = np.random.default_rng(0).random((30, 6, 2))
    >>> X[:, :2] *= 0.01
    >>> s = mask_summary(manual_mask((6, 2), rows=[0, 1, 5]), compute_stats(X))
    >>> s["rows_text"], s["n_masked_pixels"], round(s["variance_removed"], 2)
    ('rows 0-1, 5', 6, 0.26)
    """
    stats = _check_stats(stats)
    if not isinstance(mask, Mask):
        raise ParameterError(f"mask is a {type(mask).__name__}; give a sndiag.masks.Mask")
    if mask.shape != stats.shape:
        raise ShapeError(f"mask shape {mask.shape} differs from the statistics' {stats.shape}; build "
                         "the mask from the same data")
    comb = mask.combined
    var = np.square(np.asarray(stats.std, dtype=np.float64))
    total_var = float(var.sum())
    fisher_removed = None
    if stats.fisher is not None:
        f = np.asarray(stats.fisher, dtype=np.float64)
        total_f = float(f.sum())
        fisher_removed = float(f[comb].sum() / total_f) if total_f > 0 else 0.0
    rows = mask.masked_rows
    return {
        "masked_rows": rows,
        "n_masked_rows": len(rows),
        "rows_text": f"rows {format_ranges(rows)}" if rows else "no rows",
        "n_masked_pixels": int(comb.sum()),
        "masked_fraction": float(comb.mean()),
        "variance_removed": float(var[comb].sum() / total_var) if total_var > 0 else 0.0,
        "fisher_removed": fisher_removed,
        "reasons": [r.to_dict() for r in mask.reasons],
    }


#: Share of rows called "low-SNR" before cutting at a jump (see :func:`lowest_snr_rows`).
LOW_SNR_SHARE = 0.10
#: Rows whose |SNR| is within this factor of the highest kept low-SNR row join them.
LOW_SNR_TIES = 1.25
#: A step by more than this factor in the sorted row SNRs separates low-SNR rows from the rest.
LOW_SNR_JUMP = 1.5


def lowest_snr_rows(row_snr: Any, *, among: Iterable[int] | None = None) -> np.ndarray:
    """The low-SNR mel rows: the one definition every page, the CLI and the verdict use.

    Start from the 10% of rows (``among``, default all) with the lowest ``|row SNR|``; cut them at
    the last jump (the next SNR more than 1.5 times the previous) so a handful of near-silent rows
    is not padded with ordinary ones; then add every row whose SNR is within 25% of the highest
    kept, unless that would take more than half of the rows (a block of rows with the same SNR,
    like the empty top bands of 8 kHz audio, is neither split at random nor padded).

    Parameters
    ----------
    row_snr : array-like [shape=(n_mels,)] or PixelStats
        Row SNR (``PixelStats.row_snr``), or the statistics themselves.
    among : iterable of int, optional
        The candidate rows (e.g. those not masked).

    Returns
    -------
    np.ndarray of int, sorted

    Examples
    --------
    >>> lowest_snr_rows(np.r_[[0.008] * 17, np.linspace(0.5, 2.0, 43)]).tolist() == list(range(17))
    True
    >>> lowest_snr_rows(np.array([0.1, 2.0, 0.12, 3.0, 2.5, 2.2, 1.9, 2.1, 2.4, 2.6])).tolist()
    [0, 2]
    """
    snr = getattr(row_snr, "row_snr", row_snr)
    v_all = np.abs(np.asarray(snr, dtype=np.float64).ravel())
    idx = np.arange(v_all.size) if among is None else np.asarray(sorted(set(among)), dtype=int)
    idx = idx[np.isfinite(v_all[idx])]
    if idx.size == 0:
        return idx
    order = idx[np.argsort(v_all[idx], kind="stable")]
    v = v_all[order]
    m = v.size
    k = max(1, math.ceil(LOW_SNR_SHARE * m))
    jumps = [i for i in range(k - 1) if v[i + 1] > LOW_SNR_JUMP * v[i]]
    k = jumps[-1] + 1 if jumps else k
    n_ties = int(np.searchsorted(v, v[k - 1] * LOW_SNR_TIES, side="right"))
    if k <= n_ties <= m // 2:
        k = n_ties
    return np.sort(order[:k])


# -- the mask as a user chooses it ------------------------------------------------------------
#: SNR rules of a :class:`MaskSpec`: none, an absolute |row SNR| threshold, or a percentile.
MASK_MODES = ("off", "abs", "pct")
_TRUE = frozenset({"1", "true", "yes", "on"})
_NUM = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?"


def proposed_threshold(stats: PixelStats, share: float = 0.10) -> float:
    """A |row SNR| threshold that masks about the ``share`` lowest-SNR rows.

    Two significant digits, rounded up (and 5% above the row at the cut) so the rows at the cut
    are included; what the Mask page offers before the user moves the slider.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> proposed_threshold(SimpleNamespace(row_snr=np.array([0.0083, 0.0084, 0.5, 0.6, 1.0])),
    ...                    share=0.4)
    0.0089
    """
    a = np.sort(np.abs(np.asarray(stats.row_snr, dtype=float)))
    a = a[np.isfinite(a)]
    if a.size == 0:
        return 0.5
    k = max(1, math.ceil(share * a.size))
    x = float(a[k - 1]) * 1.05
    if x <= 0:
        return 0.01
    scale = 10 ** (math.floor(math.log10(x)) - 1)
    return float(f"{math.ceil(x / scale) * scale:.2g}")


def threshold_range(stats: PixelStats) -> dict[str, Any]:
    """``max_value``, ``step`` and ``format`` for choosing a |row SNR| threshold on ``stats``.

    The end sits just above the largest row SNR. The step is fine enough to hold
    :func:`proposed_threshold` exactly (a tenth of its leading digit), so the proposed value is
    on the grid and shown as it is (0.0089, not 0.01), and it depends only on the data.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> threshold_range(SimpleNamespace(row_snr=np.r_[[0.0083] * 6, np.linspace(0.5, 3.0, 54)]))
    {'min_value': 0.0, 'max_value': 3.2, 'step': 0.0001, 'format': '%.4f'}
    """
    a = np.abs(np.asarray(stats.row_snr, dtype=float))
    a = a[np.isfinite(a)]
    hi = float(a.max()) if a.size else 0.0
    top = float(f"{hi * 1.05:.2g}") if hi > 0 else 1.0
    proposed = proposed_threshold(stats)
    step = top / 200
    if proposed > 0:
        step = min(step, 10 ** (math.floor(math.log10(proposed)) - 1))
    step = float(f"{step:.1g}")
    decimals = max(2, -math.floor(math.log10(step)))
    return {"min_value": 0.0, "max_value": top, "step": step, "format": f"%.{decimals}f"}


def _first(value: Any) -> str:
    if isinstance(value, list | tuple):
        return str(value[-1]) if value else ""
    return str(value)


@dataclass(frozen=True)
class MaskSpec:
    """The mask as a user chooses it: an SNR rule, rows by hand, the auto-flagged rows.

    A value independent of any data: :meth:`build` applies it to statistics (those of the
    whole data, or of one training fold). Every part of sndiag that handles a mask - the
    dashboard's session and link, the CLI, the experiment, the export - carries one of these.

    Parameters
    ----------
    mode : {"off", "abs", "pct"}
        The SNR rule: none, ``|row SNR| < threshold``, or the ``percentile`` % lowest-SNR rows.
    threshold : float or None
        Threshold of ``"abs"`` (>= 0 for the default ``|SNR|``); None means
        :func:`proposed_threshold` of the statistics.
    percentile : float
        Percentile of ``"pct"``, in [0, 100].
    rows : tuple of int
        Rows masked by hand (0 = lowest mel band).
    auto : bool
        Also mask the auto-flagged rows (:func:`auto_flags`: empty or constant bands).

    The rule that is not selected keeps its value (so a user switching modes back and forth
    keeps both), but takes no part in :meth:`build`, :attr:`spec` or :meth:`to_query`.

    Examples
    --------
    >>> spec = MaskSpec.parse("p10+rows:43-59")
    >>> spec
    MaskSpec(mode='pct', threshold=None, percentile=10.0, rows=(43, ..., 59), auto=False)
    >>> spec.spec, spec.to_query()
    ('p10+rows:43-59', {'snr_mode': 'pct', 'snr': '10', 'rows': '43-59'})
    >>> MaskSpec.from_query(spec.to_query())[0] == spec
    True
    >>> MaskSpec().spec, MaskSpec().is_empty
    ('none', True)
    """

    mode: str = "off"
    threshold: float | None = None
    percentile: float = 10.0
    rows: tuple[int, ...] = ()
    auto: bool = False

    def __post_init__(self) -> None:
        if self.mode not in MASK_MODES:
            raise ParameterError(f"mask mode {self.mode!r} must be one of {list(MASK_MODES)}")
        if self.threshold is not None:
            t = float(self.threshold)
            if not math.isfinite(t):
                raise ParameterError(f"SNR threshold {self.threshold!r} must be a finite number, "
                                     "e.g. 0.5")
            object.__setattr__(self, "threshold", t)
        p = float(self.percentile)
        if not 0 <= p <= 100:
            raise ParameterError(f"percentile {self.percentile!r} must be in [0, 100], e.g. 10 "
                                 "for the 10% lowest-SNR rows")
        object.__setattr__(self, "percentile", p)
        try:
            rows = sorted({int(r) for r in self.rows})
        except (TypeError, ValueError):
            raise ParameterError(f"rows {self.rows!r} must be row numbers") from None
        if rows and (rows[0] < 0 or rows[-1] >= MAX_ROWS):
            raise ParameterError(f"rows {format_ranges(rows)} must lie in 0-{MAX_ROWS - 1}")
        object.__setattr__(self, "rows", tuple(rows))
        object.__setattr__(self, "auto", bool(self.auto))

    def __repr__(self) -> str:
        rows = ("(" + ", ".join(map(str, self.rows)) + ("," if len(self.rows) == 1 else "") + ")"
                if len(self.rows) <= 4
                else f"({self.rows[0]}, ..., {self.rows[-1]})")
        return (f"MaskSpec(mode={self.mode!r}, threshold={self.threshold!r}, "
                f"percentile={self.percentile!r}, rows={rows}, auto={self.auto!r})")

    # -- derived ----------------------------------------------------------------------------
    @property
    def is_empty(self) -> bool:
        """True when the spec masks nothing whatever the data."""
        return self.mode == "off" and not self.rows and not self.auto

    def replace(self, **changes: Any) -> MaskSpec:
        """A copy with some fields changed (checked like a new spec)."""
        return dataclasses.replace(self, **changes)

    def resolved(self, stats: PixelStats) -> MaskSpec:
        """The same spec with a proposed threshold made explicit for ``stats``.

        Examples
        --------
        >>> from types import SimpleNamespace
        >>> st = SimpleNamespace(row_snr=np.array([0.0083, 0.0084, 0.5, 0.6, 1.0]))
        >>> MaskSpec(mode="abs").resolved(st).threshold
        0.0088
        """
        if self.mode == "abs" and self.threshold is None:
            return self.replace(threshold=proposed_threshold(stats))
        return self

    # -- applying it ------------------------------------------------------------------------
    def build(self, stats: PixelStats, *, level: Level = "row", use: Use = "abs",
              provenance: Mapping[str, Any] | None = None) -> Mask:
        """The :class:`Mask` this spec selects on ``stats``: SNR rule, rows by hand, auto flags.

        The one implementation of the rule: the Mask page, the export, the CLI and each training
        fold of the experiment (through :class:`SNRMask`) all build masks here.

        Parameters
        ----------
        stats : PixelStats
            Statistics of the data the mask is for (training data only, in a pipeline).
        level, use : see :func:`snr_mask`
            How the SNR rule reads the statistics (rows, or single pixels).
        provenance : Mapping, optional
            The dataset's provenance: with the files' own sample rates, *auto* also flags the
            rows above their Nyquist frequency (:func:`auto_flags`).

        Raises
        ------
        ParameterError
            When a row by hand lies outside the statistics' mel rows.

        Examples
        --------
        >>> from sndiag.stats import compute_stats
        >>> X = np.random.default_rng(0).gamma(4.0, 1.0, size=(50, 6, 3))
        >>> X[:, 5] = 0.0                                           # an empty band
        >>> MaskSpec(rows=(0,), auto=True).build(compute_stats(X)).masked_rows
        [0, 5]
        """
        stats = _check_stats(stats)
        mask = manual_mask(stats.shape, rows=self.rows)
        if self.mode == "abs":
            threshold = self.threshold if self.threshold is not None \
                else proposed_threshold(stats)
            mask = mask.union(snr_mask(stats, threshold=threshold, level=level, use=use))
        elif self.mode == "pct":
            mask = mask.union(snr_mask(stats, percentile=self.percentile, level=level, use=use))
        if self.auto:
            flags = auto_flags(stats, pixels=False, provenance=provenance)
            if flags.n_masked_rows:
                mask = mask.union(flags)
        return mask

    def transformer(self, *, shape: tuple[int, int] | None, mode: Mode = "zero") -> SNRMask:
        """An unfitted :class:`SNRMask` applying this spec inside a scikit-learn pipeline.

        Examples
        --------
        >>> MaskSpec.parse("p10+rows:0-1").transformer(shape=(60, 130))
        SNRMask(percentile=10.0, rows=[0, 1])
        """
        threshold: float | str | None = None
        if self.mode == "abs":
            threshold = "proposed" if self.threshold is None else self.threshold
        return SNRMask(threshold=threshold,
                       percentile=self.percentile if self.mode == "pct" else None,
                       rows=list(self.rows) or None, auto=self.auto, shape=shape, mode=mode)

    # -- text -------------------------------------------------------------------------------
    @property
    def spec(self) -> str:
        """Canonical text: ``"none"`` or parts joined by ``+``: ``snr<0.5`` / ``p10``,
        ``rows:0-4,17``, ``auto`` (what :meth:`parse` reads back, and the CLI's ``--mask``)."""
        parts = []
        if self.mode == "abs":
            parts.append("snr<" + ("proposed" if self.threshold is None else f"{self.threshold:g}"))
        elif self.mode == "pct":
            parts.append(f"p{self.percentile:g}")
        if self.rows:
            parts.append("rows:" + format_ranges(self.rows, sep=","))
        if self.auto:
            parts.append("auto")
        return "+".join(parts) or "none"

    def __str__(self) -> str:
        return self.spec

    def describe(self) -> str:
        """Plain words, e.g. ``"|row SNR| < 0.5 + rows 0-4 + auto-flagged rows"`` or ``"none"``.

        Examples
        --------
        >>> MaskSpec(mode="pct", percentile=10, rows=(0, 1, 2), auto=True).describe()
        'lowest 10% SNR rows + rows 0-2 + auto-flagged rows'
        """
        parts = []
        if self.mode == "abs":
            parts.append("|row SNR| < " + ("the proposed threshold" if self.threshold is None
                                           else f"{self.threshold:.3g}"))
        elif self.mode == "pct":
            parts.append(f"lowest {self.percentile:g}% SNR rows")
        if self.rows:
            parts.append(f"rows {format_ranges(self.rows)}")
        if self.auto:
            parts.append("auto-flagged rows")
        return " + ".join(parts) or "none"

    @classmethod
    def parse(cls, text: str | MaskSpec) -> MaskSpec:
        """Read :attr:`spec` text.

        Accepted parts (joined by ``+``; case and spaces are ignored): ``none``; ``snr<X``
        (``X > 0``, or ``proposed``); ``pP`` (``0 < P < 100``); ``rows:R`` with ``R`` like
        ``0-4,17``; ``auto``.

        Raises
        ------
        ParameterError
            For anything else, with the accepted forms.

        Examples
        --------
        >>> MaskSpec.parse(" SNR < 0.5 ").spec, MaskSpec.parse("rows:0-2+auto").rows
        ('snr<0.5', (0, 1, 2))
        >>> MaskSpec.parse("snr>2")
        Traceback (most recent call last):
        ...
        sndiag.errors.ParameterError: mask spec 'snr>2' not understood: 'snr>2'; use 'none', ...
        """
        if isinstance(text, MaskSpec):
            return text
        if not isinstance(text, str):
            raise ParameterError(f"mask spec {text!r} must be a string like 'none', 'snr<0.5', "
                                 "'p10' or 'p10+rows:43-59'")
        s = text.strip().lower().replace(" ", "")
        if s in ("none", "", "no", "off"):
            return cls()
        fields: dict[str, Any] = {}
        rows: list[int] = []
        for part in s.split("+"):
            if m := re.fullmatch(rf"snr<({_NUM}|proposed)", part):
                if m[1] == "proposed":
                    fields.update(mode="abs", threshold=None)
                    continue
                value = float(m[1])
                if not (math.isfinite(value) and value > 0):
                    raise ParameterError(f"mask spec {text!r}: the SNR threshold {value:g} must "
                                         "be > 0, e.g. 'snr<0.5'")
                fields.update(mode="abs", threshold=value)
            elif m := re.fullmatch(rf"p({_NUM})", part):
                value = float(m[1])
                if not 0 < value < 100:
                    raise ParameterError(f"mask spec {text!r}: the percentile {value:g} must be "
                                         "strictly between 0 and 100, e.g. 'p10'")
                fields.update(mode="pct", percentile=value)
            elif part.startswith("rows:"):
                rows += parse_rows(part[5:])
            elif part == "auto":
                fields["auto"] = True
            else:
                raise ParameterError(
                    f"mask spec {text!r} not understood: {part!r}; use 'none', 'snr<X' (rows "
                    "with SNR below X, e.g. 'snr<0.5'), 'pP' (lowest P% SNR rows, e.g. 'p10'), "
                    "'rows:0-4,17' (rows by hand) and 'auto' (empty bands), joined by '+'")
        return cls(rows=tuple(rows), **fields)

    # -- links ------------------------------------------------------------------------------
    def to_query(self) -> dict[str, str]:
        """Query parameters of a link: ``snr_mode``, ``snr``, ``rows``, ``auto`` (only what is set).

        Examples
        --------
        >>> MaskSpec(mode="abs", threshold=0.8, rows=(0, 1, 5)).to_query()
        {'snr_mode': 'abs', 'snr': '0.8', 'rows': '0-1,5'}
        """
        out: dict[str, str] = {}
        if self.mode == "abs":
            out["snr_mode"] = "abs"
            if self.threshold is not None:
                out["snr"] = f"{self.threshold:.6g}"
        elif self.mode == "pct":
            out["snr_mode"] = "pct"
            out["snr"] = f"{self.percentile:.6g}"
        if self.rows:
            out["rows"] = format_ranges(self.rows, sep=",")
        if self.auto:
            out["auto"] = "1"
        return out

    @classmethod
    def from_query(cls, params: Mapping[str, Any], *, base: MaskSpec | None = None
                   ) -> tuple[MaskSpec, list[str]]:
        """Read :meth:`to_query` parameters onto ``base``; malformed values are ignored with a note.

        A hand-edited link never raises: each bad value leaves ``base``'s and is reported.

        Examples
        --------
        >>> spec, notes = MaskSpec.from_query({"snr": "0.8", "rows": "x"})
        >>> spec.mode, spec.threshold, notes
        ('abs', 0.8, ["rows='x' in the link is not like 0-4,17; ignored"])
        """
        p = {k: _first(v) for k, v in params.items()}
        spec = base or cls()
        fields: dict[str, Any] = {}
        notes: list[str] = []
        mode = p.get("snr_mode")
        if mode is not None:
            if mode in MASK_MODES:
                fields["mode"] = mode
            else:
                notes.append(f"snr_mode={mode!r} in the link must be abs or pct; ignored")
        if "snr" in p:
            try:
                value = float(p["snr"])
                if not math.isfinite(value):
                    raise ValueError
            except ValueError:
                notes.append(f"snr={p['snr']!r} in the link is not a number; ignored")
            else:
                if fields.get("mode", "abs") == "pct":
                    if 0 <= value <= 100:
                        fields["percentile"] = value
                    else:
                        notes.append(f"snr={value:g} in the link is not a percentile (0-100); "
                                     "ignored")
                elif value >= 0:
                    fields["threshold"] = value
                    fields.setdefault("mode", "abs")
                else:
                    notes.append(f"snr={value:g} in the link must be >= 0; ignored")
        if "rows" in p:
            try:
                fields["rows"] = tuple(parse_rows(p["rows"]))
            except ParameterError:
                notes.append(f"rows={p['rows']!r} in the link is not like 0-4,17; ignored")
        if "auto" in p:
            fields["auto"] = p["auto"].lower() in _TRUE
        return spec.replace(**fields), notes


# -- scikit-learn transformer -----------------------------------------------------------------
class SNRMask(TransformerMixin, BaseEstimator):
    """Fit an SNR mask on the training data and apply it (scikit-learn transformer).

    Its parameters are those of a :class:`MaskSpec` (build one with
    :meth:`MaskSpec.transformer`), plus how to read and apply it; ``fit`` computes the statistics
    of the training data and calls :meth:`MaskSpec.build` on them.

    Parameters
    ----------
    threshold : float, "proposed" or None
        Mask where ``|SNR| < threshold`` (see :func:`snr_mask`); ``"proposed"`` takes
        :func:`proposed_threshold` of the training data.
    percentile : float or None
        Mask the ``percentile`` % lowest-SNR rows (pixels). Give a threshold or a percentile,
        not both.
    level : {"row", "pixel"}
        Mask whole mel rows or single pixels.
    mode : {"zero", "drop"}
        ``"zero"`` sets masked values to 0 and keeps the layout. ``"drop"`` removes them: on
        3-D input masked rows are removed and masked pixels zeroed; on flattened 2-D input every
        masked feature (row or pixel) is removed.
    rows : sequence of int or None
        Rows masked by hand in addition to the SNR rule.
    auto : bool
        Also mask the rows :func:`auto_flags` finds empty in the training data.
    shape : (int, int) or None
        ``(n_mels, n_frames)`` used to reshape flattened input ``(n, n_mels * n_frames)``.
        None takes it from the training data: ``X.shape[1:]`` for 3-D input, and
        ``(n_features, 1)`` for 2-D input (each feature is its own row, so row and pixel
        masks coincide) - what generic tabular use, e.g. scikit-learn's estimator checks, needs.
    use : {"abs", "signed"}
        See :func:`snr_mask`.

    Attributes
    ----------
    spec_ : MaskSpec
        The spec the parameters describe.
    mask_ : Mask
        The fitted mask.
    snr_ : np.ndarray [shape=(n_mels,) or (n_mels, n_frames)]
        Training-set SNR at the chosen ``level``.
    n_features_in_ : int
        ``n_mels * n_frames``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.gamma(4.0, 1.0, size=(100, 4, 3)).astype(np.float32)
    >>> X[:, 2] = rng.normal(0.0, 1.0, size=(100, 3))
    >>> t = SNRMask(threshold=0.5, shape=(4, 3)).fit(X.reshape(100, -1))
    >>> t.mask_.masked_rows, t.transform(X.reshape(100, -1)).shape
    ([2], (100, 12))
    >>> SNRMask(threshold=0.5, mode="drop", shape=(4, 3)).fit_transform(X).shape
    (100, 3, 3)
    """

    def __init__(self, *, threshold: float | str | None = None, percentile: float | None = None,
                 level: Level = "row", mode: Mode = "zero", rows: Sequence[int] | None = None,
                 auto: bool = False, shape: tuple[int, int] | None = DEFAULT_SHAPE,
                 use: Use = "abs") -> None:
        self.threshold = threshold
        self.percentile = percentile
        self.level = level
        self.mode = mode
        self.rows = rows
        self.auto = auto
        self.shape = shape
        self.use = use

    def _spec(self) -> MaskSpec:
        """The :class:`MaskSpec` of the parameters."""
        if self.threshold is not None and self.percentile is not None:
            raise ParameterError("give threshold or percentile, not both (one SNR rule per mask)")
        rows = () if self.rows is None else tuple(self.rows)
        if isinstance(self.threshold, str):
            if self.threshold != "proposed":
                raise ParameterError(f"threshold={self.threshold!r} must be a number or "
                                     "'proposed'")
            return MaskSpec(mode="abs", rows=rows, auto=self.auto)
        if self.threshold is not None:
            t = float(self.threshold)
            if not math.isfinite(t) or (self.use == "abs" and t < 0):
                raise ParameterError(f"threshold={self.threshold!r} must be a finite number"
                                     + (" >= 0 with use='abs'" if self.use == "abs" else ""))
            return MaskSpec(mode="abs", threshold=t, rows=rows, auto=self.auto)
        if self.percentile is not None:
            return MaskSpec(mode="pct", percentile=self.percentile, rows=rows, auto=self.auto)
        return MaskSpec(rows=rows, auto=self.auto)

    @staticmethod
    def _check_X(X: Any) -> np.ndarray:
        """scikit-learn's input validation (sparse, complex, object, NaN/Inf, 1-D, empty)."""
        X = check_array(X, allow_nd=True, dtype=[np.float64, np.float32])
        if X.ndim not in (2, 3):
            raise ShapeError(f"X has shape {X.shape}; expected (n, n_mels * n_frames) or "
                             "(n, n_mels, n_frames)")
        return X

    def _as_images(self, X: np.ndarray, shape: tuple[int, int], *, fitted: bool) -> np.ndarray:
        n_feat = shape[0] * shape[1]
        if X.ndim == 2:
            if X.shape[1] != n_feat:
                owner = f"{type(self).__name__} is expecting {n_feat} features as input"
                hint = ("transform data of the shape used in fit" if fitted
                        else "set SNRMask(shape=(n_mels, n_frames))")
                raise ShapeError(f"X has {X.shape[1]} features, but {owner} (shape={shape}); "
                                 f"{hint}")
            return X.reshape(X.shape[0], *shape)
        if X.shape[1:] != shape:
            raise ShapeError(f"X has images of shape {X.shape[1:]} but shape={shape}; "
                             + ("transform images of the shape used in fit" if fitted
                                else "set SNRMask(shape=(n_mels, n_frames))"))
        return X

    def fit(self, X: Any, y: Any = None) -> SNRMask:
        """Compute the SNR of ``X`` (training clips only) and the mask; return ``self``.

        ``X`` is (n, n_mels * n_frames) or (n, n_mels, n_frames); ``y`` is ignored.
        """
        if self.mode not in ("zero", "drop"):
            raise ParameterError(f"mode={self.mode!r} must be 'zero' or 'drop'")
        if self.level not in ("row", "pixel"):
            raise ParameterError(f"level={self.level!r} must be 'row' or 'pixel'")
        if self.use not in ("abs", "signed"):
            raise ParameterError(f"use={self.use!r} must be 'abs' or 'signed'")
        X = self._check_X(X)
        if self.shape is None:
            shape = _as_shape(X.shape[1:] if X.ndim == 3 else (X.shape[1], 1))
        else:
            shape = _as_shape(self.shape)
        images = self._as_images(X, shape, fitted=False)
        spec = self._spec()
        stats = compute_stats(images, quantiles="none")
        mask = spec.build(stats, level=self.level, use=self.use)
        self.spec_ = spec
        self.mask_ = mask
        self.snr_ = np.array(stats.row_snr if self.level == "row" else stats.snr)
        self.n_features_in_ = shape[0] * shape[1]
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Apply the fitted mask; the output has the input's number of dimensions and dtype."""
        check_is_fitted(self, "mask_")
        X = self._check_X(X)
        images = self._as_images(X, self.mask_.shape, fitted=True)
        if X.ndim == 2:
            if self.mode == "drop":
                return X[:, ~self.mask_.combined.ravel()]
            return self.mask_.apply(images, mode="zero").reshape(X.shape[0], -1)
        return self.mask_.apply(images, mode=self.mode)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.requires_fit = True
        return tags
