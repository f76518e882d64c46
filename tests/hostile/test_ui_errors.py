"""Hostile uploads in the dashboard itself (Streamlit's AppTest, no browser).

The many cases go through the Streamlit-free handlers in the other modules of this folder; here a
few representative ones are uploaded through the Data page's widgets, the way a user does: an
error is shown with ``st.error`` in sndiag's own words (never an exception box or the generic
"Something went wrong"), nothing is added to the store, and the app keeps working on the next
page. Uploads that are accepted with skipped clips, or with a tampered ``meta``, render the Data
page without any error. One session also takes every other kind of refused upload in a row and
then loads a good file: the app stays usable after any number of failures. Every test runs with
its working directory, ``HOME`` and ``TMPDIR`` in empty temporary folders, which must still be
empty at the end: nothing is written outside the store (and the store only on success).
"""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from tests.hostile.conftest import (  # noqa: E402
    good_wav,
    npy,
    npz,
    patch_zip_name,
    set_zip_flag,
    shown,
    spectrograms,
    symlink,
    zip_bomb,
    zip_of,
)

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 60


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ui-store")


@pytest.fixture
def app(store_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[AppTest]:
    """The dashboard on the demo, run from empty cwd/HOME/TMPDIR folders that must stay empty."""
    outside = {name: tmp_path / name for name in ("cwd", "home", "tmp")}
    for folder in outside.values():
        folder.mkdir()
    monkeypatch.chdir(outside["cwd"])
    monkeypatch.setenv("HOME", str(outside["home"]))
    monkeypatch.setenv("TMPDIR", str(outside["tmp"]))
    monkeypatch.setattr(tempfile, "tempdir", str(outside["tmp"]))
    monkeypatch.setenv("SNDIAG_STORE", str(store_dir))
    monkeypatch.setenv("SNDIAG_FEATURE_CACHE", str(tmp_path / "features"))
    for name in ("SNDIAG_DATA_ROOT", "SNDIAG_PASSWORD", "SNDIAG_MAX_UPLOAD_MB",
                 "SNDIAG_MAX_CLIPS", "SNDIAG_MAX_CLIP_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    yield at
    written = {f"{name}/{p.relative_to(folder)}" for name, folder in outside.items()
               for p in folder.rglob("*")}
    assert not written, f"the dashboard wrote outside its store: {sorted(written)}"


def _store_files(store_dir: Path) -> set[str]:
    return {p.relative_to(store_dir).as_posix() for p in store_dir.rglob("*")
            if "features" not in p.parts}


def _metric(at: AppTest, label: str) -> str:
    for m in at.metric:
        if m.label == label:
            return m.value
    raise AssertionError(f"no metric {label!r}")


def _upload(at: AppTest, source: str, key: str, files: object, **label: object) -> None:
    at.radio(key="w_load_source").set_value(source).run()
    if label.get("mode"):
        at.radio(key="w_label_mode").set_value(label["mode"]).run()
    if label.get("csv") is not None:
        at.file_uploader(key="up_csv").set_value(("labels.csv", label["csv"], "text/csv")).run()
    at.file_uploader(key=key).set_value(files).run()
    at.button(key="btn_load").click().run()


def _no_trouble(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _still_works(at: AppTest) -> None:
    at.switch_page("pages/statistics.py").run()
    _no_trouble(at)
    assert at.get("plotly_chart"), "the Statistics page draws its figures"


# -- refused uploads --------------------------------------------------------------------------------
REFUSED = [
    pytest.param("zip", "up_zip", lambda: ("bomb.zip", zip_bomb(expands_mb=300, extra=[
        ("set/a/1.wav", good_wav())]), "application/zip"),
        "this looks like a zip bomb", id="zip_bomb"),
    pytest.param("zip", "up_zip", lambda: ("evil.zip", zip_of([
        ("set/a/1.wav", good_wav()), ("../../evil.wav", good_wav())]), "application/zip"),
        "path traversal", id="zip_traversal"),
    pytest.param("arrays", "up_arrays", lambda: ("bomb.npz", npz(
        compressed=True, X=np.zeros((8000, 60, 130), np.float32)), "application/octet-stream"),
        "this looks like a zip bomb", id="npz_bomb"),
    pytest.param("arrays", "up_arrays", lambda: ("xy.npz", npz(
        X=spectrograms(4), y=np.arange(3)), "application/octet-stream"),
        "y has 3 entries but X has 4 clips", id="npz_x_y_lengths"),
    pytest.param("arrays", "up_arrays", lambda: ("huge.npy", _npy(
        spectrograms(2).astype(np.float64) * 1e300), "application/octet-stream"),
        "beyond the float32 range", id="float64_beyond_float32"),
    pytest.param("files", "up_files", lambda: [("notes.wav", b"not audio\n" * 50, "audio/wav")],
                 "no clip could be used (1 skipped): notes.wav: not a recognised audio format",
                 id="text_named_wav"),
]


def _npy(X: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, X)
    return buf.getvalue()


@pytest.mark.parametrize(("source", "key", "make", "match"), REFUSED)
def test_refused_upload_shows_the_reason_and_the_app_keeps_working(
        app: AppTest, store_dir: Path, source: str, key: str, make, match: str) -> None:
    before = _store_files(store_dir)
    _upload(app, source, key, make())
    assert not app.exception, [e.value for e in app.exception]
    errors = [shown(e.value) for e in app.error]
    assert len(errors) == 1 and match in errors[0], errors
    assert "Something went wrong" not in errors[0]
    assert _store_files(store_dir) == before, "a refused upload adds nothing to the store"
    assert any("the fsdd sample" in i.value.lower() for i in app.info), "still on the sample"
    _still_works(app)


def test_unreadable_csv_manifest_is_explained(app: AppTest, store_dir: Path) -> None:
    """A manifest the csv module cannot parse (a 200 kB field) used to surface as 'Something
    went wrong (Error)'."""
    before = _store_files(store_dir)
    files = [(f"{name}.wav", good_wav(f), "audio/wav") for name, f in (("a", 300.0), ("b", 900.0))]
    _upload(app, "files", "up_files", files, mode="csv",
            csv=b"path,label\na.wav," + b"x" * 200_000 + b"\n")
    errors = [shown(e.value) for e in app.error]
    assert len(errors) == 1 and "is not a readable CSV" in errors[0], errors
    assert _store_files(store_dir) == before
    _still_works(app)


def _npy_file(name: str, X: np.ndarray, **kw: bool) -> tuple[str, bytes, str]:
    return name, npy(X, **kw), "application/octet-stream"


def _zip_file(name: str, data: bytes) -> tuple[str, bytes, str]:
    return name, data, "application/zip"


def _good_set() -> list[tuple[str, bytes]]:
    return [("set/a/1.wav", good_wav(300.0)), ("set/b/1.wav", good_wav(2000.0))]


X4 = spectrograms(4)
#: (source, uploader, file(s), piece of the message, environment) for every other refused kind.
MORE_REFUSED: list[tuple[str, str, Callable[[], object], str, dict[str, str]]] = [
    ("arrays", "up_arrays", lambda: _npy_file("objects.npy", np.array([{"a": 1}] * 4,
                                                                      dtype=object),
                                              allow_pickle=True),
     "contains pickled Python objects", {}),
    ("arrays", "up_arrays", lambda: _npy_file("nan.npy", np.where(X4 > 3, np.nan, X4)),
     "NaN/Inf values", {}),
    ("arrays", "up_arrays", lambda: _npy_file("five.npy", X4[:, None, ..., None]),
     "X has shape (4, 1, 60, 130, 1)", {}),
    ("arrays", "up_arrays", lambda: _npy_file("one.npy", X4[0].ravel()), "X has shape (7800,)",
     {}),
    ("arrays", "up_arrays", lambda: _npy_file("complex.npy", X4.astype(np.complex64)),
     "complex dtype", {}),
    ("arrays", "up_arrays", lambda: _npy_file("strings.npy", X4.astype(str)), "dtype <U", {}),
    ("arrays", "up_arrays", lambda: ("empty.npz", npz(), "application/octet-stream"),
     "empty .npz (no arrays)", {}),
    ("arrays", "up_arrays", lambda: _npy_file("many.npy", X4), "4 clips exceed the limit of 3",
     {"SNDIAG_MAX_CLIPS": "3"}),
    ("arrays", "up_arrays", lambda: _npy_file("big.npy", X4),
     "above the limit of 0.01 MB", {"SNDIAG_MAX_UPLOAD_MB": "0.01"}),
    ("zip", "up_zip", lambda: _zip_file("abs.zip", zip_of(
        [*_good_set(), ("/etc/cron.d/evil.wav", good_wav())])), "path traversal", {}),
    ("zip", "up_zip", lambda: _zip_file("link.zip", zip_of(
        [*_good_set(), symlink("set/a/passwd.wav", "/etc/passwd")])), "symbolic links", {}),
    ("zip", "up_zip", lambda: _zip_file("nested.zip", zip_of([("inner.zip", zip_of(
        _good_set()))])), "holds no audio files", {}),
    ("zip", "up_zip", lambda: _zip_file("utf8.zip", set_zip_flag(patch_zip_name(zip_of(
        [*_good_set(), ("set/XX/1.wav", good_wav())]), b"set/XX/1.wav", b"set/\xff\xfe/1.wav"),
        b"set/\xff\xfe/1.wav", 0x800)), "flagged UTF-8 but are not", {}),
    ("zip", "up_zip", lambda: _zip_file("many.zip", zip_of(
        [*_good_set(), ("set/a/2.wav", good_wav(500.0))])),
     "3 audio files exceed the limit of 2 clips", {"SNDIAG_MAX_CLIPS": "2"}),
    ("files", "up_files", lambda: [("long.wav", _long_wav(), "audio/wav")],
     "above the limit of 1 s", {"SNDIAG_MAX_CLIP_SECONDS": "1"}),
    ("files", "up_files", lambda: [("empty.wav", b"", "audio/wav"),
                                   ("one.wav", good_wav()[:40], "audio/wav")],
     "no clip could be used (2 skipped)", {}),
]


def _long_wav() -> bytes:
    from tests.hostile.conftest import tone, wav

    return wav(tone(3.0, 8000), 8000)


def test_every_other_refused_kind_in_one_session_then_a_good_upload(
        app: AppTest, store_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sixteen refusals in a row (pickles, NaN, dimensions, dtypes, an empty .npz, the limits on
    clips, size and duration, absolute paths, symlinks, nested archives, bad names, broken
    clips), each shown as one st.error in sndiag's words and adding nothing to the store; then
    the same session loads a good dataset and draws its statistics."""
    before = _store_files(store_dir)
    for source, key, make, match, env in MORE_REFUSED:
        with monkeypatch.context() as mp:
            for name, value in env.items():
                mp.setenv(name, value)
            _upload(app, source, key, make(), mode="folder" if source == "zip" else None)
        assert not app.exception, (match, [e.value for e in app.exception])
        errors = [shown(e.value) for e in app.error]
        assert len(errors) == 1 and match in errors[0], (match, errors)
        assert "Something went wrong" not in errors[0] and "Traceback" not in errors[0]
        assert "\n" not in errors[0].strip(), f"not one line: {errors[0]!r}"
        assert _store_files(store_dir) == before, f"{match}: the store changed"
    good = spectrograms(5, seed=7)
    _upload(app, "arrays", "up_arrays", ("good.npz", npz(X=good, y=np.array(list("ababa"))),
                                         "application/octet-stream"))
    _no_trouble(app)
    assert _metric(app, "Clips") == "5" and _metric(app, "Classes") == "2"
    assert any("good.npz" in shown(s.value) for s in app.subheader)
    _still_works(app)


# -- accepted uploads -------------------------------------------------------------------------------
def test_bad_clip_among_good_ones_is_listed_as_skipped(app: AppTest) -> None:
    files = [("a.wav", good_wav(300.0), "audio/wav"), ("b.wav", good_wav(900.0), "audio/wav"),
             ("cut.wav", good_wav()[:30], "audio/wav"), ("empty.wav", b"", "audio/wav")]
    _upload(app, "files", "up_files", files, mode="none")
    _no_trouble(app)
    assert _metric(app, "Clips") == "2" and _metric(app, "Skipped files") == "2"
    table = next(d.value for d in app.dataframe if "reason" in d.value.columns)
    reasons = dict(zip(table["file"], table["reason"], strict=True))
    assert "not a recognised audio format" in reasons["cut.wav"]
    assert "file is empty (0 bytes)" in reasons["empty.wav"]
    _still_works(app)


def test_zip_with_an_empty_member_name_loads(app: AppTest) -> None:
    """Used to crash with IndexError in ZipInfo.is_dir() (found by fuzzing)."""
    data = zip_of([("set/low/1.wav", good_wav(300.0)), ("set/high/1.wav", good_wav(2000.0)),
                   ("\x00", b"nameless")])
    _upload(app, "zip", "up_zip", ("nameless.zip", data, "application/zip"))
    _no_trouble(app)
    assert _metric(app, "Clips") == "2" and _metric(app, "Skipped files") == "1"


def test_tampered_meta_renders_the_data_page(app: AppTest) -> None:
    """A hand-made ``meta`` with wrongly typed provenance used to break the Data page for every
    session that opened the dataset ('Something went wrong (ValueError)')."""
    meta = {"provenance": {"name": "tampered", "durations": "oops", "nan_replaced": "many",
                           "config": 5, "synthetic": "no"}, "skipped": [{"name": 1}]}
    data = npz(X=spectrograms(6), y=np.array(list("ababab")), meta=np.array(json.dumps(meta)))
    _upload(app, "arrays", "up_arrays", ("tampered.npz", data, "application/octet-stream"))
    _no_trouble(app)
    assert any("tampered" in s.value for s in app.subheader)
    assert _metric(app, "Clips") == "6" and _metric(app, "NaN / Inf") == "0"
    assert _metric(app, "Clip duration") == "n/a"
    assert not any("the fsdd sample" in i.value.lower() for i in app.info)
    _still_works(app)
