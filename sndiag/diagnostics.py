"""Why is the SNR low here? Flags that name the cause, because the cause decides the fix.

:func:`diagnose` reads a dataset's :class:`~sndiag.stats.PixelStats` and, when known, how it was
extracted (:class:`~sndiag.config.SpectrogramConfig`, the clips' durations and the files' own
sample rates, all in a dataset's provenance: :func:`diagnose_dataset`). Each
:class:`Diagnostic` has a ``kind``, the ``rows`` and/or ``frames`` concerned, the ``fraction``
of all pixels concerned and a one-line ``reason``:

``padding``
    Frames beyond the clips' content: clips shorter than the grid are padded with silence, so
    those pixels are zero (or the dB floor) in most clips. They make the zero-std pixels and the
    dark right half of every map. Fix: a grid that fits the clips (:func:`suggest_config`).
``above_nyquist``
    Mel rows whose lowest frequency lies above the Nyquist frequency of the lowest source sample
    rate: the recordings hold nothing there, only resampling leakage. Fix: mask them, or extract
    with ``fmax`` at or below that Nyquist frequency.
``silent``
    Rows whose mean energy is at least :data:`SILENT_DB` dB below the loudest row's.
``constant``
    Pixels with zero spread over the clips: ``1/std`` is undefined there.

The rows of ``above_nyquist`` and ``silent`` are what the mask's *auto* rule flags
(:func:`sndiag.masks.auto_flags`).

Examples
--------
>>> from sndiag.stats import compute_stats
>>> X = np.random.default_rng(0).gamma(2.0, 1.0, size=(40, 8, 10))
>>> X[:, 6:] *= 1e-8                                   # two bands with nothing in them
>>> X[:, :, 7:] = 0.0                                  # clips shorter than the grid
>>> [(d.kind, d.rows) for d in diagnose(compute_stats(X))]
[('padding', ()), ('silent', (6, 7)), ('constant', ())]
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from sndiag.config import SpectrogramConfig
from sndiag.errors import ParameterError
from sndiag.ranges import format_ranges
from sndiag.stats import PixelStats

__all__ = [
    "COVERAGE",
    "KINDS",
    "SILENT_DB",
    "Diagnostic",
    "GridSuggestion",
    "above_nyquist_rows",
    "context_from_provenance",
    "diagnose",
    "diagnose_dataset",
    "flagged_rows",
    "silent_rows",
    "suggest_config",
    "suggest_from_provenance",
]

Kind = Literal["padding", "above_nyquist", "silent", "constant"]
#: Every kind, in the order :func:`diagnose` reports them.
KINDS: tuple[Kind, ...] = ("padding", "above_nyquist", "silent", "constant")
#: A row is silent when its mean energy is this many dB (or more) below the loudest row's.
SILENT_DB = 60.0
#: A frame counts as padding (for ``frames``) when more than this share of clips is padded there.
PADDED_MAJORITY = 0.5


@dataclass(frozen=True)
class Diagnostic:
    """One cause-named flag (see the module docstring for the kinds).

    Attributes
    ----------
    kind : {"padding", "above_nyquist", "silent", "constant"}
    reason : str
        One line, in words, with the numbers that decide the fix.
    fraction : float
        Share of all pixels (over clips) concerned, 0..1.
    rows, frames : tuple of int
        Mel rows / frames concerned (empty when the flag is not about whole rows / frames).
    details : dict
        Kind-specific numbers (JSON-ready), e.g. the clip durations against the grid.
    """

    kind: Kind
    reason: str
    fraction: float
    rows: tuple[int, ...] = ()
    frames: tuple[int, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``kind``, ``rows``, ``frames``, ``fraction``, ``reason``, ``details``."""
        return {"kind": self.kind, "rows": list(self.rows), "frames": list(self.frames),
                "fraction": float(self.fraction), "reason": self.reason,
                "details": dict(self.details)}


