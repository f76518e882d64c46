"""Compile, once per installation, the numba code sndiag runs, into numba's on-disk cache.

librosa compiles parts of itself with numba the first time they run (``cache=True``), and so does
sndiag's statistics kernel (:mod:`sndiag._kernels`). On a fresh installation that compilation
lands on the user: measured on a 2-core machine, the first PCEN of a process waited ~9 s for it
and the first import of ``librosa.util`` ~3 s, so a first ``sndiag compare`` took 63 s against 46 s
for every later one. Later processes load the cached machine code instead.

``scripts/setup.sh`` (after installing the requirements) and the Docker image (at build time) run
``python -m sndiag.precompile``, so neither the first comparison nor the first look at a scaler
pays for compilation. The cache sits beside each compiled module, or under ``NUMBA_CACHE_DIR``
when that is set.

Examples
--------
>>> from sndiag.precompile import precompile
>>> names = precompile(n_clips=2)  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

from sndiag.config import SpectrogramConfig

__all__ = ["precompile"]


def precompile(*, n_clips: int = 8, seed: int = 0) -> list[str]:
    """Run every registered scaler and the statistics kernel once on a few random clips.

    Each call has the dtype and layout real data has (float32 clips of the default
    :class:`~sndiag.config.SpectrogramConfig`'s shape, and the kernel's float32, float64 and
    read-only variants), so numba compiles and caches the same specializations a real run uses.

    Parameters
    ----------
    n_clips : int
        Random clips per call; a few suffice, their values do not matter.
    seed : int
        Seed of the random clips.

    Returns
    -------
    list of str
        What ran: the scaler names, then ``"statistics kernel"`` when numba is installed.
    """
    from sndiag.scalers import make_scaler, scaler_names

    config = SpectrogramConfig()
    rng = np.random.default_rng(seed)
    X = rng.gamma(0.5, 1.0, size=(n_clips, config.n_mels, config.n_frames)).astype(np.float32)
    done = []
    for name in scaler_names():
        make_scaler(name, config=config).fit(X).transform(X)
        done.append(name)
    try:
        from sndiag._kernels import chunk_moments
    except ImportError:  # numba missing: sndiag.stats then uses numpy, nothing to compile
        return done
    flat = X.reshape(n_clips, -1)
    frozen = flat.copy()
    frozen.flags.writeable = False
    for x in (flat, flat.astype(np.float64), frozen):
        chunk_moments(x)
    done.append("statistics kernel")
    return done


if __name__ == "__main__":  # pragma: no cover - exercised through a subprocess in the tests
    print(f"compiled and cached: {', '.join(precompile())}")
