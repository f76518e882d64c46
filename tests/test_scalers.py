"""Tests of sndiag.scalers: API conformance, identities, edge cases, registry, export."""

from __future__ import annotations

import io
import json
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from sndiag.errors import DataError, ParameterError, ShapeError, SndiagError
from sndiag.scalers import (
    SCALERS,
    BandScaler,
    ComposedScaler,
    NotInvertibleError,
    PixelStandardScaler,
    ScalerInfo,
    StdFloorScaler,
    make_scaler,
    scaler_from_params,
    scaler_info,
    scaler_names,
    scaler_params,
)

NAMES = scaler_names()
INVERTIBLE = [n for n in NAMES if SCALERS[n].invertible]
STATEFUL = [n for n in NAMES if not SCALERS[n].stateless]
STATELESS = [n for n in NAMES if SCALERS[n].stateless]
PARTIAL = [n for n in NAMES if hasattr(SCALERS[n].cls, "partial_fit")]
POSITIVE_ONLY = {"log1p", "db", "pcen"}
SHAPE = (60, 130)


def _expected_failed(est: object) -> dict[str, str]:
    if isinstance(est, ComposedScaler):
        reason = ("a composition is a sklearn Pipeline, which stores its fitted steps in the "
                  "`steps` parameter (export reads them there), like sklearn's own Pipeline")
        return {"check_estimators_overwrite_params": reason,
                "check_dont_overwrite_parameters": reason}
    return {}


@parametrize_with_checks([info.cls() for info in SCALERS.values()] + [make_scaler("db+band")],
                         expected_failed_checks=_expected_failed)
def test_scalers_pass_sklearn_estimator_checks(estimator, check) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(estimator)


@pytest.fixture(scope="module")
def power() -> tuple[np.ndarray, np.ndarray]:
    """Train/test (N, 60, 130) float32 power spectrograms: loud noisy, normal and silent rows."""
    rng = np.random.default_rng(1)
    X = rng.gamma(1.0, 1.0, size=(60, *SHAPE))
    X[:, :3] *= rng.gamma(0.05, 40.0, size=(60, 3, SHAPE[1]))  # loud bursty rows
    X[:, -10:] *= 1e-3                                          # near-silent rows
    X[:, -1] = 0.0                                              # a zero-variance row
    X = X.astype(np.float32)
    return X[:40], X[40:]


# -- layouts, dtypes ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_scaler_keeps_layout_and_dtype(name: str, power) -> None:
    X, Xte = power
    s = make_scaler(name).fit(X)
    Z = s.transform(Xte)
    assert Z.shape == Xte.shape and Z.dtype == np.float32 and np.isfinite(Z).all()
    flat = make_scaler(name, shape=SHAPE).fit(X.reshape(len(X), -1).astype(np.float64))
    Z2 = flat.transform(Xte.reshape(len(Xte), -1).astype(np.float64))
    assert Z2.shape == (len(Xte), SHAPE[0] * SHAPE[1]) and Z2.dtype == np.float64
    np.testing.assert_allclose(Z2.reshape(Z.shape), Z, rtol=1e-4, atol=1e-4 * (1 + np.abs(Z).max()))


@pytest.mark.parametrize("name", NAMES)
def test_scaler_2d_without_shape_is_one_band_per_feature(name: str) -> None:
    X = np.random.default_rng(0).gamma(2.0, 1.0, size=(30, 5))
    s = make_scaler(name).fit(X)
    assert s.transform(X).shape == (30, 5)
    assert s.gain_map(X).shape == (5, 1)


@pytest.mark.parametrize("name", NAMES)
def test_scaler_gain_map_has_image_shape(name: str, power) -> None:
    X, _ = power
    g = make_scaler(name).fit(X).gain_map(X)
    assert g.shape == SHAPE and np.isfinite(g).all() and (g >= 0).all()


