"""`sndiag compare`: table, verdict, JSON schema, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import sndiag.io as sio
from sndiag.cli import app, main
from sndiag.dataset import Dataset

CONFIG_KEYS = {"scaler", "mask", "classifier", "fold_accuracies", "mean", "ci_low", "ci_high",
               "p_vs_none", "fit_seconds", "epochs", "notes", "cpu_seconds", "converged",
               "at_chance", "stage", "n_train", "n_test", "screening", "alphas", "same_as",
               "test_correct", "best_epochs"}


@pytest.fixture
def tiny_npz(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 12)
    X = rng.gamma(2.0, 1.0, size=(36, 5, 7)) + 1.5 * y[:, None, None]
    return sio.save(Dataset(X.astype(np.float32), y=y, groups=np.tile(["a", "b", "c", "d"], 9),
                            provenance={"name": "tiny"}), tmp_path / "tiny.npz")


def test_compare_prints_table_and_writes_json(tiny_npz: Path, tmp_path: Path) -> None:
    out = tmp_path / "res.json"
    r = CliRunner().invoke(app, ["compare", str(tiny_npz), "--scalers", "none,standard,band",
                                 "--mask", "rows:0", "--folds", "3", "--jobs", "1",
                                 "--json", str(out)])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0].startswith("tiny: 36 clips, StratifiedGroupKFold")
    assert lines[1].split()[:3] == ["configuration", "mean", "acc"]
    assert any(line.startswith("band | mask rows:0") for line in lines)
    d = json.loads(out.read_text())
    assert d["classifier"] == "ridge" and d["folds"] == 3 and d["dataset"]["name"] == "tiny"
    assert {"dataset", "classifier", "folds", "splitter", "configurations", "best", "verdict",
            "notes", "recommended"} <= set(d)
    rec = d["recommended"]
    assert r.output.count("Use ") >= 1 and d["verdict"].startswith("Use ")
    assert {"scaler", "mask", "mean", "ci_low", "ci_high"} <= set(rec)
    assert f"export it: sndiag scale {tiny_npz} --scaler {rec['scaler']}" in r.output
    for c in d["configurations"]:
        assert isinstance(c["converged"], bool) and isinstance(c["at_chance"], bool)
    assert [(c["scaler"], c["mask"]) for c in d["configurations"]] == [
        ("none", "none"), ("standard", "none"), ("band", "none"),
        ("none", "rows:0"), ("standard", "rows:0"), ("band", "rows:0")]
    for c in d["configurations"]:
        assert set(c) == CONFIG_KEYS and c["epochs"] is None


def test_compare_mlp_records_epochs(tiny_npz: Path, tmp_path: Path) -> None:
    out = tmp_path / "mlp.json"
    r = CliRunner().invoke(app, ["compare", str(tiny_npz), "--scalers", "standard",
                                 "--classifier", "mlp", "--epochs", "2", "--folds", "2",
                                 "--ignore-groups", "--jobs", "1", "--json", str(out)])
    assert r.exit_code == 0, r.output
    d = json.loads(out.read_text())
    assert d["splitter"].startswith("StratifiedKFold")
    assert [c["scaler"] for c in d["configurations"]] == ["none", "standard"]
    assert all(len(c["epochs"]["val_accuracy"]) == 2 for c in d["configurations"])


def test_compare_cnn_records_the_question_curves(tiny_npz: Path, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    out = tmp_path / "cnn.json"
    r = CliRunner().invoke(app, ["compare", str(tiny_npz), "--scalers", "db+standard,batchnorm",
                                 "--mask", "none", "--classifier", "cnn", "--epochs", "2",
                                 "--json", str(out)])
    assert r.exit_code == 0, r.output
    first = r.output.splitlines()[0]
    assert first.startswith("tiny: 36 clips, one split: fold 1 of LeaveOneGroupOut over 4 groups")
    assert ", cnn on cpu (" in first or ", cnn on cuda" in first
    d = json.loads(out.read_text())
    assert d["folds"] == 1 and d["device"] in first
    assert [c["scaler"] for c in d["configurations"]] == ["none", "standard", "db+standard",
                                                          "batchnorm"]
    for c in d["configurations"]:
        assert set(c) == CONFIG_KEYS
        assert set(c["epochs"]) == {"val_accuracy", "val_loss", "train_accuracy", "train_loss",
                                    "batch_accuracy"}
        assert len(c["epochs"]["val_accuracy"]) == 2 and len(c["test_correct"]) == d["n_test"][0]
    assert "One split:" in d["verdict"]


@pytest.mark.parametrize(("args", "message"), [
    (["--scalers", "none,nope"], "nope"),
    (["--mask-percentile", "150"], "percentile"),
    (["--classifier", "svm"], "classifier='svm'"),
    (["--folds", "1"], "folds=1"),
])
def test_compare_bad_options_exit_2_one_line(tiny_npz: Path, args: list[str], message: str,
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "argv", ["sndiag", "compare", str(tiny_npz), "--jobs", "1", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and message in err


def test_compare_unlabelled_and_missing_input_subprocess(tmp_path: Path) -> None:
    unlabelled = sio.save(Dataset(np.ones((8, 2, 3), dtype=np.float32)), tmp_path / "u.npz")
    for path, message in ((unlabelled, "needs labels"), (tmp_path / "missing.npz", "missing")):
        proc = subprocess.run([sys.executable, "-m", "sndiag.cli", "compare", str(path)],
                              capture_output=True, text=True, check=False)
        assert proc.returncode == 2, proc.stderr
        err = proc.stderr.strip()
        assert err.startswith("error:") and "\n" not in err and message in err
        assert "Traceback" not in proc.stderr


def _comparable(d: dict) -> dict:
    """A compare JSON without wall/CPU times and where the fits ran."""
    d = {k: v for k, v in d.items() if k != "seconds"}
    d["search"] = {k: v for k, v in d["search"].items() if k != "runs_on"}
    d["configurations"] = [{k: v for k, v in c.items() if k not in ("fit_seconds", "cpu_seconds")}
                           for c in d["configurations"]]
    return d


def test_compare_on_a_local_dask_cluster_matches_in_process(tiny_npz: Path,
                                                            tmp_path: Path) -> None:
    """`--scheduler local:2`: the same table and JSON (fold accuracies exactly equal, see
    tests/test_distributed_search.py), and the cluster's processes are gone afterwards."""
    psutil = pytest.importorskip("psutil")
    pytest.importorskip("dask.distributed")
    args = ["compare", str(tiny_npz), "--scalers", "none,standard,db+band", "--folds", "3"]
    here, there = tmp_path / "here.json", tmp_path / "there.json"
    r1 = CliRunner().invoke(app, [*args, "--json", str(here)])
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}  # joblib keeps its workers for reuse
    r2 = CliRunner().invoke(app, [*args, "--scheduler", "local:2", "--json", str(there)])
    assert r1.exit_code == 0 and r2.exit_code == 0, r1.output + r2.output
    first = r2.output.splitlines()[0]
    assert ", ridge, fits on a local Dask cluster (2 worker processes), " in first
    assert "fits on" not in r1.output.splitlines()[0]
    a, b = json.loads(here.read_text()), json.loads(there.read_text())
    assert b["search"]["runs_on"] == "a local Dask cluster (2 worker processes)"
    assert [c["fold_accuracies"] for c in b["configurations"]] == \
        [c["fold_accuracies"] for c in a["configurations"]]
    assert _comparable(b) == _comparable(a)
    assert r2.output.splitlines()[1:-1] == r1.output.splitlines()[1:-1]   # but "wrote ..."
    left = [p for p in me.children(recursive=True) if p.pid not in before and p.is_running()
            and p.status() != psutil.STATUS_ZOMBIE]
    assert left == [], [p.cmdline() for p in left]


def test_compare_scheduler_with_a_missing_shared_dir_is_one_line(
        tiny_npz: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SNDIAG_SHARED_DIR", str(tmp_path / "absent"))
    monkeypatch.setattr(sys, "argv", ["sndiag", "compare", str(tiny_npz), "--scalers", "none",
                                      "--scheduler", "tcp://127.0.0.1:9"])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: shared_dir=") and "absent" in err and "\n" not in err
