"""Degenerate experiments: each gives a clear one-line reason or a result that says what it did,
never ``unexpected ValueError``.

=====================================  ===========================  ============================
data                                    before                       now
=====================================  ===========================  ============================
every clip the same                     unexpected ValueError        DataError: "the clips are
                                        (variance threshold)         all the same ..."
values near 1e-44 (db makes constant)   unexpected ValueError        the same DataError
tiny values that db turns constant      unexpected ValueError        db pipelines left out, noted
40 classes of 2 clips                   unexpected ValueError        2 stratified folds, noted
                                        (n_splits=5 > members)
every class a single clip               unexpected ValueError        DataError: "a single clip"
2 groups of one class each              "holds one class            DataError naming the
                                        (np.str_('b'))"              confounding and the way out
dB data, default search                 (already held)               compressions of power left
                                                                     out, with a note
=====================================  ===========================  ============================
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sndiag.dataset import Dataset
from sndiag.errors import DataError
from sndiag.experiment import run_experiment
from sndiag.io.arrays import save
from tests.hostile.conftest import CliJob, Sandbox, assert_one_line_error, run_cli_many

SHAPE = (16, 20)
FAST = {"scalers": ["none", "standard", "db", "db+band"], "n_jobs": 1}


def _two_classes(X: np.ndarray, **kw: object) -> Dataset:
    y = np.repeat(["a", "b"], X.shape[0] // 2)
    return Dataset(X.astype(np.float32), y=y, **kw)  # type: ignore[arg-type]


def _gamma(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).gamma(2.0, 1.0, size=(n, *SHAPE))


def constant() -> Dataset:
    return _two_classes(np.ones((40, *SHAPE)))


def denormal() -> Dataset:
    return _two_classes(np.random.default_rng(0).random((40, *SHAPE)) * 1e-44)


def tiny_for_db() -> Dataset:
    X = _gamma(40) * 1e-12
    X[20:] += 1e-12
    return _two_classes(X)


def forty_classes() -> Dataset:
    return Dataset(_gamma(80).astype(np.float32), y=[f"c{i % 40}" for i in range(80)])


def singletons() -> Dataset:
    return Dataset(_gamma(6).astype(np.float32), y=[f"c{i}" for i in range(6)])


def confounded_groups() -> Dataset:
    return _two_classes(_gamma(40), groups=np.repeat(["g1", "g2"], 20))


def decibels() -> Dataset:
    return _two_classes(10 * np.log10(_gamma(40) + 1e-10) - 80)


REFUSED = {
    "constant": (constant, "the clips are all the same"),
    "denormal": (denormal, "the clips are all the same"),
    "singletons": (singletons, "has a single clip"),
    "confounded_groups": (confounded_groups, "the groups and the labels are confounded"),
}


@pytest.mark.parametrize("key", sorted(REFUSED))
def test_refused_with_one_reason(key: str) -> None:
    make, match = REFUSED[key]
    with pytest.raises(DataError, match=match) as info:
        run_experiment(make(), **FAST)
    assert "\n" not in str(info.value)


def test_confounded_groups_can_be_ignored() -> None:
    res = run_experiment(confounded_groups(), groups="none", **FAST)
    assert not res.grouped and res.configurations


def test_compression_that_makes_data_constant_is_left_out() -> None:
    res = run_experiment(tiny_for_db(), **FAST)
    assert sorted(c.scaler for c in res.configurations) == ["none", "standard"]
    assert any("left out every pipeline starting with db: it turns this data into one "
               "constant value" in n for n in res.notes)
    assert res.get("none").mean == 1.0


def test_few_clips_per_class_adapt_the_folds() -> None:
    res = run_experiment(forty_classes(), **FAST)
    assert res.folds == 2
    assert any("using 2 stratified folds instead of 5" in n for n in res.notes)


def test_decibel_data_default_search_skips_compressions() -> None:
    res = run_experiment(decibels(), n_jobs=1)
    compressions = {c.scaler.split("+")[0] for c in res.configurations if "+" in c.scaler}
    assert not compressions & {"db", "log1p", "pcen"}
    left_out = [n for n in res.notes if n.startswith("left out every pipeline starting with")]
    assert len(left_out) == 3 and all("already in dB" in n for n in left_out)


def test_a_fold_where_every_feature_is_constant_scores_the_majority() -> None:
    """A pipeline that leaves nothing varying on a training fold answers the most frequent
    class, with a note, instead of failing the whole run."""
    from sndiag.experiment._fit import _DropConstant

    step = _DropConstant().fit(np.ones((5, 3)))
    assert step.all_constant_ and step.transform(np.ones((2, 3))).shape == (2, 1)
    assert not _DropConstant().fit(np.eye(3)).all_constant_


# -- the CLI ------------------------------------------------------------------------------------
def _jobs() -> list[CliJob]:
    def job(key: str, make: object, *opts: str) -> CliJob:
        def prepare(box: Sandbox) -> list[str]:
            path = box.inputs / f"{key}.npz"
            save(make(), path)  # type: ignore[operator]
            return ["compare", str(path), "--jobs", "1", *opts]

        return CliJob(key, prepare)

    fast = ("--scalers", "none,standard,db,db+band")
    jobs = [job(key, make, *fast) for key, (make, _) in REFUSED.items()]
    jobs += [job("forty_classes", forty_classes, *fast), job("tiny_for_db", tiny_for_db, *fast),
             job("decibels", decibels)]
    return jobs


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return run_cli_many(tmp_path_factory.mktemp("degenerate"), _jobs())


@pytest.mark.parametrize("key", sorted(REFUSED))
def test_cli_refused_with_one_line(cli_runs: dict, key: str) -> None:
    _, res = cli_runs[key]
    assert_one_line_error(res, REFUSED[key][1])


@pytest.mark.parametrize("key", ["forty_classes", "tiny_for_db", "decibels"])
def test_cli_runs_and_says_what_it_adapted(cli_runs: dict, key: str) -> None:
    _, res = cli_runs[key]
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.describe()
    expected = {"forty_classes": "using 2 stratified folds instead of 5",
                "tiny_for_db": "left out every pipeline starting with db",
                "decibels": "left out every pipeline starting with pcen"}[key]
    assert expected in res.stdout, res.describe()


def test_datasets_are_what_the_table_says(tmp_path: Path) -> None:
    assert float(np.ptp(constant().X, axis=0).max()) == 0.0
    assert float(denormal().X.max()) < 1e-43
    assert forty_classes().class_counts == {f"c{i}": 2 for i in range(40)}