# -- round trip ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", INVERTIBLE)
@pytest.mark.parametrize("layout", ["3d", "2d-shape", "2d"])
def test_scaler_inverse_transform_round_trip(name: str, layout: str, power) -> None:
    X, Xte = power
    X, Xte = X.astype(np.float64), Xte.astype(np.float64)
    kw: dict = {"top_db": None} if name == "db" else {}  # clipping the range loses information
    if layout != "3d":
        X, Xte = X.reshape(len(X), -1), Xte.reshape(len(Xte), -1)
        kw |= {"shape": SHAPE} if layout == "2d-shape" else {}
    s = make_scaler(name, **kw).fit(X)
    back = s.inverse_transform(s.transform(Xte))
    np.testing.assert_allclose(back, Xte, rtol=1e-6, atol=1e-6)


def test_composed_round_trip_and_float32(power) -> None:
    X, Xte = power
    s = make_scaler("log1p+std_floor").fit(X)
    back = s.inverse_transform(s.transform(Xte))
    assert back.dtype == np.float32
    np.testing.assert_allclose(back, Xte, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("name", [n for n in NAMES if not SCALERS[n].invertible])
def test_not_invertible_scalers_raise_clear_error(name: str, power) -> None:
    X, _ = power
    s = make_scaler(name).fit(X)
    with pytest.raises(NotInvertibleError, match="not invertible"):
        s.inverse_transform(X)
    assert issubclass(NotInvertibleError, NotImplementedError)
    assert issubclass(NotInvertibleError, SndiagError)
    assert not make_scaler(f"{name}+band").invertible


# -- properties (hypothesis) ---------------------------------------------------------------------
def _images(min_value: float) -> st.SearchStrategy[np.ndarray]:
    return hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 6), st.integers(1, 4), st.integers(1, 5)),
        elements=st.floats(min_value, 1e4, allow_nan=False, allow_subnormal=False, width=32),
    )


@pytest.mark.parametrize("name", NAMES)
@given(X=_images(-1e4), Xp=_images(0.0))
def test_scaler_finite_in_finite_out(name: str, X: np.ndarray, Xp: np.ndarray) -> None:
    data = Xp if name in POSITIVE_ONLY else X
    s = make_scaler(name).fit(data)
    assert np.isfinite(s.transform(data)).all()
    assert np.isfinite(s.gain_map(data)).all()


@pytest.mark.parametrize("name", INVERTIBLE)
@given(X=_images(-1e4), Xp=_images(0.0))
def test_scaler_round_trip_property(name: str, X: np.ndarray, Xp: np.ndarray) -> None:
    data = Xp if name in POSITIVE_ONLY else X
    s = make_scaler(name).fit(data)
    back = s.inverse_transform(s.transform(data))
    tol = 1e-6 * max(1.0, float(np.abs(data).max()))
    np.testing.assert_allclose(back, data, rtol=1e-6, atol=tol)


# -- fitted on training data only ---------------------------------------------------------------
@pytest.mark.parametrize("name", STATEFUL)
def test_scaler_transform_uses_training_statistics(name: str, power) -> None:
    X, Xte = power
    s = make_scaler(name).fit(X)
    Z1 = s.transform(Xte)
    s_other = make_scaler(name).fit(Xte)
    assert not np.allclose(Z1, s_other.transform(Xte))
    # transforming other data does not change the fitted state
    before = s.gain_map().copy()
    s.transform(Xte * 3)
    np.testing.assert_array_equal(s.gain_map(), before)


def test_standard_test_mean_is_not_zero(power) -> None:
    X, Xte = power
    Xte = Xte * 2.0 + 1.0
    s = make_scaler("standard").fit(X)
    Z = s.transform(Xte).astype(np.float64)
    assert abs(Z.mean()) > 0.5
    mean, std = X.astype(np.float64).mean(0), X.astype(np.float64).std(0)
    ok = std > 0
    np.testing.assert_allclose(Z[:, ok], ((Xte - mean) / np.where(ok, std, 1))[:, ok], rtol=1e-4,
                               atol=1e-4)


