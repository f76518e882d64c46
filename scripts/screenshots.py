"""Screenshots of the dashboard on FSDD for the docs: the Statistics and Scalers pages.

    python scripts/screenshots.py --fsdd ../shared/data/fsdd/recordings --out docs/

Starts the dashboard (``streamlit run app.py`` on a free local port, a temporary store, and
``SNDIAG_DATA_ROOT`` = the FSDD folder's parent) unless ``--base-url`` / ``$SNDIAG_BASE_URL``
names a running one (its data root must hold the folder). Then, in Debian's Chromium, as a user
would: Data page -> "Folder on the server" -> the FSDD folder, labels from the file-name pattern
``(?P<label>\\d)_(?P<group>[a-z]+)_\\d+\\.wav`` -> Load; and full-page screenshots, 1400 px
wide, of

* ``statistics-fsdd.png``: the Statistics page (mean / std / SNR heatmaps, profiles, histogram);
* ``scalers-fsdd.png``: the Scalers page with the default scalers (standard, std_floor, band,
  robust), two side by side per row.

PNGs above ``--max-mb`` (1.5 MB) are reduced to a 256-colour (or smaller) palette. Chromium is
``/usr/bin/chromium`` (``--chromium`` overrides it); ``playwright install`` is never needed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the repository's test helpers (tests/support)

from tests.support.server import IDLE_JS, running_app  # noqa: E402
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
FSDD_REGEX = r"(?P<label>\d)_(?P<group>[a-z]+)_\d+\.wav"
DEFAULT_SCALERS = ["standard", "std_floor", "band", "robust"]
WIDTH = 1400
SLOW = 600_000  # ms: extracting 3000 clips on a busy machine
STEP = 90_000

SCROLL_HEIGHT_JS = """() => {
  const main = document.querySelector('[data-testid="stMain"]');
  return main ? main.scrollHeight : document.documentElement.scrollHeight;
}"""
PLOTS_DRAWN_JS = """(n) => {
  const plots = document.querySelectorAll('.js-plotly-plot');
  return plots.length >= n && [...plots].every(p => p.querySelector('.main-svg'));
}"""


def log(msg: str) -> None:
    print(f"[screenshots] {msg}", flush=True)


# -- the server -------------------------------------------------------------------------------
@contextlib.contextmanager
def dashboard(data_root: Path, *, timeout: float = 90.0) -> Iterator[str]:
    """Start ``streamlit run app.py`` with a temporary store; yield its URL; stop it."""
    with tempfile.TemporaryDirectory(prefix="sndiag-shots-") as tmp:
        with running_app(Path(tmp) / "store", Path(tmp) / "streamlit.log",
                         env={"SNDIAG_DATA_ROOT": str(data_root)}, timeout=timeout) as server:
            log(f"started the dashboard (pid {server.proc.pid}) on {server.base_url}")
            yield server.base_url
        log("stopped the dashboard")


# -- driving the page -------------------------------------------------------------------------
def wait_idle(page: Any, timeout: float = STEP) -> None:
    page.wait_for_timeout(300)
    page.wait_for_function(IDLE_JS, timeout=timeout)
    page.wait_for_timeout(150)
    page.wait_for_function(IDLE_JS, timeout=timeout)


def heading(page: Any, title: str) -> Any:
    return page.get_by_role("heading", name=title, exact=True, level=1)


def go_to(page: Any, title: str) -> None:
    from playwright.sync_api import expect

    page.locator('[data-testid="stSidebarNavLink"]').filter(has_text=title).first.click()
    expect(heading(page, title)).to_be_visible(timeout=STEP)
    wait_idle(page)


def load_server_folder(page: Any, base_url: str, folder: str, regex: str) -> str:
    """Load ``folder`` (relative to the server's data root) with regex labels; its name."""
    from playwright.sync_api import expect

    page.goto(f"{base_url}/", wait_until="domcontentloaded", timeout=STEP)
    expect(heading(page, "Data")).to_be_visible(timeout=STEP)
    wait_idle(page)
    source = page.get_by_text("Folder on the server", exact=True)
    if not source.count():
        raise SystemExit("the dashboard offers no server folder: is SNDIAG_DATA_ROOT set there?")
    source.click()
    wait_idle(page)
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text="Folder under")
    box.get_by_role("combobox").click()
    options = page.get_by_role("option")
    expect(options.first).to_be_visible()
    names = options.all_inner_texts()
    if folder not in names:
        raise SystemExit(f"folder {folder!r} is not offered by the server; it has {names}")
    options.filter(has_text=re.compile(rf"^{re.escape(folder)}$")).first.click()
    wait_idle(page)
    page.get_by_text("File-name pattern (regex)", exact=True).click()
    wait_idle(page)
    pattern = page.get_by_role("textbox", name="Pattern with named groups label (and group)")
    pattern.fill(regex)
    pattern.press("Enter")
    wait_idle(page)
    log(f"loading {folder!r} (labels from {regex})...")
    t0 = time.monotonic()
    page.get_by_role("button", name="Load", exact=True).click()
    done = page.get_by_text(re.compile(r"^Loaded .+: \d+ clips"))
    expect(done).to_be_visible(timeout=SLOW)
    wait_idle(page, timeout=SLOW)
    log(f"{done.inner_text()} ({time.monotonic() - t0:.0f} s)")
    errors = page.locator('[data-testid="stAlertContentError"], [data-testid="stException"]')
    if errors.count():
        raise SystemExit(f"the Data page shows an error: {errors.first.inner_text()}")
    return page.locator('[data-testid="stSidebarUserContent"] p').filter(
        has_text="Dataset:").first.inner_text()


