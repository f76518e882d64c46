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
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted

from sndiag.errors import DataError, ParameterError, ShapeError
from sndiag.stats import PixelStats, compute_stats

__all__ = [
    "Mask",
    "MaskReason",
    "SNRMask",
    "auto_flags",
    "format_ranges",
    "manual_mask",
    "mask_summary",
    "snr_mask",
    "snr_percentile",
]

Level = Literal["row", "pixel"]
Mode = Literal["zero", "drop"]
Use = Literal["abs", "signed"]


def format_ranges(indices: Iterable[int]) -> str:
    """Compact text of integer indices: runs become ``a-b``, separated by ``", "``.

    Duplicates are ignored and the order does not matter; an empty input gives ``""``.

    Examples
    --------
    >>> format_ranges([0, 1, 2, 3, 4, 17])
    '0-4, 17'
    >>> format_ranges([9, 3, 4, 4])
    '3-4, 9'
    >>> format_ranges([])
    ''
    """
    values = sorted({int(i) for i in indices})
    parts: list[str] = []
    start = prev = None
    for v in values:
        if prev is not None and v == prev + 1:
            prev = v
            continue
        if start is not None:
            parts.append(f"{start}" if start == prev else f"{start}-{prev}")
        start = prev = v
    if start is not None:
        parts.append(f"{start}" if start == prev else f"{start}-{prev}")
    return ", ".join(parts)


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


def auto_flags(stats: PixelStats, *, empty_tol: float = 0.0, pixels: bool = True) -> Mask:
    """Flag empty mel bands and near-constant pixels.

    A row is *empty* when it is all zeros, when its pooled std is 0 up to float64 rounding
    (``stats.row_zero_std``), or when ``row_max - row_min <= empty_tol * max(1, |row_min|,
    |row_max|)`` (a flat band at the dB floor, say). A pixel is *near-constant* when
    ``stats.zero_std`` (see :func:`sndiag.stats.is_constant`); pixels of empty rows are not
    repeated in the pixel mask.

    Parameters
    ----------
    stats : PixelStats
    empty_tol : float
        Relative range below which a row counts as empty; 0 flags exactly constant rows only.
    pixels : bool
        Also flag near-constant pixels.

    Examples
    --------
    >>> from sndiag.stats import compute_stats
    >>> X = np.random.default_rng(0).random((20, 4, 3))
    >>> X[:, 0] = 0.0
    >>> X[:, 2, 1] = 7.0
    >>> m = auto_flags(compute_stats(X))
    >>> m.masked_rows, np.argwhere(m.pixels).tolist(), [r.rule for r in m.reasons]
    ([0], [[2, 1]], ['empty mel band', 'near-constant pixel'])
    """
    stats = _check_stats(stats)
    tol = float(empty_tol)
    if not np.isfinite(tol) or tol < 0:
        raise ParameterError(f"empty_tol={empty_tol!r} must be a finite number >= 0")
    lo, hi = np.asarray(stats.row_min), np.asarray(stats.row_max)
    scale = np.maximum(1.0, np.maximum(np.abs(lo), np.abs(hi)))
    rows = (stats.row_zero_fraction >= 1.0) | np.asarray(stats.row_zero_std) \
        | (hi - lo <= tol * scale)
    px = np.asarray(stats.zero_std) & ~rows[:, None] if pixels else np.zeros(stats.shape, bool)
    reasons = []
    if rows.any():
        reasons.append(_reason("auto", "row", "empty mel band", rows, rows[:, None], stats.n_frames))
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


# -- scikit-learn transformer -----------------------------------------------------------------
class SNRMask(TransformerMixin, BaseEstimator):
    """Fit an SNR mask on the training data and apply it (scikit-learn transformer).

    Parameters
    ----------
    threshold : float or None
        Mask where ``|SNR| < threshold`` (see :func:`snr_mask`).
    percentile : float or None
        Mask the ``percentile`` % lowest-SNR rows (pixels).
    level : {"row", "pixel"}
        Mask whole mel rows or single pixels.
    mode : {"zero", "drop"}
        ``"zero"`` sets masked values to 0 and keeps the layout. ``"drop"`` removes them: on
        3-D input masked rows are removed and masked pixels zeroed; on flattened 2-D input every
        masked feature (row or pixel) is removed.
    rows : sequence of int or None
        Rows masked by hand in addition to the SNR rule.
    shape : (int, int) or None
        ``(n_mels, n_frames)`` used to reshape flattened input ``(n, n_mels * n_frames)``.
        None takes it from the training data: ``X.shape[1:]`` for 3-D input, and
        ``(n_features, 1)`` for 2-D input (each feature is its own row, so row and pixel
        masks coincide) - what generic tabular use, e.g. scikit-learn's estimator checks, needs.
    use : {"abs", "signed"}
        See :func:`snr_mask`.

    Attributes
    ----------
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

    def __init__(self, *, threshold: float | None = None, percentile: float | None = None,
                 level: Level = "row", mode: Mode = "zero", rows: Sequence[int] | None = None,
                 shape: tuple[int, int] | None = (60, 130), use: Use = "abs") -> None:
        self.threshold = threshold
        self.percentile = percentile
        self.level = level
        self.mode = mode
        self.rows = rows
        self.shape = shape
        self.use = use

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
        stats = compute_stats(images, quantiles="none")
        mask = manual_mask(shape, rows=() if self.rows is None else self.rows)
        if self.threshold is not None or self.percentile is not None:
            mask = mask.union(snr_mask(stats, threshold=self.threshold, percentile=self.percentile,
                                       level=self.level, use=self.use))
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
