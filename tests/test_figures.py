"""Figure builders: trace types, shapes, orientation, greyed-out rows, hover, bounded histograms."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from sndiag import figures as F
from sndiag.errors import ParameterError, ShapeError
from sndiag.stats import compute_stats, subsample_values


@pytest.fixture(scope="module")
def stats():
    rng = np.random.default_rng(0)
    X = rng.gamma(2.0, 1.0, size=(40, 60, 130)).astype(np.float32)
    X[:, :5] *= 1e-3
    X[:, 5] = 0.0
    y = np.repeat(["a", "b", "c", "d"], 10)
    X[y == "a", 20:24] += 3.0
    return compute_stats(X, y=y)


def _row_mask(n=60, rows=(0, 1, 2, 3, 4, 17)):
    m = np.zeros(n, dtype=bool)
    m[list(rows)] = True
    return m


def _bands(fig: go.Figure) -> list[tuple[float, float]]:
    return sorted((s.y0, s.y1) for s in fig.layout.shapes if s.type == "rect")


def test_heatmap_shape_orientation_hover():
    Z = np.arange(60 * 130, dtype=float).reshape(60, 130)
    fig = F.heatmap(Z, title="t", colorbar_title="power")
    (tr,) = fig.data
    assert isinstance(fig, go.Figure) and tr.type == "heatmap"
    assert np.shape(tr.z) == (60, 130)
    # row 0 at the bottom: y increases upwards, starting at row 0, axis not reversed
    assert list(tr.y[:2]) == [0, 1] and fig.layout.yaxis.autorange != "reversed"
    assert list(fig.layout.yaxis.range) == [-0.5, 59.5]
    assert "row %{y}" in tr.hovertemplate and "frame %{x}" in tr.hovertemplate
    assert fig.layout.height == F.HEATMAP_HEIGHT


def test_heatmap_masked_rows_are_grey_bands():
    fig = F.heatmap(np.ones((60, 130)), title="t", masked_rows=_row_mask())
    assert _bands(fig) == [(-0.5, 4.5), (16.5, 17.5)]
    for s in fig.layout.shapes:
        assert "150, 150, 150" in s.fillcolor and s.layer == "above"
        assert s.xref == "x domain" and (s.x0, s.x1) == (0, 1)
    assert "masked" in fig.layout.title.text


@pytest.mark.parametrize("rows", [[0, 17], np.array([0, 17])])
def test_heatmap_masked_rows_as_indices(rows):
    assert _bands(F.heatmap(np.ones((60, 130)), title="t", masked_rows=rows)) == [(-0.5, 0.5), (16.5, 17.5)]


def test_heatmap_log_floor_and_label():
    Z = np.ones((60, 130))
    Z[0, 0] = 0.0
    Z[1, 1] = 1e4
    fig = F.heatmap(Z, title="t", log=True, colorbar_title="power")
    tr = fig.data[0]
    z = np.asarray(tr.z)
    assert "log10" in tr.colorbar.title.text
    assert np.isfinite(z).all() and z.max() == pytest.approx(4.0) and z[0, 0] == pytest.approx(0.0)
    assert np.asarray(tr.customdata)[1, 1] == 1e4  # hover shows the original value
    assert "row %{y}" in tr.hovertemplate


@pytest.mark.parametrize("log", [False, True])
def test_heatmap_nonfinite_cells_are_empty(log):
    Z = np.ones((3, 4))
    Z[0, 0] = np.inf
    Z[1, 1] = np.nan
    z = np.asarray(F.heatmap(Z, title="t", log=log).data[0].z, dtype=float)
    assert np.isnan(z[0, 0]) and np.isnan(z[1, 1]) and np.isfinite(z[2]).all()


def test_class_mean_heatmaps_log_shares_one_floor():
    from types import SimpleNamespace

    means = np.ones((2, 3, 4))
    means[0, 0, 0] = 1e-6
    means[:, 2, :] = 0.0  # zeros in both classes
    fig = F.class_mean_heatmaps(SimpleNamespace(class_mean=means, classes=("a", "b")), log=True)
    z = [np.asarray(t.z) for t in fig.data]
    assert z[0][2, 0] == z[1][2, 0] == pytest.approx(-6.0)


@pytest.mark.parametrize("bad, err", [(np.ones(5), ShapeError), (np.ones((2, 3, 4)), ShapeError),
                                      (np.array([["a"]]), ShapeError)])
def test_heatmap_rejects_bad_input(bad, err):
    with pytest.raises(err):
        F.heatmap(bad, title="t")


def test_heatmap_rejects_bad_masked_rows():
    with pytest.raises(ShapeError, match="masked_rows"):
        F.heatmap(np.ones((4, 3)), title="t", masked_rows=np.ones(5, dtype=bool))
    with pytest.raises(ParameterError, match="rows are 0..3"):
        F.heatmap(np.ones((4, 3)), title="t", masked_rows=[7])


@pytest.mark.parametrize("which", ["mean", "std", "snr", "median", "iqr", "mad", "fisher", "noise_gain",
                                   "zero_fraction", "min", "max"])
@pytest.mark.parametrize("log", [False, True])
def test_stat_heatmap_every_statistic(stats, which, log):
    fig = F.stat_heatmap(stats, which, log=log, masked_rows=_row_mask())
    tr = fig.data[0]
    assert tr.type == "heatmap" and np.shape(tr.z) == (60, 130)
    assert fig.layout.title.text.startswith(F.STAT_LABELS[which][0])
    assert len(_bands(fig)) == 2


def test_stat_heatmap_snr_diverging_when_negative():
    from types import SimpleNamespace

    fig = F.stat_heatmap(SimpleNamespace(snr=np.array([[-1.0, 2.0], [0.5, 1.0]])), "snr")
    assert fig.data[0].zmid == 0.0
    fig = F.stat_heatmap(SimpleNamespace(snr=np.array([[1.0, 2.0], [0.5, 1.0]])), "snr")
    assert fig.data[0].zmid is None


def test_stat_heatmap_errors(stats):
    with pytest.raises(ParameterError, match="per-pixel"):
        F.stat_heatmap(stats, "row_snr")
    unlabelled = compute_stats(np.ones((3, 4, 5)), quantiles="none")
    with pytest.raises(ParameterError, match="labelled"):
        F.stat_heatmap(unlabelled, "fisher")
    with pytest.raises(ParameterError, match="quantiles"):
        F.stat_heatmap(unlabelled, "median")


def test_class_mean_heatmaps_shared_scale(stats):
    fig = F.class_mean_heatmaps(stats, max_classes=3)
    assert [t.type for t in fig.data] == ["heatmap"] * 3
    assert {t.coloraxis for t in fig.data} == {"coloraxis"}
    assert fig.layout.coloraxis.cmin <= fig.layout.coloraxis.cmax
    assert "first 3 of 4" in fig.layout.title.text
    assert all(np.shape(t.z) == (60, 130) for t in fig.data)
    assert "row %{y}" in fig.data[0].hovertemplate
    log = F.class_mean_heatmaps(stats, log=True)
    assert len(log.data) == 4 and "log10" in log.layout.coloraxis.colorbar.title.text


def test_class_mean_heatmaps_escapes_labels():
    from types import SimpleNamespace

    st = SimpleNamespace(class_mean=np.ones((1, 2, 2)), classes=("<img src=x>",))
    fig = F.class_mean_heatmaps(st)
    assert "<img" not in fig.layout.annotations[0].text and "&lt;img" in fig.layout.annotations[0].text


def test_class_mean_heatmaps_needs_labels():
    with pytest.raises(ParameterError, match="labelled"):
        F.class_mean_heatmaps(compute_stats(np.ones((3, 4, 5)), quantiles="none"))


# -- payload: what the browser receives ----------------------------------------------------------
def _json_bytes(fig: go.Figure) -> int:
    """Bytes of the figure's JSON as Streamlit sends it (``plotly.io.to_json``)."""
    import plotly.io as pio

    return len(pio.to_json(fig, validate=False).encode())


