"""Tests of sndiag.masks: Mask, snr_mask, manual_mask, auto_flags, mask_summary, SNRMask, MaskSpec."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from sndiag.errors import DataError, ParameterError, ShapeError
from sndiag.masks import (
    Mask,
    MaskSpec,
    SNRMask,
    auto_flags,
    format_ranges,
    manual_mask,
    mask_summary,
    parse_rows,
    proposed_threshold,
    snr_mask,
)
from sndiag.stats import compute_stats

SHAPE = (8, 5)


@pytest.fixture
def noisy_X(rng: np.random.Generator) -> np.ndarray:
    """(120, 8, 5): rows 0 silent, 1 and 6 noisy (SNR ~0.1), the rest gamma(4) (SNR ~2)."""
    X = rng.gamma(4.0, 1.0, size=(120, *SHAPE))
    X[:, 0] = 0.0
    X[:, 1] = rng.normal(0.1, 1.0, size=(120, SHAPE[1]))
    X[:, 6] = rng.normal(-0.1, 1.0, size=(120, SHAPE[1]))
    return X.astype(np.float32)


@pytest.fixture
def noisy_stats(noisy_X):
    y = np.arange(len(noisy_X)) % 2
    return compute_stats(noisy_X, y)


# -- format_ranges ----------------------------------------------------------------------------
@pytest.mark.parametrize(("indices", "text"), [
    ([0, 1, 2, 3, 4, 17], "0-4, 17"),
    ([], ""),
    ([5], "5"),
    ([3, 1, 2, 2], "1-3"),
    ([0, 2, 4], "0, 2, 4"),
    (np.array([7, 8, 10, 11, 12]), "7-8, 10-12"),
])
def test_format_ranges(indices, text):
    assert format_ranges(indices) == text


# -- Mask -------------------------------------------------------------------------------------
def test_mask_none_masks_nothing():
    m = Mask.none(SHAPE)
    assert m.shape == SHAPE and m.n_masked_rows == 0 and m.n_masked_pixels == 0 and m.reasons == ()


def test_mask_combined_and_union():
    px = np.zeros(SHAPE, bool)
    px[3, 2] = True
    a = manual_mask(SHAPE, rows=[1])
    b = manual_mask(SHAPE, pixels=px)
    u = a.union(b)
    assert u.masked_rows == [1] and u.pixels[3, 2] and u.n_masked_pixels == SHAPE[1] + 1
    assert u.combined[1].all() and u.combined[3, 2] and u.combined.sum() == SHAPE[1] + 1
    assert len(u.reasons) == 2 and u.union(u).reasons == u.reasons


def test_mask_union_rejects_other_shape():
    with pytest.raises(ShapeError, match="same"):
        Mask.none(SHAPE).union(Mask.none((3, 3)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("lead", [(), (4,), (2, 3)])
def test_mask_apply_zero_and_drop(rng, dtype, lead):
    X = rng.random((*lead, *SHAPE)).astype(dtype) + 1
    px = np.zeros(SHAPE, bool)
    px[4, 0] = True
    m = manual_mask(SHAPE, rows=[0, 6], pixels=px)
    z = m.apply(X, mode="zero")
    assert z.dtype == dtype and z.shape == X.shape
    assert np.all(z[..., [0, 6], :] == 0) and np.all(z[..., 4, 0] == 0)
    np.testing.assert_array_equal(z[..., ~m.combined], X[..., ~m.combined])
    d = m.apply(X, mode="drop")
    assert d.shape == (*lead, SHAPE[0] - 2, SHAPE[1]) and d.dtype == dtype
    np.testing.assert_array_equal(d[..., 0, :], X[..., 1, :])
    assert np.all(d[..., 3, 0] == 0)  # row 4 is the 4th kept row; its masked pixel is zeroed
    assert np.all(X > 0)  # the input is untouched


@pytest.mark.parametrize(("X", "mode", "error", "match"), [
    (np.zeros((2, 3, 5)), "zero", ShapeError, "applies to"),
    (np.zeros(5), "zero", ShapeError, "applies to"),
    (np.zeros((2, *SHAPE)), "crop", ParameterError, "mode"),
])
def test_mask_apply_rejects_bad_input(X, mode, error, match):
    with pytest.raises(error, match=match):
        Mask.none(SHAPE).apply(X, mode=mode)


def test_mask_dict_roundtrip_through_json(noisy_stats):
    m = snr_mask(noisy_stats, threshold=0.5).union(auto_flags(noisy_stats))
    m = m.union(snr_mask(noisy_stats, threshold=0.3, level="pixel"))
    back = Mask.from_dict(json.loads(json.dumps(m.to_dict())))
    np.testing.assert_array_equal(back.rows, m.rows)
    np.testing.assert_array_equal(back.pixels, m.pixels)
    assert back.reasons == m.reasons


def test_mask_arrays_roundtrip(noisy_stats):
    m = snr_mask(noisy_stats, threshold=0.5)
    arrays = m.to_arrays()
    assert set(arrays) == {"mask_rows", "mask_pixels"}
    back = Mask.from_arrays(arrays)
    np.testing.assert_array_equal(back.combined, m.combined)


@pytest.mark.parametrize(("d", "match"), [
    ({"rows": [1]}, "malformed"),
    ({"shape": [4, 2], "rows": [4]}, "outside"),
    ({"shape": [4, 2], "pixels": [8]}, "outside"),
    ({"shape": [4, 2], "reasons": [{"kind": "x"}]}, "malformed"),
])
def test_mask_from_dict_rejects_bad_input(d, match):
    with pytest.raises(DataError, match=match):
        Mask.from_dict(d)


def test_mask_is_immutable():
    m = Mask.none(SHAPE)
    with pytest.raises(ValueError, match="read-only"):
        m.rows[0] = True


# -- snr_mask ---------------------------------------------------------------------------------
def test_snr_mask_threshold_masks_noisy_and_silent_rows(noisy_stats):
    m = snr_mask(noisy_stats, threshold=0.5)
    assert m.masked_rows == [0, 1, 6]
    assert not m.pixels.any()
    assert m.why(6) == ["threshold: |row SNR| < 0.5"] and m.why(3) == []


def test_snr_mask_signed_masks_negative_means(noisy_stats):
    assert snr_mask(noisy_stats, threshold=0.0, use="signed").masked_rows == [6]
    assert snr_mask(noisy_stats, threshold=0.0).masked_rows == []


def test_snr_mask_percentile_masks_the_lowest_share(rng):
    snr_rows = np.linspace(0.1, 6.0, 60)
    X = rng.normal(snr_rows[None, :, None], 1.0, size=(4000, 60, 2))
    st = compute_stats(X, quantiles="none")
    assert snr_mask(st, percentile=10).masked_rows == list(range(6))


def test_snr_mask_both_rules_unite(noisy_stats):
    m = snr_mask(noisy_stats, threshold=0.05, percentile=40)
    assert {r.kind for r in m.reasons} <= {"threshold", "percentile"}
    assert m.masked_rows == sorted(set(snr_mask(noisy_stats, threshold=0.05).masked_rows)
                                   | set(snr_mask(noisy_stats, percentile=40).masked_rows))


def test_snr_mask_pixel_level(noisy_stats):
    m = snr_mask(noisy_stats, threshold=0.5, level="pixel")
    assert m.n_masked_rows == 0
    expected = np.abs(noisy_stats.snr) < 0.5
    np.testing.assert_array_equal(m.pixels, expected)
    assert m.reasons[0].n_pixels == int(expected.sum()) and m.reasons[0].level == "pixel"


@given(t1=st.floats(0, 5), t2=st.floats(0, 5), level=st.sampled_from(["row", "pixel"]))
def test_snr_mask_is_monotone_in_threshold(noisy_stats_module, t1, t2, level):
    lo, hi = sorted((t1, t2))
    a = snr_mask(noisy_stats_module, threshold=lo, level=level).combined
    b = snr_mask(noisy_stats_module, threshold=hi, level=level).combined
    assert np.all(b[a])  # everything masked at the lower threshold stays masked
    assert b.sum() >= a.sum()


@given(p1=st.floats(0, 100), p2=st.floats(0, 100))
def test_snr_mask_is_monotone_in_percentile(noisy_stats_module, p1, p2):
    lo, hi = sorted((p1, p2))
    a = snr_mask(noisy_stats_module, percentile=lo).rows
    b = snr_mask(noisy_stats_module, percentile=hi).rows
    assert np.all(b[a])


@pytest.fixture(scope="module")
def noisy_stats_module():
    rng = np.random.default_rng(1)
    X = rng.gamma(rng.uniform(0.05, 5, size=(1, 20, 4)), 1.0, size=(50, 20, 4))
    X[:, 3] = 0.0
    return compute_stats(X, quantiles="none")


@pytest.mark.parametrize(("kwargs", "match"), [
    ({}, "threshold"),
    ({"threshold": -1.0}, "threshold"),
    ({"threshold": float("nan")}, "threshold"),
    ({"percentile": 120}, "percentile"),
    ({"threshold": 1.0, "level": "band"}, "level"),
    ({"threshold": 1.0, "use": "log"}, "use"),
])
def test_snr_mask_rejects_bad_parameters(noisy_stats, kwargs, match):
    with pytest.raises(ParameterError, match=match):
        snr_mask(noisy_stats, **kwargs)


def test_snr_mask_rejects_non_stats():
    with pytest.raises(ParameterError, match="compute_stats"):
        snr_mask(np.zeros(SHAPE), threshold=1.0)  # type: ignore[arg-type]


# -- manual_mask, auto_flags ------------------------------------------------------------------
@pytest.mark.parametrize("rows", [[-1], [8], [0, 99]])
def test_manual_mask_rejects_rows_out_of_range(rows):
    with pytest.raises(ParameterError, match=r"outside 0\.\.7"):
        manual_mask(SHAPE, rows=rows)


def test_manual_mask_empty_has_no_reason():
    m = manual_mask(SHAPE, rows=[])
    assert m.n_masked_pixels == 0 and m.reasons == ()


def test_auto_flags_finds_empty_bands_and_constant_pixels(small_X):
    small_X[:, 10, 3] = 2.5
    small_X[:, 20] = -80.0  # a flat band at the dB floor: not zero, but empty
    m = auto_flags(compute_stats(small_X, quantiles="none"))
    assert m.masked_rows == [0, 20]
    assert np.argwhere(m.pixels).tolist() == [[10, 3]]
    assert [r.rule for r in m.reasons] == ["empty mel band", "near-constant pixel"]


def test_auto_flags_empty_tol_catches_nearly_flat_rows(rng):
    X = rng.random((30, 3, 4))
    X[:, 1] = 5.0 + 1e-6 * rng.random((30, 4))
    st = compute_stats(X, quantiles="none")
    assert auto_flags(st).masked_rows == []
    assert auto_flags(st, empty_tol=1e-5).masked_rows == [1]
    with pytest.raises(ParameterError, match="empty_tol"):
        auto_flags(st, empty_tol=-1)


# -- mask_summary -----------------------------------------------------------------------------
def test_mask_summary_shares(noisy_stats):
    m = snr_mask(noisy_stats, threshold=0.5)
    s = mask_summary(m, noisy_stats)
    assert json.loads(json.dumps(s)) == s
    assert s["masked_rows"] == [0, 1, 6] and s["rows_text"] == "rows 0-1, 6"
    assert s["n_masked_pixels"] == 3 * SHAPE[1]
    var = noisy_stats.std ** 2
    assert s["variance_removed"] == pytest.approx(var[[0, 1, 6]].sum() / var.sum())
    f = noisy_stats.fisher
    assert s["fisher_removed"] == pytest.approx(f[[0, 1, 6]].sum() / f.sum())
    assert s["masked_fraction"] == pytest.approx(3 / SHAPE[0])


def test_mask_summary_without_labels_or_mask(noisy_X):
    st = compute_stats(noisy_X, quantiles="none")
    s = mask_summary(Mask.none(SHAPE), st)
    assert s["rows_text"] == "no rows" and s["fisher_removed"] is None
    assert s["variance_removed"] == 0.0 and s["reasons"] == []


def test_mask_summary_rejects_shape_mismatch(noisy_stats):
    with pytest.raises(ShapeError, match="same data"):
        mask_summary(Mask.none((3, 3)), noisy_stats)


# -- SNRMask ----------------------------------------------------------------------------------
@pytest.mark.parametrize("flat", [False, True])
@pytest.mark.parametrize("mode", ["zero", "drop"])
def test_snr_mask_transformer_keeps_input_layout(noisy_X, flat, mode):
    X = noisy_X.reshape(len(noisy_X), -1) if flat else noisy_X
    t = SNRMask(threshold=0.5, mode=mode, shape=SHAPE).fit(X)
    assert t.mask_.masked_rows == [0, 1, 6] and t.snr_.shape == (SHAPE[0],)
    out = t.transform(X)
    assert out.ndim == X.ndim and out.dtype == X.dtype
    n_kept = SHAPE[0] - 3
    if mode == "zero":
        assert out.shape == X.shape
        np.testing.assert_array_equal(out.reshape(-1, *SHAPE), t.mask_.apply(noisy_X))
    elif flat:
        assert out.shape == (len(X), n_kept * SHAPE[1])
    else:
        assert out.shape == (len(X), n_kept, SHAPE[1])


def test_snr_mask_transformer_drop_flat_removes_masked_pixels(noisy_X):
    t = SNRMask(threshold=0.5, level="pixel", mode="drop", shape=SHAPE).fit(noisy_X)
    out = t.transform(noisy_X.reshape(len(noisy_X), -1))
    assert out.shape[1] == SHAPE[0] * SHAPE[1] - t.mask_.n_masked_pixels


def test_snr_mask_transformer_fits_on_training_data_only(noisy_X):
    train, test = noisy_X[:60], noisy_X[60:].copy()
    test[:, 3] = 0.0  # would be masked if the test data were used
    t = SNRMask(threshold=0.5, shape=SHAPE).fit(train)
    np.testing.assert_allclose(t.snr_, compute_stats(train, quantiles="none").row_snr)
    assert t.mask_.masked_rows == [0, 1, 6]  # row 3 is silent only in the test data
    np.testing.assert_array_equal(t.transform(test)[:, 2], test[:, 2])


def test_snr_mask_transformer_manual_rows_and_no_rule(noisy_X):
    t = SNRMask(rows=[4], shape=SHAPE).fit(noisy_X)
    assert t.mask_.masked_rows == [4]
    t = SNRMask(rows=[4], percentile=30, shape=SHAPE).fit(noisy_X)
    assert 4 in t.mask_.masked_rows and 0 in t.mask_.masked_rows
    np.testing.assert_array_equal(SNRMask(shape=SHAPE).fit_transform(noisy_X), noisy_X)


def test_snr_mask_transformer_in_a_pipeline(noisy_X):
    y = (noisy_X[:, 4].mean(axis=1) > np.median(noisy_X[:, 4].mean(axis=1))).astype(int)
    pipe = make_pipeline(SNRMask(threshold=0.5, shape=SHAPE), StandardScaler(),
                         LogisticRegression(max_iter=200))
    pipe.fit(noisy_X.reshape(len(noisy_X), -1), y)
    assert pipe.score(noisy_X.reshape(len(noisy_X), -1), y) > 0.8
    c = clone(pipe.steps[0][1])
    assert c.get_params()["threshold"] == 0.5 and not hasattr(c, "mask_")


def test_snr_mask_transformer_requires_fit(noisy_X):
    with pytest.raises(NotFittedError):
        SNRMask(threshold=0.5, shape=SHAPE).transform(noisy_X)


@pytest.mark.parametrize(("params", "X_shape", "error", "match"), [
    ({"shape": (60, 130)}, (5, 40), ShapeError, "features"),
    ({"shape": (4, 10)}, (5, 8, 5), ShapeError, "images of shape"),
    ({}, (5, 40, 1, 1), ShapeError, "expected"),
    ({"mode": "crop"}, (5, 8, 5), ParameterError, "mode"),
    ({"level": "band"}, (5, 8, 5), ParameterError, "level"),
    ({"shape": (8,)}, (5, 8, 5), ParameterError, "shape"),
    ({"threshold": -2.0}, (5, 8, 5), ParameterError, "threshold"),
])
def test_snr_mask_transformer_rejects_bad_input(params, X_shape, error, match):
    params = {"threshold": 0.5, "shape": SHAPE, **params}
    with pytest.raises(error, match=match):
        SNRMask(**params).fit(np.ones(X_shape))


def test_snr_mask_transformer_transform_checks_feature_count(noisy_X):
    t = SNRMask(threshold=0.5, shape=SHAPE).fit(noisy_X)
    with pytest.raises(ShapeError, match="features"):
        t.transform(np.ones((2, 7)))


@parametrize_with_checks([SNRMask(shape=None, threshold=0.5),
                          SNRMask(shape=None, percentile=20, level="pixel", mode="drop")])
def test_snr_mask_transformer_passes_sklearn_checks(estimator, check):
    check(estimator)


# -- MaskSpec --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("none", MaskSpec()), ("NONE", MaskSpec()),
    ("snr<0.5", MaskSpec(mode="abs", threshold=0.5)),
    (" snr < 2 ", MaskSpec(mode="abs", threshold=2.0)),
    ("snr<1e-1", MaskSpec(mode="abs", threshold=0.1)),
    ("p10", MaskSpec(mode="pct", percentile=10.0)),
    ("P 2.5", MaskSpec(mode="pct", percentile=2.5)),
    ("p10+rows:43-59", MaskSpec(mode="pct", percentile=10.0, rows=tuple(range(43, 60)))),
    ("rows:0-2,7+auto", MaskSpec(rows=(0, 1, 2, 7), auto=True)),
    ("snr<proposed", MaskSpec(mode="abs")),
])
def test_mask_spec_parses_and_round_trips(text: str, expected: MaskSpec) -> None:
    parsed = MaskSpec.parse(text)
    assert parsed == expected
    assert MaskSpec.parse(parsed.spec) == parsed
    assert MaskSpec.from_query(parsed.to_query())[0] == parsed


@pytest.mark.parametrize("text", ["snr>0.5", "snr<0", "snr<-1", "p0", "p100", "p150", "q10",
                                  "snr<", "p", "10", "rows 0-4", "rows:4-2", "rows:x"])
def test_mask_spec_parse_rejects(text: str) -> None:
    with pytest.raises(ParameterError):
        MaskSpec.parse(text)


def test_mask_spec_parse_not_a_string() -> None:
    with pytest.raises(ParameterError, match="must be a string"):
        MaskSpec.parse(0.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(("kw", "match"), [({"mode": "band"}, "mode"),
                                           ({"percentile": 120}, "percentile"),
                                           ({"threshold": float("nan")}, "threshold"),
                                           ({"rows": (-1,)}, "rows")])
def test_mask_spec_validates_fields(kw: dict, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        MaskSpec(**kw)


def test_mask_spec_from_query_ignores_bad_values_with_notes() -> None:
    base = MaskSpec(mode="pct", percentile=30.0, rows=(1,))
    spec, notes = MaskSpec.from_query({"snr_mode": "nope", "snr": "oops", "rows": "1-x",
                                       "auto": "1"}, base=base)
    assert spec == base.replace(auto=True)
    assert len(notes) == 3


def test_mask_spec_build_is_the_union_of_its_parts(noisy_X) -> None:
    """SNR rule + rows by hand + auto-flagged rows, the same mask the functions give."""
    X = noisy_X.copy()
    X[:, 5] = 0.0  # an empty band
    st = compute_stats(X)
    spec = MaskSpec(mode="abs", threshold=0.5, rows=(4,), auto=True)
    want = (manual_mask(st.shape, rows=[4]).union(snr_mask(st, threshold=0.5))
            .union(auto_flags(st, pixels=False)))
    got = spec.build(st)
    assert got.masked_rows == want.masked_rows
    np.testing.assert_array_equal(got.combined, want.combined)
    assert MaskSpec(mode="abs").build(st).masked_rows == \
        snr_mask(st, threshold=proposed_threshold(st)).masked_rows


def test_mask_spec_build_refuses_rows_outside_the_data(noisy_X) -> None:
    with pytest.raises(ParameterError, match="outside"):
        MaskSpec(rows=(SHAPE[0],)).build(compute_stats(noisy_X))


def test_snr_mask_transformer_follows_the_spec(noisy_X) -> None:
    """The experiment's transformer fits exactly what MaskSpec.build gives on the training data."""
    spec = MaskSpec(mode="pct", percentile=30.0, rows=(4,), auto=True)
    t = spec.transformer(shape=SHAPE).fit(noisy_X[:60])
    assert t.spec_ == spec
    assert t.mask_.masked_rows == spec.build(compute_stats(noisy_X[:60])).masked_rows
    assert 4 in t.mask_.masked_rows


@pytest.mark.parametrize(("text", "rows"), [("0-2, 5", [0, 1, 2, 5]), ("", []), ("7", [7]),
                                            ("3-3,1", [1, 3])])
def test_parse_rows(text: str, rows: list[int]) -> None:
    assert parse_rows(text, n_rows=60) == rows
    assert parse_rows(format_ranges(rows, sep=","), n_rows=60) == rows


@pytest.mark.parametrize("text", ["a", "5-2", "0-60", "-1"])
def test_parse_rows_rejects_bad_text(text: str) -> None:
    with pytest.raises(ParameterError):
        parse_rows(text, n_rows=60)
