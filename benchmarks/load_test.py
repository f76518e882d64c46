"""Concurrency / load test of the dashboard: many browser sessions, one server.

Run: ``python -m benchmarks.load_test [--sessions 20] [--concurrency N] [--cap 360]``
(not part of pytest; needs playwright (Python) and Debian's Chromium at /usr/bin/chromium -
``playwright install`` is never used).

What it does
    1. starts one ``streamlit run app.py`` on a free loopback port with a temporary store
       (``SNDIAG_STORE``), and samples the server's resident memory (its whole process tree,
       psutil when installed, else ``/proc``) every 0.2 s;
    2. opens ``--sessions`` browser contexts (each a fresh Streamlit session) on one Chromium,
       at most ``--concurrency`` at a time (default: all of them at once);
    3. each session uploads its OWN small ``.npz`` - a different number of clips, a unique file
       name and unique class labels; the last two sessions are *twins*: the same file name, N
       and labels, different values, so only the content hash tells them apart - then moves the
       Mask page's threshold slider three times, visits Statistics, and goes back to Data;
    4. every session checks, at every step, that it sees only its own data: the dataset id in
       the URL is the content hash of what it uploaded, the sidebar names its file, N and id
       and no other session's file, the Clips/Classes metrics are its own, and the Statistics
       page's band-SNR sentence has the values computed locally from its own arrays (a cache
       keyed by anything but the content hash would show a twin's numbers);
    5. counts errors (exception boxes, st.error, failed checks, timeouts, tracebacks in the
       server log) and times every "page ready" (action -> app idle with the expected content).

The whole run is capped (``--cap`` seconds, default 360); the server is stopped by its own
process group id in every case. Prints a table: sessions, errors, median / 95th percentile
page-ready time, peak server RSS. ``--json PATH`` also writes the raw figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np

from benchmarks._common import machine, table
from tests.support.server import IDLE_JS, start_app

CHROMIUM = os.environ.get("SNDIAG_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 900}
STARTUP_TIMEOUT = 90.0
FIRST_LOAD_MS = 120_000  # the first session builds the demo
STEP_MS = 90_000
MASK_SLIDER = "Mask rows with |SNR| below"


# -- the datasets -------------------------------------------------------------------------------
@dataclass
class Spec:
    """What one session uploads, and what it must then see."""

    index: int
    name: str
    n: int
    classes: list[str]
    data: bytes
    content_hash: str
    snr_text: str  # "runs from a to b (median c)", computed locally


def make_spec(index: int, *, twin: int | None = None) -> Spec:
    from sndiag.io import load_arrays
    from sndiag.stats import compute_stats

    if twin is None:
        n, name = 12 + index, f"sess{index:02d}_n{12 + index}.npz"
        classes = [f"s{index:02d}_{c}" for c in ("alpha", "beta", "gamma")[: 2 + index % 2]]
        shape_k = 0.5 + 0.35 * index
    else:  # twins: same name, N and labels; different values
        n, name, classes = 16, "twin.npz", ["twin_a", "twin_b"]
        shape_k = (2.0, 8.0)[twin]
    rng = np.random.default_rng(1000 + index)
    X = rng.gamma(shape_k, 1.0, size=(n, 60, 130)).astype(np.float32)
    X[:, 50:] *= 1e-3  # quiet top bands, as in real recordings
    y = np.array([classes[i % len(classes)] for i in range(n)])
    buf = io.BytesIO()
    np.savez(buf, X=X, y=y)
    data = buf.getvalue()
    ds = load_arrays(data, expected_shape=None)  # what the upload handler builds
    st = compute_stats(ds.X, ds.y)
    snr = np.abs(np.asarray(st.row_snr, dtype=float))
    text = f"runs from {snr.min():.2g} to {snr.max():.2g} (median {np.median(snr):.2g})"
    return Spec(index, name, n, classes, data, ds.content_hash, text)


# -- memory of the server's process tree --------------------------------------------------------
def _children_proc(pid: int) -> list[int]:
    out, stack = [], [pid]
    while stack:
        p = stack.pop()
        kids: list[int] = []
        for task in Path(f"/proc/{p}/task").glob("*"):
            with contextlib.suppress(OSError):
                kids += [int(k) for k in (task / "children").read_text().split()]
        out += kids
        stack += kids
    return out


def _status_kb(pid: int, field_name: str) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    return 0


def tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants, in MB."""
    try:
        import psutil
    except ImportError:
        psutil = None
    if psutil is not None:
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(pid)
            procs = [root, *root.children(recursive=True)]
            total = 0
            for p in procs:
                with contextlib.suppress(psutil.Error):
                    total += p.memory_info().rss
            return total / 2**20
        return 0.0
    return sum(_status_kb(p, "VmRSS") for p in [pid, *_children_proc(pid)]) / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far (``/proc/<pid>/stat``), in seconds."""
    with contextlib.suppress(OSError, IndexError, ValueError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return float("nan")


class RssSampler(threading.Thread):
    def __init__(self, pid: int, every: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.peak = 0.0
        self.samples: list[float] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            rss = tree_rss_mb(self.pid)
            self.samples.append(rss)
            self.peak = max(self.peak, rss)
            self._halt.wait(self.every)

    def stop(self) -> None:
        self._halt.set()
        self.join(5)


# -- one session --------------------------------------------------------------------------------
@dataclass
class SessionResult:
    index: int
    name: str
    ready: list[tuple[str, float]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)
    rows_masked: list[str] = field(default_factory=list)
    control: int | None = None  # mismatches the negative control found (None: not run)
    done: bool = False


async def wait_idle(page: Any, timeout: float = STEP_MS, settle: float = 300) -> None:
    await page.wait_for_timeout(settle)
    await page.wait_for_function(IDLE_JS, timeout=timeout)
    await page.wait_for_timeout(150)
    await page.wait_for_function(IDLE_JS, timeout=timeout)


def heading(page: Any, title: str) -> Any:
    return page.get_by_role("heading", name=title, exact=True, level=1)


def metric(page: Any, label: str) -> Any:
    box = page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]', has_text=label))
    return box.locator('[data-testid="stMetricValue"]').first


async def error_boxes(page: Any) -> list[str]:
    found = []
    for sel, kind in (('[data-testid="stException"]', "exception"),
                      ('[data-testid="stAlertContentError"]', "st.error")):
        for text in await page.locator(sel).all_inner_texts():
            found.append(f"{kind}: {text.strip()[:200]}")
    return found


def url_dataset(page: Any) -> str:
    return parse_qs(urlsplit(page.url).query).get("ds", [""])[-1]


async def check_own(page: Any, spec: Spec, others: list[str], res: SessionResult,
                    where: str, *, timeout: float = STEP_MS) -> None:
    """The session shows its own dataset and nobody else's (``others``: other file names)."""
    from playwright.async_api import expect

    if url_dataset(page) != spec.content_hash:
        res.leaks.append(f"{where}: URL ds={url_dataset(page)[:12]} != own "
                         f"{spec.content_hash[:12]}")
    side = page.locator('[data-testid="stSidebarUserContent"]')
    try:
        await expect(side).to_contain_text(f"id {spec.content_hash[:12]}", timeout=timeout)
    except AssertionError:
        res.leaks.append(f"{where}: the sidebar does not show id {spec.content_hash[:12]}")
    text = await side.inner_text()
    if f"Dataset: {spec.name}" not in text or f"{spec.n} clips" not in text:
        res.leaks.append(f"{where}: sidebar shows {text[:120]!r}")
    for other in others:
        if other != spec.name and other in text:
            res.leaks.append(f"{where}: sidebar names another session's {other}")


