"""sndiag dashboard: the router. Run with ``streamlit run app.py``.

Pages live in ``pages/``; each is a short script (widgets -> sndiag -> figures). This file only
sets up the session's view state (from the link on first load), resolves the dataset in view,
registers the pages with their URL paths, draws the shared sidebar, runs the selected page, and
writes the view back to the URL so it can be shared.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from sndiag.ui import cache, state, widgets
from sndiag.ui.login import require_login

HERE = Path(__file__).parent

st.set_page_config(page_title="sndiag — should I normalize my spectrograms?",
                   page_icon=":material/graphic_eq:", layout="wide")
pages = [
    st.Page("pages/data.py", title="Data", icon=":material/folder_open:", url_path="data",
            default=True),
    st.Page("pages/statistics.py", title="Statistics", icon=":material/grid_on:",
            url_path="statistics"),
    st.Page("pages/mask.py", title="Mask", icon=":material/filter_alt:", url_path="mask"),
    st.Page("pages/scalers.py", title="Scalers", icon=":material/tune:", url_path="scalers"),
]
if (HERE / "pages" / "experiment.py").is_file():
    pages.append(st.Page("pages/experiment.py", title="Experiment", icon=":material/science:",
                         url_path="experiment"))
pages.append(st.Page("pages/export.py", title="Export", icon=":material/download:",
                     url_path="export"))

require_login(pages)  # no-op unless SNDIAG_PASSWORD is set

ds = None
with widgets.guard():
    state.init(known_scalers=list(cache.scaler_registry()))
    ds = cache.current_dataset()

page = st.navigation(pages)
side = st.sidebar.empty()


def _sidebar_and_link() -> None:
    """Shared sidebar and the view in the URL; drawn before the page (a page may st.stop())
    and again after it, so they show this run's mask."""
    with widgets.guard():
        widgets.sidebar(cache.current_dataset(), side.container())
        state.sync_query_params(demo_id=cache.demo_dataset().content_hash,
                                page=page.url_path)


if ds is None:
    st.stop()
_sidebar_and_link()
st.session_state[widgets.ROUTED] = True  # pages check it (see widgets.page_setup)
try:
    with widgets.guard():
        page.run()
finally:
    st.session_state.pop(widgets.ROUTED, None)
_sidebar_and_link()
