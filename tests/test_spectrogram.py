import dataclasses
import math
import warnings

import librosa
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sndiag import spectrogram
from sndiag.config import SpectrogramConfig
from sndiag.errors import DataError, ParameterError, ShapeError
from sndiag.io.audio import decode
from sndiag.spectrogram import extract, fix_length, melspectrogram

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


#: "Same image": every pixel's mel power within a relative 1e-5, i.e. |dB difference| <= 4.3e-5.
TOL_DB = 10 * math.log10(1 + 1e-5)


def assert_same_image(actual: np.ndarray, expected: np.ndarray, config: SpectrogramConfig) -> None:
    """Relative 1e-5 per pixel in power, for every pixel within 80 dB of its clip's peak.

    Stricter than :func:`assert_close`: quiet pixels get the same relative standard as loud
    ones. In dB that is an absolute tolerance; in power, pixels more than 80 dB below the peak
    (lost in float32 FFT noise in librosa too) only need to agree to 1e-8 of the peak.
    """
    if config.scale == "db":
        np.testing.assert_allclose(actual, expected, rtol=0, atol=TOL_DB)
        return
    peak = float(expected.max())
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-8 * peak if peak else 1e-30)


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


# -- the fast path vs librosa -----------------------------------------------------------------
@pytest.mark.parametrize("scale", ["power", "db"])
@pytest.mark.parametrize("align", ["start", "center"])
def test_melspectrogram_equals_librosa_for_many_lengths(align, scale):
    """Lengths around frame edges, shorter and longer than the window, in one batch."""
    cfg = dataclasses.replace(SMALL, align=align, scale=scale)
    n, hop, half = cfg.n_samples, cfg.hop_length, cfg.n_fft // 2
    lengths = sorted({1, 2, hop - 1, hop, hop + 1, half - 1, half, half + 1, cfg.n_fft - 1,
                      cfg.n_fft, cfg.n_fft + 1, 5 * hop + 3, n // 2, n - hop, n - 1, n, n + 1,
                      n + hop + 7, 3 * n})
    rng = np.random.default_rng(1)
    ys = [(rng.standard_normal(k) * rng.uniform(1e-3, 1)).astype(np.float32) for k in lengths]
    S = extract(ys, config=cfg, batch_size=7)
    for i, y in enumerate(ys):
        assert_same_image(S[i], reference(y, cfg), cfg)


@given(seed=st.integers(0, 2**32 - 1), n_clips=st.integers(1, 5),
       align=st.sampled_from(["start", "center"]), scale=st.sampled_from(["power", "db"]))
def test_melspectrogram_equals_librosa_property(seed, n_clips, align, scale):
    """Random clips with silent gaps inside and random lengths, batched together."""
    cfg = dataclasses.replace(SMALL, align=align, scale=scale)
    rng = np.random.default_rng(seed)
    ys = []
    for _ in range(n_clips):
        y = rng.standard_normal(int(rng.integers(1, 2 * cfg.n_samples))).astype(np.float32)
        a, b = sorted(rng.integers(0, y.size + 1, size=2))
        y[a:b] = 0  # a silence inside the clip
        ys.append(y * np.float32(10.0 ** rng.uniform(-4, 1)))
    S = extract(ys, config=cfg, batch_size=3)
    for i, y in enumerate(ys):
        assert_same_image(S[i], reference(y, cfg), cfg)


@pytest.mark.parametrize("changes", [
    {"power": 1.0}, {"power": 1.5, "scale": "db"}, {"fmin": 300.0, "fmax": 3000.0},
    {"scale": "db", "top_db": None}, {"n_mels": 40, "n_fft": 128, "hop_length": 32},
], ids=["magnitude", "power-1.5", "fmin-fmax", "no-top-db", "many-mels"])
def test_melspectrogram_equals_librosa_for_other_parameters(changes):
    cfg = dataclasses.replace(SMALL, **changes)
    ys = clips(cfg, seed=3)
    S = melspectrogram(np.stack([fix_length(y, config=cfg) for y in ys]), config=cfg)
    for i, y in enumerate(ys):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # librosa: empty mel filters
            expected = reference(y, cfg)
        assert_same_image(S[i], expected, cfg)