# -- identities ------------------------------------------------------------------------------------
def test_standard_equals_numpy_formula(power) -> None:
    X, _ = power
    X64 = X.astype(np.float64)
    Z = make_scaler("standard").fit(X64).transform(X64)
    mean, std = X64.mean(0), X64.std(0)
    ok = std > 0
    with np.errstate(all="ignore"):
        expected = (X64 - mean) / std
    np.testing.assert_allclose(Z[:, ok], expected[:, ok], rtol=1e-10, atol=1e-10)
    np.testing.assert_array_equal(Z[:, ~ok], 0.0)


@pytest.mark.parametrize("floor", [0.01, 0.5, 3.0])
def test_std_floor_gain_is_capped(floor: float, power) -> None:
    X, _ = power
    s = make_scaler("std_floor", floor=floor).fit(X)
    assert s.gain_map().max() <= 1 / floor + 1e-12
    assert s.floor_ == floor


def test_std_floor_percentile_floor_and_ordering(power) -> None:
    X, _ = power
    s = StdFloorScaler(floor_percentile=25).fit(X)
    std = X.astype(np.float64).std(0)
    np.testing.assert_allclose(s.floor_, np.percentile(std[std > 0], 25), rtol=1e-6)
    g_standard = make_scaler("standard").fit(X).gain_map()
    assert s.gain_map().max() < g_standard.max() / 10
    ok = std > 0
    assert (s.gain_map()[ok] <= g_standard[ok] * (1 + 1e-6)).all()


def test_band_gains_constant_along_frames(power) -> None:
    X, _ = power
    g = make_scaler("band").fit(X).gain_map()
    np.testing.assert_allclose(g, np.repeat(g[:, :1], SHAPE[1], axis=1))
    s = BandScaler().fit(X)
    rows = X.astype(np.float64).transpose(1, 0, 2).reshape(SHAPE[0], -1)
    np.testing.assert_allclose(s.mean_.ravel(), rows.mean(1), rtol=1e-6)
    std = rows.std(1)
    np.testing.assert_allclose(s.scale_.ravel()[std > 0], std[std > 0], rtol=1e-6)


def test_global_scaler_gain_is_uniform(power) -> None:
    X, _ = power
    g = make_scaler("global").fit(X).gain_map()
    np.testing.assert_allclose(g, g[0, 0])
    np.testing.assert_allclose(1 / g[0, 0], X.astype(np.float64).std(), rtol=1e-6)


def test_clip_scaler_is_per_clip_and_stateless(power) -> None:
    X, Xte = power
    s = make_scaler("clip")
    Z = s.transform(Xte)  # no fit needed
    Z64 = Z.astype(np.float64)
    np.testing.assert_allclose(Z64.mean(axis=(1, 2)), 0, atol=1e-4)
    np.testing.assert_allclose(Z64.std(axis=(1, 2)), 1, atol=1e-4)
    np.testing.assert_array_equal(s.fit(X).transform(Xte), Z)


def test_compressors_match_librosa_and_numpy(power) -> None:
    import librosa

    X, _ = power
    X64 = X.astype(np.float64)
    np.testing.assert_allclose(make_scaler("db", top_db=None).transform(X64),
                               librosa.power_to_db(X64, ref=1.0, amin=1e-10, top_db=None))
    default = make_scaler("db").transform(X64)  # 80 dB below each clip's own maximum
    for clip, ref in zip(default, X64, strict=True):
        np.testing.assert_allclose(clip, librosa.power_to_db(ref, amin=1e-10, top_db=80.0))
    np.testing.assert_allclose(make_scaler("log1p", ref=2.0).transform(X64), np.log1p(X64 / 2))
    np.testing.assert_allclose(make_scaler("pcen").transform(X64[:2]),
                               librosa.pcen(X64[:2], sr=22050, hop_length=512, axis=-1))


def test_db_top_db_clips_each_clip_on_its_own(power) -> None:
    X, _ = power
    s = make_scaler("db", top_db=40.0)
    Z = s.transform(X)
    np.testing.assert_array_equal(s.transform(X[3:4]), Z[3:4])
    assert (Z.max(axis=(1, 2)) - Z.min(axis=(1, 2)) <= 40.0 + 1e-3).all()


