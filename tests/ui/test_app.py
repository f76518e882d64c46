"""The dashboard, driven headless with Streamlit's AppTest (no browser).

Every page renders on the demo; the mask slider, the scaler choice, the link (query params) and
uploads are exercised through the widgets, the way a user would. The store is a temporary
folder (``SNDIAG_STORE``) shared by the module, so the demo is built once.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from sndiag.config import Limits  # noqa: E402
from sndiag.dataset import Dataset  # noqa: E402
from sndiag.errors import DataError, LimitError, ParameterError  # noqa: E402
from sndiag.store import FileStore  # noqa: E402
from tests.support.markdown import shown  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
APP = str(REPO / "app.py")
PAGES = ["pages/data.py", "pages/statistics.py", "pages/mask.py", "pages/scalers.py",
         "pages/export.py"]
TIMEOUT = 60


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("store")


@pytest.fixture
def app(store_dir: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("SNDIAG_STORE", str(store_dir))
    monkeypatch.delenv("SNDIAG_DATA_ROOT", raising=False)
    return AppTest.from_file(APP, default_timeout=TIMEOUT)


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _charts(at: AppTest) -> list:
    return list(at.get("plotly_chart"))


def _metric(at: AppTest, label: str) -> str:
    for m in at.metric:
        if m.label == label:
            return m.value
    raise AssertionError(f"no metric {label!r}: {[m.label for m in at.metric]}")


def _small_dataset(seed: int = 1) -> Dataset:
    rng = np.random.default_rng(seed)
    X = rng.gamma(2.0, 1.0, size=(24, 60, 130)).astype(np.float32)
    X[:, 50:] *= 1e-3
    return Dataset(X, y=["a", "b"] * 12, provenance={"name": "tiny shared set"})


# -- every page -----------------------------------------------------------------------------------
@pytest.mark.parametrize("page", PAGES)
def test_page_renders_on_demo(app: AppTest, page: str) -> None:
    app.run()
    _ok(app)
    if page != "pages/data.py":
        app.switch_page(page).run()
        _ok(app)
    assert app.title[0].value == page.split("/")[1][:-3].capitalize()
    assert _charts(app), "every page shows at least one figure"


def test_data_page_opens_on_the_real_audio_sample(app: AppTest) -> None:
    app.run()
    assert any("the fsdd sample" in i.value.lower() and "cc by-sa 4.0" in i.value.lower()
               for i in app.info)
    assert _metric(app, "Image shape") == "60 × 130"


def test_experiment_page_slot_follows_the_file(app: AppTest) -> None:
    app.run()
    if (REPO / "pages" / "experiment.py").is_file():
        app.switch_page("pages/experiment.py").run()
        assert not app.exception


# -- mask -----------------------------------------------------------------------------------------
def test_mask_slider_changes_the_masked_row_count(app: AppTest) -> None:
    app.run()
    app.switch_page("pages/mask.py").run()
    assert _metric(app, "Rows masked").startswith("0 /")
    app.radio(key="w_mask_mode").set_value("abs").run()
    slider = app.slider(key="w_snr_abs")
    slider.set_value(slider.max).run()
    _ok(app)
    n_high = int(_metric(app, "Rows masked").split("/")[0])
    assert n_high > 0
    app.slider(key="w_snr_abs").set_value(0.0).run()
    assert int(_metric(app, "Rows masked").split("/")[0]) < n_high
    assert app.query_params["snr_mode"] == ["abs"] or app.query_params["snr_mode"] == "abs"


def test_manual_rows_and_auto_flags_go_into_the_mask_and_the_link(app: AppTest,
                                                                   store_dir: Path) -> None:
    ds = _small_dataset(seed=2)
    X = ds.X.copy()
    X[:, 59] = 0.0  # an empty mel band: auto-flagged
    entry = FileStore(store_dir).put(Dataset(X, y=ds.y, provenance={"name": "with a dead band"}))
    app.query_params["ds"] = entry.dataset_id
    app.run()
    app.switch_page("pages/mask.py").run()
    app.multiselect(key="w_mask_rows").set_value([0, 1, 2, 7]).run()
    _ok(app)
    assert _metric(app, "Rows masked").startswith("4 /")
    assert "0-2,7" in str(app.query_params["rows"])
    app.checkbox(key="w_auto_flag").check().run()
    _ok(app)
    assert _metric(app, "Rows masked").startswith("5 /")
    assert list(app.multiselect(key="w_mask_rows").value) == [0, 1, 2, 7, 59]
    app.checkbox(key="w_auto_flag").uncheck().run()
    assert list(app.multiselect(key="w_mask_rows").value) == [0, 1, 2, 7]


def test_mask_survives_a_page_switch(app: AppTest) -> None:
    app.run()
    app.switch_page("pages/mask.py").run()
    app.radio(key="w_mask_mode").set_value("pct").run()
    app.slider(key="w_snr_pct").set_value(30.0).run()
    n = _metric(app, "Rows masked")
    app.switch_page("pages/statistics.py").run()
    app.switch_page("pages/mask.py").run()
    assert app.slider(key="w_snr_pct").value == 30.0
    assert _metric(app, "Rows masked") == n


def test_statistics_page_draws_only_the_selected_tab(app: AppTest) -> None:
    """Hidden tabs send no figures: 3 maps, the open tab's map, the profile, the histogram."""
    app.run()
    app.switch_page("pages/statistics.py").run()
    _ok(app)
    assert app.session_state["w_stat_tab"] == "Median"
    keys = [c.proto.id for c in _charts(app)]
    assert len(keys) == 6, keys
    assert not any("fig_class_mean" in k or "fig_fisher" in k for k in keys)
    app.session_state["w_stat_tab"] = "Class means"
    app.run()
    _ok(app)
    keys = [c.proto.id for c in _charts(app)]
    assert len(keys) == 6 and any("fig_class_mean" in k for k in keys), keys


