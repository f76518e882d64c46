"""Frozen configuration objects: spectrogram extraction parameters and input limits.

Both are plain frozen dataclasses; they validate themselves on construction and convert to and
from JSON-ready dictionaries so they can be stored in a dataset's provenance.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from sndiag.errors import ParameterError

__all__ = ["DEFAULT_SHAPE", "MAX_SIZES", "Limits", "Param", "SpectrogramConfig",
           "spectrogram_params"]

Scale = Literal["power", "db"]
Align = Literal["start", "center"]


def _param(default: Any, help: str, *, label: str | None = None, low: float | None = None,
           high: float | None = None, step: float | None = None,
           choices: tuple[str, ...] | None = None, cli: tuple[str, ...] | None = None) -> Any:
    """A config field with what the CLI and the Data page need to offer it
    (:func:`spectrogram_params`)."""
    return field(default=default, metadata={"help": help, "label": label, "low": low,
                                            "high": high, "step": step, "choices": choices,
                                            "cli": cli})



#: Hard upper bounds of the integer parameters, whatever the environment: past them a single
#: FFT, filterbank or image no longer fits in memory (``n_fft=10**9`` asked for a 16 GB
#: filterbank). Images are further bounded by ``SNDIAG_MAX_IMAGE_PIXELS`` and windows by
#: ``SNDIAG_MAX_CLIP_SECONDS`` (checked by the extraction, :mod:`sndiag.io.clips`).
MAX_SIZES: dict[str, int] = {"n_fft": 65536, "hop_length": 65536, "n_mels": 1024,
                             "n_frames": 65536}


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

    sr: int = _param(22050, "Target sample rate (Hz); every clip is resampled to it.",
                     label="Sample rate (Hz)", low=1000, high=192000, step=1000)
    n_fft: int = _param(2048, "FFT window (samples).", low=64, high=16384, step=256)
    hop_length: int = _param(512, "Hop length (samples) between frames.", label="hop_length",
                             low=16, high=8192, step=64, cli=("--hop-length", "--hop"))
    n_mels: int = _param(60, "Mel bands (rows of the image).", label="n_mels (rows)", low=8,
                         high=256, step=4)
    n_frames: int = _param(130, "Frames (columns of the image); clips are padded or cropped to "
                           "fit.", label="n_frames (columns)", low=8, high=4096, step=10)
    fmin: float = _param(0.0, "Lowest mel frequency (Hz).", label="fmin (Hz)", low=0.0, step=10.0)
    fmax: float | None = _param(None, "Highest mel frequency (Hz); default sr/2.",
                                label="fmax (Hz, 0 = sr/2)", low=0.0, step=100.0)
    power: float = _param(2.0, "Magnitude exponent (2 = power, 1 = magnitude).",
                          label="power (2 = power, 1 = magnitude)", low=0.5, high=4.0, step=0.5)
    scale: Scale = _param("power", "Output scale: power (linear mel) or db.",
                          label="Output scale", choices=("power", "db"))
    top_db: float | None = _param(80.0, "Dynamic range kept by the dB scale (dB).", low=1.0)
    align: Align = _param("start", "Pad/crop keeping the start or the center of each clip.",
                          label="Pad / crop keeping the", choices=("start", "center"))

    def __post_init__(self) -> None:
        for name in ("sr", "n_fft", "hop_length", "n_mels", "n_frames"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ParameterError(f"{name}={value!r} must be a positive integer")
            if name in MAX_SIZES and value > MAX_SIZES[name]:
                raise ParameterError(f"{name}={value} is above the largest supported value, "
                                     f"{MAX_SIZES[name]}; the default is "
                                     f"{type(self).__dataclass_fields__[name].default}")
        if self.n_frames < 2:
            raise ParameterError(f"n_frames={self.n_frames} leaves no audio in the window "
                                 "(hop_length * (n_frames - 1) = 0 samples: every image would be "
                                 "zeros); use n_frames >= 2, e.g. 130")
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


@dataclass(frozen=True)
class Param:
    """One :class:`SpectrogramConfig` parameter as the command line and the Data page offer it.

    Attributes
    ----------
    name : str
        Field name (and keyword of :class:`SpectrogramConfig`).
    default : Any
        Its default (the only place defaults are written is the dataclass itself).
    help, label : str
        One-line help and a short label.
    low, high, step : float or None
        Range and step of a number input.
    choices : tuple of str or None
        Allowed values of a text option.
    cli : tuple of str
        Option names, e.g. ``("--hop-length", "--hop")``.
    kind : type
        ``int``, ``float`` or ``str``.
    """

    name: str
    default: Any
    help: str
    label: str
    low: float | None
    high: float | None
    step: float | None
    choices: tuple[str, ...] | None
    cli: tuple[str, ...]
    kind: type


def spectrogram_params() -> list[Param]:
    """The parameters of :class:`SpectrogramConfig`, with defaults, help and ranges.

    Examples
    --------
    >>> [(p.name, p.default, p.cli) for p in spectrogram_params()][:3]
    [('sr', 22050, ('--sr',)), ('n_fft', 2048, ('--n-fft',)), ('hop_length', 512, ('--hop-length', '--hop'))]
    """
    out = []
    for f in dataclasses.fields(SpectrogramConfig):
        m = f.metadata
        kind = str if m["choices"] else (int if isinstance(f.default, int) else float)
        out.append(Param(f.name, f.default, m["help"], m["label"] or f.name, m["low"], m["high"],
                         m["step"], m["choices"], m["cli"] or ("--" + f.name.replace("_", "-"),),
                         kind))
    return out


#: ``(n_mels, n_frames)`` of the default config: the image shape of the question (60 x 130).
DEFAULT_SHAPE: tuple[int, int] = SpectrogramConfig().shape


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
    max_dataset_mb : float
        Largest dataset held in memory, ``N x n_mels x n_frames x 4`` bytes
        (``SNDIAG_MAX_DATASET_MB``), checked from the file count or the array's header before
        anything is decoded or read; the streaming paths (``extract --out-dir``, ``stats``) hold
        one chunk and are not bound by it.
    max_image_pixels : int
        Most pixels ``n_mels x n_frames`` of one image (``SNDIAG_MAX_IMAGE_PIXELS``): the
        statistics, masks and figures hold a few dozen maps of that size.
    max_labels_mb : float
        Largest labels CSV (``SNDIAG_MAX_LABELS_MB``), checked before it is read.

    Every input path (audio, zips, arrays, uploads, streamed files) takes one ``Limits``; the
    CLI and the dashboard read theirs from the environment through
    :meth:`sndiag.settings.Settings.from_env`, and so do the Python API's functions when given
    none.

    Examples
    --------
    >>> Limits(max_clips=10).max_clips
    10
    """

    max_upload_mb: float = 500.0
    max_clips: int = 200_000
    max_clip_seconds: float = 600.0
    max_unzipped_mb: float = 2000.0
    max_zip_ratio: float = 200.0
    max_zip_members: int = 200_000
    max_dataset_mb: float = 2048.0
    max_image_pixels: int = 1_048_576
    max_labels_mb: float = 100.0