async def _snr_check(page: Any, spec: Spec, res: SessionResult) -> None:
    """The Statistics page's band-SNR sentence holds ``spec``'s locally computed values."""
    from playwright.async_api import expect

    await expect(page.locator('[data-testid="stPlotlyChart"]').nth(2)).to_be_visible()
    sentence = page.get_by_text("Mel-band SNR (mean / std of each band) runs from")
    text = re.sub(r"\s+", " ", await sentence.inner_text())
    if spec.snr_text not in text:
        res.leaks.append(f"statistics: expected {spec.snr_text!r}, page says {text[:140]!r}")


async def run_session(browser: Any, base_url: str, spec: Spec, others: list[str],
                      sem: asyncio.Semaphore, first: asyncio.Event,
                      decoy: Spec | None = None) -> SessionResult:
    """One browser context: upload, mask slider, statistics, back to data; every check.

    With ``decoy`` (another session's spec), the isolation checks are finally run against it on
    this page, and must fail: proof that they can see a wrong dataset at all.
    """
    from playwright.async_api import expect

    res = SessionResult(spec.index, spec.name)
    current = ["waiting"]
    async with sem:
        ctx = await browser.new_context(viewport=VIEWPORT)
        ctx.set_default_timeout(STEP_MS)
        page = await ctx.new_page()

        async def step(label: str, coro: Any) -> None:
            current[0] = label
            t0 = time.perf_counter()
            await coro
            res.ready.append((label, time.perf_counter() - t0))
            res.errors.extend(f"{label}: {e}" for e in await error_boxes(page))

        async def open_data() -> None:
            await page.goto(f"{base_url}/", wait_until="domcontentloaded")
            await expect(heading(page, "Data")).to_be_visible(
                timeout=STEP_MS if first.is_set() else FIRST_LOAD_MS)
            await wait_idle(page, FIRST_LOAD_MS)
            first.set()

        async def upload() -> None:
            await page.get_by_text("Upload .npy / .npz", exact=True).click()
            await wait_idle(page)
            up = page.locator('[data-testid="stFileUploader"]').filter(
                has_text="Spectrograms X of shape")
            await up.locator('input[type="file"]').set_input_files(
                files=[{"name": spec.name, "mimeType": "application/octet-stream",
                        "buffer": spec.data}])
            await expect(up).to_contain_text(spec.name)
            await wait_idle(page)
            await page.get_by_role("button", name="Load", exact=True).click()
            await expect(page.get_by_text(f"Loaded {spec.name}: {spec.n} clips")).to_be_visible()
            await wait_idle(page)

        async def go(title: str, check: Any = None) -> None:
            await page.locator('[data-testid="stSidebarNavLink"]').filter(
                has_text=title).first.click()
            await expect(heading(page, title)).to_be_visible()
            await wait_idle(page)
            if check is not None:
                await check()

        async def mask_rule() -> None:
            await page.get_by_text("|row SNR| below a threshold", exact=True).click()
            await wait_idle(page)
            await expect(page.get_by_role("slider", name=MASK_SLIDER)).to_be_enabled()

        async def slide(times: int) -> None:
            """ArrowRight ``times`` on the threshold: it only goes up, so the masked row count
            may only grow; the value must reach the link (``snr=``) once the rerun is over."""
            slider = page.get_by_role("slider", name=MASK_SLIDER)
            before = float(await slider.get_attribute("aria-valuetext"))
            rows_before = int((await metric(page, "Rows masked").inner_text()).split("/")[0])
            await slider.focus()
            for _ in range(times):
                await page.keyboard.press("ArrowRight")
            value = float(await slider.get_attribute("aria-valuetext"))
            if value > before:  # wait for the debounced value to reach the server and back
                await page.wait_for_function(
                    "v => new URL(location.href).searchParams.get('snr') !== null && "
                    "Math.abs(parseFloat(new URL(location.href).searchParams.get('snr')) - v)"
                    " < 1e-9 * Math.max(1, v) + 5e-4", arg=value)
            await wait_idle(page)
            rows = await metric(page, "Rows masked").inner_text()
            mode = parse_qs(urlsplit(page.url).query).get("snr_mode", ["?"])[-1]
            res.rows_masked.append(f"{before:g}->{value:g}: {rows} ({mode})")
            if int(rows.split("/")[0]) < rows_before or mode != "abs":
                res.errors.append(f"mask: threshold {before:g} -> {value:g} but rows masked "
                                  f"{rows_before} -> {rows}, snr_mode={mode}")

        async def stats_ready() -> None:
            await _snr_check(page, spec, res)

        async def data_metrics() -> None:
            await expect(metric(page, "Clips")).to_have_text(str(spec.n))
            await expect(metric(page, "Classes")).to_have_text(str(len(spec.classes)))
            await expect(page.get_by_role("heading", name=spec.name, exact=True)).to_be_visible()

        try:
            await step("open", open_data())
            await step("upload", upload())
            current[0] = "check after upload"
            await data_metrics()
            await check_own(page, spec, others, res, "after upload")
            await step("mask page", go("Mask"))
            await step("mask rule", mask_rule())
            for k in (3, 5, 8):
                await step("slider", slide(k))
            await check_own(page, spec, others, res, "mask")
            await step("statistics", go("Statistics", stats_ready))
            await check_own(page, spec, others, res, "statistics")
            await step("back to data", go("Data", data_metrics))
            await check_own(page, spec, others, res, "end")
            if decoy is not None:
                current[0] = "negative control"
                blind = SessionResult(decoy.index, decoy.name)
                await check_own(page, decoy, others, blind, "decoy", timeout=2000)
                await go("Statistics", lambda: _snr_check(page, decoy, blind))
                res.control = len(blind.leaks)
                if len(blind.leaks) < 3:
                    res.errors.append(f"negative control: checks against {decoy.name} found "
                                      f"only {blind.leaks}: the isolation checks are blind")
            res.done = True
        except Exception as exc:  # timeouts, failed expectations: counted, the run goes on
            res.errors.append(f"{current[0]}: {type(exc).__name__}: "
                              f"{str(exc).splitlines()[0][:200]}")
            with contextlib.suppress(Exception):
                res.errors.extend(await error_boxes(page))
        finally:
            with contextlib.suppress(Exception):
                await ctx.close()
    return res


