"""Sessions cannot read each other's uploads: every server-side cache is keyed by content hash.

Streamlit's ``st.cache_data`` / ``st.cache_resource`` are shared by every session of a server
process (and by every ``AppTest`` of a test process). Two sessions upload *twins*: files with the
same name, clip count and labels but different values, so a cache keyed by anything short of the
content (the name, N, the classes, the session's first dataset, ...) would hand one session the
other's numbers. Interleaved, each session must keep seeing its own metrics, statistics sentence
and figures. The browser version (20 sessions on one server) is ``benchmarks/load_test.py``.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from sndiag.dataset import Dataset  # noqa: E402
from sndiag.figures import clip_heatmap  # noqa: E402
from sndiag.stats import compute_stats  # noqa: E402
from sndiag.ui import cache  # noqa: E402
from tests.hostile.conftest import npz  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 60
NAME = "twin.npz"


def _twin(shape_k: float, seed: int) -> tuple[bytes, Dataset]:
    rng = np.random.default_rng(seed)
    X = rng.gamma(shape_k, 1.0, size=(6, 60, 130)).astype(np.float32)
    X[:, 50:] *= 1e-3
    y = np.array(list("ababab"))
    return npz(X=X, y=y), Dataset(X, y=y)


def _snr_text(ds: Dataset) -> str:
    snr = np.abs(np.asarray(compute_stats(ds.X, ds.y).row_snr, dtype=float))
    return f"runs from **{snr.min():.2g}** to **{snr.max():.2g}** (median {np.median(snr):.2g})"


# -- the keys, statically ------------------------------------------------------------------------
def test_every_cache_that_takes_a_dataset_is_keyed_by_its_content_hash() -> None:
    """A cached function whose dataset-derived inputs are unhashed (``_ds``, ``_stats``,
    ``_mask``, ...) must take the content hash ``ds_id`` as a hashed argument; the shared figure
    cache takes a key whose first element callers set to the content hash (checked below)."""
    cached = {name: fn for name, fn in vars(cache).items() if hasattr(fn, "clear")
              and callable(fn) and not isinstance(fn, type)}
    assert {"pixel_stats", "effect", "summary", "_dataset", "_figure"} <= set(cached)
    for name, fn in cached.items():
        params = list(inspect.signature(fn).parameters)
        unhashed = [p for p in params if p.startswith("_")]
        if name == "_figure":
            assert params[0] == "key", params
        elif unhashed or "ds_id" in params:
            assert "ds_id" in params, f"{name}{params}: unhashed data but no ds_id in the key"
    pages = "\n".join(p.read_text() for p in (REPO / "pages").glob("*.py"))
    for call in re.findall(r"cache\.figure\(\s*\(([^,]+),", pages):
        assert call.strip() in ("ds.content_hash", "*_effect_key(name)"), call
    assert "return (ds.content_hash," in (REPO / "pages" / "scalers.py").read_text()


# -- the keys, at work ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def twins() -> tuple[tuple[bytes, Dataset], tuple[bytes, Dataset]]:
    a, b = _twin(2.0, 1), _twin(8.0, 2)
    # the checks below can tell the twins apart: hash, max value, SNR sentence, clip figure
    assert a[1].content_hash != b[1].content_hash
    assert f"{float(a[1].X.max()):.3g}" != f"{float(b[1].X.max()):.3g}"
    assert _snr_text(a[1]) != _snr_text(b[1])
    figs = [json.loads(clip_heatmap(d.X[0], title="", log=True, height=280).to_json())
            for _, d in (a, b)]
    assert figs[0]["data"][0]["z"] != figs[1]["data"][0]["z"]
    return a, b


@pytest.fixture
def sessions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[AppTest]]:
    monkeypatch.setenv("SNDIAG_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("SNDIAG_FEATURE_CACHE", str(tmp_path / "features"))
    for name in ("SNDIAG_DATA_ROOT", "SNDIAG_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    apps = [AppTest.from_file(str(REPO / "app.py"), default_timeout=TIMEOUT) for _ in range(2)]
    for at in apps:
        at.run()
        assert not at.exception, [e.value for e in at.exception]
    yield apps


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _upload(at: AppTest, data: bytes) -> None:
    at.radio(key="w_load_source").set_value("arrays").run()
    at.file_uploader(key="up_arrays").set_value((NAME, data, "application/octet-stream")).run()
    at.button(key="btn_load").click().run()
    _ok(at)


def _sees_own_data_page(at: AppTest, ds: Dataset) -> None:
    at.switch_page("pages/data.py").run()
    _ok(at)
    assert at.query_params.get("ds") in (ds.content_hash, [ds.content_hash])
    assert _metric(at, "Clips") == "6" and _metric(at, "Classes") == "2"
    assert _metric(at, "Max value") == f"{float(ds.X.max()):.3g}"
    assert any(f"id `{ds.content_hash[:12]}`" in c.value for c in at.sidebar.caption)


def _sees_own_statistics(at: AppTest, ds: Dataset) -> None:
    at.switch_page("pages/statistics.py").run()
    _ok(at)
    sentence = next(m.value for m in at.markdown if "Mel-band SNR" in m.value)
    assert _snr_text(ds) in sentence, (sentence, _snr_text(ds))


def _sees_own_figures(at: AppTest, ds: Dataset) -> None:
    """The Scalers page's 'before' heatmap (a shared figure cache) shows this session's clip."""
    at.switch_page("pages/scalers.py").run()
    _ok(at)
    shown = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]["z"]
    own = json.loads(clip_heatmap(ds.X[0], title="", log=True, height=280).to_json())
    assert shown == own["data"][0]["z"], "the Scalers page shows another dataset's clip"


def test_twin_uploads_in_two_sessions_never_cross(sessions: list[AppTest], twins) -> None:
    """Interleaved, so every cache already holds the other twin's entry when it is read."""
    (data_a, ds_a), (data_b, ds_b) = twins
    at_a, at_b = sessions
    _upload(at_a, data_a)
    _sees_own_data_page(at_a, ds_a)
    _sees_own_statistics(at_a, ds_a)
    _upload(at_b, data_b)
    _sees_own_data_page(at_b, ds_b)
    _sees_own_statistics(at_b, ds_b)
    _sees_own_figures(at_b, ds_b)
    _sees_own_statistics(at_a, ds_a)
    _sees_own_figures(at_a, ds_a)
    _sees_own_data_page(at_a, ds_a)
    _sees_own_data_page(at_b, ds_b)
