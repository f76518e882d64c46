"""The experiment's fits on Dask (``DaskExecutor``): equal to in-process, paths not clips.

On a 2-worker ``LocalCluster`` (``dask_local``). The fold accuracies are compared for exact
equality: each fit is the same ``_fit_fold`` on the same float32 clips, splits and seeds, on one
BLAS thread (Dask's worker processes, like joblib's, start with ``OMP_NUM_THREADS=1``), and an
accuracy is a count of correct test clips over their number, so no reordering of float sums can
move it unless a prediction flips; none does.
"""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest

import sndiag.distributed.search as search_mod
from sndiag.dataset import Dataset
from sndiag.distributed import DaskExecutor
from sndiag.errors import DataError, ParameterError
from sndiag.experiment import ExperimentJob, ExperimentResult, FitExecutor, run_experiment

SCALERS = ["none", "standard", "db", "db+band", "log1p+robust", "std_floor"]
TIMINGS = {"seconds", "fit_seconds", "cpu_seconds"}


@pytest.fixture(scope="module")
def grouped() -> Dataset:
    """240 power-like clips, 4 classes, 4 groups, silent top rows (so ``auto`` masks them)."""
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(4), 60)
    X = rng.gamma(0.7, 2.0, size=(240, 60, 130)).astype(np.float32)
    X[:, 50:, :] = 0.0
    for c in range(4):
        X[y == c, 5 + 3 * c:8 + 3 * c, 10:60] *= 3.0
    return Dataset(X, y=[f"d{v}" for v in y], groups=np.tile(["a", "b", "c", "d"], 60))


def comparable(res: ExperimentResult) -> dict[str, Any]:
    """The result as JSON, without wall/CPU times and where the fits ran."""
    d = res.to_dict()
    d.pop("seconds", None)
    d["search"] = {k: v for k, v in d["search"].items() if k != "runs_on"}
    d["configurations"] = [{k: v for k, v in c.items() if k not in TIMINGS}
                           for c in d["configurations"]]
    return d


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_dask_search_equals_in_process(grouped, dask_local, n_jobs):
    here = run_experiment(grouped, scalers=SCALERS, masks=["none", "auto"], n_jobs=n_jobs)
    dask = run_experiment(grouped, scalers=SCALERS, masks=["none", "auto"],
                          executor=DaskExecutor(dask_local))
    assert here.search["runs_on"] == ("this process" if n_jobs == 1
                                      else "this machine (2 processes)")
    assert dask.search["runs_on"] == "the Dask client's cluster (2 worker threads)"
    assert len(dask.configurations) == 12
    assert {c.stage for c in dask.configurations} == {"screening", "final"}
    assert "stratified" in dask.search       # the cross-check's fits ran on Dask too
    for a, b in zip(here.configurations, dask.configurations, strict=True):
        assert (a.label, a.stage) == (b.label, b.stage)
        assert a.fold_accuracies == b.fold_accuracies          # exactly
        assert a.alphas == b.alphas
    assert comparable(dask) == comparable(here)


def test_dask_tasks_carry_indices_and_paths_not_clips(grouped, dask_local, monkeypatch,
                                                      tmp_path):
    sent: list[int] = []
    submit = dask_local.submit

    def spy(fn: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(len(pickle.dumps(args)))
        assert all(not isinstance(a, np.ndarray) for a in args[1:])
        return submit(fn, *args, **kwargs)

    monkeypatch.setattr(dask_local, "submit", spy)
    progress: list[tuple[int, int]] = []
    res = run_experiment(grouped, scalers=["none", "db+standard"], masks=["none"],
                         executor=DaskExecutor(dask_local, shared_dir=tmp_path),
                         progress=lambda d, t: progress.append((d, t)))
    n_fits = progress[-1][0]
    assert progress[-1] == (n_fits, n_fits) and len(sent) >= n_fits > 0
    assert max(sent) < grouped.X.nbytes / 100   # indices, names, small parameters only
    assert [c.label for c in res.configurations] == ["none", "db+standard"]
    assert list(tmp_path.iterdir()) == []        # the run's shared sub-folder is deleted


def test_dask_search_cancel_keeps_what_finished(grouped, dask_local):
    seen: list[int] = []
    res = run_experiment(grouped, scalers=SCALERS, masks=["none"],
                         executor=DaskExecutor(dask_local),
                         progress=lambda d, t: seen.append(d),
                         cancel=lambda: bool(seen) and seen[-1] >= 3)
    assert res.cancelled and max(seen) == 3
    assert res.verdict.startswith("Cancelled")


def test_dask_search_in_a_job_reports_progress(grouped, dask_local):
    """The Experiment page's path: a background ExperimentJob with a scheduler."""
    job = ExperimentJob(grouped, scalers=["none", "standard"], masks=["none"],
                        executor=DaskExecutor(dask_local)).start()
    assert job.wait(timeout=300)
    assert job.error is None and job.result is not None and not job.result.cancelled
    done, total = job.progress()
    assert done == total > 0
    assert job.result.search["runs_on"].startswith("the Dask client's cluster")


def test_dask_worker_that_cannot_see_the_shared_folder_is_named(grouped, dask_local,
                                                                monkeypatch):
    # a function defined here travels by value, so the workers run this one
    monkeypatch.setattr(search_mod, "_missing", lambda paths: ("worker-7", list(paths)))
    with pytest.raises(DataError, match=r"is not visible on worker-7; every Dask worker must "
                                        r"reach the shared folder at the same path.*--shared-dir"):
        run_experiment(grouped, scalers=["none"], masks=["none"],
                       executor=DaskExecutor(dask_local))


def test_a_task_on_a_worker_without_the_file_says_so(tmp_path):
    with pytest.raises(DataError, match="not visible on .*SNDIAG_SHARED_DIR"):
        search_mod._open(str(tmp_path / "gone.npy"), mmap=True)


def test_dask_executor_refuses_in_process_and_a_missing_folder(grouped, tmp_path):
    with pytest.raises(ParameterError, match="FitExecutor"):
        DaskExecutor("none")
    with pytest.raises(ParameterError, match="local:N"):
        DaskExecutor("lokal")
    ex = DaskExecutor("local:2", shared_dir=tmp_path / "absent")
    assert ex.where == "a local Dask cluster (2 worker processes)"
    with pytest.raises(ParameterError, match="is not a folder"):   # before any cluster starts
        run_experiment(grouped, scalers=["none"], masks=["none"], executor=ex)
    with pytest.raises(ParameterError, match="must be a FitExecutor"):
        run_experiment(grouped, scalers=["none"], masks=["none"],
                       executor="local:2")  # type: ignore[arg-type]


def test_cnn_trains_in_process_and_says_so(dask_local):
    pytest.importorskip("torch")
    from tests.test_cnn import make_ds

    ds = make_ds()
    kw: dict[str, Any] = dict(scalers=["none"], masks=["none"], classifier="cnn", epochs=1,
                              random_state=3)
    here = run_experiment(ds, executor=FitExecutor(1), **kw)
    dask = run_experiment(ds, executor=DaskExecutor(dask_local), **kw)
    assert dask.search["runs_on"] == "this process"
    assert any(n.startswith("the CNN is not distributed") for n in dask.notes)
    assert [c.test_correct for c in dask.configurations] == \
        [c.test_correct for c in here.configurations]


def test_dask_executor_is_exported() -> None:
    import sndiag.distributed as dist

    assert "DaskExecutor" in dist.__all__ and issubclass(dist.DaskExecutor, FitExecutor)
