"""The experiment's CNN (PyTorch, the extra ``sndiag[cnn]``): curves, paired statistics, cancel.

Small synthetic images and 2 epochs, so the whole module takes seconds; the FSDD-marked test
at the end runs the CNN on the real recordings. Without PyTorch only the tests of what a user
is told run (the others are skipped); the dev requirements install it, so CI runs them all.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

from sndiag.dataset import Dataset
from sndiag.errors import ParameterError
from sndiag.experiment import (
    ExperimentJob,
    ExperimentResult,
    corrected_ttest,
    format_table,
    mcnemar_test,
    run_experiment,
)

try:
    import torch  # noqa: F401

    HAVE_TORCH = True
except ImportError:  # pragma: no cover - the dev requirements install it
    HAVE_TORCH = False

needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch (sndiag[cnn]) is not installed")
SHAPE = (12, 16)
CURVES = {"val_accuracy", "val_loss", "train_accuracy", "train_loss", "batch_accuracy"}


def make_ds(*, n_per_class: int = 16, n_classes: int = 3, n_groups: int | None = 6,
            seed: int = 0) -> Dataset:
    """Power-like images: class information in rows 3-5, a loud bursty band in rows 0-1."""
    rng = np.random.default_rng(seed)
    n = n_per_class * n_classes
    y = np.repeat(np.arange(n_classes), n_per_class)
    X = rng.gamma(2.0, 1.0, size=(n, *SHAPE))
    X[:, 3:6, :] += 2.0 * y[:, None, None]
    X[:, 0:2, :] *= rng.gamma(0.2, 20.0, size=(n, 2, SHAPE[1]))
    groups = None if n_groups is None else np.tile(np.arange(n_groups), n // n_groups + 1)[:n]
    return Dataset(X.astype(np.float32), y=[f"c{v}" for v in y],
                   groups=None if groups is None else [f"g{g}" for g in groups])


# -- the network ------------------------------------------------------------------------------
@needs_torch
def test_small_cnn_records_every_curve_and_minibatch() -> None:
    from sndiag.experiment import SmallCNN

    ds = make_ds()
    clf = SmallCNN(shape=SHAPE, epochs=2, batch_size=8)
    clf.fit(ds.X[::2], ds.y[::2], X_val=ds.X[1::2], y_val=ds.y[1::2])
    h = clf.history_
    assert set(h.curves()) == CURVES
    assert len(h.val_accuracy) == len(h.train_loss) == 2
    assert h.batches_per_epoch == 3 and len(h.batch_accuracy) == 2 * 3   # 24 clips / 8
    assert all(0.0 <= a <= 1.0 for a in [*h.batch_accuracy, *h.val_accuracy])
    assert all(math.isfinite(v) and v > 0 for v in [*h.val_loss, *h.train_loss])
    assert h.best_epoch in (1, 2) and clf.device_ in ("cpu", "cuda", "mps")
    proba = clf.predict_proba(ds.X[:5])
    assert proba.shape == (5, 3) and np.allclose(proba.sum(axis=1), 1.0, atol=1e-5)


@needs_torch
def test_small_cnn_stops_early_and_keeps_the_best_epoch() -> None:
    from sndiag.experiment import SmallCNN

    ds = make_ds(n_per_class=12)
    clf = SmallCNN(shape=SHAPE, epochs=30, patience=1, learning_rate=0.05)
    clf.fit(ds.X[::2], ds.y[::2], X_val=ds.X[1::2], y_val=ds.y[1::2])
    h = clf.history_
    assert h.stopped_early and len(h.val_loss) < 30
    assert h.best_epoch == int(np.nanargmin(h.val_loss)) + 1


@needs_torch
def test_batchnorm_input_layer_is_the_first_layer() -> None:
    from sndiag.experiment import SmallCNN

    ds = make_ds()
    plain = SmallCNN(shape=SHAPE, epochs=1).fit(ds.X, ds.y)
    remedy = SmallCNN(shape=SHAPE, epochs=1, input_norm=True).fit(ds.X, ds.y)
    assert type(plain.net_[0]).__name__ == "Conv2d"
    assert type(remedy.net_[0]).__name__ == "BatchNorm2d" and remedy.net_[0].num_features == 1


# -- in the experiment ------------------------------------------------------------------------
@needs_torch
def test_cnn_two_epochs_one_split_curves_and_paired_statistics() -> None:
    """The default CNN split is one held-out group; every configuration records the five curves;
    intervals and p-values are over the test clips (Wilson, exact McNemar), and the verdict
    says it is one split."""
    ds = make_ds()
    res = run_experiment(ds, scalers=["none", "db+standard", "batchnorm"], masks=["none"],
                         classifier="cnn", epochs=2, n_jobs=1)
    assert [c.label for c in res.configurations] == ["none", "standard", "db+standard",
                                                      "batchnorm"]   # standard always added
    assert res.folds == 1 and res.one_split and res.grouped
    assert res.splitter == "one split: fold 1 of LeaveOneGroupOut over 6 groups"
    assert res.n_test == [8] and res.device is not None and res.device.startswith("cpu")
    raw = res.get("none")
    for c in res.configurations:
        assert set(c.epochs) == CURVES
        assert len(c.epochs["val_accuracy"]) == len(c.epochs["train_loss"]) == 2
        n_fit = 32  # 40 training clips of 5 groups, one group held out for validation
        assert len(c.epochs["batch_accuracy"]) == 2 * math.ceil(n_fit / 32)
        assert c.test_correct is not None and len(c.test_correct) == 8
        assert c.mean == pytest.approx(np.mean(c.test_correct))
        assert c.ci_low <= c.mean <= c.ci_high and c.best_epochs is not None
        if c is not raw:
            assert c.p_vs_none == pytest.approx(mcnemar_test(c.test_correct, raw.test_correct))
    assert "One split:" in res.verdict and "McNemar" in res.verdict
    assert any(n.startswith("one split: 8 test clips of held-out group g0") for n in res.notes)
    d = json.loads(json.dumps(res.to_dict()))
    assert d["device"] == res.device
    for c in d["configurations"]:
        assert set(c["epochs"]) == CURVES and len(c["test_correct"]) == 8
    back = ExperimentResult.from_dict(d)
    assert back.compare(back.get("standard"), back.get("none")) == pytest.approx(
        res.compare(res.get("standard"), res.get("none")))


@needs_torch
def test_cnn_with_folds_uses_the_corrected_paired_test() -> None:
    ds = make_ds()
    res = run_experiment(ds, scalers=["none", "standard"], masks=["none"], classifier="cnn",
                         epochs=2, folds=3, n_jobs=1)
    assert res.folds == 3 and not res.one_split
    raw, std = res.get("none"), res.get("standard")
    assert len(std.fold_accuracies) == 3 and std.test_correct is None
    assert std.p_vs_none == pytest.approx(corrected_ttest(
        std.fold_accuracies, raw.fold_accuracies, n_train=std.n_train, n_test=std.n_test)[1],
        nan_ok=True)
    assert len(std.best_epochs or []) == 3


@needs_torch
def test_cnn_is_deterministic_for_a_seed() -> None:
    ds = make_ds()
    runs = [run_experiment(ds, scalers=["none"], masks=["none"], classifier="cnn", epochs=2,
                           n_jobs=1, random_state=3) for _ in range(2)]
    a, b = (r.configurations for r in runs)
    for ca, cb in zip(a, b, strict=True):
        assert ca.test_correct == cb.test_correct
        assert ca.epochs.keys() == cb.epochs.keys()
        for key in ca.epochs:
            assert ca.epochs[key] == pytest.approx(cb.epochs[key], rel=1e-4)


@needs_torch
def test_cnn_progress_counts_epochs_and_cancel_is_honoured() -> None:
    """Progress moves once per epoch; a cancel asked during the second configuration stops it
    within a minibatch, and only the finished configuration is kept."""
    ds = make_ds()
    seen: list[tuple[int, int]] = []
    res = run_experiment(ds, scalers=["none", "db+standard"], masks=["none"],
                         classifier="cnn", epochs=2, n_jobs=1,
                         progress=lambda d, t: seen.append((d, t)),
                         cancel=lambda: bool(seen) and seen[-1][0] >= 3)
    assert seen[0] == (0, 6)            # 3 configurations x 2 epochs
    assert [d for d, _ in seen[:4]] == [0, 1, 2, 2]   # epoch, epoch, end of the first fit
    assert res.cancelled and [c.label for c in res.configurations] == ["none"]
    assert max(d for d, _ in seen) < 6
    assert res.verdict.startswith("Cancelled")


@needs_torch
def test_cnn_job_cancel_from_another_thread() -> None:
    ds = make_ds(n_per_class=40)
    job = ExperimentJob(ds, scalers=["none", "standard"], masks=["none"], classifier="cnn",
                        epochs=50, n_jobs=1).start()
    while job.progress()[0] < 1 and not job.done:
        job.wait(timeout=0.05)
    job.cancel()
    assert job.wait(timeout=120)
    assert job.error is None and job.result is not None and job.result.cancelled
    assert job.progress()[0] < job.progress()[1]


@needs_torch
def test_cnn_default_comparison_adds_the_ridge_pick_chosen_on_training_clips() -> None:
    ds = make_ds()
    seen: list[tuple[int, int]] = []
    res = run_experiment(ds, classifier="cnn", epochs=1, n_jobs=1,
                         progress=lambda d, t: seen.append((d, t)))
    labels = [c.label for c in res.configurations]
    assert labels[:2] == ["none", "standard"] and labels[-1] == "batchnorm"
    pre = res.search["preselect"]
    assert pre["classifier"] == "ridge" and pre["clips"] == res.n_train[0] == 40
    assert pre["splitter"] == "LeaveOneGroupOut over 5 groups"
    pick = pre["recommended"]
    assert pick is not None
    pick_label = pick["scaler"] if pick["mask"] == "none" else \
        f"{pick['scaler']} | mask {pick['mask']}"
    assert pick_label in labels and len(labels) == len(set(labels))
    assert any("the CNN's test clips took no part in choosing it" in n for n in res.notes)
    done = [d for d, _ in seen]
    assert done == sorted(done) and seen[-1][0] == seen[-1][1]


def test_batchnorm_is_a_layer_of_the_cnn_only() -> None:
    with pytest.raises(ParameterError, match="layer of the CNN"):
        run_experiment(make_ds(), scalers=["none", "batchnorm"], classifier="ridge", n_jobs=1)
    from sndiag.experiment import parse_candidates
    from sndiag.masks import MaskSpec

    assert [c.name for c in parse_candidates(["batchnorm", "db+batchnorm"], [MaskSpec()])] == [
        "batchnorm", "db+batchnorm"]
    with pytest.raises(ParameterError, match="only stateless steps"):
        parse_candidates(["standard+batchnorm"], [MaskSpec()])


# -- without the extra ------------------------------------------------------------------------
class _NoTorch:
    """A meta path finder for which PyTorch is not installed."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name.split(".")[0] == "torch":
            raise ModuleNotFoundError(f"No module named {name!r}")

