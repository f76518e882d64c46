"""Warm-up of a fresh server: the page code's heavy imports start when the server does.

The first page run of a new server process imports scikit-learn, SciPy and Plotly (about 1.5 s
on a small machine), and the first visitor after a restart - a team link opened after a deploy -
waits for it. :func:`start`, called by ``app.py`` when the server imports it, runs those imports
in a background thread, so they overlap the server's start and the browser's page load.

Only modules without Streamlit caches are imported here: a ``st.cache_data`` function defined
before Streamlit's runtime exists would get a cache of its own. Nothing is computed or shared;
the thread only fills ``sys.modules``, and an import that fails is logged and left to the page
run, which reports it as usual.

Examples
--------
>>> import sys
>>> start(("json",)).join()
>>> "json" in sys.modules
True
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Sequence

__all__ = ["MODULES", "start"]

log = logging.getLogger("sndiag.warmup")

#: What the first page run imports that costs (scikit-learn and SciPy through the masks, the
#: scalers and the clip reader; Plotly through the figures).
MODULES = ("sndiag.masks", "sndiag.scalers", "sndiag.figures", "sndiag.io.clips", "sndiag.demo",
           "sndiag.diagnostics", "sndiag.drift", "sndiag.effects")


def _import_all(modules: Sequence[str]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:  # the page run imports it again and shows the error
            log.warning("warm-up: importing %s failed (%s); the first page run will retry",
                        name, exc)


def start(modules: Sequence[str] = MODULES) -> threading.Thread:
    """Import ``modules`` in a daemon thread; returns the (started) thread.

    Parameters
    ----------
    modules : sequence of str
        Dotted module names, imported in order.

    Returns
    -------
    threading.Thread
        Join it to wait for the imports (tests do; the server does not).
    """
    thread = threading.Thread(target=_import_all, args=(tuple(modules),), name="sndiag-warmup",
                              daemon=True)
    thread.start()
    return thread
