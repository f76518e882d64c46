import json

import numpy as np
import pytest

from sndiag.errors import DataError, ParameterError
from sndiag.export import (
    export_params,
    fit_and_export,
    load_params,
    params_json,
    params_npz_bytes,
    training_snippet,
)
from sndiag.masks import manual_mask
from sndiag.scalers import make_scaler

AFFINE = ["none", "standard", "std_floor", "band", "global", "minmax", "maxabs", "robust", "median"]


@pytest.mark.parametrize("name", [*AFFINE, "db+band", "log1p+standard", "log1p", "pcen"])
def test_export_reproduces_the_fitted_scaler(small_X, name):
    X = small_X + 0.01
    fitted = make_scaler(name).fit(X)
    exported = export_params(fitted, name=name)
    np.testing.assert_allclose(exported.transform(X), fitted.transform(X), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("fmt", ["npz", "json"])
def test_export_round_trips_through_files(small_X, fmt):
    mask = manual_mask(small_X.shape[1:], rows=[0, 1, 2])
    X = mask.apply(small_X, mode="zero")
    fitted = make_scaler("band").fit(X)
    exported = export_params(fitted, name="band", mask=mask)
    raw = params_npz_bytes(exported) if fmt == "npz" else params_json(exported).encode()
    back = load_params(raw)
    assert back.mask_rows[:3].all() and not back.mask_rows[3:].any()
    np.testing.assert_allclose(back.transform(small_X), exported.transform(small_X), rtol=1e-6)
    assert np.all(back.transform(small_X)[:, :3] == 0)


def test_export_refuses_a_fitted_step_before_another():
    with pytest.raises(ParameterError, match="only stateless steps"):
        training_snippet(name="band+db")


def test_load_params_rejects_garbage():
    with pytest.raises(DataError, match="not an sndiag scaler export"):
        load_params(b"garbage bytes")


def test_training_snippet_runs_and_matches(tmp_path, small_X):
    fitted = make_scaler("std_floor").fit(small_X)
    exported = export_params(fitted, name="std_floor")
    (tmp_path / "p.npz").write_bytes(params_npz_bytes(exported))
    code = training_snippet(name="std_floor", params_file=str(tmp_path / "p.npz"))
    assert "sndiag" not in code.split("\n", 3)[0]  # numpy-only for affine scalers
    ns: dict = {}
    exec(compile(code, "snippet", "exec"), ns)  # noqa: S102 - our own generated code
    np.testing.assert_allclose(ns["scale"](small_X), fitted.transform(small_X), rtol=1e-4, atol=1e-4)


def test_training_snippet_of_a_chain_runs_and_matches(tmp_path, small_X):
    from sndiag.dataset import Dataset

    ds = Dataset(np.abs(small_X), y=["a", "b"] * 20)
    fit_and_export(ds, scaler="db+band", mask="rows:0-1", path=tmp_path / "p.npz")
    code = training_snippet(name="db+band", params_file=str(tmp_path / "p.npz"))
    ns: dict = {}
    exec(compile(code, "snippet", "exec"), ns)  # noqa: S102 - our own generated code
    out = ns["scale"](np.abs(small_X))
    expected = load_params(tmp_path / "p.npz").transform(np.abs(small_X))
    np.testing.assert_allclose(out, expected)
    assert np.all(out[:, :2] == out[:1, :2])     # masked rows: one constant for every clip


def test_fit_and_export_writes_json(tmp_path, small_X):
    from sndiag.dataset import Dataset

    ds = Dataset(small_X, y=["a", "b"] * 20)
    msg = fit_and_export(ds, scaler="band", mask="p10+rows:0-1",
                         path=tmp_path / "p.json")
    d = json.loads((tmp_path / "p.json").read_text())
    assert d["name"] == "band" and sum(d["mask_rows"]) >= 2
    assert "rows masked" in msg


@pytest.mark.parametrize("fmt", ["npz", "json"])
def test_one_export_format_rebuilds_the_fitted_estimator(small_X, fmt):
    """The file a training script reads also rebuilds the sndiag estimator, which continues
    partial_fit where it stopped (one exported-scaler format, not two)."""
    fitted = make_scaler("db+standard").fit(small_X[:20] + 0.01)
    exported = export_params(fitted, name="db+standard")
    raw = params_npz_bytes(exported) if fmt == "npz" else params_json(exported).encode()
    back = load_params(raw).scaler()
    more = small_X[20:] + 0.01
    np.testing.assert_allclose(back.transform(more), fitted.transform(more), rtol=1e-5)
    back.steps[-1][1].partial_fit(back.steps[0][1].transform(more))
    fitted.steps[-1][1].partial_fit(fitted.steps[0][1].transform(more))
    np.testing.assert_allclose(back.transform(more), fitted.transform(more), rtol=1e-5)


def test_export_maps_come_from_the_scaler_not_a_probe(small_X):
    from sndiag.scalers import affine_maps

    fitted = make_scaler("robust").fit(small_X)
    exported = export_params(fitted, name="robust")
    off, sc = affine_maps(fitted)
    np.testing.assert_array_equal(exported.offset, off.astype(np.float32))
    np.testing.assert_array_equal(exported.scale, sc.astype(np.float32))


def test_export_is_fitted_on_the_training_part_when_there_is_a_split(small_X):
    """Fit where the user will fit: a dataset with a split exports train-only parameters."""
    from sndiag.dataset import Dataset
    from sndiag.export import fit_export

    split = np.array(["train"] * 30 + ["test"] * 10)
    X = small_X.copy()
    X[30:] *= 100.0  # the test part would change a scaler fitted on it
    ds = Dataset(X, y=["a", "b"] * 20, split=split)
    ex = fit_export(ds, scaler="standard")
    ref = make_scaler("standard").fit(X[:30])
    np.testing.assert_allclose(ex.transform(X), ref.transform(X), rtol=1e-4, atol=1e-4)
    assert "30 training clips of 40" in ex.fitted_on
    everything = fit_export(Dataset(X, y=["a", "b"] * 20), scaler="standard")
    assert "no train/test split" in everything.fitted_on
