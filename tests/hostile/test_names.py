"""Names from the user's files: not valid UTF-8, holding newlines and forged messages, lone
surrogates in labels; and junk named like an MP3.

* A file whose name is the bytes ``b"\\xff\\xfe.wav"`` is decoded like any other; its name is
  shown as ``\\xff\\xfe.wav`` (the bytes, escaped) in the dataset, the skipped list, the chunked
  extraction's manifest and every CLI output (``extract -o``, ``--out-dir``, ``stats --json``).
* A name holding a newline and ``error: ...`` is printed escaped, on its own line: the CLI can
  never print a line that starts with a forged ``error:``.
* Junk named ``.mp3`` is skipped as "not a recognised audio format", with nothing on stderr
  from the decoder (before: a dozen decoder warnings and "File does not exist... possibly a
  pipe?").
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

import sndiag.io as sio
from sndiag.dataset import Dataset
from sndiag.errors import DecodeError
from sndiag.io import audio
from sndiag.io.arrays import load_arrays, save
from sndiag.text import clean, markdown, printable
from tests.hostile.conftest import CliJob, Sandbox, good_wav, run_cli, run_cli_many, tone, wav

BAD_BYTES = b"\xff\xfe.wav"
FORGED = "x\nerror: forged by a file name.wav"


def _bytes_name_folder(root: Path) -> Path:
    """``root/src/a/good.wav`` and ``root/src/b/<b"\\xff\\xfe.wav">``; skips where the file
    system refuses such a name."""
    src = root / "src"
    (src / "a").mkdir(parents=True)
    (src / "b").mkdir()
    (src / "a" / "good.wav").write_bytes(good_wav())
    try:
        with open(os.fsencode(src / "b") + b"/" + BAD_BYTES, "wb") as fh:
            fh.write(good_wav(880.0))
    except (OSError, UnicodeError):
        pytest.skip("this file system refuses names that are not valid UTF-8")
    return src


# -- the Python API -----------------------------------------------------------------------------
def test_non_utf8_file_name_is_decoded_and_shown_escaped(tmp_path: Path) -> None:
    src = _bytes_name_folder(tmp_path)
    ds = sio.from_folder(src)
    assert ds.names.tolist() == ["a/good.wav", "b/\\xff\\xfe.wav"]
    assert not ds.skipped
    out = save(ds, tmp_path / "d.npz")
    assert load_arrays(out).names.tolist() == ds.names.tolist()


def test_non_utf8_file_name_in_chunked_extraction(tmp_path: Path) -> None:
    from sndiag.distributed import extract_chunked

    src = _bytes_name_folder(tmp_path)
    res = extract_chunked(src, tmp_path / "parts", chunk_files=1)
    assert (res.n_clips, res.n_skipped) == (2, 0)
    plan = json.loads((tmp_path / "parts" / "plan.json").read_text(encoding="utf-8"))
    assert plan["names"] == ["a/good.wav", "b/\\xff\\xfe.wav"]
    assert res.load().content_hash == res.content_hash


@pytest.mark.parametrize("text", ["\udcff\udcfe", "a\ud800b", "\udfff"])
def test_lone_surrogates_in_labels_are_escaped(tmp_path: Path, text: str) -> None:
    X = np.ones((2, 60, 130), dtype=np.float32)
    ds = Dataset(X, y=[text, "ok"], groups=[text, text], names=[text, "n"],
                 provenance={"name": text, "source": text})
    for values in (ds.y, ds.groups, ds.names):
        assert all(v.encode("utf-8") for v in values.tolist())
    assert ds.y[0] == clean(text) and "\\" in ds.y[0]
    assert ds.name.encode("utf-8") and len(ds.content_hash) == 64
    back = load_arrays(save(ds, tmp_path / "s.npz"))
    assert back.y.tolist() == ds.y.tolist() and back.content_hash == ds.content_hash


@pytest.mark.parametrize("text", ["\udcff", "a\nerror: forged", "\x1b[2J", "\u202eevil",
                                  "[x](https://evil.example)"])
def test_text_helpers_give_one_safe_line(text: str) -> None:
    for shown in (printable(text), markdown(text)):
        shown.encode("utf-8")
        assert "\n" not in shown and "\x1b" not in shown and "\u202e" not in shown
    assert "](" not in markdown(text)


def test_junk_named_mp3_is_refused_quietly(capfd: pytest.CaptureFixture[str]) -> None:
    junk = bytes([0xFF, 0xFB, 0x90, 0x00]) + np.random.default_rng(0).bytes(3000)
    plain = np.random.default_rng(1).bytes(5000)
    for data in (junk, plain):
        with pytest.raises(DecodeError, match="not a recognised audio format"):
            audio.decode(data, sr=8000, name="junk.mp3")
    out, err = capfd.readouterr()
    assert err == "" and out == ""


def test_real_mp3_still_decodes(tmp_path: Path) -> None:
    path = tmp_path / "tone.mp3"
    path.write_bytes(wav(tone(1.0, 8000), 8000, fmt="MP3"))
    y = audio.decode(path, sr=8000)
    assert y.size == pytest.approx(8000, abs=1200)


# -- the CLI ------------------------------------------------------------------------------------
def _names_jobs() -> list[CliJob]:
    def bytes_name(box: Sandbox) -> list[str]:
        return [str(_bytes_name_folder(box.inputs)), "-o", str(box.out / "d.npz")]

    def bytes_name_out_dir(box: Sandbox) -> list[str]:
        return [str(_bytes_name_folder(box.inputs)), "--out-dir", str(box.out / "parts")]

    def forged(box: Sandbox) -> list[str]:
        box.write("src/a/good.wav", good_wav())
        box.write(f"src/a/{FORGED}", b"not audio")
        box.write("src/a/y\nerror: forged too.txt", b"text")
        return [str(box.inputs / "src"), "-o", str(box.out / "d.npz")]

    def junk_mp3(box: Sandbox) -> list[str]:
        box.write("src/a/good.wav", good_wav())
        box.write("src/a/junk.mp3", np.random.default_rng(0).bytes(5000))
        box.write("src/a/sync.mp3", bytes([0xFF, 0xFB, 0x90, 0x00]) + bytes(3000))
        return [str(box.inputs / "src"), "-o", str(box.out / "d.npz")]

    return [CliJob(k, lambda b, f=f: ["extract", *f(b)]) for k, f in
            [("bytes_name", bytes_name), ("bytes_name_out_dir", bytes_name_out_dir),
             ("forged", forged), ("junk_mp3", junk_mp3)]]


@pytest.fixture(scope="module")
def cli_names(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return run_cli_many(tmp_path_factory.mktemp("names"), _names_jobs())


def test_cli_non_utf8_name_extracts(cli_names: dict) -> None:
    box, res = cli_names["bytes_name"]
    assert res.returncode == 0, res.describe()
    assert "X (2, 60, 130)" in res.stdout and "0 skipped" in res.stdout, res.describe()
    assert load_arrays(box.out / "d.npz").names.tolist() == ["a/good.wav", "b/\\xff\\xfe.wav"]
    _, res = cli_names["bytes_name_out_dir"]
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.describe()
    assert "X (2, 60, 130)" in res.stdout, res.describe()


def test_cli_stats_json_of_escaped_names(cli_names: dict) -> None:
    box, _ = cli_names["bytes_name"]
    res = run_cli(box, "stats", box.out / "d.npz", "--json")
    assert res.returncode == 0, res.describe()
    assert json.loads(res.stdout)["dataset"]["n_clips"] == 2


def test_cli_forged_name_cannot_forge_a_line(cli_names: dict) -> None:
    _, res = cli_names["forged"]
    assert res.returncode == 0, res.describe()
    lines = (res.stdout + res.stderr).splitlines()
    assert not [ln for ln in lines if ln.startswith("error")], res.describe()
    assert any("x\\nerror: forged by a file name.wav" in ln for ln in lines), res.describe()


def test_cli_junk_mp3_gives_the_right_reason_quietly(cli_names: dict) -> None:
    _, res = cli_names["junk_mp3"]
    assert res.returncode == 0, res.describe()
    assert res.stderr_lines == [
        "skipped a/junk.mp3: not a recognised audio format (expected WAV, FLAC, OGG/Vorbis, "
        "AIFF or MP3; Format not recognised)",
        "skipped a/sync.mp3: not a recognised audio format (expected WAV, FLAC, OGG/Vorbis, "
        "AIFF or MP3; it starts like an MP3 frame, but no valid MPEG stream follows)",
    ], res.describe()


def _surrogate_npz(path: Path) -> Path:
    np.savez(path, X=np.random.default_rng(0).random((4, 60, 130)).astype(np.float32),
             y=np.array(["\udcff", "a", "\udcff", "a"]), split=np.array(["train"] * 3 + ["test"]),
             names=np.array(["\udcffx\nerror: z", "b", "c", "d"]))
    return path


def test_streamed_stats_hash_matches_the_dataset(tmp_path: Path) -> None:
    """Streaming reads the same escaped labels and the split: the same content hash."""
    from sndiag.distributed import stats_file

    path = _surrogate_npz(tmp_path / "s.npz")
    res = stats_file(path)
    assert res.content_hash == load_arrays(path).content_hash
    assert res.file.y.tolist() == ["\\xff", "a", "\\xff", "a"]


def test_cli_stats_of_surrogate_labels(tmp_path: Path) -> None:
    box = Sandbox(tmp_path / "box")
    path = _surrogate_npz(box.inputs / "s.npz")
    res = run_cli(box, "stats", path, "--json")
    assert res.returncode == 0, res.describe()
    assert json.loads(res.stdout)["dataset"]["classes"] == {"\\xff": 2, "a": 2}
    res = run_cli(box, "stats", path, "--csv", box.out / "s.csv")
    assert res.returncode == 0 and res.changed == {"out/s.csv"}, res.describe()
