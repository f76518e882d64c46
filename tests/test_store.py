import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import sndiag.io as sio
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
    (tmp_path / f"{entry.dataset_id}.npz").write_bytes(sio.to_npz_bytes(other))
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
    """A writer killed at a random moment of a loop of large puts leaves earlier entries intact
    (the deterministic kill points are in the next test)."""
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


_STAGE_CHILD = """
import json, os, sys, time
import numpy as np
import sndiag.store as store_mod
from sndiag.dataset import Dataset

stage, root = sys.argv[1], sys.argv[2]
calls = []

def hold(what):
    print(what, flush=True)
    time.sleep(120)  # the parent kills us here

real_fsync, real_replace, real_write = os.fsync, os.replace, store_mod.atomic_write
if stage == "write":        # data written and flushed, not yet fsynced or renamed
    os.fsync = lambda fd: hold("write")
elif stage == "rename":     # data fsynced, not yet renamed into place
    os.replace = lambda a, b: hold("rename")
elif stage == "metadata":   # data in place, metadata not yet written
    def write(path, data):
        if path.suffix == ".json":
            hold("metadata")
        real_write(path, data)
    store_mod.atomic_write = write
X = np.random.default_rng(7).random((50, 60, 130), dtype=np.float32)
store_mod.FileStore(root).put(Dataset(X, provenance={"name": "killed"}))
print("finished", flush=True)
"""


@pytest.mark.parametrize("stage", ["write", "rename", "metadata"])
def test_filestore_sigkill_at_each_step_of_a_put(tmp_path, stage):
    """A writer SIGKILLed at each step of a put (mid-write, before the rename, between the data
    and its metadata) leaves the earlier entries listed and verified, never lists the torn one,
    and the same dataset can be stored again afterwards."""
    store = FileStore(tmp_path)
    first = store.put(_ds(0))
    proc = subprocess.Popen([sys.executable, "-c", _STAGE_CHILD, stage, str(tmp_path)],
                            stdout=subprocess.PIPE)
    try:
        assert proc.stdout.readline().strip().decode() == stage
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert [e.dataset_id for e in store.entries()] == [first.dataset_id]
    assert store.get(first.dataset_id).content_hash == first.dataset_id
    leftovers = sorted(p.name for p in tmp_path.iterdir()
                       if not p.name.startswith(first.dataset_id))
    killed = Dataset(np.random.default_rng(7).random((50, 60, 130), dtype=np.float32))
    if stage == "metadata":   # the data file is complete: loadable, just not listed yet
        assert leftovers == [f"{killed.content_hash}.npz"]
        assert store.get(killed.content_hash).content_hash == killed.content_hash
    else:                     # only a temporary file, which nothing reads
        assert len(leftovers) == 1 and leftovers[0].endswith(".tmp"), leftovers
        assert killed.content_hash not in store
    entry = store.put(killed)
    assert {e.dataset_id for e in store.entries()} == {first.dataset_id, entry.dataset_id}
    assert store.get(entry.dataset_id).content_hash == killed.content_hash


_EXTRACT_CHILD = """
import sys
import sndiag.io.feature_cache as spec
from sndiag.io import from_folder
from sndiag.store import FileStore

folder, root = sys.argv[1], sys.argv[2]
store = FileStore(root)
cache = spec.DiskCache(f"{root}/features")
real_put, n = cache.put, [0]
def put(key, S):
    real_put(key, S)
    n[0] += 1
    if n[0] == 5:
        print("extracting", flush=True)  # and go on: the kill lands mid-extraction
cache.put = put
store.put(from_folder(folder, cache=cache, batch_size=1, n_jobs=1))
print("finished", flush=True)
"""