def test_median_and_minmax_and_maxabs_statistics(power) -> None:
    X, _ = power
    X64 = X.astype(np.float64)
    np.testing.assert_allclose(make_scaler("median").fit(X).center_, np.median(X64, axis=0))
    mm = make_scaler("minmax").fit(X64).transform(X64)
    assert mm.min() >= -1e-12 and mm.max() <= 1 + 1e-12
    ma = make_scaler("maxabs").fit(X64).transform(X64)
    assert np.abs(ma).max() <= 1 + 1e-12


# -- zero variance -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_scaler_zero_variance_gives_finite_output(name: str, small_X: np.ndarray) -> None:
    X = small_X.copy()
    X[:, :, 5] = 2.0     # a zero-variance column of pixels
    X[0] = 1.0           # a constant clip
    s = make_scaler(name).fit(X)
    Z = s.transform(X)
    assert np.isfinite(Z).all()
    g = s.gain_map(X)
    assert np.isfinite(g).all()
    if name not in ("clip", "pcen", "db", "log1p"):
        row0 = np.delete(g[0], 5)
        np.testing.assert_allclose(row0, row0[0])  # the silent row 0 keeps one gain
    const = make_scaler(name).fit(np.zeros((5, 3, 4)))
    assert np.isfinite(const.transform(np.zeros((2, 3, 4)))).all()


def test_zero_std_pixels_get_gain_one(small_X: np.ndarray) -> None:
    for name in ("standard", "band", "minmax", "maxabs", "robust", "clip", "log1p"):
        g = make_scaler(name).fit(small_X).gain_map(small_X)
        np.testing.assert_allclose(g[0], 1.0, err_msg=name)


AFFINE = ["standard", "std_floor", "band", "global", "minmax", "maxabs", "robust", "median"]


