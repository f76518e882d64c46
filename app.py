"""sndiag dashboard. Run with ``streamlit run app.py`` (or ``bash scripts/app.sh``).

This file is both the server and the page script:

* imported by the server (``streamlit run app.py`` finds the ``app`` below and serves it), it
  is Streamlit's ASGI app behind sndiag's access gate (:func:`sndiag.ui.server.app_options`):
  with a password or an identity provider configured, no route answers before sign-in;
* run by Streamlit for each session (and by ``AppTest``), it is the router
  (:func:`sndiag.ui.router.main`): pages, view state from the link, sidebar.
"""

import streamlit as st

if __name__ == "__main__":
    from sndiag.ui.router import main

    main()
else:
    from sndiag.ui import warmup
    from sndiag.ui.server import app_options

    warmup.run()  # the first page run's heavy imports, before the server serves
    warmup.prefill_sample()  # the sample it opens on, decoded into the spectrogram cache
    app = st.App("app.py", **app_options())
