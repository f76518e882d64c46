"""sndiag dashboard. Run with ``streamlit run app.py``.

The router (pages, view state from the link, sidebar, the link written back) is
:func:`sndiag.ui.router.main`; each page in ``pages/`` is a short script: widgets -> sndiag ->
figures.
"""

from sndiag.ui.router import main

main()
