"""What a scaler does to the data: the computation behind the dashboard's Scalers page.

:func:`evaluate_scaler` fits one registered scaler (see :mod:`sndiag.scalers`) on training
spectrograms and measures the result: per-pixel mean and std of the transformed data, the noise
gain map (how much the scaler multiplies a small perturbation of each pixel), one example clip
before and after, bounded value samples for histograms, the rows with the highest gain, and a
one-line plain-language :func:`describe_effect` reading about the low-SNR rows, which is where
per-pixel standardization goes wrong: ``1 / std`` is large exactly where the std is all noise.

The measurement needs no second copy of the data: an affine scaler's maps follow
from the data's statistics (only the example clip and the histogram sample are transformed),
any other scaler is transformed a chunk of clips at a time (:data:`CHUNK_CLIPS`). Clips that
stay in a file (a :class:`~sndiag.clip_array.ClipArray`, a dataset larger than memory) are
never read whole either: a mean/std scaler is fitted from the statistics
(:func:`sndiag.scalers.fit_from_stats`), any other chunk by chunk (:func:`sndiag.scalers.fit_clips`),
and the histograms and distribution checks use a random sample of clips
(:data:`sndiag.stats.SAMPLE_CLIPS`).

Pages only draw what :class:`ScalerEffect` holds; they compute no statistics.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sndiag.clip_array import ClipArray
from sndiag.config import SpectrogramConfig
from sndiag.errors import DataError, ParameterError, ShapeError
from sndiag.masks import Mask, format_ranges, lowest_snr_rows
from sndiag.scalers import (
    affine_maps,
    compresses,
    fit_clips,
    fit_from_stats,
    make_scaler,
    with_mask,
)
from sndiag.stats import (
    SAMPLE_CLIPS,
    Moments,
    PixelStats,
    compute_stats,
    sample_indices,
    sample_positions,
    subsample_values,
)

__all__ = ["Distribution", "ScalerEffect", "compare_effects", "describe_effect",
           "distribution_checks", "evaluate_scaler", "format_gain"]

#: Gain ratio (low-SNR rows / high-SNR rows) beyond which a reading says "amplified"/"damped".
RATIO_NOTABLE = 1.5
#: Number of rows listed in :attr:`ScalerEffect.worst_rows`.
N_WORST_ROWS = 5
#: Pixels whose gain exceeds this many times the larger group median are called out separately
#: (a median hides the few near-constant pixels a robust or min-max scaler blows up).
HOT_FACTOR = 100.0
#: Clips transformed at a time when a scaler's effect is measured (bounds the extra memory).
CHUNK_CLIPS = 256


@dataclass(frozen=True, eq=False)
class ScalerEffect:
    """A fitted scaler and what it does to the training data.

    Attributes
    ----------
    name, title, description : str
        Registry name (e.g. ``"standard"``, ``"db+band"``), short title and one-line description.
    scaler : sklearn transformer
        The scaler fitted on the (masked) training data.
    example_before, example_after : np.ndarray [shape=(n_mels, n_frames)]
        One training clip as given, and after mask and scaler.
    mean_after, std_after : np.ndarray [shape=(n_mels, n_frames)]
        Per-pixel mean and std of the transformed training data (NaN where it is not finite).
    gain : np.ndarray [shape=(n_mels, n_frames)]
        Noise gain of the scaler (``scaler.gain_map(X)``): the factor applied to a small
        perturbation of each pixel.
    hist_before, hist_after : np.ndarray [shape=(<= 200000,)]
        Random finite values of the data before and after (:func:`~sndiag.stats.subsample_values`).
    reading : str
        One plain-language line from :func:`describe_effect`.
    worst_rows : list of (int, float)
        The rows with the highest median gain over their non-constant pixels, highest first
        (masked and constant rows excluded).
    finite : bool
        False when the transformed data holds NaN or Inf.
    params : dict
        Parameters given to :func:`sndiag.scalers.make_scaler`.
    masked_rows : np.ndarray [shape=(n_mels,), dtype=bool] or None
        Rows zeroed by the mask before fitting.
    distribution : Distribution or None
        Skew, kurtosis, values beyond +/-3 and band correlations before and after
        (:func:`distribution_checks`).
    fitted_on : str or None
        What the scaler was fitted on when it was not every clip (a quantile scaler on clips
        that stay in a file: ``"a sample of 2000 of 100000 clips"``).
    """

    name: str
    title: str
    description: str
    scaler: Any
    example_before: np.ndarray
    example_after: np.ndarray
    mean_after: np.ndarray
    std_after: np.ndarray
    gain: np.ndarray
    hist_before: np.ndarray
    hist_after: np.ndarray
    reading: str
    worst_rows: list[tuple[int, float]]
    finite: bool
    params: dict[str, Any] = field(default_factory=dict)
    masked_rows: np.ndarray | None = None
    distribution: Distribution | None = None
    fitted_on: str | None = None


#: Clips (a random subsample) on which :func:`distribution_checks` measures the shape.
DISTRIBUTION_CLIPS = 256


@dataclass(frozen=True, eq=False)
class Distribution:
    """The checks a practitioner makes before trusting a scaler: shape of each row's values
    and how the mel bands move together, before and after scaling (:func:`distribution_checks`).

    Attributes
    ----------
    skew_before, skew_after : np.ndarray [shape=(n_mels,)]
        Skewness of each row's values over clips and frames (NaN for a constant row).
    kurtosis_before, kurtosis_after : np.ndarray [shape=(n_mels,)]
        Excess kurtosis (0 for a normal distribution; heavy tails are large).
    beyond3 : float
        Share of values after scaling outside +/-3 (in standard units after a standardizing
        scaler: a normal distribution has 0.27% there).
    corr_before, corr_after : np.ndarray [shape=(n_mels, n_mels)]
        Correlation of the mel bands (rows) over clips and frames; 0 off the diagonal for a
        constant row.
    n_clips : int
        Clips measured (a random subsample of at most :data:`DISTRIBUTION_CLIPS`).
    """

    skew_before: np.ndarray
    skew_after: np.ndarray
    kurtosis_before: np.ndarray
    kurtosis_after: np.ndarray
    beyond3: float
    corr_before: np.ndarray
    corr_after: np.ndarray
    n_clips: int


def _row_shape(X3: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Skewness and excess kurtosis of each row over clips and frames (NaN when constant)."""
    R = np.moveaxis(X3, 1, 0).reshape(X3.shape[1], -1).astype(np.float64)
    R = np.where(np.isfinite(R), R, np.nan)
    mu = np.nanmean(R, axis=1, keepdims=True)
    D = R - mu
    m2 = np.nanmean(D ** 2, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        skew = np.nanmean(D ** 3, axis=1) / m2 ** 1.5
        kurt = np.nanmean(D ** 4, axis=1) / m2 ** 2 - 3.0
    flat = ~(m2 > 1e-12 * np.maximum(1.0, np.nanmax(np.abs(R), axis=1) ** 2))
    skew[flat] = np.nan
    kurt[flat] = np.nan
    return skew, kurt


def _band_corr(X3: np.ndarray) -> np.ndarray:
    R = np.moveaxis(X3, 1, 0).reshape(X3.shape[1], -1).astype(np.float64)
    R = np.where(np.isfinite(R), R, 0.0)
    R = R - R.mean(axis=1, keepdims=True)
    norm = np.sqrt((R ** 2).sum(axis=1))
    ok = norm > 1e-12 * max(1.0, float(norm.max(initial=0.0)))
    C = np.zeros((R.shape[0], R.shape[0]))
    Rn = R[ok] / norm[ok][:, None]
    C[np.ix_(ok, ok)] = np.clip(Rn @ Rn.T, -1.0, 1.0)
    np.fill_diagonal(C, 1.0)
    return C


def distribution_checks(scaler: Any, X: np.ndarray, *, max_clips: int = DISTRIBUTION_CLIPS,
                        rng_seed: int = 0) -> Distribution:
    """Skew, excess kurtosis, values beyond +/-3 and band correlations, before and after.

    Parameters
    ----------
    scaler : fitted transformer
        Applied to a random subsample of ``X`` (its mask, if any, included).
    X : np.ndarray or ClipArray [shape=(n_clips, n_mels, n_frames)]
        The data the scaler is fitted on (before scaling).
    max_clips : int
        Clips measured.

    Examples
    --------
    >>> from sndiag.scalers import make_scaler
    >>> X = np.random.default_rng(0).lognormal(0.0, 1.5, size=(200, 4, 10))
    >>> d = distribution_checks(make_scaler("db+standard").fit(X), X)
    >>> bool(d.kurtosis_before.mean() > 10 > abs(d.kurtosis_after).mean()), d.corr_after.shape
    (True, (4, 4))
    """
    if not isinstance(X, ClipArray):
        X = np.asarray(X)
    n = X.shape[0]
    rng = np.random.default_rng(rng_seed)
    idx = np.sort(rng.choice(n, size=min(n, int(max_clips)), replace=False))
    clips = X[idx]  # read once (clips of a file)
    before = np.array(clips, dtype=np.float64)  # a copy: transform may not modify it
    with np.errstate(all="ignore"):
        after = np.asarray(scaler.transform(clips), dtype=np.float64).reshape(before.shape)
        sb, kb = _row_shape(before)
        sa, ka = _row_shape(after)
        fin = after[np.isfinite(after)]
        beyond = float(np.mean(np.abs(fin) > 3.0)) if fin.size else math.nan
        return Distribution(sb, sa, kb, ka, beyond, _band_corr(before), _band_corr(after),
                            int(idx.size))


# -- reading ---------------------------------------------------------------------------------
def format_gain(g: float) -> str:
    """A gain factor in compact text: 12, 1.1, 0.05, 1,234, 3.2e5, 2e-4.

    Examples
    --------
    >>> [format_gain(g) for g in (12.0, 1.1, 0.05, 1234.0, 3.2e5, 2e-4, 0.0)]
    ['12', '1.1', '0.05', '1,234', '3.2e5', '2e-4', '0']
    """
    if not math.isfinite(g):
        return "inf" if g > 0 else "nan"
    a = abs(g)
    if a == 0:
        return "0"
    if 0.01 <= a < 100:
        return f"{g:.2g}"
    if 100 <= a < 10_000:
        return f"{g:,.0f}"
    mant, exp = f"{g:.1e}".split("e")
    return f"{mant.rstrip('0').rstrip('.')}e{int(exp)}"


def _rows(idx: Iterable[int]) -> str:
    """``"row 3"`` or ``"rows 0-4, 17"``."""
    idx = [int(i) for i in idx]
    return f"{'row' if len(idx) == 1 else 'rows'} {format_ranges(idx)}"


def _rows_short(rows: np.ndarray) -> str:
    """:func:`_rows`, or ``"in 23 rows"`` when the list of ranges would be long."""
    return _rows(rows) if len(format_ranges(rows.tolist())) <= 30 else f"in {rows.size} rows"


def _row_gain(gain: np.ndarray, ignore: np.ndarray | None = None) -> np.ndarray:
    """Median gain per row over finite pixels not in ``ignore``; NaN for rows without any."""
    G = np.where(np.isfinite(gain), gain, np.nan)
    if ignore is not None:
        G[ignore] = np.nan
    out = np.full(G.shape[0], np.nan)
    ok = ~np.isnan(G).all(axis=1)
    out[ok] = np.nanmedian(G[ok], axis=1)
    return out


def _group_gain(gain: np.ndarray, rows: np.ndarray) -> float:
    """Median gain over the finite pixels of ``rows`` (NaN marks ignored pixels)."""
    vals = gain[rows].ravel()
    vals = vals[np.isfinite(vals)]
    return float(np.median(vals)) if vals.size else math.nan


def _as_row_flags(masked_rows: Any, n: int) -> np.ndarray:
    if masked_rows is None:
        return np.zeros(n, dtype=bool)
    arr = np.asarray(masked_rows)
    if arr.dtype == bool:
        if arr.shape != (n,):
            raise ShapeError(f"masked_rows has shape {arr.shape}; expected ({n},) booleans")
        return arr.copy()
    flags = np.zeros(n, dtype=bool)
    idx = arr.astype(int).ravel()
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise ParameterError(f"masked_rows holds rows outside 0..{n - 1}")
    flags[idx] = True
    return flags


def describe_effect(
    gain: np.ndarray,
    row_snr: np.ndarray,
    *,
    snr_threshold: float | None = None,
    masked_rows: np.ndarray | Iterable[int] | None = None,
    zero_std: np.ndarray | None = None,
    changed: bool | None = None,
) -> str:
    """One plain-language line on what a gain map does to the low-SNR rows.

    Low-SNR rows are the unmasked rows with ``|row_snr| < snr_threshold`` or, when
    ``snr_threshold`` is None, :func:`sndiag.masks.lowest_snr_rows` of the unmasked rows (the
    definition every page and the verdict share). High-SNR rows are the other
    unmasked rows in the upper half by ``|row_snr|``. Gains are medians over the pixels of each
    group. The line says whether the scaler leaves the data unchanged, scales every pixel
    alike, or gives the low-SNR rows more (noise amplified) or less (damped) gain than the
    high-SNR rows, and by how much.

    Parameters
    ----------
    gain : np.ndarray [shape=(n_mels, n_frames)] or [shape=(n_mels,)]
        Noise gain per pixel (or per row), e.g. ``scaler.gain_map(X)``.
    row_snr : np.ndarray [shape=(n_mels,)]
        Row SNR of the data before scaling (:attr:`PixelStats.row_snr`).
    snr_threshold : float, optional
        Rows with ``|SNR|`` below it are the low-SNR rows.
    masked_rows : np.ndarray [shape=(n_mels,), dtype=bool] or iterable of int, optional
        Rows zeroed by a mask; mentioned, then left out of the comparison.
    zero_std : np.ndarray [shape=(n_mels, n_frames), dtype=bool], optional
        Pixels without variance in the data (:attr:`PixelStats.zero_std`, e.g. padding that is 0
        in every clip). Their gain is ignored: scalers give them gain 1 by convention, and there
        is no noise there to amplify. Rows made only of such pixels are reported as constant.
    changed : bool, optional
        Whether the scaler changed the (masked) data at all. A gain of 1 everywhere cannot tell
        "no scaling" from a pure shift (median centring): with ``changed=False`` the line says
        the data is unchanged, with True that values are only shifted, with None (unknown)
        just that the noise level is unchanged.

    Returns
    -------
    str

    Examples
    --------
    >>> snr = np.array([0.1, 0.2, 2.0, 3.0, 2.5, 2.2, 1.9, 2.1, 2.4, 2.6])
    >>> describe_effect(np.ones((10, 4)), snr, changed=False)
    'leaves the data unchanged (gain x1 everywhere)'
    >>> describe_effect(np.ones((10, 4)), snr, changed=True)
    'shifts values without rescaling (gain x1 everywhere): noise levels are unchanged'
    >>> describe_effect(np.full((10, 4), 0.5), snr)
    'scales every pixel by the same factor (gain x0.5): relative noise levels are unchanged'
    >>> g = np.repeat(1 / np.array([0.01, 0.02, 1, 1, 1, 1, 1, 1, 1, 1.1]), 4).reshape(10, 4)
    >>> describe_effect(g, snr, snr_threshold=0.5)
    'rows 0-1 (SNR < 0.5): noise amplified x75 (median gain) vs x1 on high-SNR rows, 75x more'
    >>> describe_effect(g, snr, masked_rows=[0])
    'row 0 masked (set to 0); row 1 (lowest SNR, <= 0.2): noise amplified x50 (median gain) \
vs x1 on high-SNR rows, 50x more'
    >>> g[5, 0] = 1e6                                     # one near-constant pixel
    >>> describe_effect(g, snr, snr_threshold=0.5)
    'rows 0-1 (SNR < 0.5): noise amplified x75 (median gain) vs x1 on high-SNR rows, 75x more; \
but 1 pixel (row 5) gets gain above x7,500, up to x1e6'
    """
    G = np.array(gain, dtype=np.float64)
    if G.ndim == 1:
        G = G[:, None]
    if G.ndim != 2:
        raise ShapeError(f"gain has shape {G.shape}; expected (n_mels, n_frames) or (n_mels,)")
    snr = np.abs(np.asarray(row_snr, dtype=np.float64).ravel())
    n = G.shape[0]
    if snr.shape != (n,):
        raise ShapeError(f"row_snr has {snr.size} rows but gain has {n}; they must match")
    if snr_threshold is not None and not (math.isfinite(snr_threshold) and snr_threshold >= 0):
        raise ParameterError(f"snr_threshold={snr_threshold!r} must be a finite number >= 0")
    masked = _as_row_flags(masked_rows, n)
    notes = [f"{_rows(np.flatnonzero(masked))} masked (set to 0)"] if masked.any() else []
    nonfinite = ~np.isfinite(G) & ~masked[:, None]
    if nonfinite.any():
        notes.append("gain is not finite on some pixels")
    G[nonfinite] = np.nan
    if zero_std is not None:
        const = np.asarray(zero_std, dtype=bool)
        if const.shape != G.shape:
            raise ShapeError(f"zero_std has shape {const.shape}; expected {G.shape} like gain")
        G[const] = np.nan  # no variance, no noise: the gain of a constant pixel is irrelevant
        empty = ~masked & const.all(axis=1)
        if empty.any():
            notes.append(f"{_rows(np.flatnonzero(empty))} constant (nothing to scale)")
    prefix = "".join(f"{t}; " for t in notes)
    active = np.flatnonzero(~masked & ~np.isnan(G).all(axis=1))
    if active.size == 0:
        return prefix + "no row is left to scale"
    fin = G[active][~np.isnan(G[active])]
    if np.allclose(fin, 1.0, rtol=1e-6, atol=1e-9):
        if changed is False:
            what = "leaves the data unchanged (gain x1 everywhere)"
        elif changed:
            what = "shifts values without rescaling (gain x1 everywhere): noise levels are unchanged"
        else:
            what = "keeps every pixel's scale (gain x1 everywhere): noise levels are unchanged"
        return prefix + ("otherwise " if prefix else "") + what
    lo, hi = float(fin.min()), float(fin.max())
    if lo > 0 and hi / lo <= 1.05:
        g = float(np.median(fin))
        return (prefix + f"scales every pixel by the same factor (gain x{format_gain(g)}): "
                "relative noise levels are unchanged")

    s = snr[active]
    if snr_threshold is not None:
        low = np.sort(active[s < snr_threshold])
        label = f"SNR < {snr_threshold:.2g}"
        if low.size == 0:
            rg = _row_gain(G[active])
            return (prefix + f"no row has SNR < {snr_threshold:.2g}; median gain per row ranges "
                    f"x{format_gain(float(np.nanmin(rg)))} to x{format_gain(float(np.nanmax(rg)))}")
    else:
        low = lowest_snr_rows(snr, among=active)
        label = f"lowest SNR, <= {float(snr[low].max()):.2g}"
    rest = np.setdiff1d(active, low)
    high = rest[snr[rest] >= np.median(snr[active])] if rest.size else rest
    if high.size == 0:
        high = rest
    g_low = _group_gain(G, low)
    head = f"{_rows(low)} ({label})"
    return prefix + _compare(G, active, low, high, head, g_low) + _hot_pixels(G, active, g_low, high)


def _compare(G: np.ndarray, active: np.ndarray, low: np.ndarray, high: np.ndarray, head: str,
             g_low: float) -> str:
    """The low-SNR rows' median gain against the high-SNR rows' (the body of the reading)."""
    if high.size == 0:
        return f"{head}: median gain x{format_gain(g_low)} (no other rows to compare)"
    g_high = _group_gain(G, high)
    tail = f"vs x{format_gain(g_high)} on high-SNR rows"
    if g_high <= 0 or g_low <= 0:
        return f"{head}: median gain x{format_gain(g_low)} {tail}"
    ratio = g_low / g_high
    if ratio >= RATIO_NOTABLE:
        if g_low > 1:
            return (f"{head}: noise amplified x{format_gain(g_low)} (median gain) {tail}, "
                    f"{format_gain(ratio)}x more")
        return (f"{head}: gain x{format_gain(g_low)} (median) {tail}: noise amplified "
                f"{format_gain(ratio)}x relative to them")
    if ratio <= 1 / RATIO_NOTABLE:
        return (f"{head}: damped, gain x{format_gain(g_low)} (median) {tail}, "
                f"{format_gain(1 / ratio)}x less")
    return f"{head}: gain x{format_gain(g_low)}, about the same as high-SNR rows (x{format_gain(g_high)})"


def _hot_pixels(G: np.ndarray, active: np.ndarray, g_low: float, high: np.ndarray) -> str:
    """``"; but N pixels (rows ...) get gain above xT, up to xM"`` when a few pixels stand out.

    Medians describe rows; a scaler that divides by a per-pixel spread (robust IQR, min-max range,
    std) can still blow up the few pixels whose spread is tiny. Those are named here.
    """
    g_high = _group_gain(G, high) if high.size else math.nan
    ref = max(v for v in (g_low, g_high, 1.0) if math.isfinite(v))
    limit = HOT_FACTOR * ref
    sub = G[active]
    with np.errstate(invalid="ignore"):
        hot = np.nan_to_num(sub, nan=0.0) > limit
    if not hot.any():
        return ""
    rows = active[hot.any(axis=1)]
    where = _rows_short(rows)
    n = int(hot.sum())
    return (f"; but {n:,} pixel{'s' if n > 1 else ''} ({where}) {'get' if n > 1 else 'gets'} gain above "
            f"x{format_gain(limit)}, up to x{format_gain(float(np.nanmax(sub)))}")


def _unscaled(scaler: Any, zero_std: np.ndarray, mask: Mask | None) -> str:
    """The reading's clause on pixels the scaler left unscaled though the data varies there.

    A fitted scaler flags in ``zero_scale_`` the pixels (rows, or everything) whose spread - std,
    IQR, range or max |x| - counted as zero, and gives them scale 1. Where the data itself is
    constant that is already said; but a robust scaler also flags every pixel that is mostly
    silent (IQR 0, std > 0), which is worth knowing next to the gain it gives its neighbours.

    Examples
    --------
    >>> from sndiag.scalers import make_scaler
    >>> X = np.zeros((40, 2, 3)); X[:5] = 1.0; X[:, 1] = np.arange(40)[:, None]
    >>> _unscaled(make_scaler("robust").fit(X), np.zeros((2, 3), bool), None)
    '; 3 pixels (row 0) whose spread counts as zero are left unscaled (gain x1)'
    """
    flags = getattr(scaler, "zero_scale_", None)
    if flags is None:
        return ""
    flags = np.broadcast_to(np.asarray(flags, dtype=bool), zero_std.shape) & ~zero_std
    if mask is not None:
        flags = flags & ~mask.combined
    n = int(flags.sum())
    if n == 0:
        return ""
    rows = np.flatnonzero(flags.any(axis=1))
    where = _rows_short(rows)
    return (f"; {n:,} pixel{'s' if n > 1 else ''} ({where}) whose spread counts as zero "
            f"{'are' if n > 1 else 'is'} left unscaled (gain x1)")


# -- evaluation ------------------------------------------------------------------------------
def _info(name: str) -> tuple[str, str]:
    """Title and description of a registered scaler or of a composition such as ``"db+band"``."""
    from sndiag.scalers import scaler_info

    info = scaler_info(name)
    return str(info.title), str(info.description)


@dataclass(frozen=True)
class _After:
    """What the fitted scaler makes of the training data (the part of an effect that needs it)."""

    example: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    finite: bool
    changed: bool
    hist: np.ndarray


def _moments_after(Xt: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """Per-pixel mean/std of the transformed data and whether it is finite."""
    if np.isfinite(Xt).all():
        try:
            st = compute_stats(Xt, quantiles="none")
            return np.asarray(st.mean), np.asarray(st.std), True
        except DataError:  # squares overflow float64: report as not finite
            pass
    with np.errstate(all="ignore"):
        bad = np.where(np.isfinite(Xt), Xt, np.nan).astype(np.float64)
        return np.nanmean(bad, axis=0), np.nanstd(bad, axis=0), False


def _after_affine(scaler: Any, X: np.ndarray | ClipArray, stats: PixelStats, mask: Mask | None,
                  example: int, rng_seed: int, sample: np.ndarray | None = None) -> _After | None:
    """An affine scaler's effect from the statistics of ``X``, without transforming all of it.

    ``(x - offset) / scale`` moves each pixel's mean to ``(mean - offset) / scale`` and divides
    its std by ``scale``; its extreme values bound the output, so finiteness is known too. Only
    the example clip and the histogram sample (:func:`~sndiag.stats.sample_positions`, the
    positions :func:`~sndiag.stats.subsample_values` would read) are transformed; with
    ``sample`` (clips of ``X`` read from a file) the histogram values come from those clips.
    None when the scaler is not affine, ``stats`` do not describe all of ``X``, or the output
    may overflow (the caller then transforms everything).
    """
    maps = affine_maps(scaler)
    if maps is None:
        return None
    n = X.shape[0]
    if int(stats.n) != n or not np.all(np.asarray(stats.count) == n):
        return None
    off, sc = maps
    mean, std, lo, hi = (np.asarray(a, dtype=np.float64)
                         for a in (stats.mean, stats.std, stats.min, stats.max))
    if mask is not None:  # the masked pixels of X are all 0
        mean, std, lo, hi = (np.where(mask.combined, 0.0, a) for a in (mean, std, lo, hi))
    with np.errstate(all="ignore"):
        bound = np.maximum(np.abs(lo - off), np.abs(hi - off)) / sc
    # the full path's float64 squares overflow near 1e154; stay far from both limits
    limit = min(0.5 * float(np.finfo(np.dtype(X.dtype)).max), 1e150)
    if not (np.all(sc > 0) and np.all(np.isfinite(bound)) and float(bound.max()) < limit):
        return None
    flat = (X if sample is None else sample).reshape(-1)
    pos = sample_positions(flat.size, rng_seed=rng_seed)
    pix = np.arange(flat.size) % off.size if pos is None else pos % off.size
    vals = flat if pos is None else flat[pos]
    # the formula of _AffineScaler.transform, on the sampled values only
    hist = ((vals.astype(np.float64) - off.reshape(-1)[pix]) / sc.reshape(-1)[pix]).astype(X.dtype)
    return _After(
        example=np.asarray(scaler.transform(X[example:example + 1]))[0],
        mean=(mean - off) / sc, std=std / sc, finite=True,
        changed=bool(np.any((off != 0) | ((sc != 1) & ((lo != 0) | (hi != 0))))),
        hist=hist.astype(np.float64),
    )


def _after_chunked(scaler: Any, X: np.ndarray | ClipArray, example: int, rng_seed: int,
                   sample: np.ndarray | None = None) -> _After | None:
    """The fitted scaler's effect, transforming ``X`` a chunk of clips at a time.

    Memory stays at one chunk (not a second copy of the data), and the moments are merged with
    :class:`~sndiag.stats.Moments`. None as soon as a chunk is not finite or its squares
    overflow (the caller then transforms everything and measures with NaN-aware reductions).
    With ``sample`` (clips of ``X`` read from a file) the histogram values come from those
    clips, transformed.
    """
    n, img = X.shape[0], X.shape[1:]
    per_clip = int(np.prod(img))
    pos = None if sample is not None else sample_positions(X.size, rng_seed=rng_seed)
    moments = Moments(img)
    changed, ex, parts = False, None, []
    for i in range(0, n, CHUNK_CLIPS):
        chunk = X[i:i + CHUNK_CLIPS]
        Z = np.asarray(scaler.transform(chunk))
        if Z.shape != chunk.shape:
            raise ShapeError(f"{type(scaler).__name__} returned shape {Z.shape} for clips of "
                             f"shape {chunk.shape}; a scaler must keep the shape")
        if not np.isfinite(Z).all():
            return None
        try:
            moments.update(Z)
        except DataError:
            return None
        changed = changed or not np.array_equal(Z, chunk)
        if i <= example < i + len(chunk):
            ex = Z[example - i]
        if sample is not None:
            continue
        flat = Z.reshape(-1)
        if pos is None:
            parts.append(flat)
        else:
            a, b = np.searchsorted(pos, [i * per_clip, (i + len(chunk)) * per_clip])
            parts.append(flat[pos[a:b] - i * per_clip])
    if sample is not None:
        hist = subsample_values(np.asarray(scaler.transform(sample)), rng_seed=rng_seed)
    else:
        hist = np.concatenate(parts).astype(np.float64)
    return _After(example=ex, mean=moments.mean, std=moments.std, finite=True, changed=changed,
                  hist=hist)


def _after_nan_chunked(scaler: Any, X: ClipArray, example: int, rng_seed: int,
                       sample: np.ndarray) -> _After:
    """:func:`_after_whole` for clips that stay in a file: NaN-aware float64 sums per chunk."""
    img = X.shape[1:]
    total, squares, count = np.zeros(img), np.zeros(img), np.zeros(img)
    changed, ex = False, None
    for i, chunk in X.chunks(CHUNK_CLIPS):
        Z = np.asarray(scaler.transform(chunk), dtype=np.float64)
        ok = np.isfinite(Z)
        Zf = np.where(ok, Z, 0.0)
        total += Zf.sum(axis=0)
        squares += (Zf * Zf).sum(axis=0)
        count += ok.sum(axis=0)
        changed = changed or not np.array_equal(Z, chunk)
        if i <= example < i + len(chunk):
            ex = Z[example - i]
    with np.errstate(all="ignore"):
        mean = np.where(count > 0, total / count, np.nan)
        std = np.where(count > 0, np.sqrt(np.maximum(squares / count - mean ** 2, 0.0)), np.nan)
    hist = subsample_values(np.asarray(scaler.transform(sample)), rng_seed=rng_seed)
    return _After(example=ex, mean=mean, std=std, finite=False, changed=changed, hist=hist)


def _after_whole(scaler: Any, X: np.ndarray, example: int, rng_seed: int) -> _After:
    """The fitted scaler's effect from one transform of all of ``X`` (handles NaN/Inf output)."""
    Xt = np.asarray(scaler.transform(X))
    if Xt.shape != X.shape:
        raise ShapeError(f"{type(scaler).__name__} returned shape {Xt.shape} for clips of shape "
                         f"{X.shape}; a scaler must keep the shape")
    mean, std, finite = _moments_after(Xt)
    return _After(example=Xt[example], mean=mean, std=std, finite=finite,
                  changed=not np.array_equal(Xt, X), hist=subsample_values(Xt, rng_seed=rng_seed))


def _gain(scaler: Any, X_fit: np.ndarray, std_before: np.ndarray, std_after: np.ndarray) -> np.ndarray:
    """The scaler's per-pixel noise gain, without transforming ``X_fit`` a second time.

    An affine scaler's gain is its own ``1 / scale`` (:func:`~sndiag.scalers.affine_maps`). Any
    other scaler's ``gain_map(X)`` is the empirical ``std(transform(X)) / std(X)`` (gain 1 where
    ``std(X)`` is ~0): the same ratio is taken here from the moments already computed, which
    saves a full transform of the data.

    Examples
    --------
    >>> from sndiag.scalers import make_scaler
    >>> X = np.random.default_rng(0).gamma(2.0, 1.0, size=(50, 3, 4))
    >>> s = make_scaler("clip").fit(X)
    >>> sx, sz = X.std(axis=0), s.transform(X).std(axis=0)
    >>> bool(np.allclose(_gain(s, X, sx, sz), s.gain_map(X)))
    True
    """
    maps = affine_maps(scaler)
    if maps is not None:
        return 1.0 / maps[1]
    gain = np.asarray(std_after, dtype=np.float64) / np.where(std_before == 0, 1.0, std_before)
    flat = np.abs(std_before) < 10 * np.finfo(np.float64).eps
    gain[flat | ~np.isfinite(gain)] = 1.0
    return gain


def evaluate_scaler(
    name: str,
    X_train: np.ndarray,
    *,
    params: Mapping[str, Any] | None = None,
    stats: PixelStats | None = None,
    example_index: int = 0,
    mask: Mask | None = None,
    rng_seed: int = 0,
    config: SpectrogramConfig | None = None,
) -> ScalerEffect:
    """Fit scaler ``name`` on ``X_train`` and measure what it does.

    Parameters
    ----------
    name : str
        A :data:`sndiag.scalers.SCALERS` name or composition (``"db+band"``).
    X_train : np.ndarray or ClipArray [shape=(n_clips, n_mels, n_frames)]
        Training spectrograms, finite. A :class:`~sndiag.clip_array.ClipArray` (clips read from
        a file) is never read whole: a mean/std scaler (``standard``, ``std_floor``, ``band``,
        ``global``) is fitted from ``stats`` (:func:`~sndiag.scalers.fit_from_stats`) when no mask
        changes the clips first, any other chunk by chunk
        (:func:`~sndiag.scalers.fit_clips`; a quantile scaler on a sample of clips, named in
        :attr:`ScalerEffect.fitted_on`), an affine scaler's maps come from ``stats``, any other
        is measured chunk by chunk, and the histograms and distribution checks read a random
        sample of :data:`~sndiag.stats.SAMPLE_CLIPS` clips.
    params : Mapping, optional
        Keyword arguments of :func:`sndiag.scalers.make_scaler`.
    stats : PixelStats, optional
        Statistics of ``X_train`` (computed when omitted); their ``row_snr`` picks the low-SNR
        rows of the reading.
    example_index : int
        The clip shown before/after.
    mask : Mask, optional
        Its pixels are set to 0 after any compression and before the fitted scaling, as in
        the experiment and the export.
    rng_seed : int
        Seed of the histogram subsamples.
    config : SpectrogramConfig, optional
        How ``X_train`` was extracted (``Dataset.config``): PCEN's sample rate and hop come
        from here (see :func:`sndiag.scalers.make_scaler`).

    Returns
    -------
    ScalerEffect

    Raises
    ------
    ShapeError
        When ``X_train`` is not 3-D or ``stats``/``mask`` have another image shape.
    ParameterError
        On an unknown scaler, bad parameters or an ``example_index`` out of range.

    Examples
    --------
    >>> X = np.random.default_rng(0).gamma(2.0, 1.0, size=(20, 6, 8)).astype(np.float32)
    >>> X[:, 0] *= 1e-3                                  # a quiet, noisy band
    >>> eff = evaluate_scaler("standard", X)
    >>> eff.finite, eff.mean_after.shape, eff.worst_rows[0][0]
    (True, (6, 8), 0)
    >>> evaluate_scaler("none", X).reading
    'leaves the data unchanged (gain x1 everywhere)'
    """
    streamed = isinstance(X_train, ClipArray)
    X = X_train if streamed else np.asarray(X_train)
    if X.ndim != 3 or 0 in X.shape:
        raise ShapeError(f"X_train has shape {X.shape}; expected (n_clips, n_mels, n_frames)")
    n = X.shape[0]
    if isinstance(example_index, bool) or not isinstance(example_index, int | np.integer) \
            or not -n <= example_index < n:
        raise ParameterError(f"example_index={example_index!r} must be an integer in 0..{n - 1}")
    if stats is None:
        stats = compute_stats(X, quantiles="none")
    if tuple(stats.shape) != X.shape[1:]:
        raise ShapeError(f"stats are of images {tuple(stats.shape)} but X_train holds {X.shape[1:]}; "
                         "compute them from the same data")
    masked_rows = None
    X_fit = X
    if mask is not None:
        if not isinstance(mask, Mask):
            raise ParameterError(f"mask is a {type(mask).__name__}; give a sndiag.masks.Mask")
        masked_rows = np.array(mask.rows, dtype=bool)
    params = dict(params or {})
    scaler = make_scaler(name, config=config, **params)
    if mask is not None:    # masked pixels: 0 after any compression, before the fitted scaling
        if compresses(scaler):
            scaler = with_mask(scaler, mask.combined)
        elif streamed:
            X_fit = X.map(lambda c: mask.apply(c, mode="zero"), what="masked")
        else:
            X_fit = mask.apply(X, mode="zero")
    example = int(example_index) % n
    sample = sample_fit = None
    if streamed:  # the clips the histograms read (those subsample_values reads of X)
        sample = X.take(sample_indices(n, SAMPLE_CLIPS, rng_seed))
        sample_fit = sample if X_fit is X else mask.apply(sample, mode="zero")
    with np.errstate(all="ignore"):
        fitted_on = None
        if streamed:  # a mean/std scaler from the statistics, else a chunk at a time
            if X_fit is not X or int(stats.n) != n or not fit_from_stats(scaler, stats):
                fitted_on = fit_clips(scaler, X_fit)
        else:
            scaler.fit(X_fit)
        after = (_after_affine(scaler, X_fit, stats, mask, example, rng_seed, sample_fit)
                 or _after_chunked(scaler, X_fit, example, rng_seed, sample_fit)
                 or (_after_nan_chunked(scaler, X_fit, example, rng_seed, sample_fit)
                     if streamed else _after_whole(scaler, X_fit, example, rng_seed)))
    std_before = np.asarray(stats.std, dtype=np.float64)
    if mask is not None:
        std_before = np.where(mask.combined, 0.0, std_before)
    with np.errstate(all="ignore"):
        gain = _gain(scaler, X_fit, std_before, after.std)
    if gain.shape != X.shape[1:]:
        raise ShapeError(f"scaler {name!r} gain map has shape {gain.shape}; expected {X.shape[1:]}")
    zero_std = np.asarray(stats.zero_std, dtype=bool)
    reading = describe_effect(gain, stats.row_snr, masked_rows=masked_rows, zero_std=zero_std,
                              changed=after.changed)
    reading += _unscaled(scaler, zero_std, mask)
    if not after.finite:
        reading = "produces NaN/Inf values; " + reading
    row_gain = _row_gain(gain, zero_std)
    ok = np.isfinite(row_gain)
    if masked_rows is not None:
        ok &= ~masked_rows
    cand = np.flatnonzero(ok)
    top = cand[np.argsort(-row_gain[cand], kind="stable")][:N_WORST_ROWS]
    title, description = _info(name)
    return ScalerEffect(
        name=name, title=title, description=description, scaler=scaler,
        example_before=np.array(X[example_index], dtype=np.float64),
        example_after=np.array(after.example, dtype=np.float64),
        mean_after=np.asarray(after.mean, dtype=np.float64),
        std_after=np.asarray(after.std, dtype=np.float64), gain=gain,
        hist_before=subsample_values(X if sample is None else sample, rng_seed=rng_seed),
        hist_after=after.hist[np.isfinite(after.hist)],
        reading=reading, worst_rows=[(int(r), float(row_gain[r])) for r in top],
        finite=after.finite,
        params=params, masked_rows=masked_rows,
        distribution=distribution_checks(scaler, X_fit, rng_seed=rng_seed),
        fitted_on=fitted_on,
    )


def compare_effects(
    names: Iterable[str],
    X_train: np.ndarray,
    *,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    stats: PixelStats | None = None,
    **kw: Any,
) -> list[ScalerEffect]:
    """:func:`evaluate_scaler` for several scalers, sharing one :class:`PixelStats`.

    Parameters
    ----------
    names : iterable of str
        Scaler names, in the order wanted.
    X_train : np.ndarray [shape=(n_clips, n_mels, n_frames)]
    params : Mapping of str to Mapping, optional
        Parameters per scaler name (names not listed use the defaults).
    stats : PixelStats, optional
        Statistics of ``X_train``, computed once when omitted.
    **kw
        Passed to :func:`evaluate_scaler` (``example_index``, ``mask``, ``rng_seed``,
        ``config``).

    Returns
    -------
    list of ScalerEffect

    Examples
    --------
    >>> X = np.random.default_rng(0).gamma(2.0, 1.0, size=(10, 4, 5))
    >>> [e.name for e in compare_effects(["none", "global"], X)]
    ['none', 'global']
    """
    names = list(names)
    if not names:
        raise ParameterError("names is empty; give at least one scaler name, e.g. ['none', 'standard']")
    if stats is None:
        stats = compute_stats(np.asarray(X_train), quantiles="none")
    per = dict(params or {})
    return [evaluate_scaler(nm, X_train, params=per.get(nm), stats=stats, **kw) for nm in names]
