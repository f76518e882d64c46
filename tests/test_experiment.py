"""Tests of sndiag.experiment: splits, fold hygiene, statistics, JSON, verdict wording, cancel."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from typing import Any, ClassVar

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats as sps
from sklearn.base import BaseEstimator, TransformerMixin

from sndiag.dataset import Dataset
from sndiag.errors import DataError, ParameterError
from sndiag.experiment import (
    ConfigResult,
    ExperimentResult,
    corrected_ci,
    corrected_ttest,
    format_table,
    plan_splits,
    recommend,
    run_experiment,
    verdict,
)

SHAPE = (6, 8)


def make_ds(*, n_per_class: int = 20, n_classes: int = 3, n_groups: int | None = None,
            signal: float = 1.5, seed: int = 0) -> Dataset:
    """Power-like (gamma) images; class information in rows 2-3, rows 0-1 loud bursty noise."""
    rng = np.random.default_rng(seed)
    n = n_per_class * n_classes
    y = np.repeat(np.arange(n_classes), n_per_class)
    X = rng.gamma(2.0, 1.0, size=(n, *SHAPE))
    X[:, 2:4, :] += signal * y[:, None, None]
    X[:, 0:2, :] *= rng.gamma(0.2, 20.0, size=(n, 2, SHAPE[1]))
    groups = None if n_groups is None else np.tile(np.arange(n_groups), n // n_groups + 1)[:n]
    return Dataset(X.astype(np.float32), y=[f"c{v}" for v in y],
                   groups=None if groups is None else [f"g{g}" for g in groups])


class SpyScaler(TransformerMixin, BaseEstimator):
    """Identity transformer that records which clips (pixel 0 holds the clip index) it saw."""

    fits: ClassVar[list[frozenset[int]]] = []

    def fit(self, X: np.ndarray, y: Any = None) -> SpyScaler:
        type(self).fits.append(frozenset(np.asarray(X)[:, 0].astype(int).tolist()))
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X)


class IdentityScaler(TransformerMixin, BaseEstimator):
    def fit(self, X: np.ndarray, y: Any = None) -> IdentityScaler:
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X)


# -- splits -----------------------------------------------------------------------------------
def test_plan_splits_groups_use_group_kfold_and_never_share_a_group() -> None:
    ds = make_ds(n_groups=6)
    plan = plan_splits(ds.y, groups=ds.groups, folds=3, random_state=0)
    assert plan.grouped and "GroupKFold" in plan.splitter
    assert plan.n_folds == 3
    seen_test: list[int] = []
    for tr, te in plan.splits:
        assert not set(ds.groups[tr]) & set(ds.groups[te])
        seen_test += te.tolist()
    assert sorted(seen_test) == list(range(ds.n_clips))


def test_plan_splits_fewer_groups_than_folds_reduces_folds_with_note() -> None:
    ds = make_ds(n_groups=3)
    plan = plan_splits(ds.y, groups=ds.groups, folds=5)
    assert plan.n_folds == 3
    assert any("only 3 groups" in n for n in plan.notes)


def test_plan_splits_without_groups_is_stratified() -> None:
    ds = make_ds()
    plan = plan_splits(ds.y, folds=4, random_state=1)
    assert plan.splitter.startswith("StratifiedKFold") and not plan.grouped
    for _, te in plan.splits:
        assert set(ds.y[te]) == set(ds.y)


@pytest.mark.parametrize("folds", [1, 0, 2.5, True])
def test_plan_splits_bad_folds(folds: Any) -> None:
    with pytest.raises(ParameterError, match="folds"):
        plan_splits(np.repeat(["a", "b"], 10), folds=folds)


def test_run_experiment_auto_groups_are_speaker_independent() -> None:
    ds = make_ds(n_groups=4)
    res = run_experiment(ds, scalers=["none"], folds=4, n_jobs=1)
    assert res.grouped and "GroupKFold" in res.splitter
    off = run_experiment(ds, scalers=["none"], folds=4, n_jobs=1, groups="none")
    assert not off.grouped and off.splitter.startswith("StratifiedKFold")


# -- fold hygiene -----------------------------------------------------------------------------
def test_scalers_are_fitted_on_training_folds_only_and_share_splits() -> None:
    ds = make_ds(n_groups=5)
    X = ds.X.copy()
    X[:, 0, 0] = np.arange(ds.n_clips)  # pixel 0 of the flattened image = clip index
    ds = Dataset(X, y=ds.y, groups=ds.groups)
    SpyScaler.fits = []
    res = run_experiment(ds, scalers=[("spy_a", SpyScaler()), ("spy_b", SpyScaler())],
                         folds=5, n_jobs=1)
    plan = plan_splits(ds.y, groups=ds.groups, folds=5, random_state=0)
    train_sets = [frozenset(tr.tolist()) for tr, _ in plan.splits]
    # screening (a quarter of each training fold), then the final fits on whole training folds
    assert len(SpyScaler.fits) == 2 * 2 * plan.n_folds
    screened, final = SpyScaler.fits[:10], SpyScaler.fits[10:]
    assert final == train_sets * 2
    for fitted, tr in zip(screened, train_sets * 2, strict=True):
        assert fitted < tr  # a proper subset of the same training fold
    for fitted, (_, te) in zip(SpyScaler.fits, plan.splits * 4, strict=True):
        assert not fitted & set(te.tolist())
    assert [c.scaler for c in res.configurations] == ["none", "spy_a", "spy_b"]


def test_masks_run_with_every_scaler_and_baseline_per_mask() -> None:
    res = run_experiment(make_ds(), scalers=["none", "standard"], masks=["none", "p20"],
                         folds=3, n_jobs=1)
    assert [(c.scaler, c.mask) for c in res.configurations] == [
        ("none", "none"), ("standard", "none"), ("none", "p20"), ("standard", "p20")]
    # every p-value is against the raw data (unmasked, unscaled), whatever the mask
    assert res.configurations[0].p_vs_none is None
    assert all(c.p_vs_none is not None for c in res.configurations[1:])


def test_none_is_added_when_missing() -> None:
    res = run_experiment(make_ds(), scalers=["standard"], folds=3, n_jobs=1)
    assert [c.scaler for c in res.configurations] == ["none", "standard"]
    assert any("baseline 'none'" in n for n in res.notes)


# -- statistics -------------------------------------------------------------------------------
def test_corrected_ttest_matches_hand_computation() -> None:
    a = [0.80, 0.85, 0.90, 0.82, 0.88]
    b = [0.75, 0.80, 0.86, 0.80, 0.80]
    # d = [.05, .05, .04, .02, .08], mean .048, sample var .00047, correction 1/5 + 20/80
    t_hand = 0.048 / math.sqrt(0.00047 * (1 / 5 + 20 / 80))
    t, p = corrected_ttest(a, b, n_train=80, n_test=20)
    assert t == pytest.approx(t_hand, rel=1e-9)
    assert t == pytest.approx(3.3005, abs=1e-4)
    assert p == pytest.approx(0.02993, abs=1e-4)  # 2 * (1 - T_4.cdf(3.3005))
    # The correction makes it more conservative than the naive paired t-test.
    assert p > sps.ttest_rel(a, b).pvalue


def test_corrected_ttest_identical_and_degenerate_inputs() -> None:
    a = [0.7, 0.8, 0.75]
    assert corrected_ttest(a, a, n_train=20, n_test=10) == (0.0, 1.0)
    t, p = corrected_ttest([0.8, 0.9, 0.85], [0.7, 0.8, 0.75], n_train=20, n_test=10)
    assert t == math.inf and p == pytest.approx(0.25)  # constant shift: exact sign test 2/2**3
    t, p = corrected_ttest([0.8, math.nan, 0.85], a, n_train=20, n_test=10)
    assert math.isnan(t) and math.isnan(p)


def test_identical_configurations_have_p_one() -> None:
    res = run_experiment(make_ds(), scalers=["none", ("same", IdentityScaler())], folds=3,
                         n_jobs=1)
    none, same = res.configurations
    assert same.fold_accuracies == none.fold_accuracies
    assert same.p_vs_none == 1.0
    assert "not distinguishable" in res.verdict.lower()


def test_ci_contains_mean_and_narrows_with_more_folds() -> None:
    rng = np.random.default_rng(0)
    res = run_experiment(make_ds(), scalers=["none", "standard", "band"], folds=4, n_jobs=1)
    for c in res.configurations:
        assert c.ci_low <= c.mean <= c.ci_high
    base = rng.normal(0.8, 0.05, size=10)
    widths = []
    for k in (3, 5, 10):
        s = base[:k]
        s = (s - s.mean()) / s.std(ddof=1) * 0.05 + 0.8  # same mean and spread for every k
        n = 1000
        lo, hi = corrected_ci(s, n_train=n - n // k, n_test=n // k)
        assert lo <= float(np.mean(s)) <= hi
        widths.append(hi - lo)
    assert widths[0] > widths[1] > widths[2]


def test_corrected_ci_is_wider_than_naive() -> None:
    s = [0.7, 0.75, 0.8, 0.72, 0.78]
    lo, hi = corrected_ci(s, n_train=80, n_test=20)
    naive = sps.t.interval(0.95, 4, loc=np.mean(s), scale=sps.sem(s))
    assert lo < naive[0] and hi > naive[1]


# -- results, JSON ----------------------------------------------------------------------------
CONFIG_KEYS = {"scaler", "mask", "classifier", "fold_accuracies", "mean", "ci_low", "ci_high",
               "p_vs_none", "fit_seconds", "epochs", "notes", "cpu_seconds", "converged",
               "at_chance", "stage", "n_train", "n_test", "screening", "alphas", "same_as",
               "test_correct", "best_epochs"}


def test_json_round_trip_and_schema() -> None:
    res = run_experiment(make_ds(), scalers=["none", "standard"], masks=["none", "snr<0.5"],
                         classifier="mlp", epochs=3, folds=3, n_jobs=1)
    d = json.loads(json.dumps(res.to_dict(), allow_nan=False))
    assert {"dataset", "classifier", "folds", "splitter", "configurations", "best", "verdict",
            "notes", "recommended", "chance", "search"} <= set(d)
    assert d["classifier"] == "mlp" and d["folds"] == 3
    assert d["dataset"]["n_clips"] == 60
    assert d["best"] is None or set(d["best"]) == {"scaler", "mask", "mean"}
    for c in d["configurations"]:
        assert set(c) == CONFIG_KEYS
        assert len(c["fold_accuracies"]) == 3
        assert set(c["epochs"]) == {"val_accuracy", "val_loss", "train_accuracy", "train_loss"}
        assert all(len(v) == 3 for v in c["epochs"].values())
        assert all(0 <= a <= 1 for a in c["epochs"]["val_accuracy"] + c["epochs"]["train_accuracy"])
        assert c["test_correct"] is None and c["best_epochs"] is None
    back = ExperimentResult.from_dict(d)
    assert back.to_dict() == d
    assert back.verdict == res.verdict


def test_logreg_has_no_epoch_curves_and_json_nulls_nan() -> None:
    c = ConfigResult("none", "none", "logreg", [0.5, 0.6], 0.55, math.nan, math.nan, None, 0.1)
    r = ExperimentResult({"n_clips": 4}, "logreg", 2, "s", [c], [2, 2], [2, 2])
    d = r.to_dict()
    assert d["configurations"][0]["ci_low"] is None and d["configurations"][0]["epochs"] is None
    json.dumps(d, allow_nan=False)
    assert math.isnan(ExperimentResult.from_dict(d).configurations[0].ci_low)


@pytest.mark.parametrize("payload", [{}, {"configurations": 3}, {"schema": 99}])
def test_from_dict_rejects_garbage(payload: dict[str, Any]) -> None:
    with pytest.raises(DataError):
        ExperimentResult.from_dict(payload)


def test_format_table_lists_every_configuration() -> None:
    res = run_experiment(make_ds(), scalers=["none", "standard"], folds=3, n_jobs=1)
    text = format_table(res)
    assert text.splitlines()[0].split() == ["configuration", "mean", "acc", "95%", "CI", "p",
                                            "vs", "raw", "notes"]
    assert len(text.splitlines()) == 3


# -- verdict wording --------------------------------------------------------------------------
def _result(accs: dict[str, list[float]], *, n_train: int = 40, n_test: int = 10) -> ExperimentResult:
    k = len(next(iter(accs.values())))
    configs = []
    for name, a in accs.items():
        lo, hi = corrected_ci(a, n_train=n_train, n_test=n_test)
        p = None if name == "none" else corrected_ttest(a, accs["none"], n_train=n_train,
                                                        n_test=n_test)[1]
        configs.append(ConfigResult(name, "none", "logreg", list(a), float(np.mean(a)), lo, hi,
                                    p, 1.0))
    return ExperimentResult({}, "logreg", k, "StratifiedKFold", configs, [n_train] * k,
                            [n_test] * k)


_P_IN = re.compile(r"p (?:= ([0-9.]+)|< 0\.001)")


def _check_claims(text: str) -> None:
    """Every sentence claiming better/worse carries a p-value below 0.05."""
    for sentence in re.split(r"(?<=\.) (?=[A-Z'])", text):
        if "better than" in sentence or "worse than" in sentence:
            ps = [float(m.group(1)) if m.group(1) else 0.0 for m in _P_IN.finditer(sentence)]
            assert ps and min(ps) < 0.05, sentence


def test_verdict_never_says_better_without_evidence() -> None:
    res = _result({"none": [0.60, 0.70, 0.65, 0.72, 0.58],
                   "standard": [0.62, 0.66, 0.70, 0.69, 0.60],
                   "band": [0.66, 0.69, 0.64, 0.74, 0.63]})
    assert all(c.p_vs_none >= 0.05 for c in res.configurations[1:])
    text = verdict(res)
    assert "better" not in text and "worse" not in text
    assert "not distinguishable from the raw data" in text
    assert text.startswith("Use band")


def test_verdict_says_better_and_worse_when_p_is_small() -> None:
    res = _result({"none": [0.70, 0.72, 0.69, 0.71, 0.73],
                   "standard": [0.60, 0.63, 0.58, 0.62, 0.61],
                   "band": [0.80, 0.83, 0.79, 0.82, 0.84]})
    text = verdict(res)
    first = text.split(". ")[0]
    assert first.startswith("Use band (per-band standardization): 81.6% mean accuracy")
    assert "points over the raw data" in first and "better than it" in first
    assert "over the question's per-pixel standardization" in first
    assert re.search(r"scores 60\.8% \(95% CI [0-9.-]+%\): worse than the raw data", text)
    assert "Significantly worse than the raw data (71.0%): standard (60.8%" in text
    _check_claims(text)


acc_lists = st.lists(st.floats(0.3, 1.0), min_size=5, max_size=5)


@given(none=acc_lists, standard=acc_lists, band=acc_lists)
def test_verdict_claims_always_backed_by_p(none: list[float], standard: list[float],
                                           band: list[float]) -> None:
    _check_claims(verdict(_result({"none": none, "standard": standard, "band": band})))


def test_verdict_of_cancelled_empty_result() -> None:
    r = ExperimentResult({}, "logreg", 3, "s", [], [1], [1], cancelled=True)
    assert "Cancelled" in verdict(r) and "nothing to conclude" in verdict(r)


# -- progress and cancel ----------------------------------------------------------------------
def test_progress_reports_every_fit() -> None:
    calls: list[tuple[int, int]] = []
    run_experiment(make_ds(), scalers=["none", "standard"], folds=3, n_jobs=1,
                   progress=lambda d, t: calls.append((d, t)))
    # 2 configurations x 3 folds, screened then finished
    assert calls == [(i, 12) for i in range(13)]


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_cancel_stops_early_and_keeps_complete_configurations(n_jobs: int) -> None:
    done: list[int] = []
    res = run_experiment(make_ds(), scalers=["none", "standard", "band", "global"], folds=3,
                         n_jobs=n_jobs, progress=lambda d, t: done.append(d),
                         cancel=lambda: done[-1] >= 3)
    assert res.cancelled
    assert max(done) < 12
    # In process the order is config-major, so 'none' is complete; workers finish in any order.
    assert (1 if n_jobs == 1 else 0) <= len(res.configurations) < 4
    assert all(len(c.fold_accuracies) == 3 for c in res.configurations)
    assert res.verdict.startswith("Cancelled")
    assert ExperimentResult.from_dict(res.to_dict()).cancelled


# -- errors -----------------------------------------------------------------------------------
def test_unlabelled_data_is_an_error() -> None:
    with pytest.raises(DataError, match="needs labels"):
        run_experiment(Dataset(np.ones((10, 2, 2))), n_jobs=1)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"scalers": ["no_such_scaler"]}, "no_such_scaler"),
    ({"classifier": "svm"}, "classifier='svm'"),
    ({"masks": ["p200"]}, "percentile"),
    ({"epochs": 0, "classifier": "mlp"}, "epochs"),
    ({"n_jobs": 0}, "n_jobs"),
    ({"groups": "speakers"}, "groups"),
    ({"scalers": []}, "no scalers"),
])
def test_bad_parameters(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        run_experiment(make_ds(), **{"folds": 3, "n_jobs": 1, **kwargs})


def test_experiment_never_imports_streamlit() -> None:
    code = "import sys, sndiag.experiment; assert 'streamlit' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# -- convergence and chance: flagged, never recommended ---------------------------------------
def test_a_non_converged_or_chance_configuration_is_flagged_and_never_recommended(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """logreg capped at 2 iterations cannot converge: every configuration says so, none is
    recommended, and the verdict says why."""
    from sndiag.experiment import _fit

    monkeypatch.setattr(_fit, "LOGREG_MAX_ITER", 2)
    res = run_experiment(make_ds(), scalers=["none", "standard"], classifier="logreg", folds=3,
                         n_jobs=1)
    assert all(not c.converged for c in res.configurations)
    assert res.recommended is None and res.best is None
    assert res.verdict.startswith("No configuration can be recommended")
    assert "Never recommended: none (not converged" in res.verdict
    d = res.to_dict()
    assert d["recommended"] is None and all(c["converged"] is False for c in d["configurations"])


def test_recommend_skips_flagged_configurations() -> None:
    def cfg(name: str, accs: list[float], **kw: Any) -> ConfigResult:
        return ConfigResult(name, "none", "ridge", accs, float(np.mean(accs)), min(accs) - 0.1,
                            max(accs) + 0.1, None, 1.0, n_train=[40] * 3, n_test=[10] * 3, **kw)

    res = ExperimentResult({}, "ridge", 3, "s", [
        cfg("none", [0.5, 0.55, 0.6]), cfg("standard", [0.6, 0.62, 0.64]),
        cfg("db", [0.9, 0.92, 0.95], converged=False),
        cfg("band", [0.8, 0.85, 0.9], at_chance=True),
        cfg("log1p", [0.85, 0.9, 0.95], stage="screening")], [40] * 3, [10] * 3, chance=0.1)
    assert res.best is not None and res.best.scaler == "standard"
    res.recommended = recommend(res)
    assert res.recommended["scaler"] == "standard"
    text = verdict(res)
    assert text.startswith("Use standard")
    assert "db (not converged" in text and "band (not above chance" in text


def test_chance_is_the_majority_class_of_each_training_fold() -> None:
    res = run_experiment(make_ds(n_classes=2), scalers=["none"], folds=4, n_jobs=1)
    assert res.chance == pytest.approx(0.5, abs=0.1)


def test_default_folds_are_one_per_group_with_few_groups() -> None:
    res = run_experiment(make_ds(n_groups=4), scalers=["none"], n_jobs=1)
    assert res.folds == 4 and res.splitter == "LeaveOneGroupOut over 4 groups"
    assert any("one fold per group" in n for n in res.notes)
    assert all(len(c.fold_accuracies) == 4 for c in res.configurations)


def test_same_models_are_fitted_once_and_say_so() -> None:
    res = run_experiment(make_ds(), scalers=["none", "global", "median", "db", "db+global"],
                         masks=["none"], folds=3, n_jobs=1)
    none, glob, med = res.get("none"), res.get("global"), res.get("median")
    assert glob.fold_accuracies == none.fold_accuracies == med.fold_accuracies
    assert glob.same_as == "none" and res.get("db+global").same_as == "db"
    assert res.search["fitted"] == 2


def test_compressions_that_do_not_apply_are_left_out_with_a_note() -> None:
    ds = make_ds()
    db = ds.replace(X=10 * np.log10(ds.X + 1e-3))  # already decibels: negative values
    res = run_experiment(db, scalers=["none", "band", "db+band", "log1p"], folds=3, n_jobs=1)
    assert [c.scaler for c in res.configurations] == ["none", "band"]
    assert any("left out every pipeline starting with db" in n for n in res.notes)
    assert any("starting with log1p" in n for n in res.notes)


# -- background job ---------------------------------------------------------------------------
def test_experiment_job_runs_in_background_and_reports_progress() -> None:
    from sndiag.experiment import ExperimentJob

    job = ExperimentJob(make_ds(), scalers=["none", "standard"], folds=3, n_jobs=1).start()
    assert job.wait(timeout=120)
    assert job.error is None and job.result is not None
    assert job.progress() == (12, 12) and job.fraction() == 1.0


def test_experiment_job_cancel_and_errors() -> None:
    from sndiag.experiment import ExperimentJob

    job = ExperimentJob(make_ds(), scalers=["none", "standard", "band"], folds=3, n_jobs=1)
    job.cancel()  # cancelled before the first fit
    job.start()
    assert job.wait(timeout=120)
    assert job.result is not None and job.result.cancelled and not job.result.configurations
    bad = ExperimentJob(make_ds(), scalers=["nope"], n_jobs=1).start()
    assert bad.wait(timeout=120) and bad.result is None and "nope" in (bad.error or "")
    with pytest.raises(ParameterError, match="supplies"):
        ExperimentJob(make_ds(), cancel=lambda: False)


# -- the Streamlit page -----------------------------------------------------------------------
def test_experiment_page_runs_in_background_and_stores_result(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Smoke test of pages/experiment.py through app.py: run, poll, verdict, stored result."""
    import time
    from pathlib import Path

    pytest.importorskip("streamlit")
    from streamlit.testing.v1 import AppTest

    app = str(Path(__file__).resolve().parents[1] / "app.py")
    monkeypatch.setenv("SNDIAG_STORE", str(tmp_path))
    at = AppTest.from_file(app, default_timeout=120)
    at.run()
    at.switch_page("pages/experiment.py").run()
    assert not at.exception, [e.value for e in at.exception]
    at.radio(key="w_exp_search").set_value("chosen").run()
    at.multiselect(key="w_exp_scalers").set_value(["standard"])
    at.selectbox(key="w_exp_folds").set_value(2)
    at.button(key="exp_run").click().run()
    for _ in range(120):
        if "exp_job" not in at.session_state:
            break
        time.sleep(0.5)
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = [m.value for m in (*at.success, *at.warning)]
    assert any(v.startswith("Use ") for v in shown), shown
    assert at.get("plotly_chart")
    fresh = AppTest.from_file(app, default_timeout=120)  # a new session sees the stored result
    fresh.run()
    fresh.switch_page("pages/experiment.py").run()
    assert any(m.value.startswith("Use ") for m in (*fresh.success, *fresh.warning))


