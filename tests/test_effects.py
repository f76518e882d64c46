"""Scaler effects: every registered scaler evaluates to finite maps; readings tell the truth."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as hst
from hypothesis.extra.numpy import arrays

from sndiag.effects import ScalerEffect, compare_effects, describe_effect, evaluate_scaler, format_gain
from sndiag.errors import ParameterError, ShapeError
from sndiag.masks import manual_mask
from sndiag.scalers import SCALERS, compresses
from sndiag.stats import compute_stats

SNR = np.array([0.1, 0.2, 2.0, 3.0, 2.5, 2.2, 1.9, 2.1, 2.4, 2.6])


def _per_row(values, n_frames=4):
    return np.repeat(np.asarray(values, dtype=float)[:, None], n_frames, axis=1)


# -- describe_effect ---------------------------------------------------------------------------
@pytest.mark.parametrize("changed, text", [(False, "leaves the data unchanged"),
                                           (True, "shifts values without rescaling"),
                                           (None, "keeps every pixel's scale")])
def test_describe_effect_gain_one(changed, text):
    out = describe_effect(np.ones((10, 4)), SNR, changed=changed)
    assert out.startswith(text) and "unchanged" in out and "amplified" not in out


def test_describe_effect_ignores_constant_pixels():
    gain = _per_row([1, 1, 1, 1, 1, 1, 1, 1, 1, 1])
    gain[0, 1:] = 50.0  # row 0: one constant pixel (gain 1 by convention), three noisy ones
    const = np.zeros((10, 4), dtype=bool)
    const[0, 0] = True
    const[9] = True  # a row that is constant everywhere
    text = describe_effect(gain, SNR, zero_std=const, snr_threshold=0.15)
    assert text.startswith("row 9 constant (nothing to scale); row 0 (SNR < 0.15): noise amplified x50")
    with pytest.raises(ShapeError, match="zero_std"):
        describe_effect(gain, SNR, zero_std=const[:5])


def test_describe_effect_uniform_scaling():
    text = describe_effect(np.full((10, 4), 3.0), SNR)
    assert "same factor" in text and "x3" in text and "amplified" not in text


def test_describe_effect_amplified_low_snr_rows():
    gain = _per_row(1 / np.array([0.01, 0.02, 1, 1, 1, 1, 1, 1, 1, 1]))
    text = describe_effect(gain, SNR, snr_threshold=0.5)
    assert text.startswith("rows 0-1 (SNR < 0.5): noise amplified x75")
    assert "x1 on high-SNR rows" in text and "75x more" in text


def test_describe_effect_default_picks_lowest_ten_percent():
    gain = _per_row([10, 1, 1, 1, 1, 1, 1, 1, 1, 1])
    assert describe_effect(gain, SNR).startswith("row 0 (lowest SNR, <= 0.1): noise amplified x10")


def test_describe_effect_default_keeps_rows_of_equal_snr_together():
    snr = np.array([0.5, 0.08, 0.081, 0.079, 0.082, 2.0, 2.1, 2.2, 1.9, 2.0, 2.3, 2.4])
    gain = _per_row([1, 10, 10, 10, 10, 1, 1, 1, 1, 1, 1, 1])
    assert describe_effect(gain, snr).startswith("rows 1-4 (lowest SNR, <= 0.082): noise amplified x10")


def test_describe_effect_default_cuts_lowest_rows_at_a_jump():
    snr = np.array([0.44] * 5 + [0.77] * 16 + [1.4] * 39)
    gain = _per_row([200.0] * 5 + [0.1] * 16 + [0.3] * 39)
    assert describe_effect(gain, snr).startswith("rows 0-4 (lowest SNR, <= 0.44): noise amplified x200")


def test_describe_effect_damped():
    gain = _per_row([0.05, 0.05, 1, 1, 1, 1, 1, 1, 1, 1])
    text = describe_effect(gain, SNR, snr_threshold=0.5)
    assert "damped" in text and "x0.05" in text and "20x less" in text


def test_describe_effect_similar_gain():
    gain = _per_row([1.1, 1.0, 1, 1.2, 1, 1, 0.9, 1, 1, 1])
    assert "about the same" in describe_effect(gain, SNR, snr_threshold=0.5)


def test_describe_effect_no_row_below_threshold():
    gain = _per_row([2, 1, 1, 1, 1, 1, 1, 1, 1, 1])
    assert describe_effect(gain, SNR, snr_threshold=0.01).startswith("no row has SNR < 0.01")


def test_describe_effect_masked_rows():
    gain = _per_row(1 / np.array([0.01, 0.02, 1, 1, 1, 1, 1, 1, 1, 1]))
    masked = np.zeros(10, dtype=bool)
    masked[:2] = True
    text = describe_effect(gain, SNR, masked_rows=masked)
    assert text.startswith("rows 0-1 masked (set to 0); ") and "amplified" not in text
    assert describe_effect(np.ones((10, 4)), SNR, masked_rows=[0], changed=False).endswith(
        "otherwise leaves the data unchanged (gain x1 everywhere)")
    assert "no row is left" in describe_effect(np.ones((10, 4)), SNR, masked_rows=np.ones(10, bool))


def test_describe_effect_uses_abs_snr_for_db_like_data():
    gain = _per_row([5, 1, 1, 1, 1, 1, 1, 1, 1, 1])
    assert describe_effect(gain, -SNR).startswith("row 0 ")


def test_describe_effect_accepts_row_vector_and_nonfinite():
    assert "amplified" in describe_effect(np.array([10.0, 1, 1, 1, 1, 1, 1, 1, 1, 1]), SNR)
    gain = _per_row([10, 1, 1, 1, 1, 1, 1, 1, 1, 1])
    gain[5, 0] = np.inf
    assert describe_effect(gain, SNR).startswith("gain is not finite on some pixels; row 0")


@pytest.mark.parametrize("kw, err", [({"snr_threshold": -1.0}, ParameterError),
                                     ({"masked_rows": np.ones(3, bool)}, ShapeError),
                                     ({"masked_rows": [12]}, ParameterError)])
def test_describe_effect_rejects_bad_arguments(kw, err):
    with pytest.raises(err):
        describe_effect(np.ones((10, 4)), SNR, **kw)


def test_describe_effect_rejects_mismatched_rows():
    with pytest.raises(ShapeError, match="must match"):
        describe_effect(np.ones((10, 4)), SNR[:5])


@pytest.mark.parametrize("g, text", [(12.0, "12"), (1.1, "1.1"), (0.05, "0.05"), (1234.0, "1,234"),
                                     (3.2e5, "3.2e5"), (2e-4, "2e-4"), (0.0, "0"), (np.inf, "inf")])
def test_format_gain(g, text):
    assert format_gain(g) == text


# -- evaluate_scaler ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small():
    """(40, 60, 130) power-like spectrograms: quiet noisy rows 0-4, a silent row 5."""
    rng = np.random.default_rng(0)
    X = rng.gamma(2.0, 1.0, size=(40, 60, 130)).astype(np.float32)
    X[:, :5] = rng.gamma(0.3, 1e-3, size=(40, 5, 130))
    X[:, 5] = 0.0
    return X, compute_stats(X, quantiles="none")


@pytest.mark.parametrize("name", sorted(SCALERS))
def test_evaluate_scaler_every_registered_scaler(small, name):
    X, st = small
    eff = evaluate_scaler(name, X, stats=st, example_index=3)
    assert isinstance(eff, ScalerEffect) and eff.name == name and eff.title
    for arr in (eff.example_before, eff.example_after, eff.mean_after, eff.std_after, eff.gain):
        assert arr.shape == (60, 130)
        assert np.isfinite(arr).all()
    assert eff.finite
    np.testing.assert_array_equal(eff.example_before, X[3])
    assert 0 < eff.hist_before.size <= 200_000 and 0 < eff.hist_after.size <= 200_000
    assert 1 <= len(eff.worst_rows) <= 5
    gains = [g for _, g in eff.worst_rows]
    assert gains == sorted(gains, reverse=True)
    assert isinstance(eff.reading, str) and eff.reading


def test_evaluate_scaler_standard_amplifies_quiet_rows(small):
    X, st = small
    eff = evaluate_scaler("standard", X, stats=st)
    assert eff.reading.startswith("row 5 constant (nothing to scale); rows 0-4")
    assert "amplified" in eff.reading
    assert {r for r, _ in eff.worst_rows} == set(range(5))  # the constant row 5 is not listed
    np.testing.assert_allclose(eff.mean_after[6:], 0.0, atol=1e-4)
    np.testing.assert_allclose(eff.std_after[6:], 1.0, atol=1e-3)


def test_evaluate_scaler_none_is_unchanged(small):
    X, st = small
    eff = evaluate_scaler("none", X, stats=st)
    assert eff.reading == ("row 5 constant (nothing to scale); "
                           "otherwise leaves the data unchanged (gain x1 everywhere)")
    np.testing.assert_array_equal(eff.example_after, eff.example_before)


def test_evaluate_scaler_composition(small):
    X, st = small
    eff = evaluate_scaler("db+band", X, stats=st)
    assert eff.name == "db+band" and eff.finite and np.isfinite(eff.gain).all()


def test_evaluate_scaler_with_mask(small):
    X, st = small
    mask = manual_mask(st.shape, rows=range(6))
    eff = evaluate_scaler("standard", X, stats=st, mask=mask)
    assert eff.reading.startswith("rows 0-5 masked (set to 0)")
    assert all(r >= 6 for r, _ in eff.worst_rows)
    assert eff.masked_rows is not None and eff.masked_rows[:6].all()
    assert np.all(eff.example_after[:6] == eff.example_after[0, 0])  # masked rows are constant


def test_evaluate_scaler_computes_stats_when_omitted(small):
    X, _ = small
    assert "amplified" in evaluate_scaler("standard", X[:10]).reading


@pytest.mark.parametrize("kw, err", [({"example_index": 40}, ParameterError),
                                     ({"example_index": 1.5}, ParameterError),
                                     ({"mask": "rows 0-4"}, ParameterError)])
def test_evaluate_scaler_rejects_bad_arguments(small, kw, err):
    X, st = small
    with pytest.raises(err):
        evaluate_scaler("standard", X, stats=st, **kw)


def test_evaluate_scaler_rejects_bad_shapes(small):
    X, st = small
    with pytest.raises(ShapeError):
        evaluate_scaler("standard", X[0])
    with pytest.raises(ShapeError, match="same data"):
        evaluate_scaler("standard", X[:, :30], stats=st)


def test_evaluate_scaler_unknown_name(small):
    X, st = small
    with pytest.raises(ParameterError):
        evaluate_scaler("no-such-scaler", X, stats=st)


def test_compare_effects_order_and_shared_stats(small):
    X, st = small
    effs = compare_effects(["standard", "median", "global"], X, stats=st)
    assert [e.name for e in effs] == ["standard", "median", "global"]
    assert "shifts values without rescaling" in effs[1].reading
    assert "same factor" in effs[2].reading
    with pytest.raises(ParameterError):
        compare_effects([], X)


def test_readings_on_demo_data():
    demo = pytest.importorskip("sndiag.demo")
    ds = demo.make_demo()
    st = compute_stats(ds.X, ds.y, quantiles="none")
    std = evaluate_scaler("standard", ds.X, stats=st)
    # the demo's band-limited clips leave rows 43-59 with leakage only: 1/std is enormous there
    assert "(rows 43-59) get gain above" in std.reading
    assert "unchanged" in evaluate_scaler("none", ds.X, stats=st).reading


# -- properties ------------------------------------------------------------------------------
_gains = arrays(np.float64, (8, 3), elements=hst.one_of(
    hst.floats(1e-12, 1e12), hst.sampled_from([0.0, 1.0, np.inf, np.nan])))
_snrs = arrays(np.float64, (8,), elements=hst.floats(-50, 50))
_rows = arrays(bool, (8,))


@given(gain=_gains, snr=_snrs, masked=_rows, const=arrays(bool, (8, 3)),
       threshold=hst.one_of(hst.none(), hst.floats(0, 10)))
def test_describe_effect_never_fails(gain, snr, masked, const, threshold):
    text = describe_effect(gain, snr, masked_rows=masked, zero_std=const, snr_threshold=threshold)
    assert isinstance(text, str) and text and "nan" not in text
    assert ("masked (set to 0)" in text) == bool(masked.any())


@given(g=hst.floats(1e-3, 1e3))
def test_describe_effect_uniform_gain_is_never_amplification(g):
    assert "amplified" not in describe_effect(np.full((8, 3), g), SNR[:8])


def test_evaluate_scaler_names_the_few_pixels_a_median_hides():
    """Robust scaling keeps most quiet pixels at gain 1 (their IQR is 0) but blows up the few
    whose IQR is tiny: the reading must say so, not just 'gain x1' (FSDD's upper bands)."""
    rng = np.random.default_rng(3)
    X = rng.gamma(2.0, 1.0, size=(60, 8, 10))
    X[:, :2] = 0.0                       # nearly empty bands: a few clips hold sparse noise,
    X[:3, :2] = rng.gamma(2.0, 1e-3, size=(3, 2, 10))  # so std > 0 but IQR 0 -> scale 1
    X[3:20, 0, 0] = 1e-6                 # a third near-silent values: IQR 1e-6 at pixel (0, 0)
    X[3:30, 1, 3] = 1e-7
    eff = evaluate_scaler("robust", X)
    assert eff.reading.startswith("rows 0-1 (lowest SNR")
    assert "gain x1 (median)" in eff.reading
    assert "but 2 pixels (rows 0-1) get gain above" in eff.reading
    assert "up to x" in eff.reading
    # the mostly silent pixels: IQR 0 but std > 0, so scale 1 (flagged in zero_scale_)
    n_flat = int((eff.scaler.zero_scale_ & ~compute_stats(X).zero_std).sum())
    assert n_flat > 0 and eff.reading.endswith(
        f"; {n_flat} pixels (rows 0-1) whose spread counts as zero are left unscaled (gain x1)")


def test_evaluate_scaler_says_nothing_of_unscaled_pixels_the_data_explains(small):
    """Constant pixels (row 5) are named as constant already, masked ones as masked."""
    X, st = small
    assert "left unscaled" not in evaluate_scaler("standard", X, stats=st).reading
    mask = manual_mask(st.shape, rows=range(6))
    assert "left unscaled" not in evaluate_scaler("robust", X, stats=st, mask=mask).reading


def test_evaluate_scaler_gain_of_a_stateless_scaler_matches_gain_map(small):
    """The gain comes from the moments already computed, not from a second transform."""
    X, st = small
    for name in ("clip", "log1p", "db", "db+band"):
        eff = evaluate_scaler(name, X, stats=st)
        np.testing.assert_allclose(eff.gain, eff.scaler.gain_map(X), rtol=1e-6)


# -- the fast paths measure what a full transform measures ----------------------------------
def _reference(name, X, mask=None, example=3, seed=0):
    """The effect measured the plain way: compress all the data, zero the masked pixels, fit
    the scaling on that and transform it in one go."""
    from sndiag.effects import _after_whole
    from sndiag.scalers import make_scaler

    *head, last = name.split("+")
    if SCALERS[last].stateless:
        head, last = [*head, last], "none"
    Z = X
    for step in head:
        Z = make_scaler(step).fit_transform(Z)
    if mask is not None:
        Z = mask.apply(Z, mode="zero")
    with np.errstate(all="ignore"):
        return _after_whole(make_scaler(last).fit(Z), Z, example, seed)


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("name", [*sorted(SCALERS), "db+band"])
def test_evaluate_scaler_fast_paths_match_a_full_transform(small, name, masked, monkeypatch):
    """Affine scalers are measured from the statistics, the others a chunk at a time (7 clips
    here, so 40 clips make 6 chunks); both must give the full transform's maps and sample."""
    import sndiag.effects as E

    monkeypatch.setattr(E, "CHUNK_CLIPS", 7)
    X, st = small
    mask = None
    if masked:
        pixels = np.zeros(st.shape, dtype=bool)
        pixels[10, 3] = True
        mask = manual_mask(st.shape, rows=[0, 1], pixels=pixels)
    eff = evaluate_scaler(name, X, stats=st, mask=mask, example_index=3)
    ref = _reference(name, X, mask)
    np.testing.assert_array_equal(eff.example_after, ref.example)
    np.testing.assert_allclose(eff.mean_after, ref.mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(eff.std_after, ref.std, rtol=1e-5, atol=1e-6)
    assert eff.finite == ref.finite and eff.hist_after.size == 200_000  # X holds 312,000 values
    np.testing.assert_array_equal(eff.hist_after, ref.hist)
    X_fit = X if mask is None or compresses(eff.scaler) else mask.apply(X, mode="zero")
    with np.errstate(all="ignore"):
        fast = (E._after_affine(eff.scaler, X_fit, st, mask, 3, 0)
                or E._after_chunked(eff.scaler, X_fit, 3, 0))
    assert fast.changed == (name != "none")


def test_evaluate_scaler_affine_falls_back_when_stats_are_of_other_clips(small):
    """Statistics of a subset cannot stand for the data: the effect is measured by transforming."""
    from sndiag.effects import _after_affine
    from sndiag.scalers import make_scaler

    X, st = small
    s = make_scaler("standard").fit(X)
    assert _after_affine(s, X, st, None, 0, 0) is not None
    assert _after_affine(s, X[:20], st, None, 0, 0) is None
    eff = evaluate_scaler("standard", X[:20], stats=compute_stats(X[:20], quantiles="none"))
    np.testing.assert_allclose(eff.std_after[6:], 1.0, atol=1e-4)


def test_evaluate_scaler_affine_output_that_would_overflow_is_transformed():
    """A scale of 1e-38 on float32 data overflows to Inf: the bound sends it to the full path,
    which reports the non-finite output."""
    from sndiag.effects import _after_affine
    from sndiag.scalers import make_scaler

    X = np.random.default_rng(0).gamma(2.0, 1.0, size=(10, 2, 3)).astype(np.float32)
    st = compute_stats(X, quantiles="none")
    s = make_scaler("standard").fit(X)
    s.offset_, s.scale_ = np.zeros((2, 3)), np.full((2, 3), 1e-38)
    assert _after_affine(s, X, st, None, 0, 0) is None
    s.scale_ = np.ones((2, 3))
    assert _after_affine(s, X, st, None, 0, 0).changed is False


# -- distribution checks ----------------------------------------------------------------------
def test_every_effect_carries_distribution_checks():
    from sndiag.masks import manual_mask

    X = np.random.default_rng(0).lognormal(0.0, 2.0, size=(120, 5, 6)).astype(np.float32)
    eff = evaluate_scaler("db+standard", X, mask=manual_mask((5, 6), rows=[4]))
    d = eff.distribution
    assert d is not None and d.n_clips == 120
    assert d.corr_before.shape == d.corr_after.shape == (5, 5)
    assert np.allclose(np.diag(d.corr_after), 1.0)
    assert np.isnan(d.skew_after[4]) and np.isnan(d.kurtosis_after[4])   # the masked row
    # dB tames lognormal power: heavy tails before, near-normal after
    assert np.nanmean(d.kurtosis_before[:4]) > 20 > np.nanmean(np.abs(d.kurtosis_after[:4]))
    assert 0.0 <= d.beyond3 < 0.02


def test_distribution_checks_count_values_beyond_three():
    from sndiag.effects import distribution_checks
    from sndiag.scalers import make_scaler

    X = np.random.default_rng(1).standard_t(2, size=(300, 3, 4))
    d = distribution_checks(make_scaler("none").fit(X), X, max_clips=100)
    assert d.n_clips == 100 and d.beyond3 > 0.01       # t(2) is heavy-tailed


# -- clips read from a file (ClipArray) ----------------------------------------------------------
@pytest.mark.parametrize("name", ["standard", "std_floor", "band", "db+standard", "log1p"])
def test_evaluate_scaler_on_streamed_clips_equals_in_memory(name):
    from sndiag.clip_array import ArrayClips

    rng = np.random.default_rng(0)
    X = rng.gamma(2.0, 1.0, size=(300, 6, 8)).astype(np.float32)
    X[:, 4:] *= 1e-3
    stats = compute_stats(X)
    mem = evaluate_scaler(name, X, stats=stats)
    clips = ArrayClips(X)
    streamed = evaluate_scaler(name, clips, stats=stats)
    np.testing.assert_allclose(streamed.mean_after, mem.mean_after, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(streamed.std_after, mem.std_after, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(streamed.gain, mem.gain, rtol=1e-5)
    np.testing.assert_allclose(streamed.example_after, mem.example_after, rtol=1e-5, atol=1e-6)
    assert streamed.reading == mem.reading and streamed.fitted_on is None


def test_evaluate_scaler_fits_a_quantile_scaler_on_a_sample_of_streamed_clips():
    from sndiag.clip_array import ArrayClips

    X = np.random.default_rng(1).gamma(2.0, 1.0, size=(2500, 3, 4)).astype(np.float32)
    eff = evaluate_scaler("robust", ArrayClips(X), stats=compute_stats(X))
    assert eff.fitted_on == "a sample of 2000 of 2500 clips"
    assert eff.finite and np.all(np.abs(eff.mean_after) < 0.5)  # centred: median ~ mean here
