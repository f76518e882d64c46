"""Tests of sndiag.demo: determinism, the question's value ranges, and the effect it demonstrates."""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest
from scipy.stats import f_oneway
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from sndiag.demo import make_demo
from sndiag.errors import ParameterError
from sndiag.scalers import make_scaler


@pytest.fixture(scope="module")
def demo():
    return make_demo()


def _cv_accuracy(ds, names: list[str]) -> dict[str, float]:
    X = ds.X.reshape(ds.n_clips, -1)
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    out = {}
    # one BLAS thread: on few cores, threaded BLAS on these small problems is many times slower
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore")
        for name in names:
            pipe = Pipeline([("scale", make_scaler(name, shape=ds.shape)),
                             ("clf", LogisticRegression(max_iter=100, tol=1e-3))])
            out[name] = float(cross_val_score(pipe, X, ds.y, cv=cv).mean())
    return out


def test_demo_is_deterministic(demo) -> None:
    again = make_demo()
    assert again.content_hash == demo.content_hash
    assert make_demo(seed=1).content_hash != demo.content_hash


def test_demo_is_fast() -> None:
    times = []
    for _ in range(2):  # best of two: a busy machine should not fail the test
        t0 = time.perf_counter()
        make_demo(seed=3)
        times.append(time.perf_counter() - t0)
    assert min(times) < 1.0


def test_demo_layout_classes_and_groups(demo) -> None:
    assert demo.X.shape == (600, 60, 130) and demo.X.dtype == np.float32
    assert demo.class_counts == {f"class_{c}": 150 for c in "abcd"}
    assert sorted(np.unique(demo.groups)) == [f"speaker_{i}" for i in range(1, 7)]
    for label in demo.classes:  # every speaker speaks every class (group-wise CV works)
        assert np.unique(demo.groups[demo.y == label]).size == 6
    assert len(set(demo.names)) == demo.n_clips
    small = make_demo(n_classes=3, n_per_class=7, shape=(10, 16), seed=2)
    assert small.X.shape == (21, 10, 16) and list(small.classes) == ["class_a", "class_b", "class_c"]


def test_demo_provenance_marks_synthetic(demo) -> None:
    prov = demo.provenance
    assert prov["source"] == "sndiag demo (synthetic)"
    assert prov["name"] == "Demo (synthetic)" and prov["kind"] == "demo"
    assert prov["synthetic"] is True and demo.is_synthetic
    gen = prov["generator"]
    assert gen["seed"] == 0 and gen["shape"] == [60, 130] and gen["n_classes"] == 4
    assert gen["rows"] == {"rumble": [0, 4], "voice": [4, 38], "hiss": [38, 60]}


def test_demo_matches_the_question_value_ranges(demo) -> None:
    X = demo.X.astype(np.float64)
    mean, std = X.mean(0), X.std(0)
    assert X.min() >= 0 and 500 < X.max() < 5000             # question: 0..1954
    assert 3e-4 < mean.min() < 0.01 and 3 < mean.max() < 12    # question: 0.0023..6.76
    assert 1e-3 < std.min() < 0.05 and 15 < std.max() < 120    # question: 0.02..39


def test_demo_row_families(demo) -> None:
    X = demo.X.astype(np.float64)
    row_mean = X.mean(axis=(0, 2))
    row_snr = row_mean / X.transpose(1, 0, 2).reshape(60, -1).std(1)
    rumble, voice, hiss = slice(0, 4), slice(4, 38), slice(38, 60)
    assert row_mean[rumble].max() == row_mean.max()            # loud...
    assert row_snr[rumble].max() < 0.7                         # ...with poor SNR
    assert 0.7 < row_snr[voice].min() and row_snr[voice].max() < 1.5
    assert row_mean[hiss].max() < 0.1 and row_snr[hiss].max() < 0.3  # near-silent, poor SNR
    # class information lives in the voice rows only: per-row max of the one-way ANOVA F
    F = f_oneway(*[X[demo.y == c] for c in demo.classes]).statistic.max(axis=1)
    noise = max(F[rumble].max(), F[hiss].max())
    assert noise < 6 and F[voice].max() > 3 * noise and np.median(F[voice]) > noise


@pytest.mark.parametrize(("params", "match"), [
    ({"n_classes": 1}, "n_classes=1"),
    ({"n_classes": 27}, "n_classes=27"),
    ({"n_per_class": 0}, "n_per_class=0"),
    ({"shape": (2, 130)}, "too small"),
    ({"shape": "big"}, "shape="),
    ({"seed": -1}, "seed=-1"),
])
def test_demo_bad_parameters(params: dict, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        make_demo(**params)


def test_demo_per_pixel_standardization_loses_to_snr_aware_scalers(demo) -> None:
    acc = _cv_accuracy(demo, ["standard", "std_floor", "band", "log1p"])
    best = max(acc["std_floor"], acc["band"], acc["log1p"])
    assert best - acc["standard"] > 0.10, acc
    assert min(acc["std_floor"], acc["band"], acc["log1p"]) > acc["standard"] + 0.05, acc


def test_demo_per_pixel_standardization_loses_to_raw_data(demo) -> None:
    acc = _cv_accuracy(demo, ["none", "standard"])
    assert acc["none"] - acc["standard"] > 0.05, acc
