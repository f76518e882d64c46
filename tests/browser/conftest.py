"""Fixtures of the end-to-end browser tests: a live dashboard server and Debian's Chromium.

The server is started once per session (``streamlit run app.py`` on a free port with a temporary
store), unless ``SNDIAG_BASE_URL`` points at one that is already running (e.g. a docker smoke
test), in which case that one is used and left alone. Chromium is Debian's ``/usr/bin/chromium``
(``SNDIAG_CHROMIUM`` overrides the path), driven by Playwright; ``playwright install`` is never
needed. Every test module here is skipped, with the reason, when either is missing.

Screenshots go to ``artifacts/browser/`` (git-ignored): ``shot(page, name)`` in the tests, and
``<test>-failed.png`` of a failing test's first page.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import healthy, running_app

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts" / "browser"
CHROMIUM = os.environ.get("SNDIAG_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
STARTUP_TIMEOUT = 90.0  # s until /_stcore/health answers
VIEWPORT = {"width": 1400, "height": 1000}


def browser_unavailable() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright (Python) is not installed: pip install -r requirements-dev.txt"
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return (f"no Chromium at {CHROMIUM} (apt-get install chromium; never `playwright "
                "install`)")
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = browser_unavailable()
    if reason is None:
        return
    skip = pytest.mark.skip(reason=reason)
    here = Path(__file__).parent
    for item in items:
        if "browser" in item.keywords or here in Path(str(item.fspath)).parents:
            item.add_marker(skip)


# -- the server -------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of the dashboard under test: ``$SNDIAG_BASE_URL`` or a server started here."""
    given = os.environ.get("SNDIAG_BASE_URL", "").strip()
    if given:
        given = given.rstrip("/")
        if not healthy(given):
            pytest.fail(f"SNDIAG_BASE_URL={given} does not answer /_stcore/health")
        yield given
        return
    tmp = tmp_path_factory.mktemp("e2e")
    store = tmp / "store"
    store.mkdir()
    with running_app(store, tmp / "streamlit.log", timeout=STARTUP_TIMEOUT) as server:
        yield server.base_url


# -- the browser ------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    reason = browser_unavailable()
    if reason is not None:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def new_page(browser: Any, request: pytest.FixtureRequest, artifacts: Path) -> Iterator[Any]:
    """``new_page()`` opens a page in a fresh browser context (no shared cookies or session,
    like a colleague opening a link). All are closed after the test; on failure the first
    page is saved as ``artifacts/browser/<test>-failed.png``."""
    contexts: list[Any] = []
    pages: list[Any] = []

    def make() -> Any:
        ctx = browser.new_context(viewport=VIEWPORT)
        ctx.set_default_timeout(30_000)
        contexts.append(ctx)
        page = ctx.new_page()
        pages.append(page)
        return page

    yield make
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed and pages:
        with contextlib.suppress(Exception):
            screenshot(pages[0], artifacts / f"{request.node.name}-failed.png")
    for ctx in contexts:
        with contextlib.suppress(Exception):
            ctx.close()


@pytest.fixture
def page(new_page: Any) -> Any:
    """One page in a fresh browser context."""
    return new_page()


@pytest.fixture
def shot(artifacts: Path) -> Any:
    """``shot(page, name)`` saves a full-page screenshot as ``artifacts/browser/<name>.png``."""

    def save(page: Any, name: str, *, full: bool = True) -> Path:
        return screenshot(page, artifacts / f"{name}.png", full=full)

    return save


# -- screenshots ------------------------------------------------------------------------------
SCROLLER_JS = """() => {
  const main = document.querySelector('[data-testid="stMain"]');
  return main ? main.scrollHeight : document.documentElement.scrollHeight;
}"""


def screenshot(page: Any, path: Path, *, full: bool = True, max_height: int = 16_000) -> Path:
    """Save a screenshot; ``full`` captures the whole page.

    Streamlit scrolls inside ``stMain``, not the document, so Playwright's ``full_page`` only
    sees the viewport: the viewport is stretched to the content's height for the shot and
    restored afterwards (plotly figures keep their size: only the height changes).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not full:
        page.screenshot(path=str(path))
        return path
    size = page.viewport_size or VIEWPORT
    try:
        height = size["height"]
        for _ in range(5):  # grow until the content height is stable
            want = min(max(int(page.evaluate(SCROLLER_JS)), size["height"]), max_height)
            if want == height:
                break
            height = want
            page.set_viewport_size({"width": size["width"], "height": height})
            page.wait_for_timeout(400)
        page.screenshot(path=str(path))
    finally:
        page.set_viewport_size(size)
    return path