def test_public_api_is_sorted_and_importable() -> None:
    import sndiag.experiment as experiment

    assert experiment.__all__ == sorted(experiment.__all__)
    for name in experiment.__all__:
        assert getattr(experiment, name) is not None


# -- FSDD (real recordings; the full default grid is benchmarks/compare_speed.py) -----------------
@pytest.mark.fsdd
@pytest.mark.slow
def test_fsdd_default_search_recommends_compress_then_scale(fsdd_dir: Any) -> None:
    """The issue's acceptance on real audio: the default search on FSDD (default extraction,
    one fold per speaker) recommends a compression (then scaling) at least 10 points above the
    raw data; per-pixel standardization is not significantly better than raw; every finished
    configuration converged."""
    from sndiag.io import from_folder

    ds = from_folder(fsdd_dir, label_regex=r"(?P<label>\d)_(?P<group>[a-z]+)_\d+\.wav", n_jobs=2)
    res = run_experiment(ds, n_jobs=2)
    print(format_table(res), res.verdict, sep="\n")
    assert res.splitter == "LeaveOneGroupOut over 6 groups" and res.folds == 6
    rec = res.recommended
    assert rec is not None and rec["scaler"].split("+")[0] in ("db", "log1p", "pcen")
    assert rec["vs_raw"]["diff"] >= 0.10
    standard, raw = res.get("standard"), res.get("none")
    diff, p = res.compare(standard, raw)
    assert not (diff > 0 and p < 0.05)
    assert all(c.converged for c in res.configurations)
    assert res.verdict.startswith(f"Use {rec['scaler'].split('+')[0]}")