# -- the rules --------------------------------------------------------------------------------
def above_nyquist_rows(config: SpectrogramConfig, source_sr: float) -> tuple[int, ...]:
    """Mel rows of ``config`` whose lowest frequency is at or above ``source_sr / 2``.

    A mel filter spans from the centre frequency of the row below to that of the row above; a
    row whose whole filter lies above the source's Nyquist frequency receives no signal from
    that source, only resampling leakage.

    Examples
    --------
    >>> above_nyquist_rows(SpectrogramConfig(), 8000)        # 22.05 kHz grid, 8 kHz files
    (43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59)
    >>> above_nyquist_rows(SpectrogramConfig(sr=8000), 8000)
    ()
    """
    import librosa

    if not (isinstance(source_sr, int | float | np.integer | np.floating) and source_sr > 0):
        raise ParameterError(f"source_sr={source_sr!r} must be a positive sample rate in Hz")
    fmax = config.sr / 2 if config.fmax is None else config.fmax
    edges = librosa.mel_frequencies(config.n_mels + 2, fmin=config.fmin, fmax=fmax)
    nyquist = float(source_sr) / 2
    return tuple(int(r) for r in np.flatnonzero(edges[: config.n_mels] >= nyquist))


def _is_db(stats: PixelStats) -> bool:
    return float(stats.global_min) < 0


def silent_rows(stats: PixelStats, *, silent_db: float = SILENT_DB) -> tuple[int, ...]:
    """Rows whose mean energy is ``silent_db`` dB or more below the loudest row's.

    For linear power (non-negative data) the energy is the row mean; for decibels (negative
    values) the row mean in dB. All-zero rows are silent.

    Examples
    --------
    >>> from sndiag.stats import compute_stats
    >>> X = np.ones((10, 4, 3)); X[:, 3] = 1e-7; X[:, 0] = 0.0
    >>> silent_rows(compute_stats(X))
    (0, 3)
    """
    if not (isinstance(silent_db, int | float) and math.isfinite(silent_db) and silent_db > 0):
        raise ParameterError(f"silent_db={silent_db!r} must be a positive number of dB, e.g. 60")
    mean = np.asarray(stats.row_mean, dtype=np.float64)
    if _is_db(stats):
        level = mean
    else:
        top = float(mean.max()) if mean.size else 0.0
        if not top > 0:
            return ()
        with np.errstate(divide="ignore"):
            level = 10.0 * np.log10(np.maximum(mean, 0.0) / top)
    silent = level <= float(np.max(level)) - silent_db
    return tuple(int(r) for r in np.flatnonzero(silent))


def _content_frames(seconds: np.ndarray, config: SpectrogramConfig) -> np.ndarray:
    """Frames holding each clip's audio: librosa's centred STFT puts frame ``t`` at sample
    ``t * hop_length``, so a clip of ``s`` samples reaches frame ``ceil(s / hop_length)``."""
    samples = np.rint(np.asarray(seconds, dtype=np.float64) * config.sr)
    return np.clip(np.ceil(samples / config.hop_length) + 1, 1, config.n_frames)


def _padding(stats: PixelStats, config: SpectrogramConfig | None,
             seconds: np.ndarray | None) -> Diagnostic | None:
    n_frames = stats.n_frames
    details: dict[str, Any] = {}
    if seconds is not None and config is not None and config.shape == tuple(stats.shape) \
            and seconds.size:
        content = _content_frames(seconds, config)
        if config.align == "center":
            lo = np.floor((n_frames - content) / 2)
            t = np.arange(n_frames)[None, :]
            padded = (t < lo[:, None]) | (t >= (lo + content)[:, None])
        else:
            padded = np.arange(n_frames)[None, :] >= content[:, None]
        per_frame = padded.mean(axis=0)
        q = np.quantile(seconds, [0.1, 0.5, 0.9])
        details = {
            "source": "durations",
            "grid_seconds": round(config.duration, 4),
            "clip_seconds": {"p10": round(float(q[0]), 4), "median": round(float(q[1]), 4),
                             "p90": round(float(q[2]), 4), "max": round(float(seconds.max()), 4)},
            "content_frames": {"median": int(np.median(content)),
                               "p90": int(np.quantile(content, 0.9))},
            "clips_padded": int((content < n_frames).sum()),
            "n_clips": int(seconds.size),
        }
        how = (f"the median clip lasts {q[1]:.2f} s of the {config.duration:.2f} s grid "
               f"(90% last {q[2]:.2f} s or less), so frames beyond ~{int(np.median(content))} "
               "are silence padding in most clips")
    elif not _is_db(stats):
        # Without durations: a frame is padded in at least the share of clips in which every
        # row of it is exactly 0, i.e. the smallest zero fraction of its column.
        per_frame = np.asarray(stats.zero_fraction, dtype=np.float64).min(axis=0)
        details = {"source": "zero fractions"}
        how = "the columns are exactly 0 in most clips (clips shorter than the grid, padded)"
    else:
        return None
    fraction = float(per_frame.mean())
    frames = tuple(int(t) for t in np.flatnonzero(per_frame > PADDED_MAJORITY))
    if fraction < 0.05:
        return None
    details["per_frame"] = [round(float(v), 4) for v in per_frame]
    return Diagnostic("padding", f"{100 * fraction:.0f}% of the pixels are padding: {how}.",
                      fraction, frames=frames, details=details)


