"""The CLI as a user runs it: real subprocesses, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import FSDD_REGEX


def sndiag(*args: str, cwd=None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sndiag.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=300, check=False)


def _one_line_error(out: subprocess.CompletedProcess[str], match: str) -> None:
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    assert "Traceback" not in out.stderr
    assert match in lines[0], lines[0]


@pytest.fixture(scope="module")
def demo_npz(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "demo.npz"
    out = sndiag("demo", "-o", path)
    assert out.returncode == 0, out.stderr
    return path


def test_cli_scalers_lists_every_name():
    from sndiag.scalers import scaler_names

    out = sndiag("scalers")
    assert out.returncode == 0
    for name in scaler_names():
        assert name in out.stdout


def test_cli_stats_json_agrees_with_numpy(demo_npz):
    out = sndiag("stats", demo_npz, "--json")
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    X = np.load(demo_npz)["X"].astype(np.float64)
    assert d["n"] == X.shape[0] and list(d["shape"]) == [60, 130]
    assert d["global_max"] == pytest.approx(X.max())
    assert len(d["row_snr"]) == 60


def test_cli_scale_writes_params(demo_npz, tmp_path):
    out = sndiag("scale", demo_npz, "--scaler", "std_floor", "--floor-percentile", "25",
                 "--mask-snr", "0.2", "-o", tmp_path / "p.npz")
    assert out.returncode == 0, out.stderr
    with np.load(tmp_path / "p.npz", allow_pickle=False) as z:
        assert z["scale"].shape == (60, 130) and z["mask_rows"].any()


def test_cli_refuses_pickled_npy(tmp_path):
    np.save(tmp_path / "p.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    _one_line_error(sndiag("stats", tmp_path / "p.npy"), "pickled")


def test_cli_refuses_wrong_shape(tmp_path):
    np.save(tmp_path / "w.npy", np.zeros((10, 60, 131), np.float32))
    _one_line_error(sndiag("stats", tmp_path / "w.npy"), "(10, 60, 131)")


def test_cli_refuses_nan(tmp_path):
    X = np.ones((4, 60, 130), np.float32)
    X[1, 2, 3] = np.nan
    np.save(tmp_path / "n.npy", X)
    _one_line_error(sndiag("stats", tmp_path / "n.npy"), "NaN")


def test_cli_refuses_unknown_scaler_and_missing_file(demo_npz, tmp_path):
    _one_line_error(sndiag("scale", demo_npz, "--scaler", "nope", "-o", tmp_path / "p.npz"),
                    "unknown scaler")
    _one_line_error(sndiag("stats", tmp_path / "absent.npz"), "absent.npz")


def test_cli_extract_folder_with_mixed_formats(tmp_path):
    """Class folders of FLAC/WAV/AIFF at mixed rates, mono and stereo, labelled by folder."""
    for label, f0 in (("low", 200.0), ("high", 3000.0)):
        (tmp_path / "src" / label).mkdir(parents=True)
        for i, (ext, sr, ch) in enumerate([("wav", 8000, 1), ("flac", 16000, 2), ("aiff", 44100, 1)]):
            tt = np.arange(int(sr * 0.5)) / sr
            y = 0.3 * np.sin(2 * np.pi * f0 * tt)
            y = np.stack([y, y], axis=1) if ch == 2 else y
            sf.write(tmp_path / "src" / label / f"c{i}.{ext}", y, sr)
    (tmp_path / "src" / "low" / "broken.wav").write_bytes(b"RIFF....garbage")
    out = sndiag("extract", tmp_path / "src", "-o", tmp_path / "x.npz")
    assert out.returncode == 0, out.stderr
    assert "skipped" in out.stderr and "broken.wav" in out.stderr
    with np.load(tmp_path / "x.npz", allow_pickle=False) as z:
        assert z["X"].shape == (6, 60, 130)
        assert sorted(set(z["y"].tolist())) == ["high", "low"]


@pytest.mark.fsdd
@pytest.mark.slow
def test_cli_extract_and_stats_on_fsdd(fsdd_dir, tmp_path):
    out = sndiag("extract", fsdd_dir, "--label-regex", FSDD_REGEX, "-o", tmp_path / "fsdd.npz")
    assert out.returncode == 0, out.stderr
    with np.load(tmp_path / "fsdd.npz", allow_pickle=False) as z:
        X, y, groups = z["X"], z["y"], z["groups"]
    assert X.shape == (3000, 60, 130)
    assert len(set(y.tolist())) == 10 and len(set(groups.tolist())) == 6
    st = json.loads(sndiag("stats", tmp_path / "fsdd.npz", "--json").stdout)
    X64 = X.astype(np.float64)
    mean, std = X64.mean(0), X64.std(0)
    row_mean = X64.mean(axis=(0, 2))
    np.testing.assert_allclose(st["row_mean"], row_mean, rtol=1e-6)
    from sndiag.stats import compute_stats

    s = compute_stats(X)
    np.testing.assert_allclose(s.mean, mean, rtol=1e-6, atol=1e-30)
    np.testing.assert_allclose(s.std, std, rtol=1e-6, atol=1e-30)


# -- out of core: chunked extraction, resuming, streamed statistics, schedulers -----------------
def _write_wavs(root, n_per_class: int, sr: int = 8000, seconds: float = 1.0) -> None:
    rng = np.random.default_rng(0)
    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        for i in range(n_per_class):
            sf.write(root / label / f"{i:03d}.wav",
                     0.1 * rng.standard_normal(int(sr * seconds)), sr)


def _hash(out: subprocess.CompletedProcess[str]) -> str:
    assert out.returncode == 0, out.stderr
    return out.stdout.split("hash ")[1][:12]


def test_cli_extract_out_dir_writes_chunks_then_resumes(tmp_path):
    _write_wavs(tmp_path / "src", 5)
    args = ("extract", tmp_path / "src", "--sr", "8000", "--chunk-files", "4")
    first = sndiag(*args, "--out-dir", tmp_path / "parts", "-o", tmp_path / "x.npz")
    assert "3 chunks" in first.stdout and "(0 reused, 3 computed)" in first.stdout, first.stdout
    assert sorted(p.name for p in (tmp_path / "parts" / "chunks").iterdir()) == [
        "000000.npz", "000001.npz", "000002.npz"]
    manifest = json.loads((tmp_path / "parts" / "manifest.json").read_text())
    assert manifest["done"] == [0, 1, 2] and manifest["complete"]
    again = sndiag(*args, "--out-dir", tmp_path / "parts", "-o", tmp_path / "x.npz")
    assert "(3 reused, 0 computed)" in again.stdout and _hash(again) == _hash(first)
    # the same data as the in-memory path (chunks of 4 = batches of 4 here: 10 clips < 64)
    plain = sndiag("extract", tmp_path / "src", "--sr", "8000", "-o", tmp_path / "plain.npz")
    with np.load(tmp_path / "x.npz") as a, np.load(tmp_path / "plain.npz") as b:
        np.testing.assert_allclose(a["X"], b["X"], rtol=1e-5, atol=1e-6)
        assert a["y"].tolist() == b["y"].tolist() and a["names"].tolist() == b["names"].tolist()
    assert plain.returncode == 0
    _one_line_error(sndiag(*args, "--out-dir", tmp_path / "parts", "--n-mels", "40"),
                    "--no-resume")
    _one_line_error(sndiag("extract", tmp_path / "src"), "--out-dir")


def test_cli_extract_killed_with_sigkill_resumes_where_it_stopped(tmp_path):
    """SIGKILL a running extraction; the re-run keeps the finished chunks untouched."""
    import signal
    import time

    _write_wavs(tmp_path / "src", 40, sr=44100, seconds=2.0)
    args = ["extract", str(tmp_path / "src"), "--chunk-files", "2", "--jobs", "1"]
    ref = sndiag(*args, "--out-dir", tmp_path / "ref")
    out = tmp_path / "parts"
    proc = subprocess.Popen([sys.executable, "-m", "sndiag.cli", *args, "--out-dir", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if len(json.loads((out / "manifest.json").read_text())["done"]) >= 3:
                    break
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.002)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    done = json.loads((out / "manifest.json").read_text())["done"]
    assert 3 <= len(done) < 40, f"{len(done)} chunks were done when the process was killed"
    assert not (out / "dataset.npz").exists()
    mtimes = {i: (out / "chunks" / f"{i:06d}.npz").stat().st_mtime_ns for i in done}
    resumed = sndiag(*args, "--out-dir", out)
    assert f"({len(done)} reused, {40 - len(done)} computed)" in resumed.stdout, resumed.stdout
    assert all((out / "chunks" / f"{i:06d}.npz").stat().st_mtime_ns == t
               for i, t in mtimes.items())
    assert _hash(resumed) == _hash(ref)


def test_cli_stats_streams_npy_and_runs_on_a_local_dask_cluster(demo_npz, tmp_path):
    in_process = sndiag("stats", demo_npz, "--json", "--chunk-size", "100")
    on_dask = sndiag("stats", demo_npz, "--json", "--scheduler", "local:2")
    a, b = json.loads(in_process.stdout), json.loads(on_dask.stdout)
    assert a["dataset"]["content_hash"] and b["dataset"]["content_hash"] is None
    for key in ("row_mean", "row_std", "row_snr", "global_mean", "global_std"):
        np.testing.assert_allclose(b[key], a[key], rtol=1e-9)
    assert a["dataset"]["content_hash"] == json.loads(sndiag(
        "stats", demo_npz, "--json").stdout)["dataset"]["content_hash"]
    X = np.load(demo_npz)["X"]
    np.save(tmp_path / "x.npy", X)
    text = sndiag("stats", tmp_path / "x.npy", "--sample-size", "50")
    assert text.returncode == 0 and "sample of 50 of 600 clips" in text.stdout, text.stdout
    _one_line_error(sndiag("stats", tmp_path / "x.npy", "--scheduler", "lokal"), "tcp://")


def test_extract_advises_a_grid_that_fits_and_a_group_the_names_carry(tmp_path):
    """Short 8 kHz clips on the default 22.05 kHz, 3 s grid; the kit is in the file names."""
    rng = np.random.default_rng(0)
    for label in ("kick", "snare"):
        (tmp_path / "kits" / label).mkdir(parents=True)
        for kit in ("808", "acoustic", "jazz"):
            for i in range(2):
                sf.write(tmp_path / "kits" / label / f"{kit}__{label}{i}.wav",
                         (0.1 * rng.standard_normal(2400)).astype(np.float32), 8000)
    out = sndiag("extract", tmp_path / "kits", "-o", tmp_path / "kits.npz")
    assert out.returncode == 0, out.stderr
    advice = next(line for line in out.stdout.splitlines() if line.startswith("advice: "))
    assert "padding" in advice and "--sr 8000 --hop " in advice
    hint = next(line for line in out.stdout.splitlines() if line.startswith("hint: "))
    assert "3 values" in hint and "--label-regex" in hint
    pattern = hint.split("--label-regex '")[1].split("'")[0]
    options = advice.split("Extract again with: ")[1].split()
    again = sndiag("extract", tmp_path / "kits", "-o", tmp_path / "kits2.npz",
                   "--label-regex", pattern, *options)
    assert again.returncode == 0, again.stderr
    assert "3 groups" in again.stdout and "advice:" not in again.stdout
    assert "hint:" not in again.stdout
    stats = json.loads(sndiag("stats", tmp_path / "kits.npz", "--json").stdout)
    kinds = [d["kind"] for d in stats["diagnostics"]]
    assert kinds[:2] == ["padding", "above_nyquist"]


def test_extract_no_labels_flag_has_no_negated_twin():
    out = sndiag("extract", "--help")
    assert "--no-labels" in out.stdout and "--no-no-labels" not in out.stdout


def test_every_help_text_renders_as_written():
    """Help is rendered as Rich markup: ``'sndiag[cnn]'`` would lose its ``[cnn]`` unescaped."""
    import typer
    from rich.text import Text

    from sndiag.cli import app

    root = typer.main.get_command(app)
    texts = []
    for command in [root, *root.commands.values()]:
        texts.append(command.help or "")
        texts += [p.help for p in command.params if getattr(p, "help", None)]
    assert len(texts) > 40
    for text in texts:
        assert Text.from_markup(text).plain == text.replace("\\[", "["), text


def test_compare_help_names_the_extra_to_install():
    out = sndiag("compare", "--help")
    assert out.returncode == 0
    shown = " ".join(out.stdout.replace("│", " ").split())
    assert "pip install 'sndiag[cnn]'" in shown and "'sndiag[dask]'" in shown