def test_figures_are_built_once_per_dataset_view(app: AppTest, monkeypatch: pytest.MonkeyPatch
                                                 ) -> None:
    """A mask slider moved back, or a page switch back to Statistics, rebuilds no figure."""
    from sndiag import figures

    built: list[str] = []

    def counting(name: str) -> Any:
        real = getattr(figures, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            built.append(name)
            return real(*args, **kwargs)
        return counted

    for name in ("stat_heatmap", "row_profile", "value_histogram"):
        monkeypatch.setattr(figures, name, counting(name))
    app.run()
    app.switch_page("pages/mask.py").run()
    app.radio(key="w_mask_mode").set_value("abs").run()
    slider = app.slider(key="w_snr_abs")
    proposed = slider.value
    slider.set_value(slider.min).run()
    _ok(app)
    built.clear()
    app.slider(key="w_snr_abs").set_value(proposed).run()
    _ok(app)
    assert built == [] and len(_charts(app)) == 2
    app.switch_page("pages/statistics.py").run()
    assert "stat_heatmap" in built  # this mask's maps: built on the first visit
    app.switch_page("pages/mask.py").run()
    built.clear()
    app.switch_page("pages/statistics.py").run()
    _ok(app)
    assert built == [] and len(_charts(app)) == 6


# -- scalers --------------------------------------------------------------------------------------
def test_choosing_a_scaler_adds_its_figures(app: AppTest) -> None:
    app.run()
    app.switch_page("pages/scalers.py").run()
    _ok(app)
    before = len(_charts(app))
    current = list(app.multiselect(key="w_scalers").value)
    app.multiselect(key="w_scalers").set_value([*current, "global"]).run()
    _ok(app)
    after = len(_charts(app))
    assert after > before
    assert any(c.value == "`global`" for c in app.caption)
    assert "global" in str(app.query_params["scalers"])


def test_scaler_option_changes_the_effect_and_the_link(app: AppTest) -> None:
    app.run()
    app.switch_page("pages/scalers.py").run()
    app.slider(key="w_opt_std_floor_floor_percentile").set_value(60.0).run()
    _ok(app)
    assert str(app.query_params["p.std_floor.floor_percentile"]).strip("[]'") == "60"


# -- the link -------------------------------------------------------------------------------------
def test_query_params_restore_the_view(app: AppTest, store_dir: Path) -> None:
    ds = _small_dataset()
    entry = FileStore(store_dir).put(ds)
    app.query_params["ds"] = entry.dataset_id
    app.query_params["snr_mode"] = "abs"
    app.query_params["snr"] = "0.8"
    app.query_params["scalers"] = "standard,band"
    app.query_params["clip"] = "3"
    app.run()
    _ok(app)
    assert any("tiny shared set" in s.value for s in app.subheader)
    assert app.number_input(key="w_clip").value == 3
    app.switch_page("pages/mask.py").run()
    _ok(app)
    assert app.radio(key="w_mask_mode").value == "abs"
    assert app.slider(key="w_snr_abs").value == pytest.approx(0.8)
    app.switch_page("pages/scalers.py").run()
    _ok(app)
    assert list(app.multiselect(key="w_scalers").value) == ["standard", "band"]
    # the URL still holds the whole view after the page switches
    assert str(app.query_params["ds"]).strip("[]'") == entry.dataset_id


def test_unknown_dataset_in_the_link_falls_back_to_the_demo(app: AppTest) -> None:
    app.query_params["ds"] = "0" * 64
    app.query_params["snr"] = "oops"
    app.run()
    assert not app.exception
    warnings = " ".join(shown(w.value) for w in app.warning)
    assert "not in this server's store" in warnings
    assert "snr='oops'" in warnings
    assert any("the fsdd sample" in i.value.lower() for i in app.info)


# -- uploads --------------------------------------------------------------------------------------
def _npy(X: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, X)
    return buf.getvalue()


def test_bad_npy_upload_shows_an_error_and_the_app_stays_usable(app: AppTest) -> None:
    app.run()
    app.radio(key="w_load_source").set_value("arrays").run()
    app.file_uploader(key="up_arrays").set_value(("bad.npy", b"not numpy at all",
                                                   "application/octet-stream")).run()
    app.button(key="btn_load").click().run()
    assert not app.exception
    assert app.error, "a bad upload is reported with st.error"
    assert "Something went wrong" not in app.error[0].value  # sndiag's own message
    app.switch_page("pages/statistics.py").run()
    _ok(app)


def test_npy_upload_is_stored_and_opened(app: AppTest, store_dir: Path) -> None:
    X = np.random.default_rng(3).gamma(2.0, 1.0, size=(10, 60, 130)).astype(np.float32)
    app.run()
    app.radio(key="w_load_source").set_value("arrays").run()
    app.file_uploader(key="up_arrays").set_value(("mine.npy", _npy(X),
                                                   "application/octet-stream")).run()
    app.button(key="btn_load").click().run()
    _ok(app)
    ds_id = Dataset(X).content_hash
    assert ds_id in FileStore(store_dir)
    assert str(app.query_params["ds"]).strip("[]'") == ds_id
    assert any("mine.npy" in shown(s.value) for s in app.subheader)
    assert _metric(app, "Clips") == "10"


def _wav(freq: float, sr: int = 8000) -> bytes:
    import soundfile as sf

    t = np.arange(sr // 2) / sr
    buf = io.BytesIO()
    sf.write(buf, 0.5 * np.sin(2 * np.pi * freq * t), sr, format="WAV")
    return buf.getvalue()


def test_zip_upload_extracts_with_folder_labels(app: AppTest) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for label, freq in (("low", 200.0), ("high", 2000.0)):
            for i in range(2):
                zf.writestr(f"set/{label}/{i}.wav", _wav(freq + 10 * i))
        zf.writestr("set/readme.txt", b"hello")
    app.run()
    app.radio(key="w_load_source").set_value("zip").run()
    app.file_uploader(key="up_zip").set_value(("set.zip", buf.getvalue(),
                                                "application/zip")).run()
    app.button(key="btn_load").click().run()
    _ok(app)
    assert _metric(app, "Clips") == "4"
    assert _metric(app, "Skipped files") == "1"
    assert _metric(app, "Classes") == "2"


def test_audio_files_with_a_label_pattern_can_be_heard(app: AppTest) -> None:
    files = [(f"{d}_{who}_{i}.wav", _wav(300.0 * (d + 1) + i), "audio/wav")
             for d in (1, 2) for who in ("ann", "bob") for i in range(2)]
    app.run()
    app.radio(key="w_load_source").set_value("files").run()
    app.file_uploader(key="up_files").set_value(files).run()
    app.radio(key="w_label_mode").set_value("regex").run()
    app.text_input(key="w_label_regex").input(r"(?P<label>\d)_(?P<group>[a-z]+)_\d+\.wav").run()
    app.button(key="btn_load").click().run()
    _ok(app)
    assert _metric(app, "Clips") == "8"
    assert _metric(app, "Classes") == "2" and _metric(app, "Groups") == "2"
    assert app.get("audio"), "an uploaded clip can be played in the session that loaded it"


def test_an_upload_above_the_limit_is_refused_with_a_message(app: AppTest,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    monkeypatch.setenv("SNDIAG_MAX_UPLOAD_MB", "0.01")
    X = np.zeros((10, 60, 130), dtype=np.float32)  # 312 kB > 10 kB
    app.run()
    app.radio(key="w_load_source").set_value("arrays").run()
    app.file_uploader(key="up_arrays").set_value(("big.npy", _npy(X),
                                                   "application/octet-stream")).run()
    app.button(key="btn_load").click().run()
    assert not app.exception
    assert "above the limit" in app.error[0].value


# -- handlers without the UI ----------------------------------------------------------------------
def test_load_array_upload_refuses_garbage_and_pickles() -> None:
    from sndiag.io.uploads import load_array_upload

    with pytest.raises(DataError):
        load_array_upload("bad.npy", b"garbage")
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="pickled"):
        load_array_upload("evil.npy", buf.getvalue())
    with pytest.raises(ParameterError):
        load_array_upload("x.txt", b"abc")


def test_uploads_above_the_limit_are_refused_before_reading() -> None:
    from sndiag.io.uploads import check_upload_size

    with pytest.raises(LimitError, match="SNDIAG_MAX_UPLOAD_MB"):
        check_upload_size([("a.wav", 600 * 1024 * 1024)], Limits(max_upload_mb=500))
    check_upload_size([("a.wav", 10)], Limits(max_upload_mb=1))


def test_server_folders_never_leave_the_data_root(tmp_path: Path) -> None:
    from sndiag.io.uploads import list_server_folders, resolve_server_folder

    (tmp_path / "root" / "dogs").mkdir(parents=True)
    (tmp_path / "secret").mkdir()
    (tmp_path / "root" / "escape").symlink_to(tmp_path / "secret")
    root = (tmp_path / "root").resolve()
    assert list_server_folders(root) == [".", "dogs"]
    assert resolve_server_folder(root, "dogs") == root / "dogs"
    for bad in ("..", "../secret", "escape", str(tmp_path / "secret")):
        with pytest.raises(ParameterError):
            resolve_server_folder(root, bad)


def test_view_state_round_trips_through_query_params() -> None:
    from sndiag.masks import MaskSpec
    from sndiag.ui.state import DEFAULTS, parse_view, view_params

    state = {**DEFAULTS, "ds_id": "ab" * 32,
             "mask": MaskSpec(mode="pct", percentile=15.0, rows=(0, 1, 2, 9)),
             "scalers": ["band", "robust"], "clip": 4,
             "apply_mask": True, "scaler_params": {"std_floor": {"floor_percentile": 40.0}}}
    params = view_params(state)
    assert params["rows"] == "0-2,9" and params["snr"] == "15"
    updates, notes = parse_view(params, known_scalers=["band", "robust", "std_floor"])
    assert not notes
    for key, value in updates.items():
        assert state[key] == value, key


def test_package_outside_ui_never_imports_streamlit() -> None:
    offenders = []
    for path in (REPO / "sndiag").rglob("*.py"):
        if "ui" in path.relative_to(REPO / "sndiag").parts:
            continue
        text = path.read_text()
        if "import streamlit" in text or "from streamlit" in text:
            offenders.append(str(path.relative_to(REPO)))
    assert not offenders


@pytest.mark.parametrize("module", ["state", "widgets", "cache", "router"])
def test_ui_doctests(module: str) -> None:
    """The package's doctest run skips sndiag/ui (streamlit is optional); run them here."""
    import doctest
    import importlib

    mod = importlib.import_module(f"sndiag.ui.{module}")
    result = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.failed == 0


def test_the_mask_pages_rows_by_hand_reach_the_experiment(app: AppTest) -> None:
    """Rows picked by hand and the auto-flagged rows are offered to the experiment, whole."""
    app.run()
    app.switch_page("pages/mask.py").run()
    app.radio(key="w_mask_mode").set_value("pct").run()
    app.multiselect(key="w_mask_rows").set_value([0, 1, 7]).run()
    _ok(app)
    app.switch_page("pages/experiment.py").run()
    _ok(app)
    offered = app.multiselect(key="w_exp_masks")
    assert offered.value == ["p10+rows:0-1,7", "auto"]
    assert "p10+rows:0-1,7" in offered.options


@pytest.mark.parametrize(("scheduler", "shown_text"), [
    ("local:2", "The fits run on a local Dask cluster (2 worker processes)"),
    ("lokal", "scheduler='lokal' is not understood"),
])
def test_the_experiment_page_says_where_a_configured_scheduler_runs_the_fits(
        app: AppTest, monkeypatch: pytest.MonkeyPatch, scheduler: str, shown_text: str) -> None:
    """SNDIAG_SCHEDULER: named before the run (no cluster is started to render the page)."""
    monkeypatch.setenv("SNDIAG_SCHEDULER", scheduler)
    app.run()
    app.switch_page("pages/experiment.py").run()
    assert not app.exception, [e.value for e in app.exception]
    texts = [shown(c.value) for c in [*app.caption, *app.error]]
    assert any(shown_text in t for t in texts), texts


def test_every_page_names_the_same_lowest_snr_rows(app: AppTest, tmp_path: Path) -> None:
    """One definition of the lowest-SNR rows: the Statistics page, the Scalers page's reading,
    the CLI's `stats` and the experiment's verdict name the same rows."""
    from typer.testing import CliRunner

    from sndiag import io as sio
    from sndiag.cli import app as cli
    from sndiag.demo import load_sample
    from sndiag.experiment._verdict import _why
    from sndiag.masks import format_ranges, lowest_snr_rows
    from sndiag.stats import compute_stats

    ds = load_sample()
    stats = compute_stats(ds.X, ds.y)
    rows = format_ranges(lowest_snr_rows(stats))
    app.run()
    app.switch_page("pages/statistics.py").run()
    _ok(app)
    assert any(f"**{rows}**" in m.value for m in app.markdown)
    app.switch_page("pages/scalers.py").run()
    _ok(app)
    assert any(f"rows {rows} (lowest SNR" in i.value for i in app.info)
    out = CliRunner().invoke(cli, ["stats", str(sio.save(ds, tmp_path / "s.npz"))])
    assert f"lowest-SNR rows: {rows} " in out.output
    from sndiag.experiment import ExperimentResult

    assert f"mel rows {rows} have the lowest SNR" in _why(
        ExperimentResult(ds.summary(), "ridge", 2, "s", [], [1], [1]), stats)


# -- diagnostics, grid and groups (the real-audio sample: 8 kHz clips on the 22.05 kHz grid) ---
def _texts(at: AppTest) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption])


