"""The gate in front of every route of the server: no work for a client that has not signed in.

:class:`AccessGate` is ASGI middleware on ``st.App`` (see :mod:`sndiag.ui.server`). When access
control is on (:class:`~sndiag.auth.AccessConfig`: the shared password or an identity provider)
it looks at every HTTP request and WebSocket handshake before Streamlit does, and lets through
only

* the health check (``/_stcore/health``), for load balancers and the Docker ``HEALTHCHECK``;
* the sign-in page (``/_sndiag/signin``, :mod:`sndiag.ui.signin`) and, with a provider,
  Streamlit's ``/auth/login`` and ``/oauth2callback``;
* requests carrying a valid, unrevoked identity cookie of a user the allow-list admits.

Everything else - the app's pages and its JavaScript, the session's WebSocket, uploads
(``PUT /_stcore/upload_file/...``), media, component assets, Streamlit's other ``/_stcore/*``
endpoints - is refused before the request body is read: a browser asking for a page is sent
to the sign-in page (303), any other request gets 401 (not signed in) or 403 (signed in, but
not on the allow-list), and a WebSocket handshake is answered 401/403 instead of being
accepted. Signing out (``/auth/logout``) revokes the cookie on the server too.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, urlsplit

from sndiag.auth import AccessConfig, Identity, Revocations, SignInThrottle
from sndiag.auth.identity import PASSWORD_PROVIDER
from sndiag.ui import cookies
from sndiag.ui.html_pages import refused_page

__all__ = ["OPEN_PATHS", "SIGNIN_PATH", "AccessGate", "Gate", "safe_next"]

log = logging.getLogger("sndiag.access")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The sign-in page (``/_sndiag/signin``, and ``/_sndiag/signin/<provider>``): always reachable.
SIGNIN_PATH = "/_sndiag/signin"
_SIGNIN = re.compile(r"^/_sndiag/signin(/[A-Za-z0-9-]{1,64})?$")
#: Answered without signing in.
OPEN_PATHS = frozenset({"/_stcore/health"})
#: Streamlit's OpenID Connect routes (reachable when a provider is configured).
OIDC_PATHS = frozenset({"/auth/login", "/oauth2callback"})
LOGOUT_PATH = "/auth/logout"
#: Cookie holding the link a user opened before signing in with a provider.
NEXT_COOKIE = "sndiag_next"


def safe_next(value: str | None) -> str:
    """A local link to return to after signing in: a path on this server, else ``/``.

    Examples
    --------
    >>> safe_next("/scalers?ds=ab&clip=3")
    '/scalers?ds=ab&clip=3'
    >>> [safe_next(v) for v in ["//evil.org", "https://evil.org/", "/\\\\evil", None, "/_sndiag/x"]]
    ['/', '/', '/', '/', '/']
    """
    if not value or len(value) > 4000 or not value.startswith("/"):
        return "/"
    if value.startswith(("//", "/\\")) or any(c in value for c in "\r\n\t\\"):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path.startswith(("/_sndiag/", "/auth/", "/_stcore/")):
        return "/"
    return value


class Gate:
    """The state the gate and the sign-in pages share in one server process.

    Parameters
    ----------
    resolve : callable
        Returns the :class:`AccessConfig` in force; called once, on the first request (after
        Streamlit has loaded its secrets).
    throttle : SignInThrottle, optional
        Wrong passwords per client address.
    """

    def __init__(self, resolve: Callable[[], AccessConfig], *,
                 throttle: SignInThrottle | None = None,
                 revocations: Revocations | None = None) -> None:
        self._resolve = resolve
        self.throttle = throttle or SignInThrottle()
        self.revocations = revocations or Revocations()

    @functools.cached_property
    def config(self) -> AccessConfig:
        """The access control in force (resolved once)."""
        cfg = self._resolve()
        if cfg.mode == "oidc" and cfg.password:
            log.warning("both an identity provider and a password are configured: users sign "
                        "in with the provider; the password is not used")
        log.info("access control: %s%s", cfg.mode,
                 f" ({', '.join(p.label for p in cfg.providers)})" if cfg.providers else "")
        return cfg

    def identity(self, cookie_jar: dict[str, str]) -> Identity | None:
        """The signed-in user of a request's cookies, or None (no cookie, bad signature,
        expired, revoked, or a sign-in of a mode that is not in force)."""
        claims = cookies.read_claims(cookie_jar)
        if claims is None or self.revocations.is_revoked(cookies.raw_value(cookie_jar)):
            return None
        user = Identity.from_claims(claims)
        if user is None:
            return None
        is_password = user.provider == PASSWORD_PROVIDER
        if is_password != (self.config.mode == "password"):
            return None
        return user

    def sign_out(self, cookie_jar: dict[str, str]) -> None:
        """Refuse this request's identity cookie from now on (until it would have expired)."""
        raw = cookies.raw_value(cookie_jar)
        if raw:
            self.revocations.revoke(raw, until=time.time() + cookies.MAX_AGE + 86400)


