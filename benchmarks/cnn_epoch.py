"""How long is one epoch of the experiment's CNN on FSDD, and the default CNN comparison?
(``python -m benchmarks.cnn_epoch``)

One epoch is what ``sndiag compare --classifier cnn`` pays per configuration and epoch: a pass
over the 2000 clips of the default split's fit part (FSDD's 6 speakers: one held out for the
test, one of the other five for validation) in minibatches of 32, then the 500 validation clips,
on decibels then per-pixel standardization.

Rows, each in a fresh process (its own OpenMP runtime, so its wait policy applies), round-robin,
the median of ``--epochs`` epochs after one warm-up epoch:

* the CNN with the threads the process may use and ``OMP_WAIT_POLICY=PASSIVE`` (what sndiag sets
  when the variable is unset: :func:`sndiag.settings.prefer_passive_openmp`);
* the same with ``OMP_WAIT_POLICY=ACTIVE`` (threads spin while they wait: OpenMP's usual default);
* the CNN on one thread;
* the baseline: one epoch of scikit-learn's ``MLPClassifier(128)`` (``partial_fit``, the
  experiment's ``mlp``) on the same clips, then its validation predictions. The ratio CNN / MLP
  is the CNN's price per epoch against the per-epoch classifier sndiag already had.

``--full`` also times the whole default comparison (the ridge search for its pick, then raw,
``standard``, the pick and ``batchnorm`` for at most 15 epochs each); the budget is 5 minutes on
two cores. FSDD is extracted once and cached like :mod:`benchmarks.compare_speed` does.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from benchmarks._common import machine, run_isolated, table

_EPOCHS = r"""
import json, statistics, time, warnings
import numpy as np
from benchmarks.compare_speed import load_fsdd
from sndiag.experiment import plan_splits
from sndiag.experiment._cnn import SmallCNN, validation_split
from sndiag.scalers import make_scaler