def _constant(stats: PixelStats, padding: Diagnostic | None) -> Diagnostic | None:
    zero = np.asarray(stats.zero_std, dtype=bool)
    n = int(zero.sum())
    if n == 0:
        return None
    rows = tuple(int(r) for r in np.flatnonzero(zero.all(axis=1)))
    in_padding = 0
    if padding is not None and padding.frames:
        in_padding = int(zero[:, list(padding.frames)].sum())
    where = ("; all in the padding" if in_padding == n
             else f"; {in_padding} of them in the padding" if in_padding else "")
    whole = f" (whole rows {format_ranges(rows)})" if rows else ""
    return Diagnostic(
        "constant", f"{n} pixels have zero spread over the clips{whole}{where}: 1/std is "
        "undefined there, so per-pixel scalers leave them unscaled or blow up their rounding noise.",
        n / zero.size, rows=rows, details={"n_pixels": n, "in_padding": in_padding})


def diagnose(stats: PixelStats, *, config: SpectrogramConfig | None = None,
             seconds: Sequence[float] | np.ndarray | None = None,
             source_sr: float | None = None, silent_db: float = SILENT_DB) -> list[Diagnostic]:
    """Cause-named flags of a dataset (see the module docstring).

    Parameters
    ----------
    stats : PixelStats
        Statistics of the (raw) spectrograms.
    config : SpectrogramConfig, optional
        How the clips were extracted; needed with ``seconds`` and ``source_sr``.
    seconds : array-like of float, optional
        Each clip's duration before padding or cropping. Without it, padding is read from the
        zero fractions (linear data only).
    source_sr : float, optional
        The lowest sample rate of the source files, for ``above_nyquist``.
    silent_db : float
        See :func:`silent_rows`.

    Returns
    -------
    list of Diagnostic
        In the order of :data:`KINDS`; kinds that do not apply are left out.
    """
    if not isinstance(stats, PixelStats):
        raise ParameterError(f"stats is a {type(stats).__name__}; give sndiag.stats.PixelStats")
    n_total = stats.shape[0] * stats.shape[1]
    secs = None
    if seconds is not None:
        secs = np.asarray(seconds, dtype=np.float64)
        secs = secs[np.isfinite(secs)]
    out: list[Diagnostic] = []
    padding = _padding(stats, config, secs)
    if padding is not None:
        out.append(padding)
    above: tuple[int, ...] = ()
    if config is not None and source_sr is not None and config.shape == tuple(stats.shape):
        above = above_nyquist_rows(config, source_sr)
        if above:
            out.append(Diagnostic(
                "above_nyquist",
                f"mel rows {format_ranges(above)} lie above {source_sr / 2:g} Hz, the Nyquist "
                f"frequency of the {source_sr:g} Hz recordings: they hold no signal, only "
                f"resampling leakage; mask them or extract with fmax <= {source_sr / 2:g} Hz.",
                len(above) * stats.n_frames / n_total, rows=above,
                details={"source_sr": float(source_sr), "nyquist": float(source_sr) / 2}))
    silent = silent_rows(stats, silent_db=silent_db)
    if silent:
        others = tuple(r for r in silent if r not in above)
        also = "" if others == silent else (
            f" ({format_ranges(others)} besides the rows above Nyquist)" if others
            else " (all of them above Nyquist)")
        out.append(Diagnostic(
            "silent", f"mel rows {format_ranges(silent)} carry {silent_db:g} dB or more less "
            f"energy than the loudest row{also}: near-silent bands, whose tiny spread "
            "per-pixel scaling turns into noise as loud as the signal.",
            len(silent) * stats.n_frames / n_total, rows=silent,
            details={"silent_db": float(silent_db)}))
    constant = _constant(stats, padding)
    if constant is not None:
        out.append(constant)
    return out