async def run_all(base_url: str, specs: list[Spec], concurrency: int) -> list[SessionResult]:
    from playwright.async_api import async_playwright, expect

    expect.set_options(timeout=STEP_MS)  # its default is 5 s: too short for a loaded server
    sem = asyncio.Semaphore(concurrency)
    first = asyncio.Event()
    names = sorted({s.name for s in specs})
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            # the first twin also checks itself against the other twin (negative control)
            twins = [s for s in specs if s.name == "twin.npz"]
            decoys = {twins[0].index: twins[1]} if len(twins) == 2 else {}
            tasks = [asyncio.create_task(run_session(browser, base_url, s, names, sem, first,
                                                     decoys.get(s.index)))
                     for s in specs]
            return list(await asyncio.gather(*tasks))
        finally:
            await browser.close()


# -- report -------------------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return float(np.percentile(np.asarray(values), q))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--concurrency", type=int, default=None,
                    help="browser sessions at once (default: all)")
    ap.add_argument("--cap", type=float, default=360.0, help="hard time cap of the run (s)")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    args = ap.parse_args(argv)
    if args.concurrency is None:
        args.concurrency = args.sessions
    if args.sessions < 1 or args.concurrency < 1:
        ap.error("--sessions and --concurrency must be >= 1")
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        print(f"error: no Chromium at {CHROMIUM} (apt-get install chromium)", file=sys.stderr)
        return 2
    n_twins = 2 if args.sessions >= 4 else 0
    specs = [make_spec(i) for i in range(args.sessions - n_twins)]
    specs += [make_spec(args.sessions - n_twins + t, twin=t) for t in range(n_twins)]

    t_start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sndiag-load-") as tmp:
        store = Path(tmp) / "store"
        store.mkdir()
        server = start_app(store, Path(tmp) / "streamlit.log")
        sampler = RssSampler(server.proc.pid)
        sampler.start()
        timed_out = False
        results: list[SessionResult] = []
        try:
            startup = server.wait_ready(STARTUP_TIMEOUT)
            idle_rss = tree_rss_mb(server.proc.pid)
            t_sessions = time.monotonic()
            remaining = args.cap - (time.monotonic() - t_start)
            try:
                results = asyncio.run(asyncio.wait_for(
                    run_all(server.base_url, specs, args.concurrency), timeout=remaining))
            except TimeoutError:
                timed_out = True
            wall = time.monotonic() - t_sessions
            hwm = _status_kb(server.proc.pid, "VmHWM") / 1024
            cpu = cpu_seconds(server.proc.pid)
            log = server.log()
            in_store = len(list(store.glob("*.npz")))
        finally:
            sampler.stop()
            server.stop()

    tracebacks = log.count("Traceback (most recent call last)")
    # the sampler can miss a short spike; the kernel's high-water mark of the server process
    # cannot (the server runs as one process: Streamlit sessions are threads)
    peak = max(sampler.peak, hwm)
    controls = [r.control for r in results if r.control is not None]
    ready = [t for r in results for _, t in r.ready]
    n_errors = sum(len(r.errors) for r in results) + (args.sessions - len(results))
    n_leaks = sum(len(r.leaks) for r in results)
    summary = {
        "machine": machine(),
        "sessions": args.sessions,
        "concurrency": args.concurrency,
        "completed": sum(r.done for r in results),
        "errors": n_errors + tracebacks + (1 if timed_out else 0),
        "isolation_failures": n_leaks,
        "server_tracebacks": tracebacks,
        "timed_out": timed_out,
        "page_ready_n": len(ready),
        "page_ready_median_s": percentile(ready, 50),
        "page_ready_p95_s": percentile(ready, 95),
        "page_ready_max_s": max(ready) if ready else float("nan"),
        "server_startup_s": startup,
        "sessions_wall_s": wall,
        "server_rss_idle_mb": idle_rss,
        "server_rss_peak_mb": peak,
        "server_rss_sampled_peak_mb": sampler.peak,
        "server_main_vmhwm_mb": hwm,
        "server_cpu_s": cpu,
        "negative_control_mismatches": controls,
        "datasets_in_store": in_store,
    }
    by_step: dict[str, list[float]] = {}
    for r in results:
        for label, t in r.ready:
            by_step.setdefault(label, []).append(t)

    print(f"sndiag dashboard load test — {summary['machine']}")
    print(f"{args.sessions} sessions, at most {args.concurrency} at once, one server "
          f"(started in {startup:.1f} s), run took {wall:.0f} s"
          + (" — HIT THE TIME CAP" if timed_out else ""))
    print()
    print(table([{
        "sessions": args.sessions,
        "completed": summary["completed"],
        "errors": summary["errors"],
        "isolation failures": n_leaks,
        "page ready median (s)": summary["page_ready_median_s"],
        "page ready p95 (s)": summary["page_ready_p95_s"],
        "peak server RSS (MB)": peak,
    }], ["sessions", "completed", "errors", "isolation failures", "page ready median (s)",
         "page ready p95 (s)", "peak server RSS (MB)"]))
    print()
    print(table([{"step": k, "n": len(v), "median (s)": statistics.median(v),
                  "p95 (s)": percentile(v, 95), "max (s)": max(v)}
                 for k, v in by_step.items()], ["step", "n", "median (s)", "p95 (s)", "max (s)"]))
    print()
    print(f"server CPU: {cpu:.0f} s over the {wall:.0f} s run ({cpu / max(wall, 1e-9):.2f} of "
          f"{os.cpu_count()} cores; the browsers share the same cores)")
    print(f"server RSS: idle {idle_rss:.0f} MB after start-up, peak {peak:.0f} MB (max of the "
          f"process tree sampled every 0.2 s, {sampler.peak:.0f} MB, and the server's VmHWM, "
          f"{hwm:.0f} MB); {in_store} datasets in the store (demo + {len(specs)} uploads "
          "expected)")
    if controls:
        print(f"negative control: checking a twin's page against the other twin found "
              f"{controls[0]} mismatches (URL, sidebar id, SNR sentence): the checks can see a "
              "wrong dataset")
    for r in results:
        for e in r.errors:
            print(f"  session {r.index:02d} {r.name}: ERROR {e}")
        for leak in r.leaks:
            print(f"  session {r.index:02d} {r.name}: ISOLATION {leak}")
    if tracebacks:
        print(f"  server log holds {tracebacks} tracebacks")
    if args.json is not None:
        summary["sessions_detail"] = [r.__dict__ for r in results]
        args.json.write_text(json.dumps(summary, indent=2, default=str))
    ok = (summary["errors"] == 0 and n_leaks == 0 and in_store == len(specs) + 1
          and (n_twins == 0 or bool(controls)))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
