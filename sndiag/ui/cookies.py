"""Streamlit's identity cookie (``_streamlit_user``), read and written outside a script run.

Streamlit's OpenID Connect login (``st.login``) leaves the user's claims in a cookie signed
with its cookie secret (``[auth] cookie_secret``, else ``server.cookieSecret``); every new
session reads ``st.user`` from it. The server's gate reads the same cookie on every request,
and a sign-in with the shared password writes one too (``provider = "password"``), so
``st.user`` and sign-out work the same in both modes. This module is the one place that relies
on these Streamlit internals (pinned in ``requirements.txt``).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from typing import Any

from streamlit.auth_util import get_cookie_with_chunks
from streamlit.web.server.server_util import get_cookie_secret
from streamlit.web.server.starlette.starlette_app_utils import (
    create_signed_value,
    decode_signed_value,
)
from streamlit.web.server.starlette.starlette_server_config import (
    AUTH_COOKIE_MAX_AGE_SECONDS,
    TOKENS_COOKIE_NAME,
    USER_COOKIE_NAME,
)

__all__ = ["MAX_AGE", "NAMES", "USER_COOKIE", "read_claims", "raw_value", "signed_claims"]

USER_COOKIE = USER_COOKIE_NAME
#: The cookies that make up a sign-in (and their numbered chunks).
NAMES = (USER_COOKIE_NAME, TOKENS_COOKIE_NAME)
#: Seconds a sign-in cookie lives in the browser.
MAX_AGE = AUTH_COOKIE_MAX_AGE_SECONDS


def raw_value(cookies: Mapping[str, str]) -> str:
    """The identity cookie as sent, chunks included (what a sign-out revokes); "" if none."""
    prefix = f"{USER_COOKIE_NAME}_"
    parts = [cookies.get(USER_COOKIE_NAME, "")]
    parts += [cookies[name] for name in sorted(cookies)
              if name.startswith(prefix) and name[len(prefix):].isdigit()]
    return "|".join(p for p in parts if p)


def read_claims(cookies: Mapping[str, str]) -> dict[str, Any] | None:
    """The claims of a validly signed, unexpired identity cookie, or None."""
    if USER_COOKIE_NAME not in cookies:
        return None
    secret = get_cookie_secret()

    def one(name: str) -> bytes | None:
        raw = cookies.get(name)
        if not raw:
            return None
        try:
            return decode_signed_value(secret, name, raw.encode("latin-1"))
        except UnicodeEncodeError:
            return None

    value = get_cookie_with_chunks(one, USER_COOKIE_NAME)
    if not value:
        return None
    try:
        claims = json.loads(value)
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(claims, dict) or not claims.get("is_logged_in"):
        return None
    expires = claims.get("sndiag_expires")
    if isinstance(expires, int | float) and expires < time.time():
        return None
    return claims


def signed_claims(*, name: str | None, origin: str, provider: str) -> str:
    """A signed identity cookie value for a sign-in with the shared password.

    ``origin`` (``scheme://host[:port]``) must be the page's origin: Streamlit's websocket
    accepts the cookie only from there.
    """
    claims = {"is_logged_in": True, "provider": provider, "name": name or None,
              "origin": origin, "sid": secrets.token_hex(8),
              "sndiag_expires": int(time.time()) + MAX_AGE}
    return create_signed_value(get_cookie_secret(), USER_COOKIE_NAME,
                               json.dumps(claims)).decode("utf-8")