@pytest.mark.parametrize("log, bound", [(False, 64_000), (True, 120_000)])
def test_stat_heatmap_payload_is_float32_typed_arrays(stats, log, bound):
    """A 60 x 130 map travels as float32 base64 (42 kB), not float64 (83 kB) or JSON numbers."""
    fig = F.stat_heatmap(stats, "mean", log=log)
    arrays = [fig.data[0].z] + ([fig.data[0].customdata] if log else [])
    assert [np.asarray(a).dtype for a in arrays] == [np.float32] * len(arrays)
    assert _json_bytes(fig) < bound  # float64 maps: 97 kB linear, 185 kB log


def test_class_mean_heatmaps_send_the_raw_means_only_with_a_log_scale(stats):
    linear = F.class_mean_heatmaps(stats, max_classes=4)
    assert all(t.customdata is None and "%{z:.4g}" in t.hovertemplate for t in linear.data)
    assert _json_bytes(linear) < 4 * 60_000
    log = F.class_mean_heatmaps(stats, max_classes=4, log=True)
    assert all(np.asarray(t.customdata).dtype == np.float32 for t in log.data)
    assert "%{customdata:.4g}" in log.data[0].hovertemplate


def test_wire_values_keep_nan_and_clip_to_float32():
    fig = F.heatmap(np.array([[1e300, np.nan], [-1e300, 0.5]]), title="t")
    z = np.asarray(fig.data[0].z)
    assert np.isnan(z[0, 1]) and np.isfinite(z[[0, 1, 1], [0, 0, 1]]).all()
    assert z[1, 1] == np.float32(0.5)


