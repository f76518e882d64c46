import dataclasses

import librosa
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sndiag.config import SpectrogramConfig
from sndiag.errors import DataError, ParameterError, ShapeError
from sndiag.spectrogram import (
    DiskCache,
    FeatureCache,
    MemoryCache,
    cache_key,
    extract,
    fix_length,
    melspectrogram,
)

SMALL = SpectrogramConfig(sr=8000, n_fft=256, hop_length=64, n_mels=20, n_frames=40)


def reference(y: np.ndarray, config: SpectrogramConfig) -> np.ndarray:
    """One clip, the plain librosa way: full-length STFT, dB conversion of this clip alone."""
    S = librosa.feature.melspectrogram(
        y=fix_length(y, config=config), sr=config.sr, n_fft=config.n_fft,
        hop_length=config.hop_length, n_mels=config.n_mels, fmin=config.fmin, fmax=config.fmax,
        power=config.power,
    )
    if config.scale == "db":
        S = librosa.power_to_db(S, ref=1.0, top_db=config.top_db)
    return S


def assert_close(actual: np.ndarray, expected: np.ndarray) -> None:
    scale = max(float(np.abs(expected).max()), 1e-12)
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5 * scale)


def clips(config: SpectrogramConfig, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    n = config.n_samples
    lengths = [1, n // 10, n // 3, n - 1, n, 2 * n]
    out = [(0.1 * rng.standard_normal(k)).astype(np.float32) for k in lengths]
    out.append(np.zeros(n // 2, dtype=np.float32))  # digital silence
    return out


@pytest.mark.parametrize(("align", "n", "expected"), [
    ("start", 3, [1, 2, 3, 0, 0, 0]),
    ("start", 8, [1, 2, 3, 4, 5, 6]),
    ("center", 3, [0, 1, 2, 3, 0, 0]),
    ("center", 8, [2, 3, 4, 5, 6, 7]),
    ("center", 6, [1, 2, 3, 4, 5, 6]),
])
def test_fix_length_pads_and_crops(align, n, expected):
    cfg = SpectrogramConfig(sr=8000, n_fft=8, hop_length=2, n_mels=2, n_frames=4, align=align)
    assert fix_length(np.arange(1, n + 1.0), config=cfg).tolist() == expected


def test_fix_length_works_on_batches():
    Y = np.ones((3, 10))
    assert fix_length(Y, config=SMALL).shape == (3, SMALL.n_samples)
    with pytest.raises(ShapeError, match="scalar"):
        fix_length(np.float32(1.0), config=SMALL)


@pytest.mark.parametrize("scale", ["power", "db"])
@pytest.mark.parametrize("align", ["start", "center"])
@pytest.mark.parametrize("config", [SMALL, SpectrogramConfig()], ids=["small", "default"])
def test_melspectrogram_batched_equals_per_clip_librosa(config, align, scale):
    cfg = dataclasses.replace(config, align=align, scale=scale)
    ys = clips(cfg)
    S = melspectrogram(np.stack([fix_length(y, config=cfg) for y in ys]), config=cfg)
    assert S.shape == (len(ys), *cfg.shape) and S.dtype == np.float32
    for i, y in enumerate(ys):
        assert_close(S[i], reference(y, cfg))


def test_melspectrogram_db_floor_is_per_clip():
    cfg = dataclasses.replace(SMALL, scale="db", top_db=40.0)
    loud = np.ones(SMALL.n_samples, dtype=np.float32)
    quiet = 1e-4 * np.random.default_rng(0).standard_normal(SMALL.n_samples).astype(np.float32)
    alone = melspectrogram(quiet[None], config=cfg)[0]
    together = melspectrogram(np.stack([loud, quiet]), config=cfg)[1]
    assert_close(together, alone)  # not bit-equal: BLAS rounding depends on the batch
    assert together.min() >= together.max() - 40.0 - 1e-4


def test_melspectrogram_silence_and_empty_batch():
    S = melspectrogram(np.zeros((2, SMALL.n_samples)), config=SMALL)
    assert S.shape == (2, *SMALL.shape) and not S.any()
    db = melspectrogram(np.zeros((1, SMALL.n_samples)), config=dataclasses.replace(SMALL, scale="db"))
    np.testing.assert_allclose(db, -100.0)  # 10 * log10(amin=1e-10)
    assert melspectrogram(np.zeros((0, SMALL.n_samples)), config=SMALL).shape == (0, 20, 40)


@pytest.mark.parametrize(("Y", "err", "match"), [
    (np.zeros((2, 100)), ShapeError, "fix_length"),
    (np.zeros((2, SMALL.n_samples), dtype=complex), DataError, "complex"),
    (np.full((1, SMALL.n_samples), np.nan), DataError, "NaN/Inf"),
])
def test_melspectrogram_rejects_bad_input(Y, err, match):
    with pytest.raises(err, match=match):
        melspectrogram(Y, config=SMALL)


def test_config_rejects_odd_n_fft_before_melspectrogram():
    with pytest.raises(ParameterError, match="n_fft=255 must be even"):
        dataclasses.replace(SMALL, n_fft=255)


@given(where=st.floats(0, 1, exclude_max=True), width=st.integers(1, 3000),
       hop=st.sampled_from([32, 64, 100, 128]), n_fft=st.sampled_from([128, 256, 512]))
def test_melspectrogram_trimming_matches_full_stft_property(where, width, hop, n_fft):
    """Only the frames around the non-zero samples are computed; the rest must be silent."""
    cfg = SpectrogramConfig(sr=8000, n_fft=n_fft, hop_length=hop, n_mels=16, n_frames=40)
    y = np.zeros(cfg.n_samples, dtype=np.float32)
    first = int(where * cfg.n_samples)
    stop = min(cfg.n_samples, first + width)
    y[first:stop] = np.random.default_rng(first).standard_normal(stop - first)
    assert_close(melspectrogram(y[None], config=cfg)[0], reference(y, cfg))


@pytest.mark.parametrize("batch_size", [1, 3, 64])
def test_extract_is_independent_of_batch_size(batch_size):
    ys = clips(SMALL)
    expected = np.stack([reference(y, SMALL) for y in ys])
    assert_close(extract(ys, config=SMALL, batch_size=batch_size), expected)


def test_extract_edge_cases():
    assert extract([], config=SMALL).shape == (0, *SMALL.shape)
    assert extract(iter([np.zeros(5)]), config=SMALL).shape == (1, *SMALL.shape)
    with pytest.raises(ShapeError, match=r"clip 0 has shape \(2, 5\)"):
        extract([np.zeros((2, 5))], config=SMALL)
    with pytest.raises(ParameterError, match="batch_size=0"):
        extract([np.zeros(5)], config=SMALL, batch_size=0)


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