def test_melspectrogram_empty_filters_stay_zero():
    """With more mels than the FFT resolves, librosa leaves some filters empty: rows of zeros."""
    cfg = SpectrogramConfig(sr=8000, n_fft=64, hop_length=16, n_mels=20, n_frames=20, fmax=600.0)
    with pytest.warns(UserWarning, match="Empty filters"):
        empty = ~librosa.filters.mel(sr=8000, n_fft=64, n_mels=20, fmax=600.0).any(axis=1)
    y = np.random.default_rng(0).standard_normal(cfg.n_samples).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        S = melspectrogram(y[None], config=cfg)[0]
        expected = reference(y, cfg)
    assert empty.any() and not S[empty].any() and S[~empty].all()
    assert_same_image(S, expected, cfg)


def test_melspectrogram_accepts_any_leading_shape():
    Y = np.random.default_rng(0).standard_normal((2, 3, SMALL.n_samples)).astype(np.float32)
    S = melspectrogram(Y, config=SMALL)
    assert S.shape == (2, 3, *SMALL.shape)
    assert_close(S[1, 2], melspectrogram(Y[1, 2][None], config=SMALL)[0])
    ints = (Y[0] * 1000).astype(np.int16)
    assert_close(melspectrogram(ints, config=SMALL), melspectrogram(ints.astype(np.float32),
                                                                    config=SMALL))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_melspectrogram_finds_a_non_finite_sample_in_silence(bad):
    Y = np.zeros((3, SMALL.n_samples), dtype=np.float32)
    Y[0, :100] = 1.0
    Y[2, SMALL.n_samples // 2] = bad
    with pytest.raises(DataError, match="holds 1 NaN/Inf samples"):
        melspectrogram(Y, config=SMALL)


@pytest.mark.parametrize("align", ["start", "center"])
def test_active_frames_are_the_frames_touching_a_sample(align):
    """Brute force: frame t is active iff its window [t*hop - n_fft/2, t*hop + n_fft/2) holds a
    non-zero sample."""
    cfg = dataclasses.replace(SMALL, align=align)
    n, hop, half = cfg.n_samples, cfg.hop_length, cfg.n_fft // 2
    rng = np.random.default_rng(0)
    Y = np.zeros((60, n), dtype=np.float32)
    for row in Y[1:]:
        a = int(rng.integers(0, n))
        b = min(n, a + int(rng.integers(1, n // 3)))
        row[a] = row[b - 1] = 1.0
    lo, hi = spectrogram._active_frames(Y, config=cfg)
    for row, first, stop in zip(Y, lo, hi, strict=True):
        touched = [t for t in range(cfg.n_frames)
                   if row[max(0, t * hop - half):max(0, t * hop + half)].any()]
        assert (first, stop) == ((touched[0], touched[-1] + 1) if touched else (0, 0))


def test_fix_length_keeps_dtype_and_never_aliases_a_crop():
    y = np.arange(SMALL.n_samples + 10, dtype=np.int16)
    for align in ("start", "center"):
        cfg = dataclasses.replace(SMALL, align=align)
        out = fix_length(y, config=cfg)
        assert out.dtype == np.int16 and not np.shares_memory(out, y)
        assert fix_length(y[:5], config=cfg).dtype == np.int16


@pytest.mark.fsdd
def test_melspectrogram_equals_the_naive_librosa_loop_on_fsdd(fsdd_dir):
    """The benchmark's equality check on a sample of real clips: dB, 22050 Hz, 60 x 130."""
    cfg = SpectrogramConfig(scale="db")
    files = sorted(fsdd_dir.glob("*.wav"))[::50]
    S = extract([decode(f, sr=cfg.sr) for f in files], config=cfg)
    for i, f in enumerate(files):
        y, _ = librosa.load(f, sr=cfg.sr)
        ref = librosa.power_to_db(librosa.feature.melspectrogram(
            y=librosa.util.fix_length(y, size=cfg.n_samples), sr=cfg.sr, n_fft=cfg.n_fft,
            hop_length=cfg.hop_length, n_mels=cfg.n_mels), ref=1.0, top_db=cfg.top_db)
        assert_same_image(S[i], ref, cfg)
