"""Latency in the browser: from a user's action to painted charts, in Chromium.

Run: ``python -m benchmarks.browser_latency [--repeats 5] [--before REV] [--dataset FSDD.npz] [--json OUT]``
(not part of pytest; needs playwright (Python) and Debian's Chromium at /usr/bin/chromium -
``playwright install`` is never used; the FSDD recordings, see ``SNDIAG_FSDD``).

Every figure here is measured in the page, with the page's own clock: a ``MutationObserver``
(installed before any script of the page runs) notes the last change inside a Plotly chart and
the first frame painted after it (``requestAnimationFrame`` then a task). A step ends when the
app is idle (connected, no script run, no "Running..." widget), every visible chart holds its
plot, and nothing in the page has changed for :data:`QUIET_MS`; its time is that last paint
minus the moment of the action. Steps:

- ``first paint, demo``: a new browser session opens the dashboard on a running server (the
  demo, the FSDD sample); navigation start -> first chart painted, and -> every chart painted.
  ``cold`` is the first session after the server started (imports, the sample read once);
- ``page switch``: FSDD (3000 clips) in view, the sidebar's Statistics / Mask links clicked in
  turn -> the target page's charts painted;
- ``mask slider step``: the Mask page's SNR threshold moved one step with the keyboard -> the
  SNR map and the band profile repainted;
- ``scaler switch``: the Scalers page's last scaler removed, then added back (its effect and
  figures cached, as when a user switches back and forth) -> repainted;
- ``team link after restart``: the server stopped and started again on the same store, a new
  session opening ``/statistics?ds=<FSDD>`` -> every chart painted (from navigation start);
  ``server restart (to healthy)`` is the start itself, process launch -> health check answered.

Baseline, measured in the same run, in the same browser: a bare Streamlit page with two
widgets (a title and a slider whose value is written below it): its first paint and one slider
step. With ``--before REV`` the dashboard of git revision ``REV`` (exported to a temporary
folder, run with the same Python environment) is measured in the same rounds as the current
one, step by step in turn, so both see the same machine load. Recorded as well, per step: the
websocket bytes received (``kB``); ``server ms``, action -> the page saw the script run end
(late when the browser is busy drawing); ``wire ms``, action -> the last websocket message
arrived (the server's work and the transfer). ``ms`` minus ``wire ms`` is the browser's share:
parsing, React and Plotly drawing the charts.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks._common import FSDD, REPO, machine, table
from tests.support.server import IDLE_JS, AppServer, start_app

CHROMIUM = os.environ.get("SNDIAG_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1400, "height": 1000}
FSDD_PATTERN = r"(?P<label>\d)_(?P<group>[a-z]+)_\d+\.wav"
#: Nothing may change in the page for this long before a step counts as finished (ms).
QUIET_MS = 1000
STEP_TIMEOUT_MS = 120_000
MASK_SLIDER = "Mask rows with |SNR| below"
#: The issue's goals (ms): (start of the step's name, a word it must hold) -> goal.
GOALS = {("first paint, demo", "first chart"): 3000.0, ("page switch", ""): 1000.0,
         ("mask slider step", ""): 1000.0}

#: Installed in every page before its own scripts: the clock of every step.
INSTRUMENT_JS = """
(() => {
  const S = window.__sn = {t0: 0, lastPlot: 0, plotPaint: 0, lastMain: 0, mainPaint: 0,
                           firstChart: null, runStart: null, runEnd: null, lastMsg: null};
  S.reset = () => { S.t0 = performance.now(); S.lastPlot = 0; S.plotPaint = 0; S.lastMain = 0;
                    S.mainPaint = 0; S.firstChart = null; S.runStart = null; S.runEnd = null;
                    S.lastMsg = null; };
  // The last websocket message of a step (the server's work and the transfer are done by then;
  // what follows is the browser's: parsing, React, Plotly).
  const NativeWS = window.WebSocket;
  window.WebSocket = class extends NativeWS {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', () => { S.lastMsg = performance.now(); });
    }
  };
  const afterPaint = (f) => requestAnimationFrame(() => setTimeout(f, 0));
  const inPlot = (n) => {
    const el = n && (n.nodeType === 1 ? n : n.parentElement);
    return !!(el && el.closest && el.closest('.js-plotly-plot'));
  };
  const obs = new MutationObserver((muts) => {
    const now = performance.now();
    let plot = false, main = false;
    for (const m of muts) {
      if (m.type === 'attributes' && m.target.getAttribute &&
          m.target.getAttribute('data-testid') === 'stApp') {
        const state = m.target.getAttribute('data-test-script-state');
        if (state === 'running' && S.runStart === null) S.runStart = now;
        if (state === 'notRunning' && S.runStart !== null) S.runEnd = now;
        continue;
      }
      if (!plot && (inPlot(m.target) ||
          [...(m.addedNodes || [])].some(n => n.nodeType === 1 &&
            (n.classList.contains('js-plotly-plot') || n.querySelector('.js-plotly-plot'))))) {
        plot = true;
      }
      if (!main) {
        const el = m.target.nodeType === 1 ? m.target : m.target.parentElement;
        main = !!(el && el.closest && el.closest('[data-testid="stMain"]'));
      }
    }
    if (plot) {
      S.lastPlot = now;
      afterPaint(() => { S.plotPaint = performance.now(); });
      if (S.firstChart === null && document.querySelector('.js-plotly-plot .main-svg')) {
        S.firstChart = -1;
        afterPaint(() => { S.firstChart = performance.now(); });
      }
    }
    if (main) {
      S.lastMain = now;
      afterPaint(() => { S.mainPaint = performance.now(); });
    }
  });
  const start = () => obs.observe(document.documentElement, {subtree: true, childList: true,
    attributes: true, characterData: true});
  if (document.documentElement) start(); else addEventListener('DOMContentLoaded', start);
})();
"""

#: All visible charts hold their plot, and no element is still a placeholder: while the browser
#: fetches Plotly's code (the first chart of a session) a chart is a ``stSkeleton``, not a
#: ``stPlotlyChart``, so "every chart plotted" alone would hold before any chart exists.
CHARTS_READY_JS = """() => {
  const visible = (e) => e.offsetParent !== null;
  if ([...document.querySelectorAll('[data-testid="stMain"] [data-testid="stSkeleton"]')]
      .some(visible)) return false;
  const charts = [...document.querySelectorAll('[data-testid="stPlotlyChart"]')].filter(visible);
  return charts.every(c => c.querySelector('.main-svg'));
}"""

COUNT_JS = """() => {
  const charts = [...document.querySelectorAll('[data-testid="stPlotlyChart"]')];
  return {charts: charts.length,
          visible: charts.filter(c => c.offsetParent !== null).length,
          traces: document.querySelectorAll('.js-plotly-plot .trace, .js-plotly-plot .hm').length};
}"""

BASELINE_APP = """
import streamlit as st

