"""sndiag.images: the one check every reader (and Dataset) applies to spectrogram arrays."""

from __future__ import annotations

import numpy as np
import pytest

from sndiag.dataset import Dataset
from sndiag.errors import DataError, ShapeError
from sndiag.images import check_images, image_layout


@pytest.mark.parametrize(("shape", "channel", "img"), [((4, 6, 7), None, (6, 7)),
                                                       ((4, 6, 7, 1), -1, (6, 7)),
                                                       ((4, 1, 6, 7), 1, (6, 7))])
def test_image_layout_reads_the_three_layouts(shape, channel, img) -> None:
    assert image_layout(shape) == (channel, img)
    assert check_images(np.zeros(shape)).X.shape == (4, *img)


@pytest.mark.parametrize(("X", "err", "match"), [
    (np.ones((2, 3)), ShapeError, "single image"),
    (np.ones((2, 130, 60)), ShapeError, "transposed"),
    (np.ones((0, 60, 130)), DataError, "no clips"),
    (np.ones((1, 60, 130), dtype=complex), DataError, "complex"),
    (np.ones((1, 60, 130), dtype=bool), DataError, "mask"),
    (np.array([[["a"]]]), DataError, "dtype"),
    (np.full((1, 60, 130), np.inf), DataError, "7800 NaN/Inf values"),
    (np.full((1, 60, 130), 1e39), DataError, "float32 range"),
])
def test_check_images_refuses_with_the_fix(X, err, match) -> None:
    with pytest.raises(err, match=match):
        check_images(X, expected_shape=(60, 130))


def test_nan_policy_zero_counts_what_it_replaces() -> None:
    X = np.ones((2, 3, 4))
    X[1, 2, 3] = np.nan
    checked = check_images(X, nan_policy="zero")
    assert checked.n_replaced == 1 and checked.X[1, 2, 3] == 0 and checked.X.dtype == np.float32


def test_dataset_uses_the_same_check() -> None:
    """Dataset(X) refuses what the readers refuse, with the same words."""
    with pytest.raises(DataError, match="complex dtype"):
        Dataset(np.ones((1, 2, 2), dtype=complex))
    assert Dataset(np.ones((3, 1, 5, 6))).shape == (5, 6)
