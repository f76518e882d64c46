"""Warm-up of a fresh server: the page code's heavy imports happen before it serves.

The first page run of a new server process imports scikit-learn, SciPy and Plotly (about 1.5 s
on a small machine), and the first visitor after a restart - a team link opened after a deploy -
waited for it. :func:`run`, called by ``app.py`` when the server imports it, does those imports
up front: the server answers its health check that much later, and every page run finds them
done.

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

__all__ = ["MODULES", "run"]

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
