"""Server warm-up: the heavy imports of the first page run, in a thread, without Streamlit caches."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from sndiag.ui import warmup

REPO = Path(__file__).resolve().parents[2]


def test_warmup_imports_the_heavy_modules_and_no_streamlit_cache():
    """In a fresh interpreter: scikit-learn, SciPy and Plotly are loaded, ``sndiag.ui.cache``
    (whose ``st.cache_data`` functions need Streamlit's runtime first) is not."""
    code = ("import sys; from sndiag.ui import warmup; warmup.start().join(); "
            "print(*[m in sys.modules for m in ('sklearn', 'scipy.stats', 'plotly.graph_objects', "
            "'sndiag.ui.cache', 'streamlit')])")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         check=True, timeout=300)
    assert out.stdout.split() == ["True", "True", "True", "False", "False"]


def test_warmup_logs_a_failed_import_and_goes_on(caplog: pytest.LogCaptureFixture):
    with caplog.at_level(logging.WARNING, logger="sndiag.warmup"):
        thread = warmup.start(("sndiag_no_such_module", "json"))
        thread.join(timeout=60)
    assert not thread.is_alive() and thread.daemon
    assert "json" in sys.modules
    assert [r.getMessage().split(" failed")[0] for r in caplog.records] == [
        "warm-up: importing sndiag_no_such_module"]
