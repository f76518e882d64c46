"""``python -m sndiag.precompile`` fills numba's on-disk cache with what a real run compiles."""

from __future__ import annotations

import os
import subprocess
import sys

from sndiag.scalers import scaler_names


def test_precompile_caches_the_kernel_and_librosas_compiled_code(tmp_path):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "sndiag.precompile"], env=env, capture_output=True,
                         text=True, timeout=600, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("compiled and cached: ")
    assert out.stdout.split(": ", 1)[1].strip().split(", ") == [*scaler_names(),
                                                                 "statistics kernel"]
    index = sorted(p.name for p in tmp_path.rglob("*.nbi"))
    assert any(n.startswith("_kernels._block_moments-") for n in index), index
    # librosa's own numba functions (imported by db and pcen) land in the same cache
    assert len([n for n in index if not n.startswith("_kernels.")]) >= 5, index
    # every specialization the kernel is run with is cached: float32, float64, read-only float32
    kernel = [p for p in tmp_path.rglob("_kernels._block_moments-*.nbc")]
    assert len(kernel) >= 3, kernel
