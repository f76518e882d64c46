"""Tests of sndiag.demo: determinism, layout, and the structure of real recordings it models."""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest
from scipy.stats import f_oneway

from sndiag.demo import make_demo
from sndiag.errors import ParameterError


@pytest.fixture(scope="module")
def demo():
    return make_demo()


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
    assert gen["rows"] == {"voiced": [0, 43], "band_limited": [43, 60]}


def test_demo_has_the_structure_of_short_band_limited_recordings(demo) -> None:
    """Zero padding after each clip, faint band-limited top rows, heavy-tailed power."""
    X = demo.X.astype(np.float64)
    assert X.min() >= 0 and 100 < X.max() < 20_000
    last = np.array([np.flatnonzero(c.any(axis=0)).max() for c in X])
    assert np.median(last) < 0.3 * 130 and last.max() <= 129     # short clips, then padding
    assert np.all(X[np.arange(len(X)), :, np.minimum(last + 1, 129)][last < 129] == 0)
    row_mean = X.mean(axis=(0, 2))
    assert row_mean[43:].max() < 1e-6 * row_mean[:43].max()        # band limit
    voiced = X[:, :43][X[:, :43] > 0]
    assert np.mean(voiced) > 3 * np.median(voiced)                 # heavy-tailed power


def test_demo_class_information_lives_in_the_voiced_rows(demo) -> None:
    X = demo.X.astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        F = np.nan_to_num(f_oneway(*[X[demo.y == c] for c in demo.classes]).statistic)
    assert F[:43].max() > 10 * F[43:].max()


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