def test_sigkill_mid_extraction_leaves_store_and_feature_cache_usable(tmp_path):
    """The dashboard extracts an upload with the feature cache inside the store, then stores
    the dataset. A SIGKILL mid-extraction keeps every earlier dataset intact, leaves no torn
    cache entry, and a second extraction (reusing what was cached) equals a clean one."""
    import soundfile as sf

    from sndiag.io import from_folder
    from sndiag.io.feature_cache import DiskCache

    folder = tmp_path / "clips"
    for label in ("low", "high"):
        (folder / label).mkdir(parents=True)
    t = np.arange(8000) / 8000
    for i in range(40):
        label = ("low", "high")[i % 2]
        f = (200.0 if label == "low" else 2000.0) * (1 + i / 40)
        sf.write(folder / label / f"{i:02d}.wav", 0.3 * np.sin(2 * np.pi * f * t), 8000)
    root = tmp_path / "store"
    store = FileStore(root)
    first = store.put(_ds(0))
    proc = subprocess.Popen([sys.executable, "-c", _EXTRACT_CHILD, str(folder), str(root)],
                            stdout=subprocess.PIPE)
    try:
        said = proc.stdout.readline().strip().decode()
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert said == "extracting"
    assert [e.dataset_id for e in store.entries()] == [first.dataset_id]
    assert store.get(first.dataset_id).content_hash == first.dataset_id
    cached = list((root / "features").rglob("*.npy"))
    assert 5 <= len(cached) < 40
    for path in cached:  # atomic: every cache entry that exists is complete
        assert np.load(path, allow_pickle=False).shape == (60, 130)
    # one clip per batch, as in the killed run: the mel projection's float32 rounding depends
    # on the batch's size (~1e-6 relative), so only equal batches give bit-equal features
    again = from_folder(folder, cache=DiskCache(root / "features"), batch_size=1, n_jobs=1)
    clean = from_folder(folder, batch_size=1, n_jobs=1)
    np.testing.assert_array_equal(again.X, clean.X)
    assert again.content_hash == clean.content_hash
    store.put(again)
    assert len(store.entries()) == 2


def test_open_store_memory_and_path(tmp_path):
    assert isinstance(open_store(":memory:"), MemoryStore)
    assert isinstance(open_store(tmp_path / "s"), FileStore)


def test_filestore_entries_are_world_readable(tmp_path):
    entry = FileStore(tmp_path).put(_ds())
    for suffix in (".npz", ".json"):
        assert (tmp_path / f"{entry.dataset_id}{suffix}").stat().st_mode & 0o777 == 0o644


# -- who added what ------------------------------------------------------------------------------
def _tiny(seed: int):
    return Dataset(np.random.default_rng(seed).random((3, 4, 5)).astype("float32"),
                   provenance={"name": f"tiny {seed}", "kind": "arrays", "source": "x.npy"})


@pytest.mark.parametrize("kind", ["file", "memory"])
def test_store_records_who_added_what_and_from_where(tmp_path, kind):
    store = FileStore(tmp_path) if kind == "file" else MemoryStore()
    e = store.put(_tiny(1), added_by="ann@lab.org", source="upload of x.npy")
    again = store.put(_tiny(1), added_by="bob@lab.org", source="elsewhere")
    assert (e.added_by, e.source) == ("ann@lab.org", "upload of x.npy") and again == e
    assert store.entry(e.dataset_id) == e and store.entries()[0].added_by == "ann@lab.org"
    assert e.created.endswith("+00:00")
    assert store.put(_tiny(2)).source == "arrays from x.npy"


@pytest.mark.parametrize("kind", ["file", "memory"])
def test_store_delete_removes_data_and_attachments(tmp_path, kind):
    from sndiag.errors import StoreError
    store = FileStore(tmp_path) if kind == "file" else MemoryStore()
    keep, gone = store.put(_tiny(1)), store.put(_tiny(2))
    store.put_attachment(gone.dataset_id, "experiment", {"a": 1})
    store.delete(gone.dataset_id)
    assert [e.dataset_id for e in store.entries()] == [keep.dataset_id]
    assert gone.dataset_id not in store and store.get_attachment(gone.dataset_id, "experiment") is None
    if kind == "file":
        assert sorted(p.name for p in tmp_path.iterdir()) == [f"{keep.dataset_id}.json",
                                                               f"{keep.dataset_id}.npz"]
    with pytest.raises(StoreError, match="no dataset"):
        store.delete(gone.dataset_id)


def test_store_reads_entries_written_before_owners_were_recorded(tmp_path):
    store = FileStore(tmp_path)
    e = store.put(_tiny(3))
    meta = tmp_path / f"{e.dataset_id}.json"
    old = {k: v for k, v in json.loads(meta.read_text()).items() if k not in ("added_by", "source")}
    meta.write_text(json.dumps({**old, "from_the_future": 1}))
    (entry,) = store.entries()
    assert entry.added_by is None and entry.source == "" and entry.name == "tiny 3"
