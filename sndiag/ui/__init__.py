"""The Streamlit dashboard's glue: the only part of sndiag that imports streamlit.

Modules
-------
``server``   the server: ``st.App`` keyword arguments with the access gate (``app.py`` builds it)
``warmup``   the first page run's heavy imports, done as the server starts
``gate``     ASGI middleware refusing every route before sign-in; the shared sign-in state
``signin``   the sign-in page's routes (password form, provider buttons)
``html_pages`` the gate's own pages (sign-in, refused) as plain HTML
``cookies``  Streamlit's identity cookie, read and written outside a script run
``identity`` ``st.user`` as an :class:`~sndiag.auth.Identity`, the page-level check, sign out
``router``   the pages, the access check, the shared sidebar; what ``app.py`` runs
``state``    view state in ``st.session_state`` and the shareable URL (``st.query_params``)
``cache``    ``st.cache_data`` / ``st.cache_resource`` wrappers keyed by dataset content hash
``widgets``  error display, sidebar, page header, the mask in use, scaler option widgets

Everything these call lives below them in the package (uploads: :mod:`sndiag.io.uploads`; mask
rules: :mod:`sndiag.masks`; scaler options: :mod:`sndiag.scalers`). Import the modules
themselves (``from sndiag.ui import state``); this package namespace is kept empty so importing
one module does not pull streamlit into the others.
"""