@pytest.mark.parametrize("name", AFFINE)
def test_zero_scale_flags_match_gain_one(name: str, small_X: np.ndarray) -> None:
    """``zero_scale_`` marks exactly where the scale was replaced: the silent row 0 (std 0)."""
    s = make_scaler(name).fit(small_X)
    flagged = np.broadcast_to(s.zero_scale_, s.image_shape_)
    assert flagged.dtype == bool
    if name in ("median", "std_floor", "global"):  # unscaled, floored, pooled
        assert not flagged.any()
    else:
        assert flagged[0].all() and not flagged[1:].any()
    np.testing.assert_array_equal(s.gain_map()[flagged], 1.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_standard_near_zero_std_is_relative_to_the_data(dtype) -> None:
    """A tiny std beside loud pixels is real (FSDD's empty bands: 3e-22 next to 1e3) and keeps
    its huge gain; a std below 1e-30 of the data counts as zero, as does a denormal one."""
    X = np.zeros((4, 3, 1), dtype=dtype)
    X[:, 0, 0] = [0.0, 1e3, 5e2, 2e2]                       # loud
    X[:, 1, 0] = [0.0, 6e-22, 3e-22, 0.0]                   # empty band: std ~3e-22
    X[:, 2, 0] = [0.0, 1e-36, 0.0, 0.0] if dtype == np.float32 else [0.0, 1e-40, 0.0, 0.0]
    s = make_scaler("standard").fit(X)
    assert s.zero_scale_[:, 0].tolist() == [False, False, True]
    assert 1e21 < s.gain_map()[1, 0] < 1e22
    Z = s.transform(np.full((1, 3, 1), 1e3, dtype=dtype))
    assert np.isfinite(Z).all() and Z.dtype == dtype
    tiny = np.array([[[1.1754944e-38]], [[0.0]]], dtype=np.float32)  # the fuzzer's find
    t = make_scaler("standard").fit(tiny)
    assert t.zero_scale_.all() and np.isfinite(t.transform(np.full((1, 1, 1), 2.0, np.float32))).all()


def test_standard_constant_with_rounding_noise_is_flagged() -> None:
    """scikit-learn's own test (a variance at the rounding level of the mean) is kept: three
    batches of a constant 1e10 / 3 leave a variance of 6e-14 (std 2.4e-7, a gain of 4e6)."""
    X = np.full((10, 1, 1), 1e10 / 3)
    for name in ("standard", "band", "global", "std_floor"):
        s = make_scaler(name, **({"floor": 0.0} if name == "std_floor" else {}))
        for _ in range(3):
            s.partial_fit(X)
        assert np.max(s.var_ if name != "std_floor" else s.std_) > 0, name
        assert np.all(s.zero_scale_), name
        np.testing.assert_array_equal(s.gain_map(), 1.0)
        assert np.abs(s.transform(X)).max() < 1e-3, name


def test_zero_scale_follows_partial_fit(small_X: np.ndarray) -> None:
    """The magnitude reference grows with partial_fit and survives an export."""
    s = make_scaler("standard").partial_fit(small_X[:10])
    assert s.data_abs_max_ == float(np.abs(small_X[:10]).max())
    s.partial_fit(small_X[10:] * 10)
    assert s.data_abs_max_ == pytest.approx(float(np.abs(small_X[10:] * 10).max()))
    back = scaler_from_params(scaler_params(s))
    assert back.data_abs_max_ == s.data_abs_max_
    np.testing.assert_array_equal(back.zero_scale_, s.zero_scale_)


# -- partial_fit -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", PARTIAL)
def test_partial_fit_equals_fit(name: str, power) -> None:
    X, Xte = power
    whole = make_scaler(name).fit(np.concatenate([X, Xte]))
    parts = make_scaler(name).partial_fit(X).partial_fit(Xte)
    np.testing.assert_allclose(parts.transform(Xte), whole.transform(Xte), rtol=1e-5, atol=1e-5)
    assert parts.n_samples_seen_ == len(X) + len(Xte)
    refit = parts.fit(Xte)
    assert refit.n_samples_seen_ == len(Xte)


def test_partial_fit_rejects_other_image_shape(power) -> None:
    X, _ = power
    s = PixelStandardScaler().partial_fit(X)
    with pytest.raises(ShapeError, match=r"fitted on \(60, 130\)"):
        s.partial_fit(X[:, :10])


# -- in a pipeline ---------------------------------------------------------------------------------
def test_band_scaler_in_pipeline_with_logistic_regression(power) -> None:
    X, Xte = power
    y = np.arange(len(X)) % 2
    X = X.copy()
    X[y == 1, 10:20] += 3.0
    pipe = Pipeline([("scale", make_scaler("band", shape=SHAPE)),
                     ("clf", LogisticRegression(max_iter=200))])
    pipe.fit(X.reshape(len(X), -1), y)
    assert pipe.score(X.reshape(len(X), -1), y) > 0.9
    assert pipe.named_steps["scale"].image_shape_ == SHAPE
    clone(pipe).fit(X.reshape(len(X), -1), y)


# -- errors ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(POSITIVE_ONLY))
def test_compressors_refuse_negative_input(name: str) -> None:
    X = np.array([[[1.0, -2.0]]])
    with pytest.raises(DataError, match=r"Negative values.*min -2"):
        make_scaler(name).fit(X)
    with pytest.raises(DataError, match="already in dB"):
        make_scaler(name).transform(X)


def test_transform_rejects_other_layouts(power) -> None:
    X, _ = power
    s = make_scaler("standard").fit(X)
    with pytest.raises(ShapeError, match=r"images of shape \(60, 10\)"):
        s.transform(X[:, :, :10])
    with pytest.raises(ShapeError, match="features"):
        s.transform(X[:, :, :10].reshape(len(X), -1))
    with pytest.raises(ShapeError, match=r"shape=\(7, 7\) holds 49"):
        make_scaler("standard", shape=(7, 7)).fit(np.ones((3, 50)))
    with pytest.raises(ShapeError, match="has shape="):
        make_scaler("band", shape=(5, 5)).fit(X)


def test_stateless_scalers_accept_any_image_shape_after_fit() -> None:
    s = make_scaler("db").fit(np.zeros((1, 1, 1), dtype=np.float32))
    assert s.transform(np.ones((2, 60, 130), dtype=np.float32)).shape == (2, 60, 130)


def test_non_finite_input_is_a_data_error(power) -> None:
    X, _ = power
    X = X.copy()
    X[0, 0, 0] = np.nan
    with pytest.raises(DataError, match="NaN"):
        make_scaler("standard").fit(X)


@pytest.mark.parametrize(("name", "params", "match"), [
    ("standard", {"shape": (60,)}, "shape="),
    ("standard", {"with_mean": "yes"}, "with_mean="),
    ("std_floor", {"floor": -1.0}, "floor=-1.0"),
    ("std_floor", {"floor_percentile": 150}, "floor_percentile=150"),
    ("minmax", {"feature_range": (1, 0)}, "feature_range="),
    ("robust", {"quantile_range": (80, 20)}, "quantile_range="),
    ("robust", {"quantile_range": (0, 100), "unit_variance": True}, "infinite"),
    ("minmax", {"feature_range": (-1e308, 1e308)}, "hi - lo finite"),
    ("log1p", {"ref": 0}, "ref=0"),
    ("db", {"amin": 0.0}, "amin=0.0"),
    ("db", {"top_db": -3}, "top_db=-3"),
    ("pcen", {"hop_length": 0}, "hop_length=0"),
    ("pcen", {"time_constant": 0}, "time_constant=0"),
])
def test_bad_parameters_are_parameter_errors(name: str, params: dict, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        make_scaler(name, **params)
    est = SCALERS[name].cls(**params)  # __init__ never validates (sklearn convention)
    with pytest.raises(ParameterError, match=match):
        est.fit(np.ones((3, 2, 2)))


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # scikit-learn's
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_minmax_too_wide_a_range_for_the_data_is_refused() -> None:
    """A finite but huge feature_range over a tiny training range would need a gain beyond
    float64: refused with the fix, not turned into inf."""
    X = np.zeros((3, 1, 2))
    X[:, 0, 0] = [0.0, 1e-14, 2e-14]
    X[:, 0, 1] = [0.0, 1.0, 2.0]
    with pytest.raises(ParameterError, match="narrower feature_range"):
        make_scaler("minmax", feature_range=(0, 1e300)).fit(X)
    assert np.isfinite(make_scaler("minmax", feature_range=(0, 1e6)).fit(X).transform(X)).all()


# -- registry ----------------------------------------------------------------------------------
def test_registry_lists_every_scaler() -> None:
    assert NAMES == ["none", "standard", "std_floor", "band", "global", "clip", "minmax",
                     "maxabs", "robust", "median", "log1p", "db", "pcen"]
    for name, info in SCALERS.items():
        assert isinstance(info, ScalerInfo) and info.name == name
        assert info.title and info.description and "\n" not in info.description
        assert info.stateless == (name in ("none", "clip", "log1p", "db", "pcen"))
        assert info.invertible == (name not in ("clip", "pcen"))
    with pytest.raises(TypeError):
        SCALERS["x"] = SCALERS["none"]  # type: ignore[index]


def test_make_scaler_errors_name_the_fix() -> None:
    with pytest.raises(ParameterError, match="unknown scaler 'nope'; known: none, standard"):
        make_scaler("nope")
    with pytest.raises(ParameterError, match=r"unknown parameter\(s\) \['flor'\].*known"):
        make_scaler("std_floor", flor=1.0)
    with pytest.raises(ParameterError, match="must be the last step"):
        make_scaler("band+db")
    with pytest.raises(ParameterError, match="empty part"):
        make_scaler("db+")
    with pytest.raises(ParameterError, match="repeats"):
        make_scaler("db+db")
    with pytest.raises(ParameterError, match="unknown parameter 'floor'"):
        make_scaler("db+band", floor=1.0)
    with pytest.raises(ParameterError, match="names step 'std_floor'"):
        make_scaler("db+band", std_floor__floor=1.0)


def test_make_scaler_composition_routes_parameters() -> None:
    s = make_scaler(" log1p + std_floor ", shape=SHAPE, floor=0.5, log1p__ref=2.0)
    assert isinstance(s, ComposedScaler)
    assert [n for n, _ in s.steps] == ["log1p", "std_floor"]
    assert s.steps[0][1].shape == SHAPE and s.steps[1][1].shape == SHAPE
    assert s.steps[0][1].ref == 2.0 and s.steps[1][1].floor == 0.5
    info = scaler_info("log1p+std_floor")
    assert info.invertible and not info.stateless and info.cls is ComposedScaler


def test_composed_gain_needs_x_and_is_empirical(power) -> None:
    X, _ = power
    s = make_scaler("db+band").fit(X)
    with pytest.raises(ParameterError, match="needs X"):
        s.gain_map()
    with pytest.raises(ParameterError, match="needs X"):
        make_scaler("pcen").gain_map()
    assert s.gain_map(X).shape == SHAPE


# -- export ----------------------------------------------------------------------------------------
def _via_npz(d: dict) -> dict:
    buf = io.BytesIO()
    np.savez(buf, **d)
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _via_json(d: dict) -> dict:
    text = json.dumps({k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in d.items()})
    return json.loads(text)


@pytest.mark.parametrize("name", NAMES + ["db+band", "log1p+std_floor"])
@pytest.mark.parametrize("via", [_via_npz, _via_json, dict])
def test_scaler_params_round_trip(name: str, via, power) -> None:
    X, Xte = power
    s = make_scaler(name, shape=SHAPE).fit(X)
    d = scaler_params(s)
    assert d["name"] == name.replace(" ", "")
    back = scaler_from_params(via(d))
    assert type(back) is type(s)
    np.testing.assert_allclose(back.transform(Xte), s.transform(Xte), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(back.gain_map(Xte), s.gain_map(Xte), rtol=1e-6)


@pytest.mark.parametrize("name", PARTIAL)
def test_scaler_from_params_keeps_partial_fit_state(name: str, power) -> None:
    X, Xte = power
    s = make_scaler(name).partial_fit(X)
    back = scaler_from_params(_via_npz(scaler_params(s)))
    back.partial_fit(Xte)
    s.partial_fit(Xte)
    np.testing.assert_allclose(back.transform(Xte), s.transform(Xte), rtol=1e-6)


def test_scaler_params_exports_affine_maps(power) -> None:
    X, _ = power
    d = scaler_params(make_scaler("standard").fit(X))
    assert d["mean_"].shape == SHAPE and d["scale_"].shape == SHAPE
    assert json.loads(d["params"]) == {"shape": None, "with_mean": True, "with_std": True}
    assert d["scaler_.class"] == "StandardScaler"


def test_scaler_from_params_rejects_bad_input() -> None:
    with pytest.raises(DataError, match="no 'name'"):
        scaler_from_params({})
    with pytest.raises(ParameterError, match="unknown scaler"):
        scaler_from_params({"name": "nope"})
    with pytest.raises(DataError, match="params"):
        scaler_from_params({"name": "band"})
    with pytest.raises(DataError, match="inner class 'os.system'"):
        scaler_from_params({"name": "band", "params": "{}", "scaler_.class": "os.system"})
    with pytest.raises(DataError, match="mapping"):
        scaler_from_params([1, 2])  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="not an sndiag scaler"):
        scaler_params(LogisticRegression())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kw", [{}, {"with_centering": False}, {"with_scaling": False},
                                {"quantile_range": (10.0, 90.0), "unit_variance": True},
                                {"quantile_range": (0.0, 100.0)}])
