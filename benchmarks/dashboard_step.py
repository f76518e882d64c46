"""Dashboard responsiveness: server time of one interaction, driven headless with AppTest.

Run: ``python -m benchmarks.dashboard_step [--repeats 7] [--limit 3000]``

With FSDD (3000 real clips, extracted once into a temporary store) open in the dashboard, this
times what a user waits for on the server:

- ``mask slider step``: the Mask page's SNR-threshold slider moved to a new value;
- ``scaler switch (new)``: a scaler added on the Scalers page, its effect computed for the first time
  (fit on the whole dataset, example clip, maps, histograms);
- ``scaler switch (seen)``: switching back to a scaler selection already computed (cached);
- ``page switch``: Statistics page after the statistics are cached;
- ``first render (demo)``: a fresh interpreter opening the app on the synthetic demo, imports
  included (the time to first render of a newcomer's first visit, without the browser).

Baseline, measured in the same run: ``floor``, AppTest rerunning a two-line Streamlit script
(``st.title`` + ``st.slider``) - the framework's own cost of one rerun, which no page can beat.
Goals (issue "Performance and scale-out"): one slider step and one scaler switch < 200 ms; first
render of the demo < 3 s. AppTest measures server time only (no network, no browser paint).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks._common import FSDD, REPO, machine, run_isolated, table

APP = str(REPO / "app.py")
FSDD_PATTERN = r"(?P<label>\d)_(?P<group>[a-z]+)_\d+\.wav"
GOAL_STEP_MS = 200.0
GOAL_FIRST_S = 3.0

_FIRST_RENDER = """
import json, os, time
t0 = time.perf_counter()
from streamlit.testing.v1 import AppTest
at = AppTest.from_file({app!r}, default_timeout=120)
at.run()
assert not at.exception, at.exception
print(json.dumps({{"seconds": time.perf_counter() - t0, "charts": len(at.get("plotly_chart"))}}))
"""


def _timed(step: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """Median and spread (max - min) in ms of ``repeats`` calls of ``step``."""
    times = []
    for i in range(repeats):
        t0 = time.perf_counter()
        step(i)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), max(times) - min(times)


def _check(at: Any) -> Any:
    if at.exception:
        raise RuntimeError(f"the app raised: {at.exception[0].value}")
    if at.error:
        raise RuntimeError(f"the app showed an error: {at.error[0].value}")
    return at


def _floor(repeats: int, tmp: Path) -> tuple[float, float]:
    from streamlit.testing.v1 import AppTest

    script = tmp / "floor.py"
    script.write_text(textwrap.dedent("""
        import streamlit as st
        st.title("floor")
        st.slider("x", 0.0, 1.0, 0.5, key="x")
    """))
    at = AppTest.from_file(str(script)).run()
    return _timed(lambda i: at.slider(key="x").set_value((i % 10) / 10).run(), repeats)


def _fsdd_store(limit: int, tmp: Path) -> str:
    from sndiag.config import SpectrogramConfig
    from sndiag.io import from_files
    from sndiag.store import FileStore

    files = sorted(str(p) for p in FSDD.glob("*.wav"))[:limit]
    t0 = time.perf_counter()
    ds = from_files(files, config=SpectrogramConfig(), label_regex=FSDD_PATTERN, source="fsdd")
    print(f"extracted {ds.n_clips} FSDD clips in {time.perf_counter() - t0:.1f} s")
    return FileStore(tmp / "store").put(ds).dataset_id


def run(repeats: int, limit: int) -> list[dict[str, Any]]:
    from streamlit.testing.v1 import AppTest

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmpname:
        tmp = Path(tmpname)
        floor, floor_spread = _floor(repeats, tmp)
        rows.append({"step": "floor (2-widget script rerun)", "median_ms": floor,
                     "spread_ms": floor_spread, "x_floor": 1.0, "goal": ""})

        ds_id = _fsdd_store(limit, tmp)
        os.environ["SNDIAG_STORE"] = str(tmp / "store")
        at = AppTest.from_file(APP, default_timeout=600)
        at.query_params["ds"] = ds_id
        t0 = time.perf_counter()
        _check(at.run())
        open_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        _check(at.switch_page("pages/statistics.py").run())
        stats_s = time.perf_counter() - t0
        print(f"open FSDD (Data page): {open_s:.2f} s; Statistics page, first time "
              f"(statistics computed once): {stats_s:.2f} s")

        def page(i: int) -> None:
            target = "pages/statistics.py" if i % 2 else "pages/mask.py"
            _check(at.switch_page(target).run())

        ms, spread = _timed(page, repeats)
        rows.append({"step": "page switch (Statistics <-> Mask)", "median_ms": ms,
                     "spread_ms": spread, "x_floor": ms / floor, "goal": ""})

        _check(at.switch_page("pages/mask.py").run())
        _check(at.radio(key="w_mask_mode").set_value("abs").run())
        slider = at.slider(key="w_snr_abs")
        lo, hi = float(slider.min), float(slider.max)
        values = [lo + (hi - lo) * k / (repeats + 1) for k in range(1, repeats + 1)]

        def slide(i: int) -> None:
            _check(at.slider(key="w_snr_abs").set_value(values[i]).run())

        ms, spread = _timed(slide, repeats)
        rows.append({"step": "mask slider step", "median_ms": ms, "spread_ms": spread,
                     "x_floor": ms / floor, "goal": f"< {GOAL_STEP_MS:.0f} ms"})

        _check(at.switch_page("pages/scalers.py").run())
        base = list(at.multiselect(key="w_scalers").value)
        extra = [s for s in ("global", "minmax", "maxabs", "median", "clip", "log1p", "db",
                             "pcen") if s not in base]
        from sndiag.scalers import SCALERS
        extra = [s for s in extra if s in SCALERS][:repeats]

        def add(i: int) -> None:
            _check(at.multiselect(key="w_scalers").set_value([*base[:1], extra[i]]).run())

        ms, spread = _timed(add, len(extra))
        rows.append({"step": f"scaler switch (new, {len(extra)} scalers)", "median_ms": ms,
                     "spread_ms": spread, "x_floor": ms / floor, "goal": f"< {GOAL_STEP_MS:.0f} ms"})

        def back(i: int) -> None:
            _check(at.multiselect(key="w_scalers").set_value([*base[:1], extra[i % len(extra)]])
                   .run())

        ms, spread = _timed(back, repeats)
        rows.append({"step": "scaler switch (seen)", "median_ms": ms, "spread_ms": spread,
                     "x_floor": ms / floor, "goal": f"< {GOAL_STEP_MS:.0f} ms"})

    firsts = [run_isolated(_FIRST_RENDER.format(app=APP))["seconds"] for _ in range(max(3, repeats // 2))]
    first = statistics.median(firsts)
    rows.append({"step": "first render, demo (fresh process)", "median_ms": first * 1000,
                 "spread_ms": (max(firsts) - min(firsts)) * 1000, "x_floor": first * 1000 / floor,
                 "goal": f"< {GOAL_FIRST_S:.0f} s"})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--limit", type=int, default=3000, help="FSDD clips to load")
    args = parser.parse_args(argv)
    if not FSDD.is_dir():
        print(f"FSDD not found at {FSDD} (set SNDIAG_FSDD); nothing to measure")
        return 0
    rows = run(args.repeats, args.limit)
    print(f"\ndashboard step, {machine()}, {args.limit} FSDD clips, median of {args.repeats}")
    print(table(rows, ["step", "median_ms", "spread_ms", "x_floor", "goal"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
