"""Re-extracting a dataset's audio with new settings, and groups from a hint."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from sndiag.config import SpectrogramConfig
from sndiag.dataset import Dataset
from sndiag.errors import DataError, ParameterError
from sndiag.io.labels import suggest_groups
from sndiag.io.uploads import AudioSource, load_audio_uploads, reextract, with_groups


def _wav(seconds: float, sr: int = 8000, seed: int = 0) -> bytes:
    buf = io.BytesIO()
    x = 0.1 * np.random.default_rng(seed).standard_normal(int(seconds * sr))
    sf.write(buf, x.astype(np.float32), sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def _uploads() -> list[tuple[str, bytes]]:
    return [(f"{lab}/{spk}__{i}.wav", _wav(0.3 + 0.05 * i, seed=i))
            for lab in ("yes", "no") for spk in ("ann", "bob") for i in range(3)]


def test_reextract_keeps_labels_groups_and_split_and_uses_the_new_grid():
    files = _uploads()
    ds, source = load_audio_uploads(files, config=SpectrogramConfig(), labels={})
    ds = with_groups(ds, suggest_groups(ds.names, ds.y)[0])
    ds = ds.replace(split=np.where(ds.groups == "bob", "test", "train"))
    new_cfg = SpectrogramConfig(sr=8000, hop_length=24, n_fft=256)
    new = reextract(ds, source, config=new_cfg)
    assert new.config == new_cfg and new.shape == ds.shape
    assert new.names.tolist() == ds.names.tolist()
    assert new.y.tolist() == ds.y.tolist() and new.groups.tolist() == ds.groups.tolist()
    assert new.split.tolist() == ds.split.tolist()
    assert new.provenance["reextracted_from"] == ds.content_hash
    assert new.provenance["durations"]["source_sr"]["min"] == 8000
    assert (new.X == 0).mean() < (ds.X == 0).mean()        # the new grid wastes less on padding


def test_reextract_without_the_audio_says_what_to_do():
    files = _uploads()
    ds, _ = load_audio_uploads(files, config=SpectrogramConfig(), labels={})
    with pytest.raises(DataError, match="upload it again"):
        reextract(ds, None, config=SpectrogramConfig(sr=8000))
    arrays = Dataset(np.zeros((3, 60, 130)))
    with pytest.raises(DataError, match="not extracted from audio"):
        reextract(arrays, AudioSource("files"), config=SpectrogramConfig())


def test_with_groups_refuses_a_hint_for_other_clips():
    ds = Dataset(np.zeros((8, 2, 2)), names=[f"{i % 2}_a{i % 4}_x.wav" for i in range(8)])
    hint = suggest_groups([f"{i % 2}_a{i % 4}_x.wav" for i in range(6)])[0]
    with pytest.raises(ParameterError, match="suggest groups on this dataset"):
        with_groups(ds, hint)


# -- array files under the data root (the Data page's "Array file on the server") -------------------
def test_list_server_arrays_tells_datasets_from_statistics_files(tmp_path):
    from sndiag.io.uploads import list_server_arrays
    from sndiag.stats import compute_stats

    root = tmp_path / "root"
    (root / "run.parts" / "chunks").mkdir(parents=True)
    (root / "run.parts" / "manifest.json").write_text("{}")
    X = np.ones((2, 60, 130), np.float32)
    np.savez(root / "run.parts" / "dataset.npz", X=X)
    np.save(root / "run.parts" / "chunks" / "chunk-00000.npy", X)  # a part, not a dataset
    compute_stats(X).to_npz(root / "run.parts" / "stats.npz")
    np.save(root / "top.npy", X)
    np.save(root / ".hidden.npy", X)
    (root / "notes.txt").write_text("x")
    outside = tmp_path / "outside.npy"
    np.save(outside, X)
    (root / "link.npy").symlink_to(outside)  # resolves outside the root
    found = list_server_arrays(root)
    assert found.datasets == ["run.parts/dataset.npz", "top.npy"]
    assert found.stats == ["run.parts/stats.npz"]
    assert found.stats_beside("run.parts/dataset.npz") == ["run.parts/stats.npz"]
    assert found.stats_beside("top.npy") == []


@pytest.mark.parametrize("rel", ["../outside.npy", "/etc/passwd", "missing.npy", "."])
def test_resolve_server_file_refuses_what_is_not_a_file_under_the_root(tmp_path, rel):
    from sndiag.io.uploads import resolve_server_file

    root = tmp_path / "root"
    root.mkdir()
    np.save(tmp_path / "outside.npy", np.ones(2))
    with pytest.raises(ParameterError):
        resolve_server_file(root, rel)
