"""Drift maps: where groups, or two datasets, differ."""

from __future__ import annotations

import numpy as np
import pytest

from sndiag.drift import dataset_drift, group_drift, split_drift
from sndiag.errors import DataError, ShapeError
from sndiag.stats import compute_stats


def _speakers(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.gamma(2.0, 1.0, size=(90, 6, 8))
    groups = np.repeat(["ann", "bob", "cy"], 30)
    X[groups == "bob", 4:] *= 3.0                 # bob is louder in the top bands
    return X, groups


def test_group_drift_is_high_where_the_groups_differ_and_low_elsewhere():
    X, groups = _speakers()
    d = group_drift(X, groups)
    assert d.shape == (6, 8)
    assert d[4:].min() > 10 * np.median(d[:4])


def test_group_drift_needs_two_groups_and_one_per_clip():
    X, groups = _speakers()
    with pytest.raises(DataError, match="two groups"):
        group_drift(X, np.full(90, "a"))
    with pytest.raises(ShapeError, match="one per clip"):
        group_drift(X, groups[:10])


def test_dataset_drift_is_the_mean_shift_in_pooled_stds():
    rng = np.random.default_rng(1)
    A, B = rng.normal(size=(400, 3, 3)), rng.normal(size=(400, 3, 3))
    B[:, 2] += 2.0
    A[:, 0, 0] = B[:, 0, 0] = 5.0                  # the same constant: no drift
    d = dataset_drift(compute_stats(A), compute_stats(B))
    assert d[0, 0] == 0.0
    assert np.allclose(d[2], 2.0, atol=0.25) and np.all(np.abs(d[1]) < 0.25)


def test_dataset_drift_refuses_other_shapes():
    with pytest.raises(ShapeError, match="same settings"):
        dataset_drift(compute_stats(np.ones((3, 2, 2))), compute_stats(np.ones((3, 2, 3))))


def test_split_drift_compares_train_with_test():
    X, groups = _speakers()
    split = np.where(groups == "bob", "test", "train")
    d = split_drift(X, split)
    assert d[4:].mean() > 1.0 > abs(d[:4].mean())
    with pytest.raises(DataError, match="two train and two test"):
        split_drift(X, np.full(90, "train"))
