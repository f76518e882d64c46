"""sndiag.io.feature_cache: spectrograms by content, in memory or on disk (atomic entries)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sndiag.config import SpectrogramConfig
from sndiag.errors import ParameterError
from sndiag.io.feature_cache import DiskCache, FeatureCache, MemoryCache, cache_key

SMALL = SpectrogramConfig(sr=8000, n_fft=256, hop_length=64, n_mels=20, n_frames=40)


def test_cache_key_covers_content_and_config():
    a = cache_key(b"abc", SMALL)
    assert a == cache_key(b"abc", SMALL)
    assert a != cache_key(b"abd", SMALL)
    assert a != cache_key(b"abc", dataclasses.replace(SMALL, n_mels=21))


@pytest.mark.parametrize("make", [MemoryCache, lambda: DiskCache(pytest.tmp / "cache")],
                         ids=["memory", "disk"])
def test_cache_round_trip(make, tmp_path, monkeypatch):
    monkeypatch.setattr(pytest, "tmp", tmp_path, raising=False)
    cache = make()
    assert isinstance(cache, FeatureCache)
    key = cache_key(b"x", SMALL)
    assert cache.get(key) is None
    S = np.random.default_rng(0).random(SMALL.shape, dtype=np.float32)
    cache.put(key, S)
    np.testing.assert_array_equal(cache.get(key), S)
    with pytest.raises(ParameterError, match="64 lowercase hex"):
        cache.get("../../etc/passwd")


def test_disk_cache_is_atomic_and_tolerates_corruption(tmp_path):
    cache = DiskCache(tmp_path / "c")
    key = cache_key(b"y", SMALL)
    cache.put(key, np.ones(SMALL.shape))
    assert [p.name for p in (tmp_path / "c").iterdir()] == [f"{key}.npy"]
    (tmp_path / "c" / f"{key}.npy").write_bytes(b"garbage")
    assert cache.get(key) is None


