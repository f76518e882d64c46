"""Stateless scalers: the identity, per-clip standardization and the compressors.

They learn nothing from the training set, by design: each clip is transformed on its own
(``clip``, ``pcen``) or each value on its own (``log1p``, ``db``), so ``fit`` only validates the
input and ``transform`` works unfitted. Their noise gain depends on the data, so
:meth:`gain_map` measures it on ``X`` (``std(transform(X)) / std(X)`` per pixel).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sndiag.errors import ParameterError
from sndiag.scalers._base import (
    _check_shape_param,
    _handle_zeros_in_scale,
    _positive,
    _StatelessScaler,
)

__all__ = ["ClipScaler", "DbCompressor", "IdentityScaler", "Log1pCompressor", "PcenCompressor"]


class IdentityScaler(_StatelessScaler):
    """No scaling: ``transform(X)`` returns a copy of ``X`` (the baseline ``"none"``).

    Parameters
    ----------
    shape : tuple of int (n_mels, n_frames), optional
        How 2-D input folds into images (only affects the gain map's shape).

    Attributes
    ----------
    image_shape_ : tuple of int
        Layout of the data given to ``fit``.
    n_features_in_ : int

    Examples
    --------
    >>> X = np.arange(6.0).reshape(1, 2, 3)
    >>> s = IdentityScaler().fit(X)
    >>> bool(np.array_equal(s.transform(X), X)), s.gain_map().tolist()
    (True, [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    """

    _identity = True

    def __init__(self, *, shape: tuple[int, int] | None = None) -> None:
        self.shape = shape

    def _forward(self, X3: np.ndarray) -> np.ndarray:
        return X3

    def _backward(self, Z3: np.ndarray) -> np.ndarray:
        return Z3

    def gain_map(self, X: Any = None) -> np.ndarray:
        """Gain 1 everywhere, shaped like ``X``'s images, else ``shape`` or the fitted layout."""
        if X is not None:
            return np.ones(self._image_shape_for(X))
        img = _check_shape_param(self.shape) or getattr(self, "image_shape_", None)
        if img is None:
            raise ParameterError("IdentityScaler.gain_map needs X, shape=(n_mels, n_frames) or a "
                                 "fit to know the image shape")
        return np.ones(img)


class ClipScaler(_StatelessScaler):
    """Per-clip standardization: each clip by its own mean and std over all its pixels.

    Stateless by design (nothing is learnt from the training set; a test clip is normalized by its
    own statistics). Removes loudness differences between clips; within a clip, rows keep their
    relative levels. A clip with zero std gets scale 1. Not invertible: the clip statistics are
    discarded.

    Parameters
    ----------
    shape : tuple of int (n_mels, n_frames), optional
        How 2-D input folds into images (the statistics are over all of a clip's pixels anyway).
    with_mean, with_std : bool
        Subtract the clip mean / divide by the clip std.

    Attributes
    ----------
    image_shape_ : tuple of int
    n_features_in_ : int

    Examples
    --------
    >>> X = np.array([[[1.0, 3.0]], [[10.0, 30.0]], [[5.0, 5.0]]])
    >>> ClipScaler().transform(X)
    array([[[-1.,  1.]],
    <BLANKLINE>
           [[-1.,  1.]],
    <BLANKLINE>
           [[ 0.,  0.]]])
    """

    _invertible = False

    def __init__(self, *, shape: tuple[int, int] | None = None, with_mean: bool = True,
                 with_std: bool = True) -> None:
        self.shape = shape
        self.with_mean = with_mean
        self.with_std = with_std

    def _check_params(self) -> None:
        super()._check_params()
        for name in ("with_mean", "with_std"):
            if not isinstance(getattr(self, name), bool | np.bool_):
                raise ParameterError(f"{name}={getattr(self, name)!r} must be True or False")

    def _why_not_invertible(self) -> str:
        return "each clip's own mean and std are discarded"

    def _forward(self, X3: np.ndarray) -> np.ndarray:
        out = X3
        if self.with_mean:
            out = out - X3.mean(axis=(1, 2), keepdims=True)
        if self.with_std:
            out = out / _handle_zeros_in_scale(X3.std(axis=(1, 2), keepdims=True))
        return out


class Log1pCompressor(_StatelessScaler):
    """``log1p(X / ref)`` compression of non-negative (power or magnitude) spectrograms.

    Stateless. Loud bursts are compressed strongly (gain ``1 / (ref + x)``), quiet values stay
    near ``x / ref``: the gain is largest on quiet pixels but never above ``1 / ref``. Negative
    input is refused with a :class:`~sndiag.errors.DataError` rather than clipped, since it
    means the data is not power (e.g. already in dB). Inverse: ``expm1(Z) * ref``.

    Parameters
    ----------
    shape : tuple of int (n_mels, n_frames), optional
        How 2-D input folds into images.
    ref : float
        Reference level (> 0); values much below it are left almost linear.

    Attributes
    ----------
    image_shape_ : tuple of int
    n_features_in_ : int

    Examples
    --------
    >>> c = Log1pCompressor(ref=1.0)
    >>> c.transform(np.array([[[0.0, np.e - 1]]]))
    array([[[0., 1.]]])
    >>> c.inverse_transform(np.array([[[1.0]]])).round(4)
    array([[[1.7183]]])
    """

    _positive_only = True

    def __init__(self, *, shape: tuple[int, int] | None = None, ref: float = 1.0) -> None:
        self.shape = shape
        self.ref = ref

    def _check_params(self) -> None:
        super()._check_params()
        _positive("ref", self.ref)

    def _forward(self, X3: np.ndarray) -> np.ndarray:
        return np.log1p(X3 / float(self.ref))

    def _backward(self, Z3: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            out = np.expm1(Z3) * float(self.ref)
        return np.nan_to_num(out, nan=0.0, posinf=np.finfo(np.float64).max)


class DbCompressor(_StatelessScaler):
    """Power to decibels, ``librosa.power_to_db(X, ref=ref, amin=amin)`` with an 80 dB range.

    Stateless. ``10 * log10(max(x, amin) / ref)`` compresses loud bursts strongly; near-silent
    pixels spread over many dB. ``top_db`` (80 dB by default, like librosa's) clips each clip at
    its own maximum minus ``top_db`` -- per clip, unlike librosa's whole-array maximum, so a
    clip's result never depends on the other clips in the batch -- so the noise of empty bands
    and silence, down at the ``amin`` floor, cannot spread over 100 dB and become signal: on FSDD
    (ridge, one fold per speaker) db scores 65% with it and 58% without.
    Inverse: ``librosa.db_to_power(Z, ref=ref)``, exact except for values below ``amin`` (they
    come back as ``amin``) or clipped by ``top_db``. Negative input raises
    :class:`~sndiag.errors.DataError`.

    Parameters
    ----------
    shape : tuple of int (n_mels, n_frames), optional
        How 2-D input folds into images.
    ref : float
        Power giving 0 dB (> 0).
    amin : float
        Smallest power considered (> 0); sets the floor ``10 * log10(amin / ref)`` dB.
    top_db : float or None
        Dynamic range kept per clip (> 0); None keeps everything (and the map invertible).

    Attributes
    ----------
    image_shape_ : tuple of int
    n_features_in_ : int

    Examples
    --------
    >>> DbCompressor().transform(np.array([[[0.0, 1.0, 100.0]]]))
    array([[[-60.,   0.,  20.]]])
    >>> c = DbCompressor(top_db=None)
    >>> c.transform(np.array([[[0.0, 1.0, 100.0]]]))
    array([[[-100.,    0.,   20.]]])
    >>> c.inverse_transform(np.array([[[20.0]]]))
    array([[[100.]]])
    """

    _positive_only = True

    def __init__(self, *, shape: tuple[int, int] | None = None, ref: float = 1.0,
                 amin: float = 1e-10, top_db: float | None = 80.0) -> None:
        self.shape = shape
        self.ref = ref
        self.amin = amin
        self.top_db = top_db

    def _check_params(self) -> None:
        super()._check_params()
        _positive("ref", self.ref)
        _positive("amin", self.amin)
        if self.top_db is not None:
            _positive("top_db", self.top_db)

    def _forward(self, X3: np.ndarray) -> np.ndarray:
        # librosa.power_to_db's formula (for real, non-negative power), without its checks:
        # 10 log10(max(amin, x)) - 10 log10(max(amin, ref)); 5x faster on a batch of clips.
        amin = float(self.amin)
        S = np.log10(np.maximum(X3, amin))
        S *= 10.0
        S -= 10.0 * np.log10(max(amin, float(self.ref)))
        if self.top_db is not None:
            S = np.maximum(S, S.max(axis=(1, 2), keepdims=True) - float(self.top_db))
        return S

    def _backward(self, Z3: np.ndarray) -> np.ndarray:
        import librosa

        with np.errstate(over="ignore"):
            out = librosa.db_to_power(Z3, ref=float(self.ref))
        return np.nan_to_num(out, nan=0.0, posinf=np.finfo(np.float64).max)


class PcenCompressor(_StatelessScaler):
    """Per-channel energy normalization along time, ``librosa.pcen`` on each clip.

    Stateless (each clip on its own). An automatic gain control per mel row: each value is
    divided by a smoothed version of its row's recent energy (time constant ``time_constant``
    seconds) to the power ``gain``, then root-compressed (``(x / M**gain + bias)**power -
    bias**power``). Stationary background is suppressed and bursts compressed. Not invertible.
    Defaults are librosa's, for ``sr=22050`` and ``hop_length=512``; 2-D input without ``shape``
    has a single frame per feature. Negative input raises :class:`~sndiag.errors.DataError`.

    Parameters
    ----------
    shape : tuple of int (n_mels, n_frames), optional
        How 2-D input folds into images; the time axis is the last one.
    sr : float
        Sample rate of the audio the spectrograms came from.
    hop_length : int
        Samples between frames.
    gain : float
        Exponent of the automatic gain control (>= 0).
    bias : float
        Bias added before root compression (>= 0).
    power : float
        Root-compression exponent (>= 0).
    time_constant : float
        Time constant of the smoother, in seconds (> 0).
    eps : float
        Floor of the smoothed energy (> 0).

    Attributes
    ----------
    image_shape_ : tuple of int
    n_features_in_ : int

    Examples
    --------
    >>> X = np.ones((2, 3, 5))
    >>> Z = PcenCompressor().transform(X)
    >>> Z.shape, round(float(Z[0, 0, 0]), 4)
    ((2, 3, 5), 0.3178)
    """

    _positive_only = True
    _invertible = False

    def __init__(self, *, shape: tuple[int, int] | None = None, sr: float = 22050,
                 hop_length: int = 512, gain: float = 0.98, bias: float = 2.0, power: float = 0.5,
                 time_constant: float = 0.4, eps: float = 1e-6) -> None:
        self.shape = shape
        self.sr = sr
        self.hop_length = hop_length
        self.gain = gain
        self.bias = bias
        self.power = power
        self.time_constant = time_constant
        self.eps = eps

    def _check_params(self) -> None:
        super()._check_params()
        _positive("sr", self.sr)
        h = self.hop_length
        if isinstance(h, bool) or not isinstance(h, int | np.integer) or h <= 0:
            raise ParameterError(f"hop_length={h!r} must be a positive integer, e.g. 512")
        for name in ("gain", "bias", "power"):
            _positive(name, getattr(self, name), allow_zero=True)
        _positive("time_constant", self.time_constant)
        _positive("eps", self.eps)

    def _why_not_invertible(self) -> str:
        return "the adaptive gain of each row depends on the clip's own past frames"

    def _forward(self, X3: np.ndarray) -> np.ndarray:
        import librosa

        return librosa.pcen(X3, sr=float(self.sr), hop_length=int(self.hop_length),
                            gain=float(self.gain), bias=float(self.bias), power=float(self.power),
                            time_constant=float(self.time_constant), eps=float(self.eps), axis=-1)
