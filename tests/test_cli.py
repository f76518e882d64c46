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
