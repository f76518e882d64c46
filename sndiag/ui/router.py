"""The dashboard's router: the pages, the view state from the link, the shared sidebar.

``app.py`` calls :func:`main`. It sets up the session's view state (from the link on first
load), resolves the dataset in view, registers the pages with their URL paths
(``st.navigation``), draws the shared sidebar, runs the selected page, and writes the view back
to the URL so it can be shared.

Every page starts with :func:`page_setup`. Why a page may call :func:`main` itself: with a
``pages/`` folder beside the entry point, Streamlit's first script run in a fresh server process
(and every ``AppTest`` run) uses its folder-based navigation, which runs the requested page file
without ``app.py`` - no view state from the link, no sidebar. :func:`ensure_routed` notices that
and runs :func:`main` in place, which runs the page again, routed; the unrouted run then stops.
Nothing is rerun, so a click of this run is not lost.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

__all__ = ["PAGES", "ensure_routed", "main", "page_setup"]

#: The pages: (file under ``pages/``, title, icon, URL path).
PAGES = (
    ("data.py", "Data", ":material/folder_open:", "data"),
    ("statistics.py", "Statistics", ":material/grid_on:", "statistics"),
    ("mask.py", "Mask", ":material/filter_alt:", "mask"),
    ("scalers.py", "Scalers", ":material/tune:", "scalers"),
    ("experiment.py", "Experiment", ":material/science:", "experiment"),
    ("export.py", "Export", ":material/download:", "export"),
)
#: Session flag set while :func:`main` runs a page.
ROUTED = "_routed"


def _app_dir() -> Path:
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is None:  # bare execution: the repository layout
        return Path(__file__).resolve().parents[2]
    return Path(str(ctx.pages_manager.main_script_path)).resolve().parent


def _pages() -> list[st.Page]:
    here = _app_dir()
    return [st.Page(str(here / "pages" / file), title=title, icon=icon, url_path=url,
                    default=i == 0)
            for i, (file, title, icon, url) in enumerate(PAGES)
            if (here / "pages" / file).is_file()]


def main() -> None:
    """Run the dashboard: access check, view state, navigation, sidebar, the page, the link."""
    from sndiag.ui import cache, identity, state, widgets

    st.set_page_config(page_title="sndiag — should I normalize my spectrograms?",
                       page_icon=":material/graphic_eq:", layout="wide")
    pages = _pages()
    user = identity.require_access(pages)  # stops here unless signed in (when required)

    ds = None
    with widgets.guard():
        state.init(known_scalers=list(cache.scaler_registry()))
        ds = cache.current_dataset()

    page = st.navigation(pages)
    side = st.sidebar.empty()
    identity.sidebar_user(user)

    def sidebar_and_link() -> None:
        """Drawn before the page (a page may st.stop()) and again after it, so they show this
        run's mask."""
        with widgets.guard():
            widgets.sidebar(cache.current_dataset(), side.container())
            state.sync_query_params(demo_id=cache.demo_dataset().content_hash,
                                    page=page.url_path)

    if ds is None:
        st.stop()
    sidebar_and_link()
    st.session_state[ROUTED] = True
    try:
        with widgets.guard():
            page.run()
    finally:
        st.session_state.pop(ROUTED, None)
    sidebar_and_link()


def ensure_routed() -> None:
    """Run the page through :func:`main` when Streamlit ran the page file on its own."""
    if st.session_state.get(ROUTED):
        return
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    if get_script_run_ctx() is None:  # bare execution (python pages/x.py): nothing to route
        return
    PagesManager.uses_pages_directory = False  # from now on this process runs app.py
    main()
    st.stop()


def page_setup(title: str, caption: str | None = None) -> None:
    """What every page does first: make sure it runs routed, then title and pending notices
    (e.g. an unknown dataset in the link)."""
    from sndiag.ui import state

    ensure_routed()
    st.title(title)
    if caption:
        st.caption(caption)
    for kind, text in state.pop_notices():
        getattr(st, kind if kind in ("warning", "info", "success", "error") else "warning")(text)
