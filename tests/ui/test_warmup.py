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


def test_prefill_decodes_the_sample_once_into_the_cache(tmp_path: Path):
    """The 300 images land in the cache; a second prefill (a restart) decodes none of them."""
    from sndiag.io.feature_cache import DiskCache

    assert warmup.prefill_sample(tmp_path / "features") == 300
    cache = DiskCache(tmp_path / "features")
    assert len(cache) == 300
    stamps = {p.name: p.stat().st_mtime_ns for p in cache.directory.glob("*.npy")}
    assert warmup.prefill_sample(tmp_path / "features") == 300
    assert {p.name: p.stat().st_mtime_ns for p in cache.directory.glob("*.npy")} == stamps


def test_prefill_that_fails_is_logged_and_leaves_the_page_to_read_the_sample(
        tmp_path: Path, caplog: pytest.LogCaptureFixture):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with caplog.at_level(logging.WARNING, logger="sndiag.warmup"):
        assert warmup.prefill_sample(blocker / "features") == 0
    assert "the sample was not decoded ahead" in caplog.text