@pytest.mark.parametrize("which", ["row_snr", "row_mean_snr", "row_fisher", "row_mean", "row_std"])
def test_row_profile_horizontal_bars(stats, which):
    fig = F.row_profile(stats, which=which)
    (tr,) = fig.data
    assert tr.type == "bar" and tr.orientation == "h"
    assert list(tr.y) == list(range(60)) and list(fig.layout.yaxis.range) == [-0.5, 59.5]


def test_row_profile_masked_grey_and_threshold(stats):
    fig = F.row_profile(stats, masked_rows=_row_mask(), threshold=0.5)
    by = {t.name: t for t in fig.data}
    assert [int(r) for r in by["masked"].y] == [0, 1, 2, 3, 4, 17]
    assert by["masked"].marker.color == F.MASKED_BAR_COLOR
    assert 5 in [int(r) for r in by["below threshold"].y]  # the silent row has SNR 0
    assert not set(by["masked"].y) & set(by["rows"].y)
    lines = [s for s in fig.layout.shapes if s.type == "line"]
    assert len(lines) == 1 and lines[0].x0 == 0.5 and lines[0].line.dash == "dash"


def test_row_profile_rejects_pixel_stat(stats):
    with pytest.raises(ParameterError):
        F.row_profile(stats, which="snr")


def test_subsample_values_bounded_and_reproducible():
    big = np.zeros((3000, 60, 130), dtype=np.float32)
    a = subsample_values(big, max_values=1000, rng_seed=1)
    assert a.shape == (1000,)
    big[:] = np.arange(130)
    assert np.array_equal(subsample_values(big, max_values=500), subsample_values(big, max_values=500))


@pytest.mark.parametrize("overlay", [True, False])
def test_value_histogram_bounded(overlay):
    rng = np.random.default_rng(0)
    before = rng.gamma(0.5, 2.0, size=(400, 60, 130)).astype(np.float32)  # 3.1M values
    after = (before - before.mean(0)) / before.std(0)
    fig = F.value_histogram({"before": before, "after": after}, bins=50, max_values=10_000, overlay=overlay,
                            log_y=True)
    assert [t.name for t in fig.data] == ["before", "after"]
    for tr in fig.data:
        counts = np.asarray(tr.customdata)[:, 1]
        assert counts.sum() <= 10_000 and len(tr.x) == 51
        assert np.asarray(tr.y)[:-1].sum() == pytest.approx(100.0)
    assert fig.layout.yaxis.type == "log"


def test_value_histogram_log_x_drops_nonpositive():
    fig = F.value_histogram({"v": np.array([-1.0, 0.0, 1.0, 10.0, 100.0])}, log_x=True, bins=4)
    assert fig.layout.xaxis.type == "log" and "40.0% of values <= 0" in fig.layout.xaxis.title.text
    assert np.asarray(fig.data[0].customdata)[:, 1].sum() == 3


def test_value_histogram_errors():
    with pytest.raises(ParameterError):
        F.value_histogram({})
    with pytest.raises(ParameterError):
        F.value_histogram({"a": np.ones(3)}, bins=0)


def test_clip_heatmap():
    fig = F.clip_heatmap(np.random.default_rng(0).random((60, 130)), title="c", log=True)
    assert fig.data[0].type == "heatmap" and np.shape(fig.data[0].z) == (60, 130)


def test_gain_and_snr_side_by_side(stats):
    fig = F.gain_and_snr(stats.noise_gain, stats.snr, title="standard", masked_rows=_row_mask())
    g, s = fig.data
    assert (g.type, s.type) == ("heatmap", "heatmap")
    assert (g.xaxis, s.xaxis) == ("x", "x2")
    assert "log10" in g.colorbar.title.text and "log10" not in s.colorbar.title.text
    assert np.asarray(g.customdata)[0, 0] == pytest.approx(stats.noise_gain[0, 0])
    assert all("row %{y}" in t.hovertemplate for t in fig.data)
    const = np.zeros((60, 130), dtype=bool)
    const[:, 120:] = True
    blank = F.gain_and_snr(stats.noise_gain, stats.snr, title="t", constant=const)
    gz = np.asarray(blank.data[0].z, dtype=float)
    assert np.isnan(gz[:, 120:]).all() and np.isfinite(gz[:, :120]).all()
    assert blank.data[0].hoverongaps is False and "constant pixels" in blank.layout.title.text
    assert np.isfinite(np.asarray(blank.data[1].z, dtype=float)).all()  # the SNR panel is untouched
    with pytest.raises(ShapeError, match="constant"):
        F.gain_and_snr(stats.noise_gain, stats.snr, title="t", constant=const[:5])
    refs = {s.yref for s in fig.layout.shapes}
    assert refs == {"y", "y2"} and len(fig.layout.shapes) == 4
    with pytest.raises(ShapeError, match="must match"):
        F.gain_and_snr(np.ones((2, 3)), np.ones((3, 2)), title="x")