# -- figures ----------------------------------------------------------------------------------
def test_experiment_figures_from_result_and_stored_dict() -> None:
    from sndiag.figures import experiment_bars, experiment_curves

    res = run_experiment(make_ds(), scalers=["none", "standard", ("<b>mine</b>", IdentityScaler())],
                         classifier="mlp", epochs=2, folds=3, n_jobs=1)
    for source in (res, res.to_dict()):
        bars = experiment_bars(source)
        ordered = sorted(res.configurations, key=lambda c: (c.stage != "final", -c.mean))
        assert list(bars.data[0].y) == pytest.approx([100 * c.mean for c in ordered])
        assert len(bars.data[1].y) == 3 * len(res.configurations)  # one dot per fold
        assert "&lt;b&gt;mine&lt;/b&gt;" in list(bars.data[0].x)   # user labels are escaped
        curves = experiment_curves(source)
        # validation accuracy, training accuracy, training cost and the dotted validation loss;
        # the MLP records no minibatches, and the panel says so
        assert len(curves.data) == 4 * len(res.configurations)
        assert curves.data[0].name == "original (none)" and len(curves.data[0].y) == 2
        assert any("records no minibatches" in a.text for a in curves.layout.annotations)
    logreg = run_experiment(make_ds(), scalers=["none"], folds=2, n_jobs=1)
    assert "No per-epoch curves" in experiment_curves(logreg).layout.title.text


