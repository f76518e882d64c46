"""The dashboard's server: Streamlit's ASGI app (``st.App``) behind the access gate.

``app.py`` builds it, ``app = st.App("app.py", **app_options())``, when it is imported by the
server (``streamlit run app.py`` finds that ``app`` and serves it with uvicorn); when Streamlit
runs ``app.py`` as the page script, it calls the router instead. So ``streamlit run app.py``,
``bash scripts/app.sh`` and the Docker image all serve the same gated app.

The ``SNDIAG_OIDC_*`` and ``SNDIAG_COOKIE_SECRET`` variables become Streamlit's ``[auth]``
secrets here (they replace an ``[auth]`` section of ``.streamlit/secrets.toml``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sndiag.auth import AccessConfig, auth_secrets
from sndiag.errors import ParameterError
from sndiag.settings import Settings
from sndiag.ui.gate import AccessGate, Gate

__all__ = ["app_options", "file_secrets"]

log = logging.getLogger("sndiag.access")


def file_secrets() -> dict[str, Any]:
    """Streamlit's secrets (``.streamlit/secrets.toml``, merged with the ones given to
    ``st.App``) as a plain dict; empty when there are none.

    Raises
    ------
    ParameterError
        When a secrets file exists but cannot be read: the gate then refuses every request
        rather than serving an instance whose access control it could not read.
    """
    from streamlit import config
    from streamlit.runtime.secrets import secrets_singleton

    if secrets_singleton.load_if_toml_exists():
        return secrets_singleton.to_dict()
    broken = [p for p in config.get_option("secrets.files") if Path(p).exists()]
    if broken:
        raise ParameterError(f"cannot read the secrets file {broken[0]} (see the error above); "
                             "fix it: the access control it sets is unknown, so every request "
                             "is refused")
    return {}


def _log_to_stderr() -> None:
    """Sign-ins, refusals and sign-outs go to the server's output (INFO and above)."""
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


def app_options(settings: Settings | None = None) -> dict[str, Any]:
    """The keyword arguments of ``st.App`` that put the access gate in front of every route.

    Parameters
    ----------
    settings : Settings, optional
        Default: :meth:`Settings.from_env`.

    Returns
    -------
    dict
        ``secrets`` (the ``[auth]`` section of the ``SNDIAG_OIDC_*`` variables, or None),
        ``routes`` (the sign-in page) and ``middleware`` (:class:`~sndiag.ui.gate.AccessGate`).
    """
    from starlette.middleware import Middleware

    from sndiag.ui.signin import routes

    settings = settings or Settings.from_env()
    _log_to_stderr()
    gate = Gate(lambda: AccessConfig.resolve(settings, file_secrets()))
    return {"secrets": auth_secrets(settings), "routes": routes(gate),
            "middleware": [Middleware(AccessGate, gate=gate)]}