st.title("Baseline")
value = st.slider("Value", 0, 100, 50, key="value")
st.write(f"The value is {value}.")
"""


# -- the servers -------------------------------------------------------------------------------
@dataclass
class Variant:
    """One dashboard (or the baseline page) served for the run."""

    name: str
    app_dir: Path
    store: Path
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    dataset_id: str = ""
    server: AppServer | None = None

    def start(self) -> float:
        self.server = start_app(self.store, self.log, env=self.env, app_dir=self.app_dir)
        return self.server.wait_ready(120)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.base_url


def export_revision(rev: str, dest: Path) -> Path:
    """The files of git revision ``rev`` under ``dest`` (``git archive``; the repository and its
    worktrees are left alone)."""
    dest.mkdir(parents=True)
    archive = dest.parent / f"{dest.name}.tar"
    subprocess.run(["git", "archive", "--format=tar", "-o", str(archive), rev], cwd=REPO,
                   check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    archive.unlink()
    return dest


_PUT = """
import json, sys
from sndiag.io import load
from sndiag.store import FileStore
import sndiag
ds = load(sys.argv[1])
entry = FileStore(sys.argv[2]).put(ds, source="benchmark: FSDD")
print(json.dumps({"id": entry.dataset_id, "package": sndiag.__file__}))
"""


def put_dataset(variant: Variant, npz: Path) -> str:
    """Put the dataset file ``npz`` into the variant's store with the variant's own code."""
    out = subprocess.run([sys.executable, "-c", _PUT, str(npz), str(variant.store)],
                         cwd=variant.app_dir, env={**os.environ, **variant.env},
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"storing FSDD for {variant.name} failed:\n{out.stderr[-2000:]}")
    info = json.loads(out.stdout.strip().splitlines()[-1])
    if not str(info["package"]).startswith(str(variant.app_dir)):
        raise RuntimeError(f"{variant.name} imported sndiag from {info['package']}, not from "
                           f"{variant.app_dir}")
    return str(info["id"])


def fsdd_file(tmp: Path) -> Path:
    """FSDD's 3000 clips, extracted once with the defaults (``sndiag extract``)."""
    from sndiag.io import from_folder, save

    out = tmp / "fsdd.npz"
    t0 = time.perf_counter()
    ds = from_folder(FSDD, label_regex=FSDD_PATTERN)
    save(ds, out)
    print(f"extracted FSDD ({ds.n_clips} clips) in {time.perf_counter() - t0:.1f} s")
    return out


