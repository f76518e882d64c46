"""A local OpenID Connect provider for the tests (``oidc-provider-mock``), on loopback only.

:func:`identity_provider` runs it in a thread on a free port of 127.0.0.1 with a few users;
:func:`oidc_env` gives the ``SNDIAG_OIDC_*`` variables of a dashboard on ``port`` that signs in
with it; :func:`sign_in_with_provider` goes through the whole redirect dance with ``requests``
(the dashboard's sign-in page, Streamlit's ``/auth/login``, the provider's form, the callback).
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator

import requests

from tests.support.server import free_port

__all__ = ["USERS", "identity_provider", "oidc_env", "sign_in_with_provider"]

#: sub -> claims. Ann and the admin are on the allow-list (@lab.org), Eve is not.
USERS = {
    "ann": {"email": "ann@lab.org", "email_verified": True, "name": "Ann Lee"},
    "bob": {"email": "bob@lab.org", "email_verified": True, "name": "Bob Stone"},
    "boss": {"email": "boss@lab.org", "email_verified": True, "name": "The Admin"},
    "eve": {"email": "eve@evil.example", "email_verified": True, "name": "Eve"},
}


@contextlib.contextmanager
def identity_provider() -> Iterator[str]:
    """Run the provider; yields its base URL (``http://localhost:<port>``)."""
    from oidc_provider_mock import User, run_server_in_thread

    users = [User(sub=sub, claims=claims) for sub, claims in USERS.items()]
    with run_server_in_thread(port=free_port(), user_claims=users) as server:
        yield f"http://localhost:{server.server_port}"


def oidc_env(provider_url: str, port: int, **extra: str) -> dict[str, str]:
    """The environment of a dashboard on ``127.0.0.1:port`` signing in with ``provider_url``."""
    return {"SNDIAG_OIDC_SERVER_METADATA_URL": f"{provider_url}/.well-known/openid-configuration",
            "SNDIAG_OIDC_CLIENT_ID": "sndiag-tests", "SNDIAG_OIDC_CLIENT_SECRET": "not-checked",
            "SNDIAG_OIDC_REDIRECT_URI": f"http://127.0.0.1:{port}/oauth2callback",
            "SNDIAG_OIDC_PROVIDER": "Test IdP", "SNDIAG_COOKIE_SECRET": secrets.token_hex(32),
            **extra}


def sign_in_with_provider(base_url: str, sub: str, *, next_link: str = "/",
                          session: requests.Session | None = None) -> requests.Response:
    """Sign in as ``sub`` through the provider's form; returns the last response (the page the
    dashboard sent the browser to, redirects followed)."""
    http = session or requests.Session()
    http.headers["Accept"] = "text/html,application/xhtml+xml"  # as a browser navigates
    start = http.get(f"{base_url}/_sndiag/signin/default", params={"next": next_link},
                     timeout=30)
    assert start.status_code == 200 and "Authorize" in start.text, start.text[:500]
    return http.post(start.url, data={"sub": sub}, timeout=60)
