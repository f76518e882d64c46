"""HTML report: sections, escaping of user text, self-containment, graceful experiment dicts."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import numpy as np
import pytest

import sndiag
from sndiag.dataset import Dataset, Skipped
from sndiag.effects import ScalerEffect
from sndiag.errors import ParameterError
from sndiag.masks import manual_mask
from sndiag.report import build_report
from sndiag.stats import compute_stats

EVIL = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.gamma(2.0, 1.0, size=(24, 60, 130)).astype(np.float32)
    X[:, :5] *= 1e-3
    y = np.repeat(["a", EVIL], 12)
    names = [f"clip{i}.wav" for i in range(24)]
    names[0] = f"{EVIL}.wav"
    ds = Dataset(X, y=y, names=names, provenance={"name": EVIL, "source": EVIL},
                 skipped=(Skipped(f"{EVIL}.mp3", "not audio"),))
    return ds, compute_stats(X, y=y)


def _effect(stats, name="standard", reading="rows 0-4 (SNR < 0.3): noise amplified x12"):
    return ScalerEffect(
        name=name, title="Per-pixel standardization", description="(X - mean) / std per pixel",
        scaler=None, example_before=np.zeros((60, 130)), example_after=np.zeros((60, 130)),
        mean_after=np.zeros((60, 130)), std_after=np.ones((60, 130)), gain=np.asarray(stats.noise_gain),
        hist_before=np.zeros(10), hist_after=np.zeros(10), reading=reading,
        worst_rows=[(0, 1000.0), (1, 900.0)], finite=True,
    )


def _experiment():
    return {
        "classifier": "logreg", "folds": 5, "splitter": "StratifiedKFold",
        "configurations": [
            {"scaler": "none", "mask": "none", "classifier": "logreg", "mean": 0.8, "ci_low": 0.75,
             "ci_high": 0.85, "p_vs_none": None},
            {"scaler": "standard", "mask": "none", "classifier": "logreg", "mean": 0.7, "ci_low": 0.65,
             "ci_high": 0.75, "p_vs_none": 0.01},
            {"scaler": EVIL},  # missing keys
        ],
        "verdict": f"standard hurts {EVIL}",
        "notes": [EVIL],
    }


def _script_srcs(page: str) -> list[str]:
    return re.findall(r"<script[^>]*\bsrc\s*=\s*[\"']?([^\"' >]+)", page, flags=re.I)


def test_report_sections_and_footer(data):
    ds, st = data
    mask = manual_mask(st.shape, rows=[0, 1, 2, 3, 4])
    when = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    page = build_report(dataset=ds, stats=st, mask=mask, effects=[_effect(st)], experiment=_experiment(),
                        title="My report", created=when)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    for sid in ("dataset", "statistics", "mask", "scalers", "experiment"):
        assert f'<section id="{sid}">' in page
    assert "rows 0-4" in page and "Variance removed" in page
    assert "noise amplified x12" in page and "SNR &lt; 0.3" in page
    assert "80.0%" in page and "75.0% &ndash; 85.0%" in page and "baseline" in page and "0.01" in page
    assert f"sndiag {sndiag.__version__}" in page and "2025-01-02T03:04:05+00:00" in page
    # figures: clip, mean, std, snr, row profile, one gain-vs-SNR
    assert page.count("Plotly.newPlot") == 6


def test_report_escapes_user_text(data):
    ds, st = data
    page = build_report(dataset=ds, stats=st, effects=[_effect(st, name=EVIL, reading=EVIL)],
                        experiment=_experiment(), title=EVIL)
    assert EVIL not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Example clip: &lt;script&gt;alert(1)&lt;" in page  # clip name, inside the figure's JSON
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.mp3" in page  # skipped clips


def test_report_is_self_contained(data):
    ds, st = data
    page = build_report(dataset=ds, stats=st, effects=[_effect(st)])
    assert _script_srcs(page) == []
    assert not re.search(r"<link[^>]+href=[\"']?https?:", page, flags=re.I)
    assert page.count("* plotly.js v") == 1  # the library is inlined exactly once


def test_report_marks_synthetic(data):
    ds, st = data
    real = build_report(dataset=ds, stats=st)
    synth = build_report(dataset=Dataset(ds.X, y=ds.y, provenance={"name": "demo", "synthetic": True}),
                         stats=st)
    assert "SYNTHETIC" not in real
    assert "SYNTHETIC DATA" in synth and "<title>sndiag report (SYNTHETIC)</title>" in synth


def test_report_without_optional_parts(data):
    ds, st = data
    page = build_report(dataset=ds, stats=st)
    assert "No mask" in page and "No scaler was evaluated" in page
    assert '<section id="experiment">' not in page


@pytest.mark.parametrize("experiment", [{}, {"configurations": []}, {"verdict": "only a verdict"},
                                        {"configurations": [{"mean": "n/a", "ci_low": None}, "junk"]}])
def test_report_experiment_missing_keys(data, experiment):
    ds, st = data
    page = build_report(dataset=ds, stats=st, experiment=experiment)
    assert '<section id="experiment">' in page


def test_report_accepts_experiment_result(data):
    from sndiag.experiment import ConfigResult, ExperimentResult

    ds, st = data
    c = ConfigResult("none", "none", "logreg", [0.5, 0.7], 0.6, 0.4, 0.8, None, 1.0)
    r = ExperimentResult({}, "logreg", 2, "StratifiedKFold", [c], [10, 10], [10, 10], verdict="fine")
    for exp in (r, r.to_dict()):
        page = build_report(dataset=ds, stats=st, experiment=exp)
        assert "60.0%" in page and "fine" in page


def test_report_rejects_mismatched_stats(data):
    ds, _ = data
    with pytest.raises(ParameterError, match="compute them from this dataset"):
        build_report(dataset=ds, stats=compute_stats(np.ones((3, 4, 5))))


def test_report_draws_the_question_curves_of_a_cnn_result(data):
    from sndiag.experiment import ConfigResult, ExperimentResult

    ds, st = data
    curves = {"val_accuracy": [0.4, 0.6], "val_loss": [1.2, 0.9], "train_accuracy": [0.5, 0.7],
              "train_loss": [1.1, 0.8], "batch_accuracy": [0.4, 0.6, 0.6, 0.8]}
    configs = [ConfigResult(s, "none", "cnn", [0.6], 0.6, 0.4, 0.8, None, 1.0, epochs=curves,
                            test_correct=[1, 0, 1]) for s in ("none", "standard")]
    r = ExperimentResult({}, "cnn", 1, "one split", configs, [10], [3], device="cpu (2 threads)")
    page = build_report(dataset=ds, stats=st, experiment=r)
    assert "normalized (purple) against original" in page
    for title in ("validation accuracy per epoch", "training accuracy per minibatch",
                  "training cost per epoch"):
        assert title in page
    assert "cpu (2 threads)" in page
    plain = build_report(dataset=ds, stats=st, experiment=_experiment())  # no curves: none drawn
    assert "training accuracy per minibatch" not in plain