# -- one measured step -------------------------------------------------------------------------
def wait_idle(page: Any, timeout: float = STEP_TIMEOUT_MS) -> None:
    page.wait_for_timeout(300)
    page.wait_for_function(IDLE_JS, timeout=timeout)
    page.wait_for_timeout(150)
    page.wait_for_function(IDLE_JS, timeout=timeout)


def settle(page: Any, *, charts: bool = True, timeout: float = STEP_TIMEOUT_MS) -> None:
    """Wait until idle, every visible chart is plotted and the page has been still QUIET_MS."""
    t_end = time.monotonic() + timeout / 1000
    wait_idle(page, timeout)
    while time.monotonic() < t_end:
        still = page.evaluate("() => performance.now() - Math.max(window.__sn.lastMain, "
                              "window.__sn.lastPlot)")
        ready = page.evaluate(CHARTS_READY_JS) if charts else True
        if still >= QUIET_MS and ready and page.evaluate(IDLE_JS):
            return
        page.wait_for_timeout(100)
    raise TimeoutError("the page did not settle")


class Bytes:
    """Websocket bytes the page received (Streamlit's ForwardMsgs)."""

    def __init__(self, page: Any) -> None:
        self.total = 0
        page.on("websocket", self._attach)

    def _attach(self, ws: Any) -> None:
        ws.on("framereceived", self._frame)

    def _frame(self, payload: Any) -> None:
        self.total += len(payload)


@dataclass
class Sample:
    """One measured step (ms, page clock; bytes)."""

    paint: float           # last chart painted (or, without charts, last change painted)
    ui: float              # last change of the page's main area painted
    server: float | None   # action -> end of the script run, as the page saw it
    wire: float | None     # action -> last websocket message received (server + transfer)
    first_chart: float | None
    bytes: int
    charts: int


def measure(page: Any, wire: Bytes, action: Callable[[], None], *, from_navigation: bool = False,
            charts: bool = True) -> Sample:
    """Run ``action`` and time it to the last paint."""
    if not from_navigation:
        page.evaluate("() => window.__sn.reset()")
    before = wire.total
    action()
    settle(page, charts=charts)
    r = page.evaluate("() => window.__sn")
    counts = page.evaluate(COUNT_JS)
    t0 = 0.0 if from_navigation else float(r["t0"])
    plot = float(r["plotPaint"]) if r["plotPaint"] else 0.0
    main = float(r["mainPaint"]) if r["mainPaint"] else 0.0
    paint = (plot if plot else main) - t0
    return Sample(
        paint=max(paint, 0.0), ui=max(main - t0, 0.0),
        server=None if r["runEnd"] is None else float(r["runEnd"]) - t0,
        wire=None if r["lastMsg"] is None else max(float(r["lastMsg"]) - t0, 0.0),
        first_chart=None if not r["firstChart"] or r["firstChart"] < 0
        else float(r["firstChart"]) - t0,
        bytes=wire.total - before, charts=int(counts["visible"]))


@contextlib.contextmanager
def session(browser: Any) -> Iterator[tuple[Any, Bytes]]:
    """A fresh browser context (a new Streamlit session) with the instrumentation."""
    ctx = browser.new_context(viewport=VIEWPORT)
    ctx.set_default_timeout(STEP_TIMEOUT_MS)
    ctx.add_init_script(INSTRUMENT_JS)
    page = ctx.new_page()
    wire = Bytes(page)
    try:
        yield page, wire
    finally:
        with contextlib.suppress(Exception):
            ctx.close()


def heading(page: Any, title: str) -> Any:
    return page.get_by_role("heading", name=title, exact=True, level=1)


def open_page(page: Any, url: str, title: str) -> None:
    page.goto(url, wait_until="commit", timeout=STEP_TIMEOUT_MS)
    heading(page, title).wait_for(timeout=STEP_TIMEOUT_MS)