def test_robust_fit_equals_scikit_learn_bit_for_bit(dtype, kw):
    """The vectorized quantiles give scikit-learn's RobustScaler state exactly (incl. the
    constant columns whose range is set to 1), for both float dtypes."""
    from sklearn.preprocessing import RobustScaler

    from sndiag.scalers._affine import _fit_robust

    rng = np.random.default_rng(1)
    X2 = rng.gamma(0.4, 3.0, size=(101, 40)).astype(dtype)
    X2[:, 3] = 2.5                       # constant column: range 0 -> 1
    X2[:60, 7] = 0.0                     # IQR 0 but not constant
    X2[:, 9] = 1.0 + np.arange(101) * 1e-9  # a range below float32's 10 * eps
    ref = RobustScaler(**kw).fit(X2)
    ours, raw = _fit_robust(RobustScaler(**kw), X2)
    assert (raw is None) == (not ours.with_scaling)
    assert ours.n_features_in_ == ref.n_features_in_ == 40
    for attr in ("center_", "scale_"):
        a, b = getattr(ours, attr), getattr(ref, attr)
        assert (a is None) == (b is None)
        if a is not None:
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ours.transform(X2), ref.transform(X2))


def test_robust_fit_leaves_nan_input_to_scikit_learn():
    from sklearn.preprocessing import RobustScaler

    from sndiag.scalers._affine import _fit_robust

    X2 = np.array([[1.0, np.nan], [2.0, 3.0], [4.0, 5.0]])
    np.testing.assert_array_equal(_fit_robust(RobustScaler(), X2)[0].center_,
                                  RobustScaler().fit(X2).center_)