def context_from_provenance(provenance: Mapping[str, Any] | None) -> dict[str, Any]:
    """``config``, ``seconds`` and ``source_sr`` for :func:`diagnose`, from a dataset's provenance.

    Anything the provenance does not record (arrays uploaded without it) is left out.

    Examples
    --------
    >>> ctx = context_from_provenance({"config": {"sr": 16000},
    ...                                "durations": {"seconds": [0.5, 1.0],
    ...                                              "source_sr": {"min": 8000, "max": 8000}}})
    >>> ctx["config"].sr, ctx["seconds"], ctx["source_sr"]
    (16000, [0.5, 1.0], 8000.0)
    """
    prov = provenance or {}
    out: dict[str, Any] = {}
    cfg = prov.get("config")
    if isinstance(cfg, Mapping):
        try:
            out["config"] = SpectrogramConfig.from_dict(cfg)
        except (ParameterError, TypeError):
            return out
    durations = prov.get("durations")
    if isinstance(durations, Mapping):
        seconds = durations.get("seconds")
        if isinstance(seconds, list) and seconds:
            out["seconds"] = seconds
        rates = durations.get("source_sr")
        if isinstance(rates, Mapping) and isinstance(rates.get("min"), int | float):
            out["source_sr"] = float(rates["min"])
    return out


def diagnose_dataset(stats: PixelStats, provenance: Mapping[str, Any] | None,
                     *, silent_db: float = SILENT_DB) -> list[Diagnostic]:
    """:func:`diagnose` with what the dataset's provenance records about its extraction."""
    return diagnose(stats, silent_db=silent_db, **context_from_provenance(provenance))


def flagged_rows(diagnostics: Iterable[Diagnostic],
                 kinds: Iterable[str] = ("above_nyquist", "silent")) -> tuple[int, ...]:
    """Sorted union of the rows of the given kinds (what the mask's *auto* rule flags).

    Examples
    --------
    >>> flagged_rows([Diagnostic("silent", "", 0.1, rows=(5, 6)),
    ...               Diagnostic("above_nyquist", "", 0.1, rows=(6, 7))])
    (5, 6, 7)
    """
    wanted = set(kinds)
    return tuple(sorted({r for d in diagnostics if d.kind in wanted for r in d.rows}))


# -- a grid that fits the data ----------------------------------------------------------------
#: Share of clips a suggested grid covers whole (the rest are cropped).
COVERAGE = 0.9
#: A grid is worth changing when this share of pixels (or more) is padding.
PADDING_WORTH_FIXING = 0.3


@dataclass(frozen=True)
class GridSuggestion:
    """Extraction settings that fit the clips (:func:`suggest_config`).

    Attributes
    ----------
    config : SpectrogramConfig
        The suggested settings: same ``n_mels`` x ``n_frames`` image, other ``sr``,
        ``hop_length``, ``n_fft`` and ``fmax``.
    reason : str
        Why, and what changes, in one line.
    padding_before, padding_after : float
        Share of pixels that are padding with the current and the suggested grid.
    above_nyquist_before : tuple of int
        Rows above the source's Nyquist frequency with the current grid (none after).
    """

    config: SpectrogramConfig
    reason: str
    padding_before: float
    padding_after: float
    above_nyquist_before: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"config": self.config.to_dict(), "reason": self.reason,
                "padding_before": self.padding_before, "padding_after": self.padding_after,
                "above_nyquist_before": list(self.above_nyquist_before)}

    def cli_options(self, base: SpectrogramConfig) -> str:
        """The ``sndiag extract`` options that change ``base`` into :attr:`config`."""
        opts = {"sr": "--sr", "hop_length": "--hop", "n_fft": "--n-fft", "fmax": "--fmax"}
        new = self.config
        return " ".join(f"{flag} {getattr(new, name):g}" for name, flag in opts.items()
                        if getattr(new, name) != getattr(base, name)
                        and getattr(new, name) is not None)


def _padded_share(seconds: np.ndarray, config: SpectrogramConfig) -> float:
    content = _content_frames(seconds, config)
    return float(np.mean(1.0 - content / config.n_frames))


def _finest_mel_spacing(n_mels: int, fmin: float, fmax: float) -> float:
    """Smallest gap (Hz) between neighbouring mel filter centres: FFT bins must be at least
    this fine, or neighbouring rows see the same bins (and the lowest filters none)."""
    import librosa

    return float(np.diff(librosa.mel_frequencies(n_mels + 2, fmin=fmin, fmax=fmax)).min())