def test_the_sample_is_diagnosed_and_the_mask_page_offers_the_rows_above_nyquist(
        app: AppTest) -> None:
    app.run()
    app.switch_page("pages/statistics.py").run()
    _ok(app)
    text = _texts(app)
    assert "Above the recordings' Nyquist frequency" in text and "mel rows 43-59" in text
    assert "**Padding**" in text
    app.session_state["w_stat_tab"] = "Group drift"  # only the selected tab is drawn
    app.run()
    _ok(app)
    assert "Per pixel, how much the group means" in _texts(app)
    app.switch_page("pages/mask.py").run()
    box = app.checkbox(key="w_auto_flag")
    assert box.label == "Pre-select auto-flagged rows (17)"
    assert any("Nyquist frequency (4000 Hz): rows 43-59" in c.value for c in app.caption)
    box.check().run()
    _ok(app)
    assert list(app.multiselect(key="w_mask_rows").value) == list(range(43, 60))
    assert app.query_params["rows"] in ("43-59", ["43-59"])


def test_the_data_page_suggests_a_grid_and_re_extracts_with_it(app: AppTest) -> None:
    app.run()
    first = app.session_state["ds_id"]
    assert any("A grid that fits these clips" in m.value for m in app.markdown)
    assert any("per load, all files together" in c.value for c in app.caption)
    app.button(key="btn_reextract").click().run()
    _ok(app)
    assert app.session_state["ds_id"] != first
    assert "(re-extracted)" in shown(app.subheader[0].value)
    assert not [b for b in app.button if b.key == "btn_reextract"]   # the grid now fits
    assert _metric(app, "Groups") == "6"


