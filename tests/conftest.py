"""Shared fixtures: small synthetic data made here, and FSDD when ../shared holds it."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

settings.register_profile("ci", max_examples=40, deadline=None)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

REPO = Path(__file__).resolve().parents[1]
FSDD = Path(os.environ.get("SNDIAG_FSDD", REPO.parent / "shared" / "data" / "fsdd" / "recordings"))
FSDD_REGEX = r"(?P<label>\d)_(?P<group>[a-z]+)_\d+\.wav"


@pytest.fixture(scope="session")
def fsdd_dir() -> Path:
    """The Free Spoken Digit Dataset recordings folder; skips the test when absent."""
    if not FSDD.is_dir() or not any(FSDD.glob("*.wav")):
        pytest.skip(f"FSDD not found at {FSDD}; set SNDIAG_FSDD to its recordings folder")
    return FSDD


@pytest.fixture(scope="module")
def dask_local():
    """A LocalCluster of 2 single-threaded worker processes, shared by one module's tests and
    closed (its processes ended) after them."""
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        yield client


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def small_X(rng: np.random.Generator) -> np.ndarray:
    """(40, 60, 130) float32 power-like spectrograms with a zero-variance row."""
    X = rng.gamma(0.5, 2.0, size=(40, 60, 130)).astype(np.float32)
    X[:, 0, :] = 0.0
    return X