def suggest_config(config: SpectrogramConfig, seconds: Sequence[float] | np.ndarray,
                   source_sr: float | None = None, *,
                   coverage: float = COVERAGE) -> GridSuggestion | None:
    """Extraction settings whose ``n_frames`` cover the typical clip, with ``fmax`` at or below
    the source's Nyquist frequency; None when the current grid already fits.

    The image keeps its ``n_mels`` x ``n_frames``; what changes is the time and frequency span:
    ``sr`` becomes the source's rate when it is lower (resampling up adds nothing), ``hop_length``
    makes ``n_frames`` span the ``coverage`` quantile of the clip durations, ``n_fft`` is the
    smallest power of two of at least two hops whose bins are finer than the closest mel
    filters (so neighbouring rows do not see the same bins).

    Parameters
    ----------
    config : SpectrogramConfig
        The current settings.
    seconds : array-like of float
        Clip durations before padding or cropping (``provenance["durations"]["seconds"]``).
    source_sr : float, optional
        The lowest sample rate of the source files.
    coverage : float
        Share of clips the new grid holds whole (the longest others are cropped).

    Examples
    --------
    >>> s = suggest_config(SpectrogramConfig(), [0.3, 0.42, 0.45, 0.5, 0.6], 8000)
    >>> s.config.sr, s.config.hop_length, s.config.n_fft, s.config.shape
    (8000, 36, 256, (60, 130))
    >>> round(s.padding_before, 2), round(s.padding_after, 2)
    (0.84, 0.22)
    >>> suggest_config(SpectrogramConfig(sr=8000, hop_length=36, n_fft=256),
    ...                [0.3, 0.42, 0.45, 0.5, 0.6], 8000) is None
    True
    """
    if not 0 < coverage <= 1:
        raise ParameterError(f"coverage={coverage!r} must be in (0, 1], e.g. 0.9")
    secs = np.asarray(seconds, dtype=np.float64)
    secs = secs[np.isfinite(secs) & (secs > 0)]
    if secs.size == 0:
        return None
    above = above_nyquist_rows(config, source_sr) if source_sr else ()
    before = _padded_share(secs, config)
    if before < PADDING_WORTH_FIXING and not above:
        return None
    sr = config.sr if not source_sr else int(min(config.sr, max(1000, int(source_sr))))
    span = float(np.quantile(secs, coverage))
    hop = max(16, int(math.ceil(span * sr / (config.n_frames - 1) / 4)) * 4)
    nyquist = sr / 2 if not source_sr else min(sr, source_sr) / 2
    fmax = None if nyquist >= sr / 2 else float(nyquist)
    spacing = _finest_mel_spacing(config.n_mels, config.fmin, fmax or sr / 2)
    n_fft = 1 << max(6, int(math.ceil(math.log2(max(2 * hop, sr / spacing)))))
    n_fft = min(n_fft, 16384)
    try:
        new = dataclasses_replace(config, sr=sr, hop_length=hop, n_fft=n_fft, fmax=fmax)
    except ParameterError:
        return None
    after = _padded_share(secs, new)
    if new == config or (before - after < 0.1 and not above):
        return None
    parts = []
    if before >= PADDING_WORTH_FIXING:
        parts.append(f"{100 * before:.0f}% of the pixels are padding (the grid spans "
                     f"{config.duration:.2f} s, {100 * coverage:.0f}% of the clips last "
                     f"{span:.2f} s or less)")
    if above:
        parts.append(f"mel rows {format_ranges(above)} lie above the {source_sr:g} Hz "
                     "recordings' Nyquist frequency")
    changes = ", ".join(f"{k}={getattr(new, k)}" for k in ("sr", "hop_length", "n_fft", "fmax")
                        if getattr(new, k) != getattr(config, k))
    reason = (f"{'; '.join(parts)}. With {changes} the same {new.n_mels} x {new.n_frames} image "
              f"spans {new.duration:.2f} s up to {(new.fmax or new.sr / 2):g} Hz: padding falls "
              f"to {100 * after:.0f}% and every row holds signal.")
    return GridSuggestion(new, reason, before, after, above)


def dataclasses_replace(config: SpectrogramConfig, **changes: Any) -> SpectrogramConfig:
    """``dataclasses.replace`` for a config (validated again on construction)."""
    import dataclasses

    return dataclasses.replace(config, **changes)


def suggest_from_provenance(provenance: Mapping[str, Any] | None) -> GridSuggestion | None:
    """:func:`suggest_config` for a dataset extracted from audio (None for arrays)."""
    ctx = context_from_provenance(provenance)
    if "config" not in ctx or "seconds" not in ctx:
        return None
    return suggest_config(ctx["config"], ctx["seconds"], ctx.get("source_sr"))
