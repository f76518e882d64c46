"""The Streamlit dashboard's support code: the only part of sndiag that imports streamlit.

Modules
-------
``state``    view state in ``st.session_state`` and the shareable URL (``st.query_params``)
``cache``    ``st.cache_data`` / ``st.cache_resource`` wrappers keyed by dataset content hash
``loaders``  uploads and server folders -> Dataset (no streamlit; testable)
``widgets``  error display, sidebar, page header, the mask in use
``server``   run the dashboard as a child process (browser tests, load test; no streamlit)

Import the modules themselves (``from sndiag.ui import state``); this package namespace is
kept empty so importing one module does not pull streamlit into the others.
"""
