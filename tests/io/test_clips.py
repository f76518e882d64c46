import io
import os
import pickle
import re
import stat
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import sndiag.io as sio
import sndiag.io.audio
from sndiag.config import Limits, SpectrogramConfig
from sndiag.errors import ArchiveError, DataError, LimitError, ParameterError, ShapeError
from sndiag.io import from_files, from_folder, from_zip, load, load_arrays
from sndiag.io.feature_cache import DiskCache, MemoryCache

FSDD_REGEX = r"(?P<label>\d)_(?P<group>[a-z]+)_\d+\.wav"
# The default 60 x 130 image, at a low rate so every test decodes quickly.
CFG = SpectrogramConfig(sr=8000)


def tone(freq: float, rate: int, *, seconds: float = 0.4, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    noise = 0.01 * np.random.default_rng(int(freq)).standard_normal(t.size)
    y = 0.5 * np.sin(2 * np.pi * freq * t) + noise
    return np.stack([y, 0.5 * y], axis=1) if channels == 2 else y


def wav_bytes(freq: float = 440.0, rate: int = 8000, **kw) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, tone(freq, rate, **kw), rate, format="WAV")
    return buf.getvalue()


# (relative path, format, subtype, rate, channels, frequency): low tones vs high tones,
# every container, mixed rates, mono and stereo, int16 and float32 samples.
CLIPS = [
    ("low/a.wav", "WAV", "PCM_16", 8000, 1, 200),
    ("low/b.flac", "FLAC", "PCM_16", 44100, 2, 250),
    ("low/c.aiff", "AIFF", "PCM_16", 16000, 1, 300),
    ("low/d.ogg", "OGG", "VORBIS", 16000, 2, 220),
    ("high/a.wav", "WAV", "FLOAT", 16000, 2, 3000),
    ("high/b.flac", "FLAC", "PCM_16", 8000, 1, 2500),
    ("high/c.AIF", "AIFF", "PCM_16", 44100, 1, 2800),
    ("high/d.ogg", "OGG", "VORBIS", 44100, 1, 3200),
]


@pytest.fixture
def audio_tree(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    for rel, fmt, subtype, rate, channels, freq in CLIPS:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, tone(freq, rate, channels=channels), rate, format=fmt, subtype=subtype)
    return root


