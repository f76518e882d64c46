"""A store that heals: a bad entry is quarantined and reported, the listing goes on, and putting
the dataset again repairs it.

=====================================  ===============================  ========================
damage                                  before                           now
=====================================  ===============================  ========================
``"created": null`` in one entry        the whole listing failed         that entry quarantined,
                                        (TypeError in the sort)          the others listed
torn metadata JSON                      re-adding raised                 quarantined; re-adding
                                        (JSONDecodeError): stuck          writes it anew
corrupt array, intact metadata          "already stored" forever         re-adding verifies the
                                                                         checksum and rewrites
metadata without its data               silently skipped                 quarantined, reported
=====================================  ===============================  ========================
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sndiag.dataset import Dataset
from sndiag.errors import StoreError
from sndiag.store import FileStore
from tests.hostile.conftest import spectrograms


def _ds(seed: int) -> Dataset:
    return Dataset(spectrograms(4, seed=seed), y=["a", "b", "a", "b"],
                   provenance={"name": f"ds{seed}"})


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path / "store")


def _meta(store: FileStore, ds: Dataset) -> Path:
    return store.root / f"{ds.content_hash}.json"


def _data(store: FileStore, ds: Dataset) -> Path:
    return store.root / f"{ds.content_hash}.npz"


@pytest.mark.parametrize("field,value", [("created", None), ("shape", "60x130"),
                                         ("n_clips", "4"), ("synthetic", 1)])
def test_malformed_metadata_quarantined_listing_goes_on(store: FileStore, field: str,
                                                        value: object) -> None:
    good, bad = _ds(0), _ds(1)
    store.put(good)
    store.put(bad)
    meta = json.loads(_meta(store, bad).read_text())
    meta[field] = value
    _meta(store, bad).write_text(json.dumps(meta))
    assert [e.dataset_id for e in store.entries()] == [good.content_hash]
    (q,) = store.quarantined()
    assert q.dataset_id == bad.content_hash and repr(field) in q.reason
    assert not _meta(store, bad).exists() and not _data(store, bad).exists()
    assert {f.split(".", 1)[1] for f in q.files} == {f"{bad.content_hash}.json",
                                                     f"{bad.content_hash}.npz"}
    store.put(bad)  # re-adding repairs
    assert {e.dataset_id for e in store.entries()} == {good.content_hash, bad.content_hash}
    assert store.get(bad.content_hash).content_hash == bad.content_hash


def test_torn_metadata_can_be_added_again(store: FileStore) -> None:
    ds = _ds(2)
    store.put(ds)
    text = _meta(store, ds).read_text()
    _meta(store, ds).write_text(text[: len(text) // 2])
    entry = store.put(ds)  # before: JSONDecodeError, every time
    assert entry.dataset_id == ds.content_hash and entry.sha256 is not None
    assert [e.dataset_id for e in store.entries()] == [ds.content_hash]
    assert store.get(ds.content_hash).content_hash == ds.content_hash


@pytest.mark.parametrize("damage", ["truncate", "flip_a_byte", "garbage"])
def test_corrupt_array_is_repaired_by_adding_again(store: FileStore, damage: str) -> None:
    ds = _ds(3)
    store.put(ds)
    path = _data(store, ds)
    good = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(good[: len(good) // 3])
    elif damage == "flip_a_byte":
        path.write_bytes(good[:3000] + bytes([good[3000] ^ 0x01]) + good[3001:])
    else:
        path.write_bytes(b"garbage")
    store.put(ds)  # before: "already stored", the damage stayed forever
    assert path.read_bytes() == good
    assert store.get(ds.content_hash).content_hash == ds.content_hash


def test_corrupt_array_found_on_load_is_quarantined(store: FileStore) -> None:
    ds = _ds(4)
    store.put(ds)
    _data(store, ds).write_bytes(b"garbage")
    with pytest.raises(StoreError, match="moved to quarantine"):
        store.get(ds.content_hash)
    assert store.entries() == [] and [q.dataset_id for q in store.quarantined()] == [
        ds.content_hash]
    store.put(ds)
    assert store.get(ds.content_hash).content_hash == ds.content_hash


def test_metadata_without_data_is_quarantined(store: FileStore) -> None:
    ds = _ds(5)
    store.put(ds)
    store.put_attachment(ds.content_hash, "experiment", {"best": "band"})
    _data(store, ds).unlink()
    assert store.entries() == []
    (q,) = store.quarantined()
    assert q.reason == "the data file is missing" and len(q.files) == 2  # metadata, attachment


def test_old_entries_without_checksum_are_verified_by_content(store: FileStore) -> None:
    ds = _ds(6)
    store.put(ds)
    meta = json.loads(_meta(store, ds).read_text())
    meta.pop("size")
    meta.pop("sha256")
    _meta(store, ds).write_text(json.dumps(meta))
    assert store.put(ds).sha256 is None  # intact: kept as it is
    _data(store, ds).write_bytes(_data(store, ds).read_bytes()[:-10])
    assert store.put(ds).sha256 is not None  # damaged: rewritten with a checksum
    assert store.get(ds.content_hash).content_hash == ds.content_hash


def test_data_being_written_is_not_quarantined(store: FileStore) -> None:
    """Data without metadata is a put in progress (metadata goes last): left alone."""
    ds = _ds(7)
    store.put(ds)
    _meta(store, ds).unlink()
    assert store.entries() == [] and store.quarantined() == []
    assert _data(store, ds).exists()


def test_many_entries_one_bad_lists_all_others(store: FileStore) -> None:
    sets = [_ds(10 + i) for i in range(12)]
    for ds in sets:
        store.put(ds)
    meta = json.loads(_meta(store, sets[5]).read_text())
    meta["created"] = None
    _meta(store, sets[5]).write_text(json.dumps(meta))
    assert len(store.entries()) == 11
    assert len(store.quarantined()) == 1
    assert np.all([store.get(e.dataset_id).n_clips == 4 for e in store.entries()])