def test_a_group_in_the_file_names_is_offered_and_used(app: AppTest, store_dir: Path) -> None:
    rng = np.random.default_rng(3)
    names = [f"{lab}/{kit}__{lab}{i}.wav" for lab in ("kick", "snare")
             for kit in ("808", "acoustic", "jazz") for i in range(4)]
    ds = Dataset(rng.gamma(2.0, 1.0, size=(24, 60, 130)).astype(np.float32),
                 y=[n.split("/")[0] for n in names], names=names,
                 provenance={"name": "kits without groups"})
    entry = FileStore(store_dir).put(ds)
    app.query_params["ds"] = entry.dataset_id
    app.run()
    assert any("The file names seem to carry a group" in shown(m.value) for m in app.markdown)
    app.button(key="btn_use_groups").click().run()
    _ok(app)
    assert _metric(app, "Groups") == "3"
    assert app.session_state["ds_id"] != entry.dataset_id


def test_flagged_configurations_are_listed_in_full_below_the_table(app: AppTest,
                                                                    store_dir: Path) -> None:
    """The table's notes column is cut to its width; every note is also shown whole."""
    from sndiag.experiment import run_experiment

    ds = _small_dataset(seed=5)
    entry = FileStore(store_dir).put(ds)
    res = run_experiment(ds, scalers=["none", "standard", "robust"], masks=["none"], folds=3,
                         n_jobs=1)
    long_note = next(n for c in res.configurations for n in c.notes)
    FileStore(store_dir).put_attachment(entry.dataset_id, "experiment", res.to_dict())
    app.query_params["ds"] = entry.dataset_id
    app.run()
    app.switch_page("pages/experiment.py").run()
    _ok(app)
    box = next(e for e in app.expander if e.label.startswith("Why configurations are flagged"))
    assert any(long_note in shown(m.value) for m in box.markdown)