def full_page(page: Any, path: Path, *, max_height: int = 16_000) -> None:
    """Screenshot the whole page: Streamlit scrolls inside ``stMain``, so the viewport is
    stretched to the content's height for the shot (figures keep their width)."""
    size = page.viewport_size
    height = size["height"]
    try:
        for _ in range(5):
            want = min(max(int(page.evaluate(SCROLL_HEIGHT_JS)), size["height"]), max_height)
            if want == height:
                break
            height = want
            page.set_viewport_size({"width": size["width"], "height": height})
            page.wait_for_timeout(600)
        page.screenshot(path=str(path))
    finally:
        page.set_viewport_size(size)


def shrink(path: Path, max_bytes: int) -> None:
    """Re-encode a PNG within ``max_bytes``: optimized, then palettes of 256, 128, 64 colours."""
    from PIL import Image

    if path.stat().st_size <= max_bytes:
        return
    original = Image.open(path).convert("RGB")
    for colors in (256, 128, 64):
        img = original.quantize(colors=colors, method=Image.Quantize.FASTOCTREE,
                                dither=Image.Dither.NONE)
        img.save(path, optimize=True)
        if path.stat().st_size <= max_bytes:
            log(f"{path.name}: reduced to {colors} colours")
            return
    raise SystemExit(f"{path} is still {path.stat().st_size / 1e6:.2f} MB with 64 colours")


def capture(base_url: str, *, folder: str, regex: str, out: Path, chromium: str,
            max_bytes: int) -> list[Path]:
    from playwright.sync_api import expect, sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    saved = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": WIDTH, "height": 1000},
                                    device_scale_factor=1)
            name = load_server_folder(page, base_url, folder, regex)
            log(f"in view: {name}")

            go_to(page, "Statistics")
            page.wait_for_function(PLOTS_DRAWN_JS, arg=3, timeout=STEP)
            for title in ("Mean of each pixel", "Standard deviation of each pixel",
                          "SNR of each pixel"):
                expect(page.locator(".js-plotly-plot").filter(has_text=title).first
                       ).to_be_visible(timeout=STEP)
            page.wait_for_timeout(1000)
            saved.append(out / "statistics-fsdd.png")
            full_page(page, saved[-1])

            go_to(page, "Scalers")
            tags = page.locator('[data-testid="stMultiSelect"]').filter(
                has_text="Scalers to compare").locator("[data-tag] span[title]")
            expect(tags.first).to_be_visible(timeout=STEP)
            chosen = list(dict.fromkeys(tags.all_inner_texts()))
            if chosen != DEFAULT_SCALERS:
                raise SystemExit(f"the Scalers page shows {chosen}, not {DEFAULT_SCALERS}")
            n = 1 + 5 * len(DEFAULT_SCALERS)  # the clip before + 5 figures per scaler
            page.wait_for_function(PLOTS_DRAWN_JS, arg=n, timeout=SLOW)
            wait_idle(page)
            page.wait_for_timeout(1000)
            saved.append(out / "scalers-fsdd.png")
            full_page(page, saved[-1])
        finally:
            browser.close()
    for path in saved:
        shrink(path, max_bytes)
        log(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    return saved


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fsdd", type=Path, default=REPO.parent / "shared" / "data" / "fsdd" /
                    "recordings", help="FSDD recordings folder (default: %(default)s)")
    ap.add_argument("--out", type=Path, default=REPO / "docs", help="output folder")
    ap.add_argument("--base-url", default=os.environ.get("SNDIAG_BASE_URL", ""),
                    help="use this running dashboard instead of starting one (its "
                         "SNDIAG_DATA_ROOT must hold the folder)")
    ap.add_argument("--folder", default=None, help="the folder as offered by a running "
                    "dashboard's Data page (default: the --fsdd folder's name)")
    ap.add_argument("--regex", default=FSDD_REGEX, help="file-name pattern of the labels")
    ap.add_argument("--chromium", default=os.environ.get("SNDIAG_CHROMIUM", "/usr/bin/chromium"))
    ap.add_argument("--max-mb", type=float, default=1.5, help="largest PNG size")
    args = ap.parse_args(argv)

    fsdd = args.fsdd.expanduser().resolve()
    if not args.base_url and not (fsdd.is_dir() and any(fsdd.glob("*.wav"))):
        ap.error(f"no wav files in {fsdd}")
    if not os.access(args.chromium, os.X_OK):
        ap.error(f"no Chromium at {args.chromium} (apt-get install chromium)")
    folder = args.folder or fsdd.name
    kw = dict(folder=folder, regex=args.regex, out=args.out.resolve(), chromium=args.chromium,
              max_bytes=int(args.max_mb * 1e6))
    t0 = time.monotonic()
    if args.base_url:
        capture(args.base_url.rstrip("/"), **kw)
    else:
        with dashboard(fsdd.parent) as url:
            capture(url, **kw)
    log(f"done in {time.monotonic() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
