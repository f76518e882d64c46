"""Statistics throughput: sndiag's one-pass streaming merge vs numpy and scikit-learn.

Run: ``python -m benchmarks.stats_speed [--sizes 3000,100000] [--repeats 3] [--numpy-max 20000]``

For each N, a synthetic (N, 60, 130) float32 ``.npy`` of power-like values is written once to a
temp folder (N = 100000 is 3.1 GB: check ``df -h /tmp``; it is deleted afterwards). Every method
then runs in its own fresh process (so its peak RSS is its own: ``VmHWM``, see
:func:`benchmarks._common.peak_rss_mb`), ``--repeats`` times, round-robin so that load from other
processes hits all methods alike; the median wall time is reported. Imports and, for ``RAM``
rows, loading the file happen before the clock starts. Every method computes per-pixel
mean/std(/min/max) (+ per-row where it can). Rows (method, input):

- ``sndiag``, memmap: :func:`sndiag.stats.compute_stats` on ``np.load(path, mmap_mode="r")``
  with ``quantiles="none"``: moments, min/max, zero counts and per-row statistics in one pass by
  the fused numba kernel of :mod:`sndiag._kernels`, numba already loaded in the process (as
  after audio ingestion, or in the dashboard after the first large dataset). The goal row.
- ``sndiag, 2 threads``, memmap: the same with ``SNDIAG_STATS_THREADS=2`` (each chunk's blocks
  split over two threads; opt-in, because on a busy machine the split waits for a preempted
  thread and is slower than one thread).
- ``sndiag``, NpyChunks: :func:`sndiag.stats.compute_stats_chunks` over
  :class:`sndiag.io.streaming.NpyChunks` (``readinto`` one reused 16 MB buffer, as ``sndiag stats``).
- ``sndiag, cold process``, memmap: the goal row in a process that has not loaded numba; the
  ``"auto"`` engine then uses the numpy path below 2**27 values (~17k clips) and pays numba's
  start-up (~0.3-0.5 s) above.
- ``sndiag, numpy engine``, memmap: the pure-numpy two-pass reference path, forced.
- ``sndiag, default (sampled quantiles)``, memmap: the default call (``quantiles="exact"``, which
  on a memmap means median/IQR/MAD from a 2000-clip sample), kernel loaded.
- ``sklearn partial_fit``, NpyChunks / RAM: ``StandardScaler.partial_fit`` per 512-clip chunk
  (mean/var only).
- ``read only (no statistics)``, NpyChunks: reading the file, nothing else: the I/O floor.
- ``sndiag``, RAM and ``numpy two-pass``, RAM: the data already in memory; numpy computes
  ``mean``/``var``/``min``/``max`` over axis 0 with float64 accumulation (``var`` makes a float64
  copy of the data), per-row derived from the pixel moments. RAM rows are skipped above
  ``--numpy-max`` clips (numpy would need ~3x the file).

The physical reference is numpy's copy bandwidth, measured in the same run: ``np.copyto`` of a
1 GiB float32 array (DRAM-bound; GB/s = bytes copied / s; a 16 MB chunk-sized copy, which stays
in cache, is printed for context). ``% copy bw`` is a row's GB/s (float32 data bytes / s) over
that. ``x sklearn`` is sklearn's time over the row's, on the same input kind (file or RAM). The
file was just written, so reads are served from the OS page cache (RAM), not from the disk;
``--cold-cache`` evicts the file from the page cache (``posix_fadvise(DONTNEED)``, this file
only) before each run to include disk reads.

Goals (issue 7, "statistics"): sndiag >= 50% of copy bandwidth, >= 2x sklearn partial_fit, and
N = 100000 (3.1 GB) with peak RSS < 1 GB.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks._common import machine, run_isolated, table

SHAPE = (60, 130)
CHUNK = 512

_HEAD = """
import json, os, time
import numpy as np
path = {path!r}
if {cold_cache!r}:
    fd = os.open(path, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
if {warm!r}:  # numba loaded and the kernel's machine code read from its cache, as after ingest
    from sndiag._kernels import chunk_moments
    chunk_moments(np.zeros((4, 8), np.float32)); chunk_moments(np.zeros((4, 8), np.float64))
    ro = np.zeros((4, 8), np.float32); ro.flags.writeable = False; chunk_moments(ro)
"""

_TAIL = """
dt = time.perf_counter() - t
from benchmarks._common import peak_rss_mb
print(json.dumps({{"seconds": dt, "check": check, "rss_mb": peak_rss_mb()}}))
"""

_SNDIAG = ("from sndiag.stats import compute_stats",
           'st = compute_stats(np.load(path, mmap_mode="r"), quantiles="none")\n'
           "check = float(st.std.sum())")
_SKLEARN_STEP = ("sc = StandardScaler()\n"
                 "for chunk in chunks:\n"
                 "    sc.partial_fit(chunk.reshape(len(chunk), -1))\n"
                 "check = float(sc.scale_.sum())")


@dataclass(frozen=True)
class Method:
    """One benchmarked way of computing the statistics: untimed ``setup``, timed ``body``."""

    name: str
    source: str          # "memmap", "NpyChunks" (read from the file while timed) or "RAM"
    setup: str
    body: str
    warm: bool = False   # numba loaded before the timing starts
    threads: int = 1     # SNDIAG_STATS_THREADS


METHODS = (
    Method("sndiag", "memmap", *_SNDIAG, warm=True),
    Method("sndiag, 2 threads", "memmap", *_SNDIAG, warm=True, threads=2),
    Method("sndiag", "NpyChunks",
           "from sndiag.io.streaming import NpyChunks\nfrom sndiag.stats import compute_stats_chunks",
           "st = compute_stats_chunks(NpyChunks(path, chunk_size={chunk}), quantiles='none')\n"
           "check = float(st.std.sum())", warm=True),
    Method("sndiag, cold process", "memmap", *_SNDIAG),
    Method("sndiag, numpy engine", "memmap",
           "from sndiag import stats\nstats._KERNEL_MIN_VALUES = 1 << 62",
           "st = stats.compute_stats(np.load(path, mmap_mode='r'), quantiles='none')\n"
           "check = float(st.std.sum())"),
    Method("sndiag, default (sampled quantiles)", "memmap", "from sndiag.stats import compute_stats",
           "st = compute_stats(np.load(path, mmap_mode='r'))\ncheck = float(st.std.sum())",
           warm=True),
    Method("sklearn partial_fit", "NpyChunks",
           "from sklearn.preprocessing import StandardScaler\nfrom sndiag.io.streaming import NpyChunks",
           "chunks = NpyChunks(path, chunk_size={chunk})\n" + _SKLEARN_STEP),
    Method("read only (no statistics)", "NpyChunks", "from sndiag.io.streaming import NpyChunks",
           "check = 0.0\nfor chunk in NpyChunks(path, chunk_size={chunk}):\n"
           "    check += float(chunk[0, 0, 0])"),
    Method("sndiag", "RAM", "from sndiag.stats import compute_stats\nX = np.load(path)",
           "st = compute_stats(X, quantiles='none')\ncheck = float(st.std.sum())", warm=True),
    Method("numpy two-pass", "RAM", "X = np.load(path)",
           "mean = X.mean(0, dtype=np.float64); var = X.var(0, dtype=np.float64)\n"
           "mn = X.min(0); mx = X.max(0)\n"
           "row_mean = mean.mean(1); row_var = (var + (mean - row_mean[:, None]) ** 2).mean(1)\n"
           "row_min = mn.min(1); row_max = mx.max(1)\n"
           "check = float(np.sqrt(var).sum())"),
    Method("sklearn partial_fit", "RAM",
           "from sklearn.preprocessing import StandardScaler\nX = np.load(path)",
           "chunks = (X[s:s + {chunk}] for s in range(0, len(X), {chunk}))\n" + _SKLEARN_STEP),
)
#: The row the goals are checked on.
MAIN = ("sndiag", "memmap")


_COPY = """
import json, time
import numpy as np
def best(src, dst, n):
    np.copyto(dst, src)
    out = float("inf")
    for _ in range(n):
        t0 = time.perf_counter(); np.copyto(dst, src); out = min(out, time.perf_counter() - t0)
    return out
big = np.ones(2**28, dtype=np.float32); big_out = np.empty_like(big)
chunk = np.ones(512 * 60 * 130, dtype=np.float32); chunk_out = np.empty_like(chunk)
print(json.dumps({"dram_gbs": big.nbytes / best(big, big_out, 7) / 1e9,
                  "chunk_gbs": chunk.nbytes / best(chunk, chunk_out, 50) / 1e9}))
"""

_STARTUP = """
import json, time
t0 = time.perf_counter()
import numpy as np
import numba
t1 = time.perf_counter()
from sndiag._kernels import chunk_moments
chunk_moments(np.zeros((4, 7800), np.float32))
t2 = time.perf_counter()
print(json.dumps({"import_numba": t1 - t0, "first_call": t2 - t1}))
"""


_MAKE = """
import json, os
import numpy as np
from sndiag.io.streaming import write_npy_chunks
rng = np.random.default_rng({seed})
def chunks():
    for start in range(0, {n}, 2000):
        k = min(2000, {n} - start)
        yield rng.gamma(0.5, 2.0, size=(k, *{shape!r})).astype(np.float32)
out = write_npy_chunks({path!r}, chunks(), n={n}, row_shape={shape!r})
with open(out, "rb+") as fh:  # on disk, so that --cold-cache can evict it
    os.fsync(fh.fileno())
print(json.dumps({{"path": str(out)}}))
"""


def make_npy(path: Path, n: int, *, seed: int = 0) -> Path:
    """Write n synthetic power-like spectrograms, chunk by chunk, from a child process.

    (Writing through a memmap leaves its pages resident in the writer; a child keeps them out of
    this process, whose memory every later child would otherwise start from.)
    """
    run_isolated(_MAKE.format(seed=seed, n=n, shape=SHAPE, path=str(path)))
    return path


def _code(m: Method, path: Path, *, cold_cache: bool) -> str:
    head = _HEAD.format(path=str(path), cold_cache=cold_cache, warm=m.warm)
    return (head + m.setup.format(chunk=CHUNK) + "\nt = time.perf_counter()\n"
            + m.body.format(chunk=CHUNK) + _TAIL.format())


def startup_costs() -> dict[str, float]:
    """numba start-up in a fresh process (kernel cache present), and a first-ever compile."""
    run_isolated(_STARTUP)  # make sure the on-disk cache exists
    warm = run_isolated(_STARTUP)
    with tempfile.TemporaryDirectory(prefix="sndiag-numba-") as cache:
        compile_ = run_isolated(_STARTUP, env={"NUMBA_CACHE_DIR": cache})
    return {"import_numba": warm["import_numba"], "cached_first_call": warm["first_call"],
            "compile_first_call": compile_["first_call"]}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="3000,100000")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--numpy-max", type=int, default=20000,
                    help="largest N for the in-memory numpy baseline (RSS ~ 3x the file)")
    ap.add_argument("--cold-cache", action="store_true",
                    help="evict the file from the OS page cache before each run (disk reads)")
    ap.add_argument("--tmp", default=None, help="folder for the temporary .npy files")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]

    copies = [run_isolated(_COPY) for _ in range(3)]
    start = startup_costs()
    print(f"machine: {machine()}")
    print(f"numba start-up in a fresh process: import {start['import_numba']:.2f} s + first kernel "
          f"call {start['cached_first_call']:.2f} s (machine code from the on-disk cache); "
          f"first call with an empty cache (compiling float32): {start['compile_first_call']:.2f} s")
    print("reads: " + ("file evicted from the page cache before each run (disk reads)"
                       if args.cold_cache else
                       "served from the OS page cache (file just written, RAM), not the disk"))
    print(f"{args.repeats} runs per method (each in a fresh process), median\n")

    results = []
    with tempfile.TemporaryDirectory(prefix="sndiag-bench-", dir=args.tmp) as tmp:
        for n in sizes:
            path = make_npy(Path(tmp) / f"x{n}.npy", n)
            methods = [m for m in METHODS if m.source != "RAM" or n <= args.numpy_max]
            runs: dict[Method, list[dict]] = {m: [] for m in methods}
            for _ in range(args.repeats):  # round-robin: background load hits every method
                for m in methods:
                    runs[m].append(run_isolated(_code(m, path, cold_cache=args.cold_cache),
                                                env={"SNDIAG_STATS_THREADS": str(m.threads)}))
            checks = [runs[m][0]["check"] for m in methods if m.name.startswith("sndiag")]
            assert np.allclose(checks, checks[0], rtol=1e-9), checks  # same statistics
            results.append((n, methods, runs))
            path.unlink()
            copies.append(run_isolated(_COPY))
    # The copy reference: the best of several measurements spread over the run (the one least
    # disturbed by other processes), so that a busy moment does not flatter the ratios.
    dram = [c["dram_gbs"] for c in copies]
    copy_gbs = max(dram)
    print(f"copy bandwidth (np.copyto of a 1 GiB float32 array, DRAM-bound): {copy_gbs:.2f} GB/s, "
          f"the best of {len(dram)} measurements spread over the run (range {min(dram):.1f}-"
          f"{max(dram):.1f}); a 16 MB chunk-sized copy (cache-resident): "
          f"{max(c['chunk_gbs'] for c in copies):.1f} GB/s\n")
    rows = []
    for n, methods, runs in results:
        nbytes = n * SHAPE[0] * SHAPE[1] * 4
        secs = {m: float(np.median([r["seconds"] for r in runs[m]])) for m in methods}
        sklearn = {m.source == "RAM": secs[m] for m in methods if m.name.startswith("sklearn")}
        for m in methods:
            gbs = nbytes / secs[m] / 1e9
            row = {"N": n, "method": m.name, "input": m.source, "seconds": secs[m],
                   "GB/s": gbs, "% copy bw": 100 * gbs / copy_gbs,
                   "peak RSS MB": max(r["rss_mb"] for r in runs[m])}
            if m.name.startswith("sndiag"):
                row["x sklearn"] = sklearn[m.source == "RAM"] / secs[m]
            rows.append(row)
        if n > args.numpy_max:
            rows.append({"N": n, "method": "numpy two-pass, sndiag, sklearn", "input": "RAM",
                         "seconds": "skipped", "peak RSS MB": f"> {nbytes / 1e6:.0f} "
                         f"(numpy ~{3 * nbytes / 1e6:.0f}: data + float64 copy in var)"})
    print(table(rows, ["N", "method", "input", "seconds", "GB/s", "% copy bw", "x sklearn",
                       "peak RSS MB"]))
    print("\nGB/s: float32 data bytes / s. x sklearn: sklearn's time / the row's, same input "
          "kind (file or RAM).")
    for r in rows:
        if (r["method"], r["input"]) == MAIN:
            ok = [r["% copy bw"] >= 50, r["x sklearn"] >= 2, r["peak RSS MB"] < 1000]
            print(f"goals, N={r['N']} (sndiag, memmap): {r['% copy bw']:.0f}% of copy bw "
                  f"(>= 50: {'met' if ok[0] else 'MISSED'}), {r['x sklearn']:.1f}x sklearn "
                  f"(>= 2: {'met' if ok[1] else 'MISSED'}), peak RSS {r['peak RSS MB']:.0f} MB "
                  f"(< 1000: {'met' if ok[2] else 'MISSED'})")


if __name__ == "__main__":
    main()
