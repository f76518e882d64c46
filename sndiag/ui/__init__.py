"""The Streamlit dashboard's glue: the only part of sndiag that imports streamlit.

Modules
-------
``router``   the pages, the login gate, the shared sidebar; what ``app.py`` runs
``state``    view state in ``st.session_state`` and the shareable URL (``st.query_params``)
``cache``    ``st.cache_data`` / ``st.cache_resource`` wrappers keyed by dataset content hash
``widgets``  error display, sidebar, page header, the mask in use, scaler option widgets
``login``    the password gate

Everything these call lives below them in the package (uploads: :mod:`sndiag.io.uploads`; mask
rules: :mod:`sndiag.masks`; scaler options: :mod:`sndiag.scalers`). Import the modules
themselves (``from sndiag.ui import state``); this package namespace is kept empty so importing
one module does not pull streamlit into the others.
"""
