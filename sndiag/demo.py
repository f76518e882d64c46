"""Synthetic spectrograms with the statistics of real short recordings (a fixture for tests).

:func:`make_demo` builds power-spectrogram "images" (``n_mels x n_frames``, default 60 x 130)
whose structure follows what sndiag measures on real short recordings such as FSDD's spoken
digits (8 kHz audio on the default 22.05 kHz, 3 s grid): clips shorter than the grid, padded with
exact zeros; band-limited audio, so the top mel rows hold only faint leakage; heavy-tailed power
(a few loud frames, most quiet); and classes told apart by formant-like tracks, with speakers
that differ in level and spectral tilt. It is **synthetic**: no audio is involved, the provenance
says so (``"synthetic": True``) and the dashboard labels it. The dashboard itself opens on real
audio (:func:`load_sample`, 300 FSDD clips shipped with sndiag).

It is **not tuned for any scaler**: which compression, scaling or mask helps on it is whatever
the experiment finds, and the tests check its structure only.

Generative model
----------------
Rows are mel bands, row 0 the lowest; for each clip:

* **Duration**: lognormal (median 14% of the grid, like 0.42 s of 3 s), at least 5% and at most
  the whole grid; every frame after it is exactly 0 (zero padding).
* **Voiced rows** (below the band limit): a background level falling with the row, times each
  speaker's gain and spectral tilt, plus the class's formant tracks (centre row, slope, onset and
  length drawn once per class, the onset jittered per clip, scaled to the clip's duration), all
  times a lognormal clip gain and exponential speckle (the power of a noise-like sound).
* **Band-limited rows** (the top ~28%, like 4-11 kHz of 8 kHz audio): leakage at 1e-7 of the
  voiced level, times speckle, during the clip.

Speakers (``groups``) are assigned round-robin within each class, so every speaker has clips of
every class and group-wise cross-validation is possible.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

import numpy as np

from sndiag.dataset import Dataset
from sndiag.errors import ParameterError

__all__ = ["DEMO_PARAMS", "SAMPLE_ATTRIBUTION", "load_sample", "make_demo", "sample_folder"]

#: Where the shipped sample comes from, shown wherever it is (the Data page, the report).
SAMPLE_ATTRIBUTION = (
    "Free Spoken Digit Dataset (FSDD) by Zohar Jackson, César Souza, Jason Flaks, Yuxin Pan, "
    "Hereman Nicolas and Adhish Thite, https://github.com/Jakobovski/free-spoken-digit-dataset, "
    "CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/): 300 of its recordings "
    "(takes 0-4 of every digit by its 6 speakers), unchanged.")
#: File names of the sample: digit (the label) and speaker (the group).
SAMPLE_REGEX = r"(?P<label>\d)_(?P<group>[a-z]+)_\d+\.wav"

#: Parameters of the generative model (recorded in the provenance). Row counts and times are
#: shares of the image, so they scale to other shapes.
DEMO_PARAMS: dict[str, Any] = {
    "n_groups": 6,
    "band_limit": 43 / 60,
    "duration_median": 0.14,
    "duration_sigma": 0.5,
    "voice_level": (3.0, 0.02),
    "speaker_gain_sigma": 0.5,
    "speaker_tilt": 1.0,
    "clip_gain_sigma": 1.0,
    "formants_per_class": 3,
    "formant_gain": 30.0,
    "formant_width_rows": 1.2,
    "formant_slope": 0.3,
    "time_jitter": 0.15,
    "leakage": 1e-7,
}


def _check_int(name: str, value: Any, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < lo \
            or (hi is not None and value > hi):
        rng = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        raise ParameterError(f"{name}={value!r} must be an integer {rng}")
    return int(value)


def _class_names(n: int) -> list[str]:
    return [f"class_{string.ascii_lowercase[i]}" for i in range(n)]


def _formants(rng: np.random.Generator, n_classes: int, n_voice: int) -> np.ndarray:
    """Per class and track: (centre row, slope in rows per clip length, onset, length), the
    times as shares of the clip."""
    p = DEMO_PARAMS
    k = p["formants_per_class"]
    centre = rng.uniform(0.1 * n_voice, 0.85 * n_voice, size=(n_classes, k))
    slope = rng.uniform(-p["formant_slope"], p["formant_slope"], size=(n_classes, k)) * n_voice
    onset = rng.uniform(0.0, 0.4, size=(n_classes, k))
    length = rng.uniform(0.3, 0.6, size=(n_classes, k))
    return np.stack([centre, slope, onset, length], axis=-1)


def make_demo(*, n_classes: int = 4, n_per_class: int = 150, shape: tuple[int, int] = (60, 130),
              seed: int = 0) -> Dataset:
    """Build the synthetic demo dataset (see the module docstring for the generative model).

    Parameters
    ----------
    n_classes : int
        Number of classes, 2..26 (labels ``"class_a"``, ``"class_b"``, ...).
    n_per_class : int
        Clips per class (>= 1).
    shape : tuple of int (n_mels, n_frames)
        Image shape; at least 3 mel rows and 8 frames.
    seed : int
        Seed of everything random: the same seed gives the same content hash.

    Returns
    -------
    Dataset
        ``X`` float32 ``(n_classes * n_per_class, n_mels, n_frames)`` non-negative power values,
        ``y`` class names, ``groups`` six synthetic speakers (``"speaker_1"`` ...), ``names``
        like ``"class_a/speaker_1/0000"``, provenance marked synthetic with every generator
        parameter.

    Raises
    ------
    ParameterError
        On a parameter out of range.

    Examples
    --------
    >>> ds = make_demo(n_classes=2, n_per_class=6, shape=(12, 20), seed=1)
    >>> ds.X.shape, ds.X.dtype, ds.classes.tolist(), ds.is_synthetic
    ((12, 12, 20), dtype('float32'), ['class_a', 'class_b'], True)
    >>> ds.content_hash == make_demo(n_classes=2, n_per_class=6, shape=(12, 20), seed=1).content_hash
    True
    """
    n_classes = _check_int("n_classes", n_classes, 2, 26)
    n_per_class = _check_int("n_per_class", n_per_class, 1)
    try:
        n_mels, n_frames = (int(s) for s in shape)
    except (TypeError, ValueError):
        raise ParameterError(f"shape={shape!r} must be two integers (n_mels, n_frames)") from None
    if n_mels < 3 or n_frames < 8:
        raise ParameterError(f"shape={shape!r} is too small; give at least (3, 8), e.g. (60, 130)")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ParameterError(f"seed={seed!r} must be a non-negative integer")
    p = DEMO_PARAMS
    rng = np.random.default_rng(int(seed))
    n_voice = max(2, min(n_mels - 1, round(n_mels * p["band_limit"])))
    n = n_classes * n_per_class
    y = np.repeat(np.arange(n_classes), n_per_class)
    spk = np.concatenate([np.arange(n_per_class) % p["n_groups"]] * n_classes)
    order = rng.permutation(n)
    y, spk = y[order], spk[order]

    # how long each clip lasts, in frames; the rest of the grid is zero padding
    share = np.clip(p["duration_median"] * rng.lognormal(0.0, p["duration_sigma"], size=n),
                    0.05, 1.0)
    length = np.maximum(2, np.round(share * n_frames)).astype(int)
    t = np.arange(n_frames, dtype=np.float64)[None, None, :]
    active = t < length[:, None, None]
    u = t / length[:, None, None]  # time as a share of the clip

    rows = np.arange(n_voice, dtype=np.float64)[None, :, None]
    level = np.geomspace(*p["voice_level"], n_voice)[None, :, None]
    speaker_gain = rng.lognormal(0.0, p["speaker_gain_sigma"], size=p["n_groups"])
    speaker_tilt = rng.uniform(-p["speaker_tilt"], p["speaker_tilt"], size=p["n_groups"])
    tilt = np.exp(speaker_tilt[spk][:, None, None] * (rows / n_voice - 0.5))
    V = level * speaker_gain[spk][:, None, None] * tilt * np.ones((1, 1, n_frames))
    tracks = _formants(rng, n_classes, n_voice)
    width = p["formant_width_rows"] * n_voice / 43
    for k in range(tracks.shape[1]):
        centre, slope, onset, span = (tracks[y, k, j][:, None, None] for j in range(4))
        onset = onset + rng.uniform(-p["time_jitter"], p["time_jitter"], size=n)[:, None, None]
        envelope = np.exp(-0.5 * ((u - onset - span / 2) / (span / 2.5)) ** 2)
        track = np.exp(-0.5 * ((rows - centre - slope * (u - onset)) / width) ** 2)
        V += p["formant_gain"] * speaker_gain[spk][:, None, None] * envelope * track
    V *= rng.lognormal(0.0, p["clip_gain_sigma"], size=n)[:, None, None]
    X = np.zeros((n, n_mels, n_frames))
    X[:, :n_voice] = V
    X[:, n_voice:] = p["leakage"] * V[:, -1:, :].mean(axis=(1, 2), keepdims=True)
    X *= rng.exponential(1.0, size=X.shape)  # speckle
    X *= active

    labels = np.array(_class_names(n_classes))[y]
    groups = np.array([f"speaker_{s + 1}" for s in spk])
    names = [f"{lab}/{grp}/{i:04d}" for i, (lab, grp) in enumerate(zip(labels, groups, strict=True))]
    generator = {"n_classes": n_classes, "n_per_class": n_per_class, "shape": [n_mels, n_frames],
                 "seed": int(seed), "rows": {"voiced": [0, n_voice],
                                             "band_limited": [n_voice, n_mels]},
                 **{k: list(v) if isinstance(v, tuple) else v for k, v in p.items()}}
    provenance = {"source": "sndiag demo (synthetic)", "name": "Demo (synthetic)", "kind": "demo",
                  "synthetic": True, "generator": generator}
    return Dataset(X.astype(np.float32), y=labels, groups=groups, names=names, provenance=provenance)


def sample_folder() -> Path:
    """The folder of the shipped FSDD sample (300 WAV files and their README)."""
    return Path(__file__).resolve().parent / "data" / "fsdd"


def load_sample(*, config: Any = None, cache: Any = None) -> Dataset:
    """The real-audio sample shipped with sndiag: 300 spoken digits by 6 speakers (FSDD).

    Extracted with ``config`` (default :class:`~sndiag.config.SpectrogramConfig`, the 22.05 kHz,
    3 s grid of the question - which these 8 kHz clips of about 0.4 s fill badly, as the
    dashboard's diagnostics show). Labels are the digits, groups the speakers; the provenance
    carries :data:`SAMPLE_ATTRIBUTION` and the license.

    Parameters
    ----------
    config : SpectrogramConfig, optional
    cache : FeatureCache, optional
        Spectrograms by audio content, so a second load decodes nothing.

    Examples
    --------
    >>> ds = load_sample()
    >>> ds.n_clips, ds.shape, len(ds.classes), len(set(ds.groups))
    (300, (60, 130), 10, 6)
    >>> ds.provenance["license"]
    'CC BY-SA 4.0'
    """
    from sndiag.io.clips import from_files

    folder = sample_folder()
    wavs = sorted(folder.glob("*.wav"))
    if not wavs:  # pragma: no cover - a broken installation
        raise ParameterError(f"the shipped sample is missing ({folder}); reinstall sndiag")
    kw: dict[str, Any] = {} if config is None else {"config": config}
    ds = from_files([str(w) for w in wavs], root=folder, label_regex=SAMPLE_REGEX, cache=cache,
                    n_jobs=2, source=str(folder), **kw)
    prov = {**ds.provenance, "source": "sndiag sample (FSDD)",
            "name": "FSDD sample (300 spoken digits)", "kind": "audio", "sample": True,
            "license": "CC BY-SA 4.0", "attribution": SAMPLE_ATTRIBUTION}
    return ds.replace(provenance=prov)