def go_to(page: Any, title: str) -> None:
    page.locator('[data-testid="stSidebarNavLink"]').filter(has_text=title).first.click()
    heading(page, title).wait_for(timeout=STEP_TIMEOUT_MS)


# -- the steps ---------------------------------------------------------------------------------
Results = dict[str, list[Sample]]


def add(results: Results, step: str, sample: Sample) -> None:
    results.setdefault(step, []).append(sample)


def baseline_round(browser: Any, v: Variant, results: Results) -> None:
    with session(browser) as (page, wire):
        s = measure(page, wire, lambda: open_page(page, f"{v.url}/", "Baseline"),
                    from_navigation=True, charts=False)
        add(results, "first paint", s)
        slider = page.get_by_role("slider", name="Value")
        for _ in range(2):
            def step() -> None:
                slider.focus()
                page.keyboard.press("ArrowRight")
            add(results, "slider step", measure(page, wire, step, charts=False))


def demo_round(browser: Any, v: Variant, results: Results, *, label: str) -> None:
    with session(browser) as (page, wire):
        s = measure(page, wire, lambda: open_page(page, f"{v.url}/", "Data"),
                    from_navigation=True)
        add(results, f"first paint, demo ({label}, all charts)", s)
        if s.first_chart is not None:
            add(results, f"first paint, demo ({label}, first chart)",
                Sample(s.first_chart, s.ui, s.server, s.wire, s.first_chart, s.bytes, s.charts))


