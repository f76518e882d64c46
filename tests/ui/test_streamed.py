"""A dataset larger than memory in the dashboard: opened from the data root, never loaded whole.

The file is small here (8000 clips, 250 MB) but every read of its clips is recorded: no page may
read more than one chunk of clips at once, the clips are read once when the file is opened (for
the content hash and the statistics) and never again whole, a statistics file written by
``sndiag stats -o`` (what a cluster run writes) replaces that pass, and a link to the dataset
opens it after a restart without reading the file. Memory is asserted in bytes (tracemalloc),
never in seconds.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from sndiag.dataset import Dataset  # noqa: E402
from sndiag.io import save, streaming  # noqa: E402
from sndiag.stats import SAMPLE_CLIPS, compute_stats  # noqa: E402
from sndiag.store import FileStore  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
APP = str(REPO / "app.py")
TIMEOUT = 120
N = 8000
CHUNK = 512


class Reads:
    """Every read of clips from a file: how many clips at once, and in all."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    @property
    def total(self) -> int:
        return sum(self.sizes)

    @property
    def largest(self) -> int:
        return max(self.sizes, default=0)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Reads:
    log = Reads()
    original = streaming._fill  # every read of rows of a file, whoever reads them

    def recorded(fh: Any, out: np.ndarray, where: str, start: int) -> None:
        if out.ndim == 3:  # clips, not the small arrays (labels, groups)
            log.sizes.append(out.shape[0])
        original(fh, out, where, start)

    monkeypatch.setattr(streaming, "_fill", recorded)
    return log


