"""How long does the default `sndiag compare` search take on FSDD? (``python -m benchmarks.compare_speed``)

The search is :data:`sndiag.experiment.DEFAULT_SCALERS` (4 compressions x 8 scalings) x the
default masks, one fold per speaker (6), the default closed-form ridge classifier, ``n_jobs=2``;
the target is under 60 s wall on two cores.

The baseline, measured in the same run: scikit-learn's plain ``GridSearchCV`` over the same
pipelines (``compression -> scaler -> RidgeDualClassifier``, its regularization chosen by the same
group-wise inner CV) and the same splits, ``n_jobs=2``: every pipeline on whole training folds,
each fit recomputing its compression, no screening and no sharing. The ratio ``search /
GridSearchCV`` is the engine's saving (screening on a quarter of each fold, compressions once,
the same model fitted once). ``--no-gridsearch`` skips the baseline (it takes minutes).

The FSDD dataset is extracted once with :func:`sndiag.io.from_folder` and cached at
``$SNDIAG_BENCH_CACHE`` (default ``/tmp/sndiag-bench/fsdd.npz``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

from benchmarks._common import FSDD, machine, median_seconds, table

FSDD_REGEX = r"(?P<label>\d)_(?P<group>[a-z]+)_\d+\.wav"
CACHE = Path(os.environ.get("SNDIAG_BENCH_CACHE", "/tmp/sndiag-bench/fsdd.npz"))


def load_fsdd(cache: Path = CACHE):
    """FSDD as a Dataset (labels = digits, groups = speakers), extracted once and cached."""
    from sndiag import io

    if cache.exists():
        return io.load_arrays(cache)

    if not FSDD.is_dir():
        sys.exit(f"FSDD not found at {FSDD}; set SNDIAG_FSDD")
    t0 = time.perf_counter()
    ds = io.from_folder(FSDD, label_regex=FSDD_REGEX)
    cache.parent.mkdir(parents=True, exist_ok=True)
    io.save(ds, cache)
    print(f"extracted FSDD in {time.perf_counter() - t0:.1f} s -> {cache}", file=sys.stderr)
    return ds


def gridsearch_seconds(ds, *, jobs: int) -> tuple[float, float, str]:
    """Seconds, best mean accuracy and best pipeline of a plain GridSearchCV over the same
    pipelines and splits."""
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline

    from sndiag.experiment import DEFAULT_SCALERS, RidgeDualClassifier, plan_splits
    from sndiag.experiment._space import parse_candidates
    from sndiag.masks import MaskSpec
    from sndiag.scalers import make_scaler

    plan = plan_splits(ds.y, groups=ds.groups, random_state=0)
    X = ds.X.reshape(ds.n_clips, -1)

    def step(name: str):
        return "passthrough" if name == "none" else make_scaler(name, shape=ds.shape,
                                                                config=ds.config)

    grid = [{"compress": [step(c.compression)], "scale": [step(c.scaler)]}
            for c in parse_candidates(DEFAULT_SCALERS, [MaskSpec()])]
    pipe = Pipeline([("compress", "passthrough"), ("scale", "passthrough"),
                     ("clf", RidgeDualClassifier())])
    search = GridSearchCV(pipe, grid, cv=list(plan.splits), n_jobs=jobs, refit=False,
                          error_score="raise")
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(X, ds.y, clf__groups=ds.groups)
    seconds = time.perf_counter() - t0
    best = int(search.best_index_)
    params = search.cv_results_["params"][best]
    name = "+".join(type(v).__name__ for k, v in params.items() if v != "passthrough") or "none"
    return seconds, float(search.cv_results_["mean_test_score"][best]), name


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3, help="timed repetitions of the grid")
    parser.add_argument("--jobs", type=int, default=2, help="n_jobs of run_experiment")
    parser.add_argument("--no-gridsearch", action="store_true",
                        help="skip the GridSearchCV baseline (minutes)")
    args = parser.parse_args(argv)

    from sndiag.experiment import DEFAULT_SCALERS, format_table, run_experiment
    from sndiag.stats import compute_stats

    ds = load_fsdd()
    stats = compute_stats(ds.X, ds.y)
    results = []

    def grid() -> None:
        results.append(run_experiment(ds, n_jobs=args.jobs, stats=stats))

    load_before = os.getloadavg()
    grid_s = median_seconds(grid, repeats=args.reps, warmup=0)
    load_after = os.getloadavg()
    res = results[-1]
    cpu = sorted(sum(c.cpu_seconds for c in r.configurations) for r in results)[len(results) // 2]
    info = res.search
    rows = [{"what": f"sndiag search, n_jobs={args.jobs} (median of {args.reps})",
             "seconds": grid_s, "ratio": 1.0},
            {"what": f"  CPU seconds in its fits / {args.jobs} (idle-machine estimate)",
             "seconds": cpu / args.jobs, "ratio": cpu / args.jobs / grid_s}]
    baseline = None
    if not args.no_gridsearch:
        baseline, best_acc, best_name = gridsearch_seconds(ds, jobs=args.jobs)
        rows.append({"what": f"GridSearchCV, same {len(DEFAULT_SCALERS)} pipelines and splits, "
                             f"n_jobs={args.jobs}", "seconds": baseline,
                     "ratio": baseline / grid_s})
    print(f"# compare_speed - {machine()}")
    print(f"FSDD: {ds.n_clips} clips x {ds.shape[0] * ds.shape[1]} features, "
          f"{len(ds.classes)} classes; {res.splitter}; {info.get('candidates')} pipelines, "
          f"{info.get('fitted')} fitted, {info.get('finished')} finished on whole folds\n")
    print(table(rows, ["what", "seconds", "ratio"]))
    if baseline is not None:
        print(f"\nGridSearchCV / sndiag: {baseline / grid_s:.1f}x; GridSearchCV's best: "
              f"{best_name} {100 * best_acc:.1f}%, sndiag's: {res.recommended['scaler']} "
              f"{100 * res.recommended['mean']:.1f}%")
    print(f"\nload average (1 min) before/after: {load_before[0]:.1f} / {load_after[0]:.1f} "
          f"on {os.cpu_count()} cores: a load above the {args.jobs} workers means other "
          "processes shared the cores and inflated the wall times")
    print(f"target: < 60 s -> {'met' if grid_s < 60 else 'NOT met'} (wall, median)\n")
    print(format_table(res))
    print()
    print(res.verdict)


if __name__ == "__main__":
    main()