def fsdd_round(browser: Any, v: Variant, results: Results, switches: int) -> None:
    """Page switches, mask slider steps and scaler switches on FSDD, in one session."""
    with session(browser) as (page, wire):
        s = measure(page, wire, lambda: open_page(page, f"{v.url}/statistics?ds={v.dataset_id}",
                                                  "Statistics"), from_navigation=True)
        add(results, "open FSDD link (Statistics, warm server)", s)
        for i in range(switches):
            title = "Mask" if i % 2 == 0 else "Statistics"
            add(results, "page switch", measure(page, wire, lambda t=title: go_to(page, t)))
            add(results, f"page switch -> {title}", results["page switch"][-1])
        if page.locator("h1").first.inner_text() != "Mask":
            measure(page, wire, lambda: go_to(page, "Mask"))
        page.get_by_text("|row SNR| below a threshold", exact=True).click()
        settle(page)
        slider = page.get_by_role("slider", name=MASK_SLIDER)
        for i in range(switches):
            def step(key: str = "ArrowRight" if i % 2 == 0 else "ArrowLeft") -> None:
                slider.focus()
                page.keyboard.press(key)
            add(results, "mask slider step", measure(page, wire, step))
        measure(page, wire, lambda: go_to(page, "Scalers"))
        box = page.locator('[data-testid="stMultiSelect"]').filter(has_text="Scalers to compare")
        for _ in range(max(1, switches // 2)):
            tags = box.locator("[data-tag] span[title]")
            last = tags.last.inner_text()

            def remove(name: str = last) -> None:
                box.locator("[data-tag]").filter(has_text=name).first.get_by_role(
                    "button").click()
            add(results, "scaler switch (remove one)", measure(page, wire, remove))

            def add_back(name: str = last) -> None:
                combo = box.get_by_role("combobox")
                combo.click()
                combo.fill(name)
                page.get_by_role("option", name=name, exact=True).click()
                page.keyboard.press("Escape")
            add(results, "scaler switch (add one seen before)", measure(page, wire, add_back))


def restart_round(browser: Any, v: Variant, results: Results) -> None:
    v.stop()
    t0 = time.perf_counter()
    v.start()  # until the health check answers: work done before serving shows up here
    up = 1000 * (time.perf_counter() - t0)
    add(results, "server restart (to healthy)", Sample(up, up, None, None, None, 0, 0))
    with session(browser) as (page, wire):
        s = measure(page, wire, lambda: open_page(page, f"{v.url}/statistics?ds={v.dataset_id}",
                                                  "Statistics"), from_navigation=True)
        add(results, "team link after restart (Statistics)", s)


# -- the run -----------------------------------------------------------------------------------
def summarize(results: dict[str, Results]) -> list[dict[str, Any]]:
    rows = []
    names = list(results)
    steps = list(dict.fromkeys(s for r in results.values() for s in r))
    for step in steps:
        row: dict[str, Any] = {"step": step}
        for name in names:
            got = results[name].get(step, [])
            if not got:
                continue
            paint = [s.paint for s in got]
            row[f"{name} ms"] = f"{statistics.median(paint):.0f} ({min(paint):.0f}-{max(paint):.0f})"
            server = [s.server for s in got if s.server is not None]
            row[f"{name} server ms"] = f"{statistics.median(server):.0f}" if server else ""
            wire = [s.wire for s in got if s.wire is not None]
            row[f"{name} wire ms"] = f"{statistics.median(wire):.0f}" if wire else ""
            row[f"{name} kB"] = f"{statistics.median([s.bytes for s in got]) / 1000:.0f}"
            row[f"{name} charts"] = str(got[-1].charts)
        goal = next((g for (start, word), g in GOALS.items()
                     if step.startswith(start) and word in step), None)
        row["goal"] = f"< {goal / 1000:g} s" if goal else ""
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3, help="rounds (each has several steps)")
    ap.add_argument("--switches", type=int, default=4, help="page switches / slider steps "
                    "per round")
    ap.add_argument("--before", default=None, help="also measure the dashboard of this git "
                    "revision, in the same rounds")
    ap.add_argument("--json", type=Path, default=None, help="also write the samples as JSON")
    ap.add_argument("--dataset", type=Path, default=None, help="FSDD already extracted (a "
                    "dataset file, ``sndiag extract``); default: extract the recordings now")
    args = ap.parse_args(argv)
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        print(f"error: no Chromium at {CHROMIUM} (apt-get install chromium)", file=sys.stderr)
        return 2
    if args.dataset is None and not FSDD.is_dir():
        print(f"FSDD not found at {FSDD} (set SNDIAG_FSDD); nothing to measure")
        return 0
    from playwright.sync_api import sync_playwright

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="sndiag-latency-") as tmpname:
        tmp = Path(tmpname)
        npz = args.dataset if args.dataset is not None else fsdd_file(tmp)
        base_dir = tmp / "baseline"
        base_dir.mkdir()
        (base_dir / "app.py").write_text(textwrap.dedent(BASELINE_APP))
        variants = [Variant("baseline", base_dir, tmp / "store-baseline", tmp / "baseline.log")]
        if args.before:
            old = export_revision(args.before, tmp / "before")
            variants.append(Variant("before", old, tmp / "store-before", tmp / "before.log",
                                    env={"PYTHONPATH": str(old)}))
        variants.append(Variant("after" if args.before else "now", REPO, tmp / "store-now",
                                tmp / "now.log"))
        apps = variants[1:]
        for v in variants:
            v.store.mkdir()
        for v in apps:
            v.dataset_id = put_dataset(v, npz)
        results: dict[str, Results] = {v.name: {} for v in variants}
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    for v in variants:
                        v.start()
                    for v in apps:  # the first session of each server
                        demo_round(browser, v, results[v.name], label="cold")
                    for r in range(args.repeats):
                        print(f"round {r + 1} of {args.repeats}")
                        baseline_round(browser, variants[0], results["baseline"])
                        for v in apps:
                            demo_round(browser, v, results[v.name], label="warm")
                            fsdd_round(browser, v, results[v.name], args.switches)
                            restart_round(browser, v, results[v.name])
                finally:
                    browser.close()
        finally:
            for v in variants:
                v.stop()
        tracebacks = {v.name: v.log.read_text(errors="replace").count("Traceback")
                      for v in variants if v.log.exists()}
    load_after = os.getloadavg()
    rows = summarize(results)
    print(f"\nbrowser latency, {machine()}, Chromium headless, {args.repeats} rounds; load "
          f"average {load_before[0]:.1f} before, {load_after[0]:.1f} after; median (min-max) "
          "ms to painted charts")
    columns = ["step"]
    for v in variants:
        columns += [f"{v.name} ms", f"{v.name} server ms", f"{v.name} wire ms", f"{v.name} kB",
                    f"{v.name} charts"]
    columns.append("goal")
    print(table(rows, columns))
    if any(tracebacks.values()):
        print(f"server tracebacks: {tracebacks}")
    if args.json is not None:
        args.json.write_text(json.dumps({
            "machine": machine(), "load": [load_before, load_after],
            "samples": {k: {s: [x.__dict__ for x in v] for s, v in r.items()}
                        for k, r in results.items()}}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
