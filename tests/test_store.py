import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from sndiag.dataset import Dataset
from sndiag.errors import StoreError
from sndiag.store import FileStore, MemoryStore, open_store


def _ds(seed: int = 0, n: int = 3) -> Dataset:
    X = np.random.default_rng(seed).random((n, 4, 5), dtype=np.float32)
    return Dataset(X, y=["a"] * n, provenance={"name": f"ds{seed}"})


@pytest.fixture(params=["file", "memory"])
def store(request, tmp_path):
    return FileStore(tmp_path / "store") if request.param == "file" else MemoryStore()


def test_store_put_get_round_trip(store):
    ds = _ds()
    entry = store.put(ds)
    assert entry.dataset_id == ds.content_hash and entry.dataset_id in store
    back = store.get(entry.dataset_id)
    np.testing.assert_array_equal(back.X, ds.X)
    assert back.provenance["name"] == "ds0"


def test_store_put_is_idempotent_and_lists_newest_first(store):
    a, b = _ds(0), _ds(1)
    store.put(a)
    store.put(b)
    store.put(a)
    assert {e.dataset_id for e in store.entries()} == {a.content_hash, b.content_hash}


@pytest.mark.parametrize("bad", ["../../etc/passwd", "abc", "0" * 63 + "g"])
def test_store_rejects_bad_ids(store, bad):
    with pytest.raises(StoreError, match="content hash"):
        store.get(bad)
    assert bad not in store


def test_store_attachments_round_trip(store):
    ds = _ds()
    store.put(ds)
    assert store.get_attachment(ds.content_hash, "experiment") is None
    store.put_attachment(ds.content_hash, "experiment", {"best": "band"})
    assert store.get_attachment(ds.content_hash, "experiment") == {"best": "band"}
    with pytest.raises(StoreError, match="kind"):
        store.put_attachment(ds.content_hash, "../x", {})


def test_filestore_detects_tampered_entry(tmp_path):
    store = FileStore(tmp_path)
    entry = store.put(_ds())
    other = _ds(5)
    (tmp_path / f"{entry.dataset_id}.npz").write_bytes(other.to_npz_bytes())
    with pytest.raises(StoreError, match="does not match"):
        store.get(entry.dataset_id)
    (tmp_path / f"{entry.dataset_id}.npz").write_bytes(b"garbage")
    with pytest.raises(StoreError, match="unreadable"):
        store.get(entry.dataset_id)


def test_filestore_ignores_torn_and_foreign_files(tmp_path):
    store = FileStore(tmp_path)
    entry = store.put(_ds())
    (tmp_path / ("f" * 64 + ".json")).write_text(json.dumps({"half": True}))
    (tmp_path / ("f" * 64 + ".npz")).write_bytes(b"")
    (tmp_path / "notes.json").write_text("{}")
    (tmp_path / ".x.npz.123.tmp").write_bytes(b"partial")
    assert [e.dataset_id for e in store.entries()] == [entry.dataset_id]


def test_filestore_survives_sigkill_mid_write(tmp_path):
    """A writer killed while writing a large dataset leaves earlier entries intact."""
    store = FileStore(tmp_path)
    first = store.put(_ds())
    code = textwrap.dedent(f"""
        import numpy as np, sys
        from sndiag.dataset import Dataset
        from sndiag.store import FileStore
        store = FileStore({str(tmp_path)!r})
        print("ready", flush=True)
        for i in range(1000):
            store.put(Dataset(np.random.default_rng(i).random((400, 60, 130), dtype=np.float32)))
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"ready"
    import time

    time.sleep(1.0)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    ids = [e.dataset_id for e in store.entries()]
    assert first.dataset_id in ids
    for dataset_id in ids:  # every listed entry loads and verifies
        assert store.get(dataset_id).content_hash == dataset_id


def test_open_store_memory_and_path(tmp_path):
    assert isinstance(open_store(":memory:"), MemoryStore)
    assert isinstance(open_store(tmp_path / "s"), FileStore)


def test_filestore_entries_are_world_readable(tmp_path):
    entry = FileStore(tmp_path).put(_ds())
    for suffix in (".npz", ".json"):
        assert (tmp_path / f"{entry.dataset_id}{suffix}").stat().st_mode & 0o777 == 0o644