def test_figure_html_fragment_and_full():
    fig = F.heatmap(np.ones((2, 2)), title="t")
    frag = F.figure_html(fig)
    full = F.figure_html(fig, full=True)
    assert "<html>" not in frag and "Plotly.newPlot" in frag and len(frag) < 100_000
    assert "<html>" in full and len(full) > 1_000_000  # plotly.js inlined
    assert 'src="http' not in full


def test_figure_png_without_browser_returns_none():
    assert F.figure_png(F.heatmap(np.ones((2, 2)), title="t"), browser_path="/nonexistent/chrome") is None


@pytest.mark.browser
def test_figure_png_renders_with_chromium():
    """kaleido is a requirement: with a Chromium on the machine, "Render PNG" must work."""
    why = F.png_unavailable()
    if why is not None and "Chromium" in why:
        pytest.skip("no Chromium")
    assert why is None, why
    png = F.figure_png(F.heatmap(np.ones((4, 5)), title="t"), scale=1)
    assert png is not None and png[:8] == b"\x89PNG\r\n\x1a\n"


def test_png_unavailable_names_what_is_missing(monkeypatch):
    import builtins

    assert "Chromium" in F.png_unavailable("/nonexistent/chrome")
    real = builtins.__import__

    def no_kaleido(name, *args, **kwargs):
        if name == "kaleido":
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_kaleido)
    assert "kaleido" in F.png_unavailable()


def test_long_clip_titles_are_wrapped_not_cut():
    name = "speaker_07/session_2019_11_03/utterance_000042_take3_closemic.wav"
    fig = F.clip_heatmap(np.ones((4, 5)), title=f"Clip 3 before scaling: {name}")
    lines = fig.layout.title.text.split("<br>")
    assert len(lines) >= 2 and all(len(line) <= F.TITLE_WIDTH for line in lines)
    assert "".join(lines).replace(" ", "") == f"Clip3beforescaling:{name}"
    assert fig.layout.margin.t > 40


def test_the_raw_data_label_sits_right_of_the_bars():
    from sndiag.experiment import ConfigResult, ExperimentResult

    configs = [ConfigResult(n, "none", "ridge", [a, a], a, a - 0.1, a + 0.1, None, 1.0,
                            n_train=[10, 10], n_test=[5, 5])
               for n, a in (("none", 0.4), ("standard", 0.5), ("db+band", 0.7))]
    res = ExperimentResult({}, "ridge", 2, "StratifiedKFold", configs, [10, 10], [5, 5])
    fig = F.experiment_bars(res)
    label = next(a for a in fig.layout.annotations if a.text == "raw data")
    assert label.x >= 1 and label.xanchor == "left"   # in the right margin, never over a bar


def test_drift_and_distribution_figures():
    from types import SimpleNamespace

    fig = F.drift_heatmap(np.abs(np.random.default_rng(0).normal(size=(4, 5))), kind="group",
                          what="3 speakers", masked_rows=[0])
    assert "Group drift: 3 speakers" in fig.layout.title.text
    with pytest.raises(ParameterError):
        F.drift_heatmap(np.ones((2, 2)), kind="nope")
    d = SimpleNamespace(skew_before=np.array([5.0, np.nan]), skew_after=np.zeros(2),
                        kurtosis_before=np.array([900.0, 1.0]), kurtosis_after=np.zeros(2),
                        beyond3=0.012, corr_before=np.eye(2), corr_after=np.eye(2), n_clips=7)
    fig = F.distribution_checks(d, title="t")
    assert "1.20% of values beyond ±3" in fig.layout.title.text
    assert fig.data[2].customdata[0] == 900.0          # hover shows the value, not its log


def test_package_never_imports_streamlit():
    import sys

    import sndiag.effects  # noqa: F401
    import sndiag.figures  # noqa: F401
    import sndiag.report  # noqa: F401

    for name in ("sndiag.figures", "sndiag.effects", "sndiag.report"):
        src = open(sys.modules[name].__file__).read()
        assert "import streamlit" not in src and "from streamlit" not in src