# -- the mask and the data's time base reach the experiment ------------------------------------
def test_rows_by_hand_and_auto_flags_reach_the_experiment() -> None:
    """The Mask page's whole spec goes in: masking the class rows by hand brings accuracy to
    chance, and the result names the mask."""
    from sndiag.masks import MaskSpec

    ds = make_ds(n_per_class=30, signal=3.0)
    X = ds.X.copy()
    X[:, 5] = 0.0  # an empty band: auto-flagged
    ds = ds.replace(X=X)
    spec = MaskSpec(rows=(2, 3), auto=True)
    res = run_experiment(ds, scalers=["standard"], masks=["none", spec], folds=3, n_jobs=1)
    plain, masked = res.get("standard"), res.get("standard", spec.spec)
    assert masked is not None and masked.mask == "rows:2-3+auto"
    assert plain.mean > 0.6 and masked.mean < 0.4 and masked.at_chance
    assert "rows:2-3+auto" in json.dumps(res.to_dict())


def test_pcen_takes_the_sample_rate_and_hop_of_the_data(monkeypatch: pytest.MonkeyPatch) -> None:
    """A dataset extracted at 8 kHz with hop 64: PCEN's smoother runs on that time base in the
    experiment, the effects and the export (not librosa's 22050 Hz / 512 defaults)."""
    import io as _io

    import soundfile as sf

    from sndiag.config import SpectrogramConfig
    from sndiag.effects import evaluate_scaler
    from sndiag.export import fit_export
    from sndiag.io import from_files
    from sndiag.scalers import PcenCompressor

    rng = np.random.default_rng(0)

    def wav(label: int) -> bytes:
        buf = _io.BytesIO()
        t = np.arange(4000) / 8000
        sf.write(buf, np.sin(2 * np.pi * (300 + 700 * label) * t) + 0.1 * rng.normal(size=t.size),
                 8000, format="WAV")
        return buf.getvalue()

    files = [(f"{c}/{i}.wav", wav(c)) for c in (0, 1) for i in range(6)]
    cfg = SpectrogramConfig(sr=8000, hop_length=64, n_fft=256, n_mels=20, n_frames=40)
    ds = from_files(files, config=cfg)
    assert (ds.config.sr, ds.config.hop_length) == (8000, 64)
    seen: list[tuple[float, int]] = []
    real = PcenCompressor._forward

    def spy(self, X3):
        seen.append((float(self.sr), int(self.hop_length)))
        return real(self, X3)

    monkeypatch.setattr(PcenCompressor, "_forward", spy)
    run_experiment(ds, scalers=["pcen"], folds=2, n_jobs=1)
    eff = evaluate_scaler("pcen", ds.X, config=ds.config)
    ex = fit_export(ds, scaler="pcen+band")
    assert seen and set(seen) == {(8000.0, 64)}
    assert (eff.scaler.sr, eff.scaler.hop_length) == (8000, 64)
    assert ex.compress[0][1]["sr"] == 8000 and ex.compress[0][1]["hop_length"] == 64


