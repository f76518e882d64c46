"""Frozen configuration objects: spectrogram extraction parameters and input limits.

Both are plain frozen dataclasses; they validate themselves on construction and convert to and
from JSON-ready dictionaries so they can be stored in a dataset's provenance.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sndiag.errors import ParameterError

__all__ = ["Limits", "SpectrogramConfig"]

Scale = Literal["power", "db"]
Align = Literal["start", "center"]


@dataclass(frozen=True)
class SpectrogramConfig:
    """Parameters of the clip -> (n_mels, n_frames) mel spectrogram conversion.

    Every clip is decoded, mixed down to mono, resampled to ``sr``, then padded with silence or
    cropped to exactly ``hop_length * (n_frames - 1)`` samples so that librosa's centred STFT
    yields exactly ``n_frames`` frames. With the defaults (``sr=22050``, ``hop_length=512``,
    ``n_frames=130``) that window is ``512 * 129 / 22050 = 2.995`` seconds of audio, the usual
    choice behind 60 x 130 inputs.

    Parameters
    ----------
    sr : int
        Target sample rate in Hz; every clip is resampled to it.
    n_fft : int
        FFT window length in samples.
    hop_length : int
        Samples between successive frames.
    n_mels : int
        Number of mel bands (rows of the spectrogram image).
    n_frames : int
        Number of frames (columns of the spectrogram image).
    fmin, fmax : float
        Lowest and highest mel filter frequency in Hz; ``fmax=None`` means ``sr / 2``.
    power : float
        Exponent of the magnitude spectrogram (2.0 = power, 1.0 = magnitude).
    scale : {"power", "db"}
        Output scale: linear mel ``power`` (what the question's data looks like: non-negative,
        heavy-tailed) or decibels via ``librosa.power_to_db(S, ref=1.0, top_db=top_db)``.
    top_db : float or None
        Dynamic range kept by the dB conversion; ignored for ``scale="power"``.
    align : {"start", "center"}
        Where a clip is cropped or padded: keep its start (pad/crop at the end) or keep its centre.

    Examples
    --------
    >>> cfg = SpectrogramConfig()
    >>> cfg.shape, round(cfg.duration, 3), cfg.n_samples
    ((60, 130), 2.995, 66048)
    >>> SpectrogramConfig.from_dict(cfg.to_dict()) == cfg
    True
    """

    sr: int = 22050
    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 60
    n_frames: int = 130
    fmin: float = 0.0
    fmax: float | None = None
    power: float = 2.0
    scale: Scale = "power"
    top_db: float | None = 80.0
    align: Align = "start"

    def __post_init__(self) -> None:
        for name in ("sr", "n_fft", "hop_length", "n_mels", "n_frames"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ParameterError(f"{name}={value!r} must be a positive integer")
        if self.n_fft % 2:
            raise ParameterError(f"n_fft={self.n_fft} must be even (librosa drops a frame for odd "
                                 "n_fft); use e.g. 2048")
        if self.sr < 1000 or self.sr > 192_000:
            raise ParameterError(f"sr={self.sr} must be between 1000 and 192000 Hz")
        nyquist = self.sr / 2
        fmax = nyquist if self.fmax is None else self.fmax
        if not 0 <= self.fmin < fmax <= nyquist:
            raise ParameterError(
                f"fmin={self.fmin} and fmax={self.fmax} must satisfy 0 <= fmin < fmax <= sr/2 "
                f"= {nyquist:g}; lower fmax or raise sr"
            )
        if self.power <= 0:
            raise ParameterError(f"power={self.power} must be strictly positive (2.0 = power)")
        if self.scale not in ("power", "db"):
            raise ParameterError(f"scale={self.scale!r} must be 'power' or 'db'")
        if self.align not in ("start", "center"):
            raise ParameterError(f"align={self.align!r} must be 'start' or 'center'")
        if self.top_db is not None and self.top_db <= 0:
            raise ParameterError(f"top_db={self.top_db} must be positive or None")
        if self.n_mels > self.n_fft // 2 + 1:
            raise ParameterError(
                f"n_mels={self.n_mels} exceeds the {self.n_fft // 2 + 1} FFT bins of n_fft="
                f"{self.n_fft}; raise n_fft"
            )

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_mels, n_frames)``, the shape of one spectrogram image."""
        return (self.n_mels, self.n_frames)

    @property
    def n_samples(self) -> int:
        """Samples of audio per clip after padding/cropping."""
        return self.hop_length * (self.n_frames - 1)

    @property
    def duration(self) -> float:
        """Seconds of audio covered by ``n_frames`` frames."""
        return self.n_samples / self.sr

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary of every parameter."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, params: Mapping[str, Any]) -> SpectrogramConfig:
        """Build a config from :meth:`to_dict` output; unknown keys are an error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ParameterError(f"unknown spectrogram parameters {unknown}; known: {sorted(known)}")
        return cls(**dict(params))


def _env_number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ParameterError(f"environment variable {name}={raw!r} must be a number") from None
    if value <= 0:
        raise ParameterError(f"environment variable {name}={raw!r} must be positive")
    return value


@dataclass(frozen=True)
class Limits:
    """Input limits, enforced with a clear message before heavy work starts.

    Parameters
    ----------
    max_upload_mb : float
        Largest accepted upload or archive, in MB (``SNDIAG_MAX_UPLOAD_MB``).
    max_clips : int
        Most clips in one dataset (``SNDIAG_MAX_CLIPS``).
    max_clip_seconds : float
        Longest accepted clip, in seconds (``SNDIAG_MAX_CLIP_SECONDS``); longer clips are skipped
        with a message, since only ``SpectrogramConfig.duration`` seconds are kept anyway.
    max_unzipped_mb : float
        Largest total uncompressed size of a zip (``SNDIAG_MAX_UNZIPPED_MB``), checked from the
        archive's directory before anything is extracted.
    max_zip_ratio : float
        Largest compression ratio of any zip member (``SNDIAG_MAX_ZIP_RATIO``); zip bombs exceed it.
    max_zip_members : int
        Most entries in one zip (``SNDIAG_MAX_ZIP_MEMBERS``).

    Examples
    --------
    >>> Limits.from_env({"SNDIAG_MAX_CLIPS": "10"}).max_clips
    10
    """

    max_upload_mb: float = 500.0
    max_clips: int = 200_000
    max_clip_seconds: float = 600.0
    max_unzipped_mb: float = 2000.0
    max_zip_ratio: float = 200.0
    max_zip_members: int = 200_000

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Limits:
        """Read limits from ``SNDIAG_*`` environment variables, defaults elsewhere."""
        env = os.environ if env is None else env
        d = cls()
        return cls(
            max_upload_mb=_env_number(env, "SNDIAG_MAX_UPLOAD_MB", d.max_upload_mb),
            max_clips=int(_env_number(env, "SNDIAG_MAX_CLIPS", d.max_clips)),
            max_clip_seconds=_env_number(env, "SNDIAG_MAX_CLIP_SECONDS", d.max_clip_seconds),
            max_unzipped_mb=_env_number(env, "SNDIAG_MAX_UNZIPPED_MB", d.max_unzipped_mb),
            max_zip_ratio=_env_number(env, "SNDIAG_MAX_ZIP_RATIO", d.max_zip_ratio),
            max_zip_members=int(_env_number(env, "SNDIAG_MAX_ZIP_MEMBERS", d.max_zip_members)),
        )