def test_without_torch_the_api_and_cli_say_how_to_install(tmp_path: Any,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A process where ``import torch`` fails: the CNN is reported unavailable with the install
    line, the CLI exits 2 with it on one line, and the other classifiers still work."""
    import sndiag.io as sio

    path = sio.save(make_ds(), tmp_path / "tiny.npz")
    code = (
        "import sys\n"
        "class Blocker:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'torch':\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}')\n"
        "sys.meta_path.insert(0, Blocker())\n"
        "from sndiag.experiment import available_classifiers\n"
        "print(available_classifiers()['cnn'])\n"
        f"sys.argv = ['sndiag', 'compare', {str(path)!r}, '--classifier', 'cnn']\n"
        "from sndiag.cli import main\n"
        "main()\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 2, proc.stderr
    assert "pip install 'sndiag[cnn]'" in proc.stdout
    err = proc.stderr.strip()
    assert err.startswith("error: classifier='cnn' needs PyTorch") and "\n" not in err
    assert "sndiag[cnn]" in err and "Traceback" not in proc.stderr


def test_without_torch_the_experiment_page_offers_no_cnn_and_says_why(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    pytest.importorskip("streamlit")
    from streamlit.testing.v1 import AppTest

    for name in [m for m in sys.modules if m.split(".")[0] == "torch"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [_NoTorch(), *sys.meta_path])  # import torch fails
    monkeypatch.setenv("SNDIAG_STORE", str(tmp_path))
    app = str(Path(__file__).resolve().parents[1] / "app.py")
    at = AppTest.from_file(app, default_timeout=120)
    at.run()
    at.switch_page("pages/experiment.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "cnn" not in at.radio(key="w_exp_classifier").options
    captions = [c.value for c in at.caption]
    assert any("The CNN is not available here" in c and "sndiag[cnn]" in c for c in captions)


# -- FSDD -------------------------------------------------------------------------------------
@pytest.mark.fsdd
@pytest.mark.slow
@needs_torch
def test_fsdd_cnn_one_group_split(fsdd_dir: Any) -> None:
    """The CNN on the real recordings, 3 epochs at most: one held-out speaker (500 clips), the
    question's curves for every configuration, and decibels then per-pixel standardization
    learns more than chance."""
    from sndiag.io import from_folder

    ds = from_folder(fsdd_dir, label_regex=r"(?P<label>\d)_(?P<group>[a-z]+)_\d+\.wav", n_jobs=2)
    res = run_experiment(ds, scalers=["none", "db+standard"], masks=["none"], classifier="cnn",
                         epochs=3, n_jobs=1)
    print(format_table(res), res.verdict, sep="\n")
    assert res.splitter == "one split: fold 1 of LeaveOneGroupOut over 6 groups"
    assert res.n_test == [500] and res.n_train == [2500]
    assert [c.label for c in res.configurations] == ["none", "standard", "db+standard"]
    for c in res.configurations:
        n_epochs = len(c.epochs["val_accuracy"])
        assert 1 <= n_epochs <= 3 and len(c.epochs["train_accuracy"]) == n_epochs
        assert len(c.epochs["batch_accuracy"]) == n_epochs * math.ceil(2000 / 32)
        assert len(c.test_correct) == 500
        assert c.p_vs_none is None or 0 <= c.p_vs_none <= 1
    db = res.get("db+standard")
    assert db.ci_low > res.chance, format_table(res)
