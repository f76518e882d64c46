"""Server warm-up: the heavy imports of the first page run, done up front, no Streamlit cache."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from sndiag.ui import warmup

REPO = Path(__file__).resolve().parents[2]


def test_warmup_imports_the_heavy_modules_and_no_streamlit_cache():
    """In a fresh interpreter: scikit-learn, SciPy, Plotly and pandas are loaded,
    ``sndiag.ui.cache`` (whose ``st.cache_data`` functions need Streamlit's runtime first) is
    not."""
    code = ("import sys; from sndiag.ui import warmup; warmup.run(); "
            "print(*[m in sys.modules for m in ('sklearn', 'scipy.stats', 'plotly.graph_objects', "
            "'pandas', 'sndiag.ui.cache', 'streamlit')])")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         check=True, timeout=300)
    assert out.stdout.split() == ["True"] * 4 + ["False"] * 2


def test_warmup_logs_a_failed_import_and_goes_on(caplog: pytest.LogCaptureFixture):
    with caplog.at_level(logging.WARNING, logger="sndiag.warmup"):
        done = warmup.run(("sndiag_no_such_module", "json"))
    assert done == ["json"]
    assert [r.getMessage().split(" failed")[0] for r in caplog.records] == [
        "warm-up: importing sndiag_no_such_module"]
