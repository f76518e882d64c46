"""How long does the default `sndiag compare` grid take on FSDD? (``python -m benchmarks.compare_speed``)

The grid is :data:`sndiag.experiment.DEFAULT_SCALERS` x 1 mask x 5 speaker-independent folds with
the default ``logreg`` classifier and ``n_jobs=2``; the target is under 60 s on two cores.

The baseline, measured in the same run, is what the same number of fits would cost done naively:
one plain ``LogisticRegression()`` (scikit-learn defaults: float64, ``tol=1e-4``,
``max_iter=100``) on the standard-scaled first training fold, times the number of fits, run one
after the other. The ratio ``grid / baseline`` therefore folds together the engine's float32
input, looser tolerance and two-process parallelism.

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


def baseline_fit_seconds(ds, *, repeats: int) -> float:
    """Median seconds of one plain LogisticRegression() fit on a standard-scaled training fold."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from sndiag.experiment import plan_splits

    plan = plan_splits(ds.y, groups=ds.groups, folds=5, random_state=0)
    train, _ = plan.splits[0]
    X = StandardScaler().fit_transform(ds.X.reshape(ds.n_clips, -1)[train].astype("float64"))
    y = ds.y[train]

    def fit() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            LogisticRegression().fit(X, y)

    return median_seconds(fit, repeats=repeats)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3, help="timed repetitions of the grid")
    parser.add_argument("--jobs", type=int, default=2, help="n_jobs of run_experiment")
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
    n_fits = len(res.configurations) * res.folds
    single = baseline_fit_seconds(ds, repeats=args.reps)
    baseline = single * n_fits
    print(f"# compare_speed - {machine()}")
    print(f"FSDD: {ds.n_clips} clips x {ds.shape[0] * ds.shape[1]} features, "
          f"{len(ds.classes)} classes; {res.splitter}; {len(DEFAULT_SCALERS)} scalers, "
          f"{n_fits} fits\n")
    print(table([
        {"what": f"default grid, n_jobs={args.jobs} (median of {args.reps})", "seconds": grid_s,
         "ratio": grid_s / baseline},
        {"what": f"baseline: plain LogisticRegression() x {n_fits}, sequential",
         "seconds": baseline, "ratio": 1.0},
        {"what": "  one baseline fit", "seconds": single, "ratio": single / baseline},
        {"what": f"grid CPU seconds in the fits / {args.jobs} (idle-machine estimate)",
         "seconds": cpu / args.jobs, "ratio": cpu / args.jobs / baseline},
    ], ["what", "seconds", "ratio"]))
    print(f"\nload average (1 min) before/after: {load_before[0]:.1f} / {load_after[0]:.1f} "
          f"on {os.cpu_count()} cores: a load above the {args.jobs} workers means other "
          "processes shared the cores and inflated the wall times")
    print(f"target: < 60 s -> {'met' if grid_s < 60 else 'NOT met'} (wall, median)\n")
    print(format_table(res))
    print()
    print(res.verdict)


if __name__ == "__main__":
    main()
