"""Warm-up of a fresh server: the page code's heavy imports happen before it serves.

The first page run of a new server process imports scikit-learn, SciPy and Plotly (about 1.5 s
on a small machine), and the first visitor after a restart - a team link opened after a deploy -
waited for it. :func:`run`, called by ``app.py`` when the server imports it, does those imports
up front: the server answers its health check that much later, and every page run finds them
done. :func:`prefill_sample` then decodes the shipped FSDD sample (the dataset the dashboard
opens on) into the spectrogram cache, so that the first visit of a new deployment reads 300
cached images instead of decoding 300 recordings (once per cache folder; later starts find them).

They run in the server's main thread, before it serves, on purpose: importing them in a
background thread while a page run imports them too is a race (Plotly looks up pandas in
``sys.modules`` and can find it half initialized). Only modules without Streamlit caches are
imported: a ``st.cache_data`` function defined before Streamlit's runtime exists would get a cache
of its own. An import that fails is logged and left to the page run, which reports it as usual.

Examples
--------
>>> import sys
>>> run(("json",))
['json']
>>> "json" in sys.modules
True
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from pathlib import Path

__all__ = ["MODULES", "prefill_sample", "run"]

log = logging.getLogger("sndiag.warmup")

#: What the first page run imports that costs (scikit-learn and SciPy through the masks, the
#: scalers and the clip reader; Plotly and pandas through the figures).
MODULES = ("sndiag.masks", "sndiag.scalers", "sndiag.figures", "sndiag.io.clips", "sndiag.demo",
           "sndiag.diagnostics", "sndiag.drift", "sndiag.effects", "pandas")


def run(modules: Sequence[str] = MODULES) -> list[str]:
    """Import ``modules`` in order; returns the names imported (a failure is logged, skipped).

    Parameters
    ----------
    modules : sequence of str
        Dotted module names.

    Returns
    -------
    list of str
        The modules that imported.
    """
    done = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:  # the page run imports it again and shows the error
            log.warning("warm-up: importing %s failed (%s); the first page run will retry",
                        name, exc)
        else:
            done.append(name)
    return done


def prefill_sample(cache_dir: str | Path | None = None) -> int:
    """Decode the shipped sample into the spectrogram cache (by content, as the pages read it).

    Parameters
    ----------
    cache_dir : str or Path, optional
        The spectrogram cache folder; default the server's (``SNDIAG_FEATURE_CACHE``, else
        ``<store>/features``).

    Returns
    -------
    int
        Clips now in the cache (0 when it failed: logged, and the first page run decodes them
        as before).

    Examples
    --------
    >>> import tempfile
    >>> prefill_sample(tempfile.mkdtemp())
    300
    """
    try:
        from sndiag.demo import load_sample
        from sndiag.io.feature_cache import DiskCache
        from sndiag.settings import Settings

        folder = Settings.from_env().feature_cache if cache_dir is None else cache_dir
        return load_sample(cache=DiskCache(folder)).n_clips
    except Exception as exc:  # the first page run reads the sample and shows any error
        log.warning("warm-up: the sample was not decoded ahead (%s); the first visit will", exc)
        return 0