ds = load_fsdd()
plan = plan_splits(ds.y, groups=ds.groups).first_split(ds.groups)
train = plan.splits[0][0]
fit, val = validation_split(ds.y[train], ds.groups[train])
fit, val = train[fit], train[val]
scaler = make_scaler("db+standard", shape=ds.shape, config=ds.config)
Xf = scaler.fit_transform(ds.X[fit].reshape(fit.size, -1)).astype(np.float32)
Xv = scaler.transform(ds.X[val].reshape(val.size, -1)).astype(np.float32)
times = []
if KIND == "mlp":
    from sklearn.neural_network import MLPClassifier
    clf = MLPClassifier(hidden_layer_sizes=(128,), random_state=0)
    classes = np.unique(ds.y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(EPOCHS + 1):
            t0 = time.perf_counter()
            clf.partial_fit(Xf, ds.y[fit], classes=classes)
            clf.predict_proba(Xv)
            times.append(time.perf_counter() - t0)
    threads = 1
else:
    import torch
    stamps = [time.perf_counter()]
    def tick():
        stamps.append(time.perf_counter())
        return True
    clf = SmallCNN(shape=ds.shape, epochs=EPOCHS + 1, patience=10**6, n_threads=THREADS or None)
    clf.fit(Xf, ds.y[fit], X_val=Xv, y_val=ds.y[val], on_epoch=tick)
    times = list(np.diff(stamps))
    threads = torch.get_num_threads()
print(json.dumps({"median": statistics.median(times[1:]), "times": times[1:],
                  "threads": threads, "n_fit": int(fit.size), "n_val": int(val.size)}))
"""

_FULL = r"""
import json, time
from benchmarks.compare_speed import load_fsdd
from sndiag.experiment import run_experiment
ds = load_fsdd()
t0 = time.perf_counter()
res = run_experiment(ds, classifier="cnn")
print(json.dumps({"seconds": time.perf_counter() - t0,
                  "preselect": res.search["preselect"]["seconds"], "device": res.device,
                  "rows": [[c.label, c.mean, c.ci_low, c.ci_high, c.p_vs_none, c.converged,
                            len(c.epochs["val_accuracy"]), c.fit_seconds]
                           for c in res.configurations],
                  "recommended": (res.recommended or {}).get("scaler"),
                  "verdict": res.verdict}))
"""

ROWS = (("cnn, all threads, OMP_WAIT_POLICY=PASSIVE (sndiag's default)", "cnn", 0, "PASSIVE"),
        ("cnn, all threads, OMP_WAIT_POLICY=ACTIVE", "cnn", 0, "ACTIVE"),
        ("cnn, 1 thread", "cnn", 1, "PASSIVE"),
        ("baseline: MLPClassifier(128) partial_fit epoch", "mlp", 0, "PASSIVE"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per row")
    parser.add_argument("--rounds", type=int, default=1, help="round-robin passes over the rows")
    parser.add_argument("--full", action="store_true",
                        help="also time the default CNN comparison (minutes)")
    args = parser.parse_args(argv)

    from benchmarks.compare_speed import load_fsdd

    load_fsdd()  # extract and cache once, outside the timed processes
    load_before = os.getloadavg()
    found: dict[str, list[float]] = {name: [] for name, *_ in ROWS}
    info: dict[str, dict] = {}
    for _ in range(args.rounds):
        for name, kind, threads, policy in ROWS:
            code = f"KIND = {kind!r}\nTHREADS = {threads}\nEPOCHS = {args.epochs}\n" + _EPOCHS
            out = run_isolated(code, env={"OMP_WAIT_POLICY": policy})
            found[name].extend(out["times"])
            info[name] = out
    load_after = os.getloadavg()
    base = statistics.median(found[ROWS[-1][0]])
    rows = [{"what": name, "threads": info[name]["threads"],
             "s / epoch (median)": statistics.median(found[name]),
             "min": min(found[name]), "max": max(found[name]),
             "x MLP epoch": statistics.median(found[name]) / base}
            for name, *_ in ROWS]
    n_fit, n_val = info[ROWS[0][0]]["n_fit"], info[ROWS[0][0]]["n_val"]
    print(f"# cnn_epoch - {machine()}")
    print(f"FSDD, default CNN split: {n_fit} training clips + {n_val} validation clips per "
          f"epoch, db+standard, minibatches of 32; {args.epochs} epochs x {args.rounds} "
          "round(s) per row\n")
    print(table(rows, ["what", "threads", "s / epoch (median)", "min", "max", "x MLP epoch"]))
    print(f"\nload average (1 min) before/after: {load_before[0]:.1f} / {load_after[0]:.1f} on "
          f"{os.cpu_count()} cores (above ~2, other jobs shared the cores)")
    if args.full:
        t0 = time.perf_counter()
        out = run_isolated(_FULL, timeout=3600)
        load_full = os.getloadavg()
        print(f"\n## default comparison (`sndiag compare --classifier cnn`): "
              f"{out['seconds']:.0f} s wall ({time.perf_counter() - t0:.0f} s with start-up), "
              f"ridge search {out['preselect']:.0f} s, on {out['device']}; load average "
              f"{load_full[0]:.1f}; budget 300 s -> "
              f"{'met' if out['seconds'] < 300 else 'NOT met'}\n")
        print(table([{"configuration": r[0], "accuracy %": 100 * r[1],
                      "95% CI %": f"{100 * r[2]:.1f}-{100 * r[3]:.1f}",
                      "p vs raw": "-" if r[4] is None else f"{r[4]:.3f}",
                      "converged": r[5], "epochs": r[6], "fit s": r[7]} for r in out["rows"]],
                    ["configuration", "accuracy %", "95% CI %", "p vs raw", "converged",
                     "epochs", "fit s"]))
        print(f"\nrecommended: {out['recommended']}\n\n{out['verdict']}")


if __name__ == "__main__":
    main()
