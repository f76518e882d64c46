"""ClipArray: numpy's indexing of the clips, read a few at a time, never loaded whole."""

from __future__ import annotations

import numpy as np
import pytest

from sndiag.clip_array import ArrayClips
from sndiag.errors import LimitError, ParameterError, ShapeError

X = np.arange(7 * 2 * 3, dtype=np.float32).reshape(7, 2, 3)


@pytest.mark.parametrize("key", [0, 3, -1, -7, np.int64(2), slice(None), slice(2, 5),
                                 slice(1, None, 2), slice(None, None, -1), slice(5, 2),
                                 [4, 0, 4], np.array([6, 1]), range(2, 4),
                                 np.array([True, False, True, False, False, False, True]),
                                 (slice(1, 3), 0), (2, 1, 2), (np.array([0, 5]), slice(None), 1)])
def test_clip_array_indexes_like_numpy(key):
    got = ArrayClips(X)[key]
    assert np.asarray(got).dtype == np.float32  # an array, or one value for a full index
    np.testing.assert_array_equal(got, X[key])


def test_clip_array_take_reads_each_run_of_clips_once():
    clips = ArrayClips(X)
    np.testing.assert_array_equal(clips.take([5, 1, 2, 1, 6]), X[[5, 1, 2, 1, 6]])
    assert clips.clips_read == 4  # clips 1, 2, 5, 6: each read once


def test_clip_array_refuses_to_become_an_array():
    with pytest.raises(LimitError, match="never loaded whole"):
        np.asarray(ArrayClips(X))
    with pytest.raises(LimitError):
        np.mean(ArrayClips(X))


@pytest.mark.parametrize("key, error", [(7, IndexError), (-8, IndexError),
                                        ([0, 7], ParameterError), (np.array([0.5]), ParameterError),
                                        (np.array([True, False]), ShapeError), ((), ParameterError),
                                        ("a", ParameterError)])
def test_clip_array_bad_index_is_a_clear_error(key, error):
    with pytest.raises(error):
        ArrayClips(X)[key]


def test_clip_array_chunks_cover_every_clip_once():
    clips = ArrayClips(X)
    starts = [(s, c.shape[0]) for s, c in clips.chunks(3)]
    assert starts == [(0, 3), (3, 3), (6, 1)]
    assert clips.clips_read == 7
    np.testing.assert_array_equal(np.concatenate([c for _, c in clips.chunks(2, start=2)]), X[2:])
    with pytest.raises(ParameterError, match="positive integer"):
        next(clips.chunks(0))


def test_clip_array_views_read_lazily():
    clips = ArrayClips(X)
    doubled = clips.map(lambda c: c * 2, what="doubled")
    part = clips.select([6, 0, 3])
    assert clips.clips_read == 0 and doubled.shape == X.shape and part.shape == (3, 2, 3)
    np.testing.assert_array_equal(doubled[1:3], X[1:3] * 2)
    np.testing.assert_array_equal(part[:], X[[6, 0, 3]])
    np.testing.assert_array_equal(clips.select(X[:, 0, 0] > 20)[:], X[X[:, 0, 0] > 20])
    assert "doubled" in doubled.where
    with pytest.raises(ParameterError):
        clips.select([9])


def test_clip_array_needs_three_dimensions():
    with pytest.raises(ShapeError, match="n_clips, n_mels, n_frames"):
        ArrayClips(np.zeros((3, 4), np.float32))
    assert ArrayClips(X).nbytes == X.nbytes and len(ArrayClips(X)) == 7
