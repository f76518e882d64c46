import numpy as np
import pytest

import sndiag.io as sio
from sndiag.errors import DataError, ParameterError, ShapeError
from sndiag.io.streaming import NpyChunks, open_array_file, write_npy_chunks, write_npz_chunks


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


# -- .npz members, random access, ranges --------------------------------------------------------
@pytest.mark.parametrize("compressed", [False, True])
def test_npy_chunks_reads_npz_member_in_place_or_streamed(tmp_path, compressed):
    X = np.random.default_rng(1).random((37, 4, 3), dtype=np.float32)
    save = np.savez_compressed if compressed else np.savez
    save(tmp_path / "d.npz", y=np.arange(37), X=X)
    r = NpyChunks(tmp_path / "d.npz", chunk_size=8)
    assert r.member == "X" and r.shape == X.shape and r.random_access is not compressed
    np.testing.assert_array_equal(np.concatenate([c.copy() for c in r]), X)
    np.testing.assert_array_equal(np.concatenate([c.copy() for c in r.iter_rows(5, 30)]), X[5:30])
    np.testing.assert_array_equal(r.read(33, 37), X[33:])
    np.testing.assert_array_equal(NpyChunks(tmp_path / "d.npz", member="y").read(0, 37),
                                  np.arange(37))


def test_npy_chunks_pickles_small_and_refuses_bad_ranges_and_members(tmp_path):
    import pickle

    np.save(tmp_path / "x.npy", np.zeros((1000, 60, 130), np.float32))
    r = NpyChunks(tmp_path / "x.npy")
    assert len(pickle.dumps(r)) < 1000
    with pytest.raises(ParameterError, match="outside"):
        r.read(10, 1001)
    with pytest.raises(ParameterError, match=".npz"):
        NpyChunks(tmp_path / "x.npy", member="X")
    np.savez(tmp_path / "two.npz", a=np.ones(2), b=np.ones(2))
    with pytest.raises(DataError, match="no 'X'"):
        NpyChunks(tmp_path / "two.npz")


def test_write_npz_chunks_streams_a_loadable_dataset(tmp_path):
    from sndiag.dataset import Dataset

    X = np.random.default_rng(2).random((10, 60, 130), dtype=np.float32)
    ds = Dataset(X, y=list("ababababab"), provenance={"source": "t"})
    ref = sio.load_arrays(sio.save(ds, tmp_path / "ref.npz"))
    with np.load(tmp_path / "ref.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files if k != "X"}
    write_npz_chunks(tmp_path / "s.npz", (X[s:s + 3] for s in range(0, 10, 3)), n=10,
                     row_shape=(60, 130), arrays=arrays)
    got = sio.load_arrays(tmp_path / "s.npz")
    assert got.content_hash == ref.content_hash and got.provenance == ref.provenance
    assert NpyChunks(tmp_path / "s.npz").random_access
    assert not list(tmp_path.glob(".*.tmp"))
    with pytest.raises(ShapeError, match="declared"):
        write_npz_chunks(tmp_path / "bad.npz", [X[:3]], n=4, row_shape=(60, 130))
    assert not (tmp_path / "bad.npz").exists() and not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("layout", ["plain", "last", "first"])
def test_open_array_file_resolves_layouts_and_labels(tmp_path, layout):
    X = np.random.default_rng(3).random((6, 60, 130), dtype=np.float32)
    stored = {"plain": X, "last": X[..., None], "first": X[:, None]}[layout]
    np.savez(tmp_path / "d.npz", X=stored, y=np.array([1, 2, 1, 2, 1, 2]))
    af = open_array_file(tmp_path / "d.npz", chunk_size=4)
    assert af.shape == (60, 130) and af.n_clips == 6 and af.y.tolist() == ["1", "2"] * 3
    got = np.concatenate([af.images(c).copy() for c in af.reader])
    np.testing.assert_array_equal(got, X)


def test_open_array_file_checks_like_load_arrays(tmp_path):
    import pickle

    np.save(tmp_path / "w.npy", np.zeros((10, 60, 131), np.float32))
    with pytest.raises(ShapeError, match=r"\(10, 60, 131\)"):
        open_array_file(tmp_path / "w.npy")
    np.save(tmp_path / "c.npy", np.zeros((2, 60, 130), np.complex64))
    with pytest.raises(DataError, match="complex"):
        open_array_file(tmp_path / "c.npy")
    (tmp_path / "p.pkl").write_bytes(pickle.dumps(np.zeros(3)))
    with pytest.raises(DataError, match="pickled"):
        open_array_file(tmp_path / "p.pkl")
    np.savez(tmp_path / "y.npz", X=np.zeros((3, 60, 130), np.float32), y=np.arange(4))
    with pytest.raises(ShapeError, match="y has 4 entries"):
        open_array_file(tmp_path / "y.npz")
    big = np.zeros((2, 60, 130))
    big[1, 2, 3] = 1e39
    np.save(tmp_path / "b.npy", big)
    af = open_array_file(tmp_path / "b.npy")
    with pytest.raises(DataError, match="float32 range"):
        af.images(af.reader.read(0, 2))
