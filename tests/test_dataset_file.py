"""A dataset file larger than memory, opened for the dashboard (sndiag.distributed.dataset_file)
and kept in the store as a reference to the file (sndiag.store)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from sndiag.dataset import Dataset
from sndiag.distributed.dataset_file import add_file, open_dataset_file, read_stats_file
from sndiag.errors import DataError, StoreError
from sndiag.io import save
from sndiag.io.streaming import FileClips, load_whole, open_streamed
from sndiag.stats import compute_stats
from sndiag.store import FileStore, MemoryStore

N = 60


def _ds(seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    X = rng.gamma(2.0, 1.0, size=(N, 60, 130)).astype(np.float32)
    return Dataset(X, y=np.array([f"c{i % 3}" for i in range(N)]),
                   groups=np.array([f"g{i % 4}" for i in range(N)]),
                   provenance={"name": f"file{seed}"})


@pytest.fixture
def data(tmp_path: Path) -> tuple[Dataset, Path]:
    ds = _ds()
    path = tmp_path / "big.npz"
    save(ds, path)
    return ds, path


def test_open_dataset_file_equals_the_dataset_in_memory(data):
    ds, path = data
    opened = open_dataset_file(path, chunk_size=16)
    assert opened.dataset.streamed and isinstance(opened.dataset.X, FileClips)
    assert opened.dataset.content_hash == ds.content_hash  # the same id as an upload of it
    ref = compute_stats(ds.X, ds.y)
    np.testing.assert_allclose(opened.stats.mean, ref.mean, rtol=1e-12)
    np.testing.assert_allclose(opened.stats.std, ref.std, rtol=1e-12)
    assert opened.stats_source == "computed" and opened.stats.n == N
    np.testing.assert_array_equal(opened.dataset.X[[5, 2]], ds.X[[5, 2]])
    whole = load_whole(opened.dataset)
    assert not whole.streamed and whole.content_hash == ds.content_hash


def test_a_statistics_file_replaces_the_statistics_pass(data, tmp_path):
    ds, path = data
    stats_path = compute_stats(ds.X, ds.y).to_npz(tmp_path / "stats.npz")
    opened = open_dataset_file(path, stats_path=stats_path)
    assert opened.stats_source == "stats.npz" and opened.dataset.content_hash == ds.content_hash


def test_statistics_of_other_data_are_refused(data, tmp_path):
    ds, path = data
    other = _ds(seed=1)
    wrong_values = compute_stats(other.X * 0.5, ds.y).to_npz(tmp_path / "other.npz")
    with pytest.raises(DataError, match="does not describe"):
        open_dataset_file(path, stats_path=wrong_values)
    fewer = compute_stats(ds.X[:10], ds.y[:10]).to_npz(tmp_path / "fewer.npz")
    with pytest.raises(DataError, match="describes 10 clips"):
        read_stats_file(fewer, open_streamed(path))
    with pytest.raises(DataError, match="not a statistics file"):
        open_dataset_file(path, stats_path=path)


def test_a_compressed_npz_cannot_be_streamed(tmp_path):
    path = tmp_path / "packed.npz"
    np.savez_compressed(path, X=np.ones((4, 60, 130), np.float32))
    with pytest.raises(DataError, match="compressed"):
        open_streamed(path)


@pytest.mark.parametrize("kind", ["file", "memory"])
def test_the_store_keeps_a_reference_and_the_statistics(data, tmp_path, kind):
    ds, path = data
    store = FileStore(tmp_path / "store") if kind == "file" else MemoryStore()
    entry, read = add_file(store, path)
    assert read and entry.file is not None and entry.file["path"] == str(path.resolve())
    if kind == "file":
        assert not (tmp_path / "store" / f"{entry.dataset_id}.npz").exists()  # no copy
        store = FileStore(tmp_path / "store")  # a restarted server
    assert store.get_stats(entry.dataset_id).n == N
    again = store.get(entry.dataset_id)
    assert again.streamed and again.content_hash == ds.content_hash
    assert add_file(store, path) == (store.entry(entry.dataset_id), False)  # not read again
    store.delete(entry.dataset_id)
    assert path.exists() and store.get_stats(entry.dataset_id) is None  # its file stays


def test_a_changed_file_is_not_opened_under_its_old_id(data, tmp_path):
    ds, path = data
    store = FileStore(tmp_path / "store")
    entry, _ = add_file(store, path)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert store.find_file(path) is None
    with pytest.raises(StoreError, match="changed since it was added"):
        store.get(entry.dataset_id)
    assert entry.dataset_id not in [e.dataset_id for e in store.entries()]  # quarantined