@pytest.mark.parametrize("name", ["none", "clip", "log1p", "db", "pcen"])
def test_stateless_transform_in_chunks_equals_one_pass(name, monkeypatch):
    """Stateless transforms run a chunk of clips at a time; every one of them is per clip, so
    chunks of 7 give what one pass over all 30 clips gives."""
    import sndiag.scalers._base as base

    X = np.random.default_rng(2).gamma(1.0, 2.0, size=(30, 6, 9)).astype(np.float32)
    s = make_scaler(name).fit(X)
    monkeypatch.setattr(base, "APPLY_CHUNK_CLIPS", 10**9)
    whole = s.transform(X)
    monkeypatch.setattr(base, "APPLY_CHUNK_CLIPS", 7)
    chunked = s.transform(X)
    assert chunked.dtype == whole.dtype == np.float32
    np.testing.assert_array_equal(chunked, whole)


# -- fitted from the statistics of the clips (a dataset read from a file) -------------------------
@pytest.mark.parametrize("name", ["standard", "std_floor", "band", "global"])
def test_fit_from_stats_equals_a_fit_on_the_clips(name):
    from sndiag.scalers import fit_from_stats
    from sndiag.stats import compute_stats

    rng = np.random.default_rng(3)
    X = rng.gamma(2.0, 1.0, size=(400, 6, 9)).astype(np.float32)
    X[:, 4:] *= 1e-6           # near-silent rows
    X[:, :, 7:] = 0.0          # padding: constant pixels
    X[:, 0, 0] = 1e6           # a constant far from 0
    fitted = make_scaler(name).fit(X)
    from_stats = make_scaler(name)
    assert fit_from_stats(from_stats, compute_stats(X, quantiles="none"))
    np.testing.assert_allclose(from_stats.offset_, fitted.offset_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(from_stats.scale_, fitted.scale_, rtol=1e-6)
    np.testing.assert_array_equal(from_stats.zero_scale_, fitted.zero_scale_)
    np.testing.assert_allclose(from_stats.transform(X), fitted.transform(X), rtol=1e-5, atol=1e-6)
    if name == "std_floor":
        assert from_stats.floor_ == pytest.approx(fitted.floor_, rel=1e-9)


@pytest.mark.parametrize("name, params", [("robust", {}), ("minmax", {}), ("db+standard", {}),
                                          ("standard", {"with_mean": False})])
def test_fit_from_stats_leaves_other_scalers_unfitted(name, params):
    from sndiag.scalers import fit_from_stats
    from sndiag.stats import compute_stats

    s = make_scaler(name, **params)
    assert not fit_from_stats(s, compute_stats(np.ones((3, 2, 2), np.float32), quantiles="none"))