def _big(seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    X = rng.gamma(2.0, 1.0, size=(N, 60, 130)).astype(np.float32)
    X[:, 50:] *= 1e-4
    X[:, :, 100:] = 0.0  # padding
    y = np.array([f"c{i % 4}" for i in range(N)])
    groups = np.array([f"g{i % 5}" for i in range(N)])
    return Dataset(X, y=y, groups=groups, provenance={"name": "big on the server"})


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    ds = _big()
    (root / "run1.parts").mkdir()
    save(ds, root / "run1.parts" / "dataset.npz")
    (root / "run1.parts" / "manifest.json").write_text("{}")
    (root / "run1.parts" / "chunks").mkdir()
    save(ds.subset(np.arange(10)), root / "run1.parts" / "chunks" / "chunk-00000.npz")
    compute_stats(ds.X, ds.y, quantiles="sample").to_npz(root / "run1.parts" / "stats.npz")
    other = compute_stats(_big(seed=1).X, ds.y, quantiles="sample")
    other.to_npz(root / "run1.parts" / "other-stats.npz")
    return root


@pytest.fixture
def app(tmp_path: Path, data_root: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("SNDIAG_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("SNDIAG_DATA_ROOT", str(data_root))
    return AppTest.from_file(APP, default_timeout=TIMEOUT)


def _ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def _open(at: AppTest, stats: str = "") -> AppTest:
    _ok(at.run())
    at.radio(key="w_load_source").set_value("server_file")
    _ok(at.run())
    assert at.selectbox(key="w_server_file").options == ["run1.parts/dataset.npz"]
    at.selectbox(key="w_server_file").set_value("run1.parts/dataset.npz")
    if stats:
        at.selectbox(key="w_server_stats").set_value(stats)
    at.button(key="btn_load").click()
    return _ok(at.run())


def _ds_id(at: AppTest) -> str:
    """The dataset id in the view's link (a string, or a list of one in older Streamlit)."""
    value = at.query_params["ds"]
    return value if isinstance(value, str) else value[0]


def _visit_all(at: AppTest) -> AppTest:
    for page in ("pages/statistics.py", "pages/mask.py", "pages/scalers.py", "pages/export.py",
                 "pages/data.py"):
        _ok(at.switch_page(page).run())
        assert at.get("plotly_chart"), page
    return at


def test_a_server_file_opens_streamed_and_no_page_reads_it_whole(app: AppTest, reads: Reads,
                                                                 tmp_path: Path) -> None:
    at = _open(app)
    ds_id = _ds_id(at)
    assert FileStore(tmp_path / "store").entry(ds_id).file is not None  # a reference, no copy
    assert not (tmp_path / "store" / f"{ds_id}.npz").exists()
    # one pass (content hash and statistics), then the example clip the Data page shows
    assert N <= reads.total <= N + 8 and reads.largest <= CHUNK
    assert "Read from a file on the server" in " ".join(i.value for i in at.info)

    reads.sizes.clear()
    _ok(at.switch_page("pages/scalers.py").run())
    # standard, std_floor and band fitted from the statistics, robust on a sample of 2000
    # clips, 256 for each histogram and distribution check: samples, not a pass over the file
    assert reads.total < N

    reads.sizes.clear()
    tracemalloc.start()
    _visit_all(at)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert reads.largest <= CHUNK  # no page ever holds more than one chunk of clips
    # the scalers are fitted chunk by chunk (standard, std_floor, band: a pass each), robust on
    # a sample; pages sample clips for histograms and checks: a few passes, never all at once
    assert reads.total < 8 * N
    # the pages' working set is fixed (chunks, samples of 256 clips for the histograms and the
    # distribution checks, 2000 for a quantile scaler: about 170 MB), whatever the file's size
    # below one copy of the clips (250 MB): loading them whole would take that alone
    assert peak < N * 60 * 130 * 4


def test_a_statistics_file_from_a_cluster_run_replaces_the_statistics_pass(
        app: AppTest, reads: Reads, tmp_path: Path) -> None:
    at = _open(app, stats="run1.parts/stats.npz")
    ds_id = _ds_id(at)
    kept = FileStore(tmp_path / "store").get_stats(ds_id)
    assert kept is not None and kept.n == N and not kept.quantiles_exact
    assert reads.total < 2 * N  # the content-hash pass (and a sample checked), no statistics
    _ok(at.switch_page("pages/statistics.py").run())
    assert "Mel-band SNR" in " ".join(m.value for m in at.markdown)


def test_statistics_of_other_data_are_refused(app: AppTest) -> None:
    at = app
    _ok(at.run())
    at.radio(key="w_load_source").set_value("server_file")
    _ok(at.run())
    at.selectbox(key="w_server_stats").set_value("run1.parts/other-stats.npz")
    at.button(key="btn_load").click()
    at.run()
    assert not at.exception
    assert any("does not describe" in e.value for e in at.error), [e.value for e in at.error]
    assert "ds" not in at.query_params


def test_a_link_opens_the_file_after_a_restart_without_reading_it_again(
        app: AppTest, reads: Reads, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit import cache_data, cache_resource

    cache_data.clear()  # a fresh server on this test's store
    cache_resource.clear()
    first = _open(app)
    ds_id = _ds_id(first)
    first.session_state["w_stat_tab"] = "Group drift"  # a pass over the file, kept in the store
    _ok(first.switch_page("pages/statistics.py").run())
    assert "fig_group_drift" in [c.key for c in first.get("plotly_chart")]
    cache_data.clear()  # a restarted server: nothing in memory, the store on disk
    cache_resource.clear()
    reads.sizes.clear()
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["ds"] = ds_id
    at.query_params["snr_mode"] = "abs"
    at.query_params["snr"] = "0.5"
    _ok(at.switch_page("pages/mask.py").run())
    assert _ds_id(at) == ds_id
    assert reads.total < CHUNK  # statistics from the store: no pass over the file
    assert reads.largest <= CHUNK

    reads.sizes.clear()
    at.session_state["w_stat_tab"] = "Group drift"
    _ok(at.switch_page("pages/statistics.py").run())
    assert "fig_group_drift" in [c.key for c in at.get("plotly_chart")]
    # statistics and group drift from the store; only the histogram's sample of clips is read
    assert reads.total <= SAMPLE_CLIPS and reads.largest <= CHUNK


def test_a_changed_file_is_not_opened_under_the_old_hash(app: AppTest, data_root: Path,
                                                         tmp_path: Path) -> None:
    ds_id = _ds_id(_open(app))
    path = data_root / "run1.parts" / "dataset.npz"
    st = path.stat()
    try:
        import os

        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
        from streamlit import cache_resource

        cache_resource.clear()
        at = AppTest.from_file(APP, default_timeout=TIMEOUT)
        at.query_params["ds"] = ds_id
        at.run()
        assert not at.exception
        notices = " ".join(w.value for w in at.warning)
        assert "changed since it was added" in notices, notices
        assert ds_id not in [e.dataset_id for e in FileStore(tmp_path / "store").entries()]
    finally:
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_the_experiment_page_reads_a_streamed_dataset_into_memory_only_within_the_limit(
        app: AppTest, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _open(app)
    monkeypatch.setenv("SNDIAG_MAX_DATASET_MB", "50")
    _ok(at.switch_page("pages/experiment.py").run())
    text = " ".join(i.value for i in at.info).replace("\\", "")  # Markdown escapes
    assert "needs every clip in memory" in text
    assert "SNDIAG_MAX_DATASET_MB" in text and "sndiag compare" in text
    assert not at.get("plotly_chart")  # stopped before any work
