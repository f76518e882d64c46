"""Statistics throughput: sndiag's one-pass streaming merge vs numpy and scikit-learn.

Run: ``python -m benchmarks.stats_speed [--sizes 3000,100000] [--repeats 3]``

For each N, a synthetic (N, 60, 130) float32 ``.npy`` is written to a temp folder, then each
method runs in its own fresh process (so its peak RSS is its own), ``--repeats`` times, and the
median is reported:

- ``sndiag``: :class:`sndiag.chunks.NpyChunks` -> :func:`sndiag.stats.compute_stats_chunks`
  (per-pixel mean/std/min/max/zeros + per-row, one pass, quantiles off), bounded memory;
- ``numpy``: ``np.load`` into memory, then ``mean(0)`` / ``std(0)`` / ``min`` / ``max`` with
  float64 accumulation (two passes over the data for the std);
- ``sklearn``: ``StandardScaler.partial_fit`` over the same chunks (mean/var only);
- ``copy``: ``np.copyto`` of a 1 GiB float32 buffer, the machine's memory bandwidth reference.

Goals (issue "Performance and scale-out"): sndiag >= 50% of copy bandwidth, >= 2x sklearn
partial_fit, and N = 100000 (3.1 GB) with peak RSS < 1 GB.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from benchmarks._common import machine, run_isolated, table

SHAPE = (60, 130)

_SNDIAG = """
import json, time, resource
from sndiag.chunks import NpyChunks
from sndiag.stats import compute_stats_chunks
t = time.perf_counter()
st = compute_stats_chunks(NpyChunks({path!r}, chunk_size=512), quantiles="none")
dt = time.perf_counter() - t
print(json.dumps({{"seconds": dt, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "check": float(st.mean.sum())}}))
"""

_NUMPY = """
import json, time, resource
import numpy as np
t = time.perf_counter()
X = np.load({path!r})
mean = X.mean(0, dtype=np.float64); std = X.std(0, dtype=np.float64)
mn = X.min(0); mx = X.max(0)
dt = time.perf_counter() - t
print(json.dumps({{"seconds": dt, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "check": float(mean.sum())}}))
"""

_SKLEARN = """
import json, time, resource
from sklearn.preprocessing import StandardScaler
from sndiag.chunks import NpyChunks
t = time.perf_counter()
sc = StandardScaler()
for chunk in NpyChunks({path!r}, chunk_size=512):
    sc.partial_fit(chunk.reshape(len(chunk), -1))
dt = time.perf_counter() - t
print(json.dumps({{"seconds": dt, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "check": float(sc.mean_.sum())}}))
"""

_COPY = """
import json, time
import numpy as np
src = np.ones(2**28, dtype=np.float32); dst = np.empty_like(src)
np.copyto(dst, src)
best = min((lambda t0: (np.copyto(dst, src), time.perf_counter() - t0)[1])(time.perf_counter())
           for _ in range(5))
print(json.dumps({"seconds": best, "bytes": src.nbytes}))
"""


def make_npy(path: Path, n: int, *, seed: int = 0) -> Path:
    """Write n synthetic power-like spectrograms chunk by chunk (bounded memory)."""
    from sndiag.chunks import write_npy_chunks

    rng = np.random.default_rng(seed)

    def chunks():
        for start in range(0, n, 2000):
            k = min(2000, n - start)
            yield rng.gamma(0.5, 2.0, size=(k, *SHAPE)).astype(np.float32)

    return write_npy_chunks(path, chunks(), n=n, row_shape=SHAPE)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="3000,100000")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    copy = run_isolated(_COPY)
    copy_gbs = copy["bytes"] / copy["seconds"] / 1e9
    print(f"machine: {machine()}\ncopy bandwidth (np.copyto, 1 GiB): {copy_gbs:.2f} GB/s\n")
    rows = []
    with tempfile.TemporaryDirectory(prefix="sndiag-bench-") as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            path = make_npy(Path(tmp) / f"x{n}.npy", n)
            nbytes = n * SHAPE[0] * SHAPE[1] * 4
            results = {}
            for name, code in (("sndiag", _SNDIAG), ("numpy", _NUMPY), ("sklearn", _SKLEARN)):
                runs = [run_isolated(code.format(path=str(path))) for _ in range(args.repeats)]
                secs = float(np.median([r["seconds"] for r in runs]))
                results[name] = secs
                rows.append({"N": n, "method": name, "seconds": secs,
                             "GB/s": nbytes / secs / 1e9,
                             "peak RSS MB": max(r["rss_mb"] for r in runs)})
            rows[-3]["x sklearn"] = results["sklearn"] / results["sndiag"]
            rows[-3]["x numpy"] = results["numpy"] / results["sndiag"]
            rows[-3]["% copy bw"] = 100 * (nbytes / results["sndiag"] / 1e9) / copy_gbs
            path.unlink()
    print(table(rows, ["N", "method", "seconds", "GB/s", "peak RSS MB", "x sklearn", "x numpy",
                       "% copy bw"]))


if __name__ == "__main__":
    main()
