"""The dashboard on 100 000 clips (3.1 GB) that stay in a file on the server: peak memory and
time to painted charts.

Run: ``python -m benchmarks.big_dashboard [--clips 100000] [--dir DIR] [--keep]
[--screenshot PNG] [--json OUT]`` (not part of pytest; needs playwright (Python) and Debian's
Chromium at ``/usr/bin/chromium`` - ``playwright install`` is never used).

1. Writes ``DIR/big/dataset.npz``: ``--clips`` float32 60 x 130 images (the ``X`` member is
   a plain ``.npy`` inside an uncompressed ``.npz``, 3.1 GB for 100 000 clips, as ``sndiag
   extract`` writes it) with labels (10 classes) and groups (20 speakers), one chunk in memory;
   then ``DIR/big/stats.npz`` with ``sndiag stats dataset.npz -o stats.npz``, what a cluster
   run (``--scheduler``) writes.
2. Starts ``streamlit run app.py`` with ``SNDIAG_DATA_ROOT=DIR`` and an empty store, and opens
   it in Chromium the way a user does: Data page, *Array file on the server*, **Load** (the
   statistics are streamed once and kept in the store). Then the Data, Statistics, Mask and
   Scalers pages, each opened from its link (``/statistics?ds=<id>``).
3. Restarts the server on the same store (*reopen*: the statistics are read from the store)
   and opens the Statistics page first, then the others; the Statistics page is screenshot.
4. Starts a third server on a new, empty store and opens the file with its statistics file
   (the Data page's *Statistics* choice): one pass over the file for its content hash and the
   check that every value lies within the file's per-pixel range, no statistics computed.

Memory is the server process' peak resident set (``VmHWM`` of ``/proc/<pid>/status``), reset
before each step by writing ``5`` to ``/proc/<pid>/clear_refs`` (Linux), so each row is the
peak of that step alone; the file is read with ``read()`` calls, not mapped, so the page cache
holding it is not counted. A step's time runs from the click (or the navigation) to the moment
the app is idle and the number of painted Plotly charts has not changed for
:data:`QUIET_S`; the figure given is the later of the last change of that number and the end of
the last script run (polled every 0.1 s). The 3.1 GB file is deleted
at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import REPO, machine, table
from tests.support.server import IDLE_JS, AppServer, start_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1400, "height": 1000}
#: A step is over when the app is idle and the painted charts have not changed for this long.
QUIET_S = 2.0
PAGES = (("Data", ""), ("Statistics", "statistics"), ("Mask", "mask"), ("Scalers", "scalers"))
CHARTS_JS = "() => document.querySelectorAll('.js-plotly-plot .main-svg').length"
ERRORS_JS = """() => [...document.querySelectorAll(
  '[data-testid="stException"], [data-testid="stAlertContentError"]')].map(e => e.innerText)"""


# -- the data -----------------------------------------------------------------------------------
def write_dataset(folder: Path, n: int, *, chunk: int = 2000, seed: int = 0) -> Path:
    """``folder/dataset.npz``: ``n`` clips with labels and groups, written one chunk at a time.

    Spectrogram-like values: power that falls with the mel row, the 17 top rows nearly empty
    (as above a recording's Nyquist frequency), 20 silent frames of padding, a class-dependent
    band of energy.
    """
    from sndiag.io.streaming import write_npz_chunks

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    y = np.array([f"digit{i % 10}" for i in range(n)])
    groups = np.array([f"speaker{(i // 10) % 20:02d}" for i in range(n)])
    rows = np.geomspace(1.0, 1e-3, 60, dtype=np.float32)
    rows[43:] = 1e-6

    def chunks() -> Iterator[np.ndarray]:
        for start in range(0, n, chunk):
            k = min(chunk, n - start)
            X = rng.random((k, 60, 130), dtype=np.float32)
            X *= X
            X *= rows[None, :, None]
            cls = np.arange(start, start + k) % 10
            for c in range(10):
                X[cls == c, 4 * c:4 * c + 4, :] *= 3.0
            X[:, :, 110:] = 0.0
            yield X

    return write_npz_chunks(folder / "dataset.npz", chunks(), n=n, row_shape=(60, 130),
                            arrays={"y": y, "groups": groups})


def write_stats(dataset: Path) -> tuple[Path, float]:
    """``sndiag stats dataset -o stats.npz`` beside it; its wall time."""
    out = dataset.parent / "stats.npz"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sndiag.cli", "stats", str(dataset), "-o", str(out)],
                   cwd=REPO, check=True, capture_output=True)
    return out, time.perf_counter() - t0


# -- the server's memory ------------------------------------------------------------------------
def _status_mb(pid: int, field: str) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak(pid: int) -> bool:
    """Reset the process' peak resident set (``VmHWM``) to its current one; False if refused."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


# -- the browser ---------------------------------------------------------------------------------
def settle(page: Any, t0: float, timeout: float) -> tuple[float, int]:
    """Wait until the app is idle and the painted chart count is stable; (seconds from ``t0`` to
    the later of the last change of that count and the start of the final idle period, charts
    painted)."""
    last_n, last_change, idle_since = -1, time.perf_counter(), None
    deadline = t0 + timeout
    while time.perf_counter() < deadline:
        n = page.evaluate(CHARTS_JS)
        now = time.perf_counter()
        if n != last_n:
            last_n, last_change = n, now
        idle = page.evaluate(IDLE_JS)
        if idle and idle_since is None:
            idle_since = now
        elif not idle:
            idle_since = None
        if idle_since is not None and now - max(last_change, idle_since) >= QUIET_S:
            return max(last_change, idle_since) - t0, last_n
        page.wait_for_timeout(100)
    raise TimeoutError(f"the page did not settle within {timeout:.0f} s")


def errors(page: Any) -> list[str]:
    return [e[:300] for e in page.evaluate(ERRORS_JS)]


def step(server: AppServer, page: Any, label: str, action: Any, *, timeout: float = 900,
         rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Run ``action`` in the page, wait until it settled; a row with time, charts and the
    server's peak memory during the step."""
    pid = server.proc.pid
    reset = reset_peak(pid)
    t0 = time.perf_counter()
    action()
    seconds, charts = settle(page, t0, timeout)
    row = {"step": label, "s to painted": round(seconds, 2), "charts": charts,
           "peak RSS MB": round(_status_mb(pid, "VmHWM"), 0),
           "RSS after MB": round(_status_mb(pid, "VmRSS"), 0),
           "errors": "; ".join(errors(page)) or "none", "peak reset": reset}
    rows.append(row)
    print(json.dumps(row), flush=True)
    return row


def choose_file(page: Any, base: str, *, stats: str | None = None) -> None:
    """The Data page: *Array file on the server*, optionally a statistics file (then click
    :func:`load`)."""
    page.goto(f"{base}/")
    page.wait_for_function(IDLE_JS, timeout=60_000)
    page.get_by_text("Array file on the server").click()
    page.wait_for_timeout(300)
    page.wait_for_function(IDLE_JS, timeout=60_000)
    if stats:
        box = page.locator('[data-testid="stSelectbox"]').filter(has_text="Statistics")
        box.get_by_role("combobox").click()
        page.get_by_role("option", name=stats).click()
        page.wait_for_timeout(300)
        page.wait_for_function(IDLE_JS, timeout=60_000)


def load(page: Any) -> None:
    page.get_by_role("button", name="Load", exact=True).click()


@contextlib.contextmanager
def server_and_page(store: Path, data_root: Path, log: Path) -> Iterator[tuple[AppServer, Any]]:
    from playwright.sync_api import sync_playwright

    server = start_app(store, log, env={"SNDIAG_DATA_ROOT": str(data_root)})
    try:
        server.wait_ready(120)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport=VIEWPORT)
                yield server, page
            finally:
                browser.close()
    finally:
        server.stop()


def dataset_id(page: Any) -> str:
    from urllib.parse import parse_qs, urlparse

    ids = parse_qs(urlparse(page.url).query).get("ds")
    if not ids:
        raise RuntimeError(f"the dataset did not open (no ds= in {page.url}); errors: "
                           f"{errors(page)}")
    return ids[0]


def run(folder: Path, n: int, screenshot: Path | None) -> dict[str, Any]:
    data_root = folder / "root"
    t0 = time.perf_counter()
    dataset = write_dataset(data_root / "big", n)
    write_s = time.perf_counter() - t0
    stats_path, stats_s = write_stats(dataset)
    size_gb = dataset.stat().st_size / 1e9
    print(f"wrote {dataset.name}: {size_gb:.2f} GB in {write_s:.0f} s; sndiag stats -o: "
          f"{stats_s:.1f} s", flush=True)
    rows: list[dict[str, Any]] = []
    store = folder / "store"

    # first open: the statistics are streamed once (the pass also computes the content hash)
    with server_and_page(store, data_root, folder / "server1.log") as (server, page):
        page.goto(f"{server.base_url}/")
        settle(page, time.perf_counter(), 120)
        rows.append({"step": "server started, demo shown",
                     "peak RSS MB": round(_status_mb(server.proc.pid, "VmHWM"), 0),
                     "RSS after MB": round(_status_mb(server.proc.pid, "VmRSS"), 0)})
        choose_file(page, server.base_url)
        step(server, page, "first open: Load (statistics streamed)", lambda: load(page),
             timeout=1800, rows=rows)
        ds_id = dataset_id(page)
        for title, url in PAGES:
            step(server, page, f"first session: {title} page",
                 lambda url=url: page.goto(f"{server.base_url}/{url}?ds={ds_id}"), rows=rows)

    # reopen after a restart: the statistics come from the store
    with server_and_page(store, data_root, folder / "server2.log") as (server, page):
        start_mb = _status_mb(server.proc.pid, "VmHWM")
        rows.append({"step": "restarted server, before any session", "peak RSS MB":
                     round(start_mb, 0)})
        step(server, page, "reopen (statistics cached): Statistics page from its link",
             lambda: page.goto(f"{server.base_url}/statistics?ds={ds_id}"), rows=rows)
        if screenshot is not None:
            page.screenshot(path=str(screenshot), full_page=True)
        for title, url in PAGES:
            step(server, page, f"reopened: {title} page",
                 lambda url=url: page.goto(f"{server.base_url}/{url}?ds={ds_id}"), rows=rows)
        step(server, page, "reopened: Statistics page again",
             lambda: page.goto(f"{server.base_url}/statistics?ds={ds_id}"), rows=rows)
        overall = _status_mb(server.proc.pid, "VmHWM")

    # a statistics file written by `sndiag stats -o` (e.g. on a cluster), on an empty store
    with server_and_page(folder / "store2", data_root, folder / "server3.log") as (server, page):
        choose_file(page, server.base_url, stats=f"big/{stats_path.name}")
        step(server, page, "first open with big/stats.npz (sndiag stats -o)", lambda: load(page),
             timeout=1800, rows=rows)
        if dataset_id(page) != ds_id:
            raise RuntimeError("the dataset opened with its statistics file has another id")
        step(server, page, "then: Statistics page",
             lambda: page.goto(f"{server.base_url}/statistics?ds={ds_id}"), rows=rows)
    return {"machine": machine(), "clips": n, "file GB": round(size_gb, 2),
            "write s": round(write_s, 1), "sndiag stats -o s": round(stats_s, 1),
            "dataset id": ds_id, "rows": rows, "last peak of the reopened server MB": overall}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=100_000)
    ap.add_argument("--dir", type=Path, default=None,
                    help="Where the file and the stores go (default: a temporary folder).")
    ap.add_argument("--keep", action="store_true", help="Keep the dataset file.")
    ap.add_argument("--screenshot", type=Path, default=None,
                    help="Save the reopened Statistics page as this PNG.")
    ap.add_argument("--json", type=Path, default=None, help="Write the results as JSON.")
    args = ap.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"error: no Chromium at {CHROMIUM} (apt-get install chromium)", file=sys.stderr)
        return 2
    folder = Path(tempfile.mkdtemp(prefix="sndiag-big-", dir=args.dir))
    try:
        res = run(folder, args.clips, args.screenshot)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"\n{res['machine']}; {res['clips']} clips, {res['file GB']} GB\n")
    print(table(res["rows"], ["step", "s to painted", "charts", "peak RSS MB", "RSS after MB",
                              "errors"]))
    if args.json is not None:
        args.json.write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