def zip_bytes(members: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


# -- folders and files ------------------------------------------------------------------------
def test_from_folder_extracts_mixed_formats_with_folder_labels(audio_tree):
    ds = from_folder(audio_tree, config=CFG)
    assert ds.X.shape == (8, 60, 130) and ds.X.dtype == np.float32
    assert np.isfinite(ds.X).all() and (ds.X >= 0).all()
    assert ds.names.tolist() == sorted(c[0] for c in CLIPS)
    assert ds.y.tolist() == [n.split("/")[0] for n in ds.names]
    assert ds.groups is None and ds.skipped == ()
    # Low tones put their energy in the lower mel bands, high tones in the upper ones.
    low_share = ds.X[:, :30].sum(axis=(1, 2)) / ds.X.sum(axis=(1, 2))
    assert (low_share[ds.y == "low"] > 0.9).all() and (low_share[ds.y == "high"] < 0.1).all()
    prov = ds.provenance
    assert prov["kind"] == "audio" and prov["labels"] == "folder"
    assert prov["config"] == CFG.to_dict() and prov["source"] == str(audio_tree)
    assert prov["durations"]["median"] == pytest.approx(0.4, abs=0.01)
    assert len(prov["durations"]["seconds"]) == 8 and prov["durations"]["n_padded"] == 8


def test_from_folder_skips_unusable_files_and_goes_on(audio_tree):
    (audio_tree / "low" / "empty.wav").write_bytes(b"")
    (audio_tree / "low" / "notes.wav").write_text("not audio at all")
    (audio_tree / "high" / "broken.flac").write_bytes(b"fLaC" + bytes(100))
    (audio_tree / "high" / "readme.txt").write_text("hello")
    (audio_tree / "high" / "more.zip").write_bytes(zip_bytes({"x.wav": wav_bytes()}))
    ds = from_folder(audio_tree, config=CFG)
    assert ds.n_clips == 8
    reasons = {s.name: s.reason for s in ds.skipped}
    assert reasons["low/empty.wav"].startswith("file is empty")
    assert reasons["low/notes.wav"].startswith("not a recognised audio format")
    assert "not a recognised" in reasons["high/broken.flac"]
    assert reasons["high/readme.txt"].startswith("not an audio file (.txt)")
    assert reasons["high/more.zip"] == "nested archives are not read"
    assert ds.provenance["n_skipped"] == 5


def test_from_folder_ignores_hidden_and_guards_symlinks(audio_tree, tmp_path):
    (audio_tree / "low" / ".hidden.wav").write_bytes(wav_bytes())
    (audio_tree / ".git").mkdir()
    (audio_tree / ".git" / "x.wav").write_bytes(wav_bytes())
    outside = tmp_path / "outside.wav"
    outside.write_bytes(wav_bytes())
    (audio_tree / "low" / "leak.wav").symlink_to(outside)
    (audio_tree / "high" / "alias.wav").symlink_to(audio_tree / "low" / "a.wav")
    (audio_tree / "high" / "loop").symlink_to(audio_tree / "high")
    ds = from_folder(audio_tree, config=CFG)
    assert "high/alias.wav" in ds.names.tolist()
    assert not any(".hidden" in n or ".git" in n for n in ds.names.tolist())
    reasons = {s.name: s.reason for s in ds.skipped}
    assert reasons["low/leak.wav"].startswith("symbolic link to outside the folder")
    assert reasons["high/loop"].startswith("symbolic link loop")
    assert "low/leak.wav" not in ds.names.tolist()


def test_from_folder_without_class_folders_is_unlabelled(tmp_path):
    for i in range(3):
        (tmp_path / f"{i}.wav").write_bytes(wav_bytes(300 + 100 * i))
    ds = from_folder(tmp_path, config=CFG)
    assert ds.y is None and ds.provenance["labels"] == "none (no class folders)"


def test_from_folder_with_loose_files_skips_them(audio_tree):
    (audio_tree / "loose.wav").write_bytes(wav_bytes())
    ds = from_folder(audio_tree, config=CFG)
    assert ds.n_clips == 8
    assert ds.skipped[0].name == "loose.wav" and "class folder" in ds.skipped[0].reason


@pytest.mark.parametrize(("names", "labels", "skipped"), [
    (["data/dog/a.wav", "data/cat/b.wav"], ["dog", "cat"], []),
    (["data/readme.wav", "data/dog/a.wav"], ["dog"], ["data/readme.wav"]),
    (["dog/a.wav", "dog/b.wav"], ["dog", "dog"], []),
    (["w/dog/a.wav", "w/dog/b.wav"], ["dog", "dog"], []),
    (["a/x/1.wav", "b/y/2.wav"], ["a", "b"], []),
    (["1.wav", "2.wav"], None, []),
])
def test_folder_labels_look_through_a_common_wrapper(names, labels, skipped):
    ds = from_files([(n, wav_bytes()) for n in names], config=CFG)
    assert (None if ds.y is None else ds.y.tolist()) == labels
    assert [s.name for s in ds.skipped] == skipped


def test_from_files_checks_file_size():
    files = [("a/big.wav", wav_bytes(seconds=2.0)), ("a/small.wav", wav_bytes(seconds=0.1))]
    ds = from_files(files, config=CFG, limits=Limits(max_upload_mb=0.01))
    assert ds.names.tolist() == ["a/small.wav"]
    assert re.match(r"0.0\d+ MB, above the limit of 0.01 MB", ds.skipped[0].reason)


@pytest.mark.parametrize(("root", "err", "match"), [
    ("missing", ParameterError, "is not a folder"),
    ("empty", DataError, "no audio files found"),
])
def test_from_folder_rejects_bad_roots(tmp_path, root, err, match):
    (tmp_path / "empty").mkdir()
    with pytest.raises(err, match=match):
        from_folder(tmp_path / root)


def test_from_files_accepts_paths_and_uploads(audio_tree):
    paths = [audio_tree / "low" / "a.wav", audio_tree / "high" / "a.wav"]
    ds = from_files(paths, config=CFG)
    assert ds.names.tolist() == ["low/a.wav", "high/a.wav"] and ds.y.tolist() == ["low", "high"]
    uploads = [(p.name, p.read_bytes()) for p in paths]
    up = from_files(uploads, config=CFG, source="browser")
    assert up.y is None and up.provenance["source"] == "browser"
    np.testing.assert_allclose(up.X, ds.X, rtol=1e-5, atol=1e-6)


def test_from_files_results_do_not_depend_on_threads_or_batches(audio_tree):
    files = sorted(audio_tree.rglob("*.*"))
    a = from_files(files, config=CFG, n_jobs=1, batch_size=64)
    b = from_files(files, config=CFG, n_jobs=3, batch_size=3)
    assert a.names.tolist() == b.names.tolist()
    np.testing.assert_allclose(a.X, b.X, rtol=1e-5, atol=1e-6 * float(a.X.max()))


def test_from_files_reports_progress_from_the_calling_thread(audio_tree):
    calls, threads = [], set()

    def progress(done, total):
        calls.append((done, total))
        threads.add(threading.current_thread())

    from_files(sorted(audio_tree.rglob("*.*")), config=CFG, progress=progress, batch_size=3)
    assert calls[0] == (0, 8) and calls[-1] == (8, 8)
    assert [d for d, _ in calls] == list(range(9))
    assert threads == {threading.current_thread()}


def test_from_files_nothing_decodes_raises_with_reasons(tmp_path):
    (tmp_path / "a.wav").write_text("text")
    (tmp_path / "b.wav").write_bytes(b"")
    with pytest.raises(DataError, match=r"no clip could be used \(2 skipped\): a.wav: not a rec"):
        from_files([tmp_path / "a.wav", tmp_path / "b.wav"], config=CFG)


def test_from_files_checks_max_clips_before_decoding(tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("decoded despite the limit")

    monkeypatch.setattr(sndiag.io.audio, "decode", boom)
    monkeypatch.setattr(sndiag.io.audio, "decode_window", boom)
    files = [(f"{i}.wav", b"x") for i in range(5)]
    with pytest.raises(LimitError, match="5 audio files exceed the limit of 4 clips"):
        from_files(files, limits=Limits(max_clips=4))


def test_from_files_skips_clips_longer_than_the_limit():
    files = [("short.wav", wav_bytes(seconds=0.5)), ("long.wav", wav_bytes(seconds=3.0))]
    ds = from_files(files, config=CFG, limits=Limits(max_clip_seconds=2.0))
    assert ds.names.tolist() == ["short.wav"]
    assert ds.skipped[0].reason.startswith("lasts 3.0 s, above the limit of 2 s")


@pytest.mark.parametrize(("kw", "match"), [
    ({"labels": "regex"}, "labels='regex'"),
    ({"label_regex": "(?P<lab>x)"}, "no named group 'label'"),
    ({"label_regex": "(?P<label>"}, "not a valid regular expression"),
    ({"label_regex": "(?P<label>.)", "labels_csv": b"path,label\n"}, "not both"),
    ({"n_jobs": 0}, "n_jobs=0"),
    ({"batch_size": 0}, "batch_size=0"),
])
def test_from_files_rejects_bad_options(kw, match):
    with pytest.raises(ParameterError, match=match):
        from_files([("a.wav", wav_bytes())], **kw)


def test_from_files_rejects_file_outside_root(audio_tree, tmp_path):
    with pytest.raises(ParameterError, match="is not inside root"):
        from_files([audio_tree / "low" / "a.wav"], root=audio_tree / "high")


# -- labels from a regex or a CSV -------------------------------------------------------------
def test_regex_labels_and_groups():
    files = [(f"{d}_{spk}_{i}.wav", wav_bytes(300 + 200 * d))
             for d in (0, 1) for spk in ("jackson", "nicolas") for i in range(2)]
    files.append(("README.wav", wav_bytes()))
    ds = from_files(files, config=CFG, label_regex=FSDD_REGEX)
    assert ds.n_clips == 8 and ds.class_counts == {"0": 4, "1": 4}
    assert sorted(set(ds.groups.tolist())) == ["jackson", "nicolas"]
    assert ds.skipped[0].name == "README.wav" and "does not match label_regex" in ds.skipped[0].reason
    assert ds.provenance["labels"] == f"regex {FSDD_REGEX}"


def test_csv_labels_with_groups_missing_rows_and_unlisted_files(audio_tree):
    manifest = audio_tree / "labels.csv"
    manifest.write_text(
        "Path,Label,Group,notes\n"
        "low/a.wav,bass,g1,ok\n"
        "b.flac,bass,g2,bare file name\n"           # matched by its name
        "high/a.wav,treble,g1,\n"
        "high/gone.wav,treble,g3,missing file\n"
    )
    ds = from_folder(audio_tree, config=CFG, labels_csv=manifest)
    assert dict(zip(ds.names.tolist(), ds.y.tolist(), strict=True)) == {
        "high/a.wav": "treble", "high/b.flac": "bass", "low/a.wav": "bass", "low/b.flac": "bass"}
    assert ds.groups.tolist() == ["g1", "g2", "g1", "g2"]
    reasons = {s.name: s.reason for s in ds.skipped}
    assert reasons["high/gone.wav"] == "listed in labels.csv but no such audio file was found"
    assert reasons["low/c.aiff"] == "not listed in labels.csv"
    assert reasons["labels.csv"].startswith("not an audio file (.csv)")


@pytest.mark.parametrize(("csv", "err", "match"), [
    (b"low/a.wav,bass\n", ParameterError, "needs a header row 'path,label'"),
    (b"path,label\na.wav,x\na.wav,y\n", DataError, "twice with different labels"),
])
def test_csv_labels_rejects_bad_manifests(csv, err, match):
    with pytest.raises(err, match=match):
        from_files([("a.wav", wav_bytes())], labels_csv=csv)


# -- cache ------------------------------------------------------------------------------------
def test_disk_cache_hit_returns_same_images_without_decoding(audio_tree, tmp_path, monkeypatch):
    cache = DiskCache(tmp_path / "cache")
    files = sorted(audio_tree.rglob("*.*"))
    first = from_files(files, config=CFG, cache=cache)
    assert len(cache) == 8
    calls = []
    real = sndiag.io.audio.decode_window
    monkeypatch.setattr(sndiag.io.audio, "decode_window",
                        lambda *a, **k: calls.append(a) or real(*a, **k))
    again = from_files(files, config=CFG, cache=cache)
    assert calls == []
    np.testing.assert_array_equal(again.X, first.X)
    assert again.provenance["durations"]["seconds"] == first.provenance["durations"]["seconds"]
    other = from_files(files, config=SpectrogramConfig(sr=8000, n_mels=40), cache=cache)
    assert len(calls) == 8 and other.shape == (40, 130) and len(cache) == 16


def test_memory_cache_counts_hits():
    cache = MemoryCache()
    files = [("a.wav", wav_bytes(300)), ("b.wav", wav_bytes(600))]
    from_files(files, config=CFG, cache=cache)
    from_files(files, config=CFG, cache=cache)
    assert (cache.misses, cache.hits) == (2, 2)


# -- zip archives -----------------------------------------------------------------------------
def test_from_zip_reads_class_folders_in_a_wrapper(audio_tree):
    members = {f"dataset/{rel}": (audio_tree / rel).read_bytes() for rel, *_ in CLIPS}
    members["__MACOSX/dataset/low/._a.wav"] = b"\x00\x05\x16\x07"
    members["dataset/.DS_Store"] = b"junk"
    members["dataset/low/inner.zip"] = zip_bytes({"x.wav": wav_bytes()})
    ds = from_zip(zip_bytes(members), config=CFG, name="upload.zip")
    assert ds.n_clips == 8 and ds.class_counts == {"high": 4, "low": 4}
    assert ds.names[0].startswith("dataset/")
    assert [(s.name, s.reason) for s in ds.skipped] == [
        ("dataset/low/inner.zip", "nested archives are not read")]
    assert ds.provenance["source"] == "upload.zip"
    folder = from_folder(audio_tree, config=CFG)
    np.testing.assert_allclose(ds.X, folder.X, rtol=1e-5, atol=1e-6 * float(folder.X.max()))


def test_from_zip_path_and_single_class_folder(tmp_path):
    path = tmp_path / "one.zip"
    path.write_bytes(zip_bytes({"dog/1.wav": wav_bytes(), "dog/2.wav": wav_bytes(900)}))
    ds = from_zip(path, config=CFG)
    assert ds.y.tolist() == ["dog", "dog"] and ds.provenance["source"] == "one.zip"


def symlink_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("ok/a.wav", wav_bytes())
        info = zipfile.ZipInfo("ok/link.wav")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    return buf.getvalue()


@pytest.mark.parametrize(("data", "limits", "match"), [
    (zip_bytes({"ok/a.wav": wav_bytes(), "../x.wav": wav_bytes()}), Limits(),
     r"1 archive members have absolute paths or '\.\.' \(first: '\.\./x\.wav'\)"),
    (zip_bytes({"/abs/x.wav": wav_bytes()}), Limits(), "absolute paths"),
    (zip_bytes({"a\\..\\..\\x.wav": wav_bytes()}), Limits(), "path traversal"),
    (symlink_zip(), Limits(), r"1 archive members are symbolic links \(first: 'ok/link.wav'\)"),
    (zip_bytes({f"c/{i}.wav": b"" for i in range(6)}), Limits(max_zip_members=5),
     "the archive has 6 entries, above the limit of 5"),
    (zip_bytes({"c/a.wav": bytes(3 * 1024 * 1024)}, compression=zipfile.ZIP_STORED),
     Limits(max_unzipped_mb=2), r"expands to 3.0 MB, above the limit of 2 MB"),
    (b"PK\x03\x04 this is not really a zip", Limits(), "not a valid zip file"),
])
def test_from_zip_refuses_unsafe_archives(data, limits, match):
    with pytest.raises(ArchiveError, match=match):
        from_zip(data, limits=limits)


def test_from_zip_refuses_zip_bomb_before_reading(monkeypatch):
    bomb = zip_bytes({"c/a.wav": wav_bytes(), "c/bomb.wav": bytes(50 * 1024 * 1024)})
    assert len(bomb) < 100_000
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda *a, **k: pytest.fail("member read"))
    with pytest.raises(ArchiveError, match=r"'c/bomb.wav' expands \d+:1 .* above the limit of "
                                           r"200:1; this looks like a zip bomb"):
        from_zip(bomb)
    with pytest.raises(ArchiveError, match="expands to 50.0 MB, above the limit of 10 MB"):
        from_zip(bomb, limits=Limits(max_unzipped_mb=10))


def test_from_zip_small_silent_clip_is_not_a_bomb():
    silence = io.BytesIO()
    sf.write(silence, np.zeros(16000, dtype=np.int16), 8000, format="WAV")
    ds = from_zip(zip_bytes({"quiet/a.wav": silence.getvalue(), "loud/b.wav": wav_bytes()}),
                  config=CFG)
    assert ds.n_clips == 2


def test_from_zip_checks_upload_size():
    with pytest.raises(LimitError, match="above the limit of 0.001 MB"):
        from_zip(zip_bytes({"a/x.wav": wav_bytes()}), limits=Limits(max_upload_mb=0.001))


def test_from_zip_survives_non_utf8_names():
    # Latin-1 "café" without the UTF-8 flag, as old Windows tools write it.
    data = zip_bytes({"caf_/a.wav": wav_bytes(), "tea/b.wav": wav_bytes(800)})
    data = data.replace(b"caf_", b"caf\xe9")
    ds = from_zip(data, config=CFG)
    assert ds.n_clips == 2 and "caf\u0398" in ds.y.tolist()  # 0xE9 read as cp437


def test_from_zip_recovers_utf8_names_without_flag():
    data = zip_bytes({"ab/a.wav": wav_bytes(), "tea/b.wav": wav_bytes(800)})
    data = data.replace(b"ab/a.wav", "\u00e9/a.wav".encode())  # same length, no UTF-8 flag
    ds = from_zip(data, config=CFG)
    assert dict(zip(ds.names.tolist(), ds.y.tolist(), strict=True))["\u00e9/a.wav"] == "\u00e9"


def test_from_zip_corrupt_member_is_skipped():
    data = bytearray(zip_bytes({"a/x.wav": wav_bytes(), "b/y.wav": wav_bytes(900)},
                               compression=zipfile.ZIP_STORED))
    i = data.index(b"data", data.index(b"b/y.wav"))  # inside y.wav's samples
    data[i + 100:i + 110] = b"\xff" * 10  # CRC mismatch
    ds = from_zip(bytes(data), config=CFG)
    assert ds.names.tolist() == ["a/x.wav"]
    assert ds.skipped[0].name == "b/y.wav" and "cannot be read from the archive" in ds.skipped[0].reason


# -- arrays -----------------------------------------------------------------------------------
def npy(X) -> bytes:
    buf = io.BytesIO()
    np.save(buf, X, allow_pickle=True)
    return buf.getvalue()


def npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


@pytest.mark.parametrize(("shape", "layout"), [
    ((5, 60, 130), "(N, n_mels, n_frames)"),
    ((5, 60, 130, 1), "(N, n_mels, n_frames, 1)"),
    ((5, 1, 60, 130), "(N, 1, n_mels, n_frames)"),
])
def test_load_arrays_layouts(shape, layout):
    X = np.random.default_rng(0).random(shape, dtype=np.float32)
    ds = load_arrays(npy(X))
    assert ds.X.shape == (5, 60, 130) and ds.provenance["layout"] == layout
    np.testing.assert_array_equal(ds.X.ravel(), X.ravel())


def test_load_arrays_npz_with_labels_and_file_object(tmp_path):
    X = np.ones((4, 60, 130), dtype=np.float64)
    data = npz(X=X, y=np.array([0, 1, 0, 1]), groups=np.array(["a", "a", "b", "b"]), extra=X)
    ds = load_arrays(io.BytesIO(data), config=CFG)
    assert ds.y.tolist() == ["0", "1", "0", "1"] and ds.groups.tolist() == ["a", "a", "b", "b"]
    assert ds.provenance["ignored_arrays"] == ["extra"]
    assert ds.provenance["config"] == CFG.to_dict()
    (tmp_path / "one.npz").write_bytes(npz(spectrograms=X))
    assert load_arrays(tmp_path / "one.npz").n_clips == 4


def test_load_arrays_other_image_sizes():
    assert load_arrays(npy(np.ones((3, 7, 9))), expected_shape=None).shape == (7, 9)
    assert load_arrays(npy(np.ones((3, 40, 100, 1))), expected_shape=(40, 100)).shape == (40, 100)


@pytest.mark.parametrize(("data", "err", "match"), [
    (npy(np.array([{"a": 1}, None], dtype=object)), DataError,
     "contains pickled Python objects; save it with a numeric dtype"),
    (npz(X=np.ones((2, 60, 130)), y=np.array(["a", None], dtype=object)), DataError,
     "'y' contains pickled Python objects"),
    (npy(np.ones((10, 60, 131))), ShapeError,
     r"X has shape \(10, 60, 131\); accepted shapes are \(N, 60, 130\), \(N, 60, 130, 1\) or "
     r"\(N, 1, 60, 130\)"),
    (npy(np.ones((10, 130, 60))), ShapeError, "looks transposed"),
    (npy(np.ones((60, 130))), ShapeError, "a single image"),
    (npy(np.ones((2, 60, 130), dtype=complex)), DataError, "complex"),
    (npy(np.full((2, 60, 130), "a")), DataError, "dtype <U1"),
    (npy(np.ones((2, 60, 130), dtype=bool)), DataError, "bool"),
    (npy(np.ones((0, 60, 130))), DataError, "holds no clips"),
    (npz(X=np.ones((3, 60, 130)), y=np.array([0, 1])), ShapeError,
     "y has 2 entries but X has 3 clips"),
    (npz(), DataError, "empty .npz"),
    (npz(a=np.ones((2, 60, 130)), b=np.ones(2)), DataError, "no 'X'"),
    (b"\x93NUMPY garbage", DataError, "not a valid .npy/.npz file"),
    (npz(X=np.ones((2, 60, 130)))[:200], DataError, "not a valid .npy/.npz file"),
    (b"", DataError, "not a valid .npy/.npz file"),
])
def test_load_arrays_rejects_bad_files(data, err, match):
    with pytest.raises(err, match=match):
        load_arrays(data)


@pytest.mark.parametrize("policy", ["raise", "zero"])
def test_load_arrays_nan_policy(policy):
    X = np.ones((3, 60, 130), dtype=np.float32)
    X[1, 2, 3] = np.nan
    X[2, 0, 0] = np.inf
    if policy == "raise":
        with pytest.raises(DataError, match=r"2 NaN/Inf values \(first at \[\(1, 2, 3\), \(2, 0, 0\)"):
            load_arrays(npy(X), nan_policy=policy)
        return
    ds = load_arrays(npy(X), nan_policy=policy)
    assert ds.provenance["nan_replaced"] == 2 and ds.X[1, 2, 3] == 0 and ds.X[2, 0, 0] == 0


def test_extracted_dataset_round_trips_through_save_and_load(audio_tree, tmp_path):
    (audio_tree / "low" / "bad.wav").write_text("nope")
    ds = from_folder(audio_tree, config=CFG)
    back = sio.load_arrays(sio.save(ds, tmp_path / "d.npz"))
    assert back.content_hash == ds.content_hash
    assert back.provenance == ds.provenance and back.skipped == ds.skipped


# -- dispatch ---------------------------------------------------------------------------------
def test_load_dispatches_on_kind(audio_tree, tmp_path):
    assert load(audio_tree, config=CFG).n_clips == 8
    zipped = zip_bytes({"a/x.wav": wav_bytes(), "b/y.wav": wav_bytes(900)})
    (tmp_path / "z.zip").write_bytes(zipped)
    assert load(tmp_path / "z.zip", config=CFG).y.tolist() == ["a", "b"]
    assert load(zipped, config=CFG).provenance["source"] == "upload.zip"
    arrays = npz(X=np.ones((2, 60, 130)))
    assert load(arrays, name="mine.npz").provenance["source"] == "mine.npz"
    assert load(arrays, progress=print, n_jobs=2).n_clips == 2  # execution options are ignored
    (tmp_path / "x.npy").write_bytes(npy(np.ones((2, 60, 130))))
    assert load(tmp_path / "x.npy").provenance["kind"] == "arrays"
    assert load(audio_tree / "low" / "a.wav", config=CFG).names.tolist() == ["a.wav"]
    assert load(wav_bytes(), name="rec.wav", config=CFG).names.tolist() == ["rec.wav"]
    assert load([audio_tree / "low" / "a.wav"], config=CFG).n_clips == 1


@pytest.mark.parametrize(("source", "kw", "match"), [
    ("arrays", {"label_regex": "(?P<label>.)"}, "apply to audio input"),
    ("audio", {"nan_policy": "zero"}, "apply to .npy/.npz arrays"),
    ("missing", {}, "does not exist"),
])
def test_load_rejects_options_of_the_other_kind(tmp_path, source, kw, match):
    (tmp_path / "arrays.npy").write_bytes(npy(np.ones((2, 60, 130))))
    (tmp_path / "audio.wav").write_bytes(wav_bytes())
    path = tmp_path / {"arrays": "arrays.npy", "audio": "audio.wav", "missing": "nope"}[source]
    with pytest.raises(ParameterError, match=match):
        load(path, **kw)


# -- a real dataset ---------------------------------------------------------------------------
@pytest.mark.fsdd
def test_fsdd_subset_with_regex_labels_and_speaker_groups(fsdd_dir):
    files = sorted(fsdd_dir.glob("*.wav"))[::15]
    assert len(files) == 200
    ds = from_files(files, label_regex=FSDD_REGEX)
    assert ds.X.shape == (200, 60, 130) and np.isfinite(ds.X).all() and (ds.X >= 0).all()
    assert len(ds.classes) == 10 and len(np.unique(ds.groups)) == 6
    assert ds.skipped == () and os.path.basename(ds.names[0]) == ds.names[0]
    d = ds.provenance["durations"]
    assert 0.1 < d["min"] <= d["median"] <= d["max"] < ds.provenance["config"]["n_frames"]
    assert d["n_padded"] > 150  # FSDD clips are mostly well under the 3 s window


@pytest.mark.parametrize(
    ("data", "match"),
    [(b"garbage", "neither the .npy header nor a zip header"),
     (pickle.dumps(np.zeros(3)), "pickled Python object")],
)
def test_load_arrays_names_garbage_and_raw_pickles_apart(data, match):
    with pytest.raises(DataError, match=match):
        load_arrays(data)


# -- train/test splits ----------------------------------------------------------------------------
def _tone(freq: float) -> bytes:
    import io as _io

    import soundfile as sf

    buf = _io.BytesIO()
    t = np.arange(4000) / 8000
    sf.write(buf, np.sin(2 * np.pi * freq * t), 8000, format="WAV")
    return buf.getvalue()


def test_train_and_test_folders_are_the_split_and_the_next_level_the_label():
    from sndiag.config import SpectrogramConfig

    files = [(f"{part}/{label}/{i}.wav", _tone(200 if label == "low" else 2000))
             for part in ("train", "test") for label in ("low", "high") for i in range(2)]
    ds = from_files(files, config=SpectrogramConfig(sr=8000))
    assert sorted(set(ds.y.tolist())) == ["high", "low"]
    assert ds.split.tolist().count("train") == 4 and ds.split.tolist().count("test") == 4
    assert ds.train_index.tolist() == [i for i, s in enumerate(ds.split) if s == "train"]
    back = sio.load_arrays(sio.to_npz_bytes(ds))
    assert back.split.tolist() == ds.split.tolist() and back.content_hash == ds.content_hash


def test_a_split_column_of_the_labels_csv():
    from sndiag.config import SpectrogramConfig

    files = [(f"{i}.wav", _tone(300)) for i in range(4)]
    manifest = b"path,label,split\n0.wav,a,train\n1.wav,b,train\n2.wav,a,TEST\n3.wav,b,test\n"
    ds = from_files(files, config=SpectrogramConfig(sr=8000), labels_csv=manifest)
    assert ds.split.tolist() == ["train", "train", "test", "test"]
    assert ds.summary()["split"] == {"test": 2, "train": 2}