# -- stratified vs group folds ----------------------------------------------------------------
def test_grouped_ridge_runs_record_a_stratified_cross_check():
    ds = make_ds(n_per_class=24, n_groups=4)
    res = run_experiment(ds, scalers=["none", "standard"], masks=["none"], n_jobs=1)
    check = res.search["stratified"]
    assert set(check["accuracy"]) >= {"none", "standard"}
    assert check["folds"] >= 2 and check["n_clips"] <= ds.n_clips
    assert json.loads(json.dumps(res.to_dict()))["search"]["stratified"] == check


def test_the_verdict_points_to_the_group_drift_map_when_the_folds_disagree():
    res = _result({"none": [0.60, 0.62, 0.58], "standard": [0.50, 0.52, 0.48]})
    res.grouped = True
    # with the groups mixed, per-pixel standardization wins by 9 points; on new groups it loses 10
    res.search = {"stratified": {"n_clips": 300, "folds": 5,
                                 "accuracy": {"none": 0.71, "standard": 0.80}}}
    text = verdict(res)
    assert "On stratified folds" in text and "+9.0 points" in text
    assert "group drift map" in text
    res.search["stratified"]["accuracy"] = {"none": 0.62, "standard": 0.52}  # the same story
    assert "On stratified folds" not in verdict(res)
    res.search["stratified"]["accuracy"] = {"none": 0.80, "standard": 0.70}  # but far easier
    assert "points more than on groups it has not seen" in verdict(res)