async def _respond(send: Send, status: int, body: str, *, content_type: str = "text/plain",
                   headers: list[tuple[str, str]] = (), websocket: bool = False) -> None:
    data = body.encode("utf-8")
    raw_headers = [(b"content-type", f"{content_type}; charset=utf-8".encode()),
                   (b"content-length", str(len(data)).encode()),
                   (b"cache-control", b"no-store")]
    raw_headers += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    prefix = "websocket.http.response" if websocket else "http.response"
    await send({"type": f"{prefix}.start", "status": status, "headers": raw_headers})
    await send({"type": f"{prefix}.body", "body": data, "more_body": False})


def _cookie_jar(scope: Scope) -> dict[str, str]:
    from starlette.requests import HTTPConnection

    return dict(HTTPConnection(scope).cookies)


def _wants_page(scope: Scope) -> bool:
    if scope["type"] != "http" or scope.get("method") not in ("GET", "HEAD"):
        return False
    accept = dict(scope.get("headers") or []).get(b"accept", b"").decode("latin-1")
    return "text/html" in accept


def _link(scope: Scope) -> str:
    query = scope.get("query_string", b"").decode("latin-1")
    return scope.get("path", "/") + (f"?{query}" if query else "")


class AccessGate:
    """ASGI middleware: refuses every route to a client that has not signed in.

    Parameters
    ----------
    app : ASGI application
        What is behind the gate (Streamlit's routes and middleware).
    gate : Gate
        The shared state (access control, throttle, revoked cookies).
    """

    def __init__(self, app: ASGIApp, gate: Gate) -> None:
        self.app = app
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        try:
            config = self.gate.config
        except Exception:  # fail closed: unknown access control serves nothing
            log.exception("access control cannot be read; refusing %s", scope.get("path"))
            await self._refuse(scope, send, 503, "This sndiag instance is misconfigured; see "
                               "the server's log.")
            return
        path = scope.get("path", "/")
        if (not config.enabled or path in OPEN_PATHS or _SIGNIN.match(path)
                or (config.mode == "oidc" and path in OIDC_PATHS)):
            await self.app(scope, receive, send)
            return
        jar = _cookie_jar(scope)
        user = self.gate.identity(jar)
        if path == LOGOUT_PATH:
            self.gate.sign_out(jar)
            if user is not None:
                log.info("signed out: %s from %s", user.owner, _address(scope))
            if config.mode == "password":  # Streamlit's logout knows only providers
                await self._signed_out(scope, send, jar)
                return
            await self.app(scope, receive, send)
            return
        if user is None:
            await self._refuse(scope, send, 401, "Sign in first: this sndiag instance is "
                               "private.")
            return
        if not config.policy.admits(user):
            log.warning("refused %s (%s) from %s: not on the allow-list", user.owner,
                        user.provider, _address(scope))
            await self._refuse(scope, send, 403, f"{user.owner} may not use this sndiag "
                               "instance. Sign out and use another account, or ask its admin "
                               "to add you to SNDIAG_ALLOWED_USERS.")
            return
        if path == "/" and NEXT_COOKIE in jar and _wants_page(scope):
            target = safe_next(jar[NEXT_COOKIE])
            await _respond(send, 303, "", headers=[
                ("location", target), ("set-cookie", f"{NEXT_COOKIE}=; Path=/; Max-Age=0")])
            return
        await self.app(scope, receive, send)

    async def _refuse(self, scope: Scope, send: Send, status: int, text: str) -> None:
        """401/403 without reading the request; a page request goes to the sign-in page."""
        if scope["type"] == "websocket":
            if "websocket.http.response" in scope.get("extensions", {}):
                await _respond(send, status, text, websocket=True)
            else:  # the server then answers the handshake with 403
                await send({"type": "websocket.close", "code": 1008})
            return
        if status == 401 and _wants_page(scope):  # (503 and 403 pages are shown in place)
            target = f"{SIGNIN_PATH}?next={quote(safe_next(_link(scope)), safe='')}"
            await _respond(send, 303, "", headers=[("location", target)])
            return
        headers = [("connection", "close")] if scope.get("method") not in ("GET", "HEAD") else []
        if _wants_page(scope):
            await _respond(send, status, refused_page(text), content_type="text/html",
                           headers=headers)
        else:
            await _respond(send, status, text + "\n", headers=headers)

    async def _signed_out(self, scope: Scope, send: Send, jar: dict[str, str]) -> None:
        expired = [("set-cookie", f"{name}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax")
                   for name in jar if name.startswith(cookies.NAMES)]
        await _respond(send, 303, "", headers=[("location", f"{SIGNIN_PATH}?signed_out=1"),
                                               *expired])


def _address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"
