"""scikit-learn compatible spectrogram scalers, and a registry of them by name.

Per-pixel standardization ``(X - X.mean(0)) / X.std(0)`` multiplies the noise of every pixel by
``1 / std``: near-silent rows and rows whose std is mostly noise get the largest gain. The scalers
here let that choice be compared with SNR-aware alternatives on the same data.

========== ======================== ======== =========== ===========================
name       class                    fitted   invertible  statistics
========== ======================== ======== =========== ===========================
none       IdentityScaler           no       yes         --
standard   PixelStandardScaler      yes      yes         mean/std per pixel
std_floor  StdFloorScaler           yes      yes         mean/max(std, floor) per pixel
band       BandScaler               yes      yes         mean/std per mel row (CMVN)
global     GlobalScaler             yes      yes         one mean/std
clip       ClipScaler               no       no          mean/std of each clip
minmax     PixelMinMaxScaler        yes      yes         min/max per pixel
maxabs     PixelMaxAbsScaler        yes      yes         max abs per pixel
robust     PixelRobustScaler        yes      yes         median/IQR per pixel
median     MedianScaler             yes      yes         median per pixel
log1p      Log1pCompressor          no       yes         log1p(x / ref)
db         DbCompressor             no       yes         power_to_db
pcen       PcenCompressor           no       no          librosa.pcen along time
========== ======================== ======== =========== ===========================

Conventions shared by every scaler:

* Input is ``(n_clips, n_mels, n_frames)`` or flattened ``(n_clips, n_features)`` (so it fits in
  a :class:`~sklearn.pipeline.Pipeline` before a classifier). 2-D rows fold into images by the
  ``shape=(n_mels, n_frames)`` parameter, else by the fitted layout, else as ``(n_features, 1)``
  (each feature its own band). The output has the input's shape; float32 stays float32, other
  input gives float64; arithmetic is float64.
* Fitted scalers use only statistics of the data given to ``fit`` (the training set). Stateless
  ones (``none``, ``clip``, ``log1p``, ``db``, ``pcen``) learn nothing by design.
* Near-constant pixels or rows get scale 1 and are flagged in ``zero_scale_`` (one rule,
  ``_base._zero_scale``): a std, range, max or IQR that is zero, rounding noise (scikit-learn's
  tests) or below ``1e-30 * max(1, max|X_train|)``. So the gain never exceeds 1e30 relative to
  the data, and float32 output stays finite for test values up to ~1e8 times the training
  range. Zero-variance clips (``clip``) get scale 1 too: no inf/NaN.
* :func:`affine_maps` gives the ``(offset, scale)`` maps of an affine scaler (None otherwise).
* ``gain_map(X=None)`` returns the per-pixel noise gain ``(n_mels, n_frames)``: ``1 / scale_``
  for the affine fitted scalers, the empirical ``std(transform(X)) / std(X)`` for the others
  (``X`` required).
* ``make_scaler("db+band")`` composes a compressor with a fitted scaler
  (:class:`ComposedScaler`); :func:`scaler_params` / :func:`scaler_from_params` export and
  rebuild fitted scalers without pickling.

Examples
--------
>>> import numpy as np
>>> from sndiag.scalers import make_scaler
>>> X = np.random.default_rng(0).gamma(1.0, 1.0, size=(50, 4, 6))
>>> X[:, 0] *= 1e-3                                   # a near-silent row
>>> g = make_scaler("standard").fit(X).gain_map()
>>> bool(g[0].mean() > 100 * g[1:].mean())           # its noise is amplified ~1000x
True
>>> g = make_scaler("std_floor", floor=0.5).fit(X).gain_map()
>>> float(g.max()) <= 2.0
True
"""

from sndiag.scalers._affine import (
    BandScaler,
    GlobalScaler,
    MedianScaler,
    PixelMaxAbsScaler,
    PixelMinMaxScaler,
    PixelRobustScaler,
    PixelStandardScaler,
    StdFloorScaler,
)
from sndiag.scalers._base import NotInvertibleError, affine_maps
from sndiag.scalers._compose import (
    ComposedScaler,
    ZeroPixels,
    compresses,
    with_mask,
    without_mask,
)
from sndiag.scalers._registry import (
    SCALERS,
    ScalerInfo,
    make_scaler,
    scaler_from_params,
    scaler_info,
    scaler_names,
    scaler_params,
)
from sndiag.scalers._stateless import (
    ClipScaler,
    DbCompressor,
    IdentityScaler,
    Log1pCompressor,
    PcenCompressor,
)
from sndiag.scalers._stream import fit_clips, fit_from_stats

__all__ = [
    "SCALERS",
    "BandScaler",
    "ClipScaler",
    "ComposedScaler",
    "DbCompressor",
    "GlobalScaler",
    "IdentityScaler",
    "Log1pCompressor",
    "MedianScaler",
    "NotInvertibleError",
    "PcenCompressor",
    "PixelMaxAbsScaler",
    "PixelMinMaxScaler",
    "PixelRobustScaler",
    "PixelStandardScaler",
    "ScalerInfo",
    "StdFloorScaler",
    "ZeroPixels",
    "affine_maps",
    "compresses",
    "fit_clips",
    "fit_from_stats",
    "make_scaler",
    "scaler_from_params",
    "scaler_info",
    "scaler_names",
    "scaler_params",
    "with_mask",
    "without_mask",
]