def test_masks_are_screened_on_the_best_unmasked_pipelines_only():
    ds = make_ds(n_per_class=16, n_groups=4)
    X = ds.X.copy()
    X[:, -1] = 0.0                                    # an empty band: the auto mask flags it
    ds = Dataset(X, y=ds.y, groups=ds.groups)
    res = run_experiment(ds, masks=["none", "auto"], n_jobs=1)
    masked = [c for c in res.configurations if c.mask != "none"]
    unmasked = [c for c in res.configurations if c.mask == "none"]
    assert masked and len(masked) < len(unmasked)
    assert {"none", "standard"} <= {c.scaler for c in masked}
    assert any("masked variants of the others were not fitted" in n for n in res.notes)
    assert res.search["fitted"] < res.search["candidates"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_drop_constant_keeps_the_features_variance_threshold_keeps(dtype) -> None:
    """The fold's constant-feature filter selects exactly what ``VarianceThreshold(0.0)`` does,
    for spreads down to subnormal values, huge values, and columns with NaNs."""
    import warnings

    from sklearn.feature_selection import VarianceThreshold

    from sndiag.experiment._fit import _DropConstant

    rng = np.random.default_rng(0)
    tiny = np.finfo(np.float32).smallest_subnormal
    X = rng.gamma(0.5, 1.0, size=(40, 12)).astype(dtype)
    X[:, 1] = 3.0                                   # constant
    X[:, 2] = 0.0                                   # silent
    X[:, 3] = 0.0
    X[7, 3] = tiny                                  # one subnormal value: varies
    X[:, 4] = np.float32(3e38)                      # huge constant
    X[:5, 5] = np.float32(-3e38)                    # huge spread
    X[:, 6] = np.nan                                # all NaN
    X[::3, 7] = np.nan                              # NaNs among varying values
    X[:, 8] = 2.0
    X[::2, 8] = np.nan                              # NaNs among one constant value
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = VarianceThreshold(0.0).fit(X).get_support()
    step = _DropConstant().fit(X)
    assert np.array_equal(step.get_support(), expected)
    assert expected.tolist()[:9] == [True, False, False, True, False, True, False, True, False]
    assert step.transform(X).shape == (40, int(expected.sum())) and not step.all_constant_
