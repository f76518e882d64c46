import numpy as np
import pytest

from sndiag.chunks import NpyChunks, write_npy_chunks
from sndiag.errors import DataError


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 1000])
def test_npy_chunks_concatenate_to_the_array(tmp_path, chunk_size):
    X = np.random.default_rng(0).random((100, 6, 5), dtype=np.float32)
    np.save(tmp_path / "x.npy", X)
    got = np.concatenate([c.copy() for c in NpyChunks(tmp_path / "x.npy", chunk_size=chunk_size)])
    np.testing.assert_array_equal(got, X)


def test_npy_chunks_refuses_pickle_and_garbage(tmp_path):
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="pickled"):
        NpyChunks(tmp_path / "o.npy")
    (tmp_path / "g.npy").write_bytes(b"not numpy")
    with pytest.raises(DataError, match="not a valid .npy"):
        NpyChunks(tmp_path / "g.npy")


def test_npy_chunks_detects_truncation(tmp_path):
    np.save(tmp_path / "x.npy", np.ones((10, 4), dtype=np.float32))
    data = (tmp_path / "x.npy").read_bytes()
    (tmp_path / "t.npy").write_bytes(data[:-20])
    with pytest.raises(DataError, match="truncated"):
        list(NpyChunks(tmp_path / "t.npy", chunk_size=4))


def test_write_npy_chunks_checks_row_count(tmp_path):
    with pytest.raises(Exception, match="declared"):
        write_npy_chunks(tmp_path / "a.npy", iter([np.ones((2, 3))]), n=3, row_shape=(3,))
