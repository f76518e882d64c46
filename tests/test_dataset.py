import numpy as np
import pytest

import sndiag.io as sio
from sndiag.dataset import Dataset, Skipped, guess_scale
from sndiag.errors import DataError, ShapeError


def test_dataset_converts_to_float32_and_str_labels():
    ds = Dataset(np.ones((3, 2, 4), dtype=np.float64), y=[0, 1, 1], groups=["a", "a", "b"])
    assert ds.X.dtype == np.float32 and ds.X.flags.c_contiguous
    assert ds.y.tolist() == ["0", "1", "1"]
    assert ds.class_counts == {"0": 1, "1": 2}
    assert ds.names.tolist() == ["clip0000", "clip0001", "clip0002"]


@pytest.mark.parametrize(
    ("X", "err", "match"),
    [
        (np.ones((2, 3)), ShapeError, r"shape \(2, 3\)"),
        (np.ones((0, 3, 4)), DataError, "no clips"),
        (np.array([[[np.nan]]]), DataError, "1 NaN/Inf"),
        (np.ones((1, 2, 2), dtype=complex), DataError, "complex"),
        (np.array([[["a"]]]), DataError, "dtype"),
    ],
)
def test_dataset_rejects_bad_X(X, err, match):
    with pytest.raises(err, match=match):
        Dataset(X)


def test_dataset_rejects_label_length_mismatch():
    with pytest.raises(ShapeError, match="y has 2 entries but X has 3"):
        Dataset(np.ones((3, 2, 2)), y=[1, 2])


def test_dataset_hash_identifies_content():
    a = Dataset(np.ones((2, 2, 2)), y=["a", "b"])
    b = Dataset(np.ones((2, 2, 2)), y=["a", "b"], provenance={"source": "elsewhere"})
    c = Dataset(np.ones((2, 2, 2)), y=["b", "a"])
    assert a.content_hash == b.content_hash != c.content_hash


def test_dataset_save_load_round_trip(tmp_path):
    ds = Dataset(
        np.arange(24, dtype=np.float32).reshape(2, 3, 4),
        y=["x", "y"], groups=["g1", "g2"], names=["a.wav", "b.wav"],
        provenance={"source": "test", "config": {"sr": 8000}},
        skipped=(Skipped("c.wav", "not audio"),),
    )
    back = sio.load_arrays(sio.save(ds, tmp_path / "d.npz"))
    np.testing.assert_array_equal(back.X, ds.X)
    assert back.y.tolist() == ["x", "y"] and back.groups.tolist() == ["g1", "g2"]
    assert back.names.tolist() == ["a.wav", "b.wav"]
    assert back.provenance == ds.provenance
    assert back.skipped == ds.skipped
    assert back.content_hash == ds.content_hash
    assert not list(tmp_path.glob(".*tmp"))


def test_dataset_subset_keeps_alignment():
    ds = Dataset(np.arange(3, dtype=np.float32).reshape(3, 1, 1), y=["a", "b", "c"])
    sub = ds.subset([2, 0])
    assert sub.y.tolist() == ["c", "a"] and sub.X.ravel().tolist() == [2.0, 0.0]


def test_guess_scale():
    assert guess_scale(np.array([-80.0, 0.0])) == "db"
    assert guess_scale(np.array([0.0, 1954.0])) == "linear"


def test_content_hash_cannot_be_forged_with_separators_in_labels():
    """Labels holding the hash's separators must not collide with other labels (a crafted upload
    would otherwise open another user's entry); ordinary labels keep their hash."""
    X = np.ones((2, 3, 4), dtype=np.float32)
    a = Dataset(X, y=["a\x1fb", "c"])
    b = Dataset(X, y=["a", "b\x1fc"])
    assert a.content_hash != b.content_hash
    assert Dataset(X, y=["\x00", "x"]).content_hash != Dataset(X, y=None, groups=["\x00", "x"]).content_hash
    assert Dataset(X, names=["a\x1eb", "c"]).content_hash != Dataset(X, names=["a", "b"]).content_hash
