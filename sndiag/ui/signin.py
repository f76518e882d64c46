"""The sign-in page of a private instance (``/_sndiag/signin``), served in front of the app.

The gate (:mod:`sndiag.ui.gate`) lets a client that has not signed in reach only this page, so
it is plain HTML with no script. With the shared password it is a form (and an optional name,
recorded on the datasets the user adds): a right password sets the identity cookie and returns
to the link the user opened; a wrong one is counted against the client's address
(:class:`~sndiag.auth.SignInThrottle`), and during a wait tries are refused (429) unchecked.
With identity providers it offers one button per provider, which hands over to Streamlit's
OpenID Connect login (``/auth/login``) after remembering the link the user opened.
"""

from __future__ import annotations

import html
import logging
import secrets
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from sndiag.auth import check_password
from sndiag.auth.identity import PASSWORD_PROVIDER
from sndiag.ui import cookies
from sndiag.ui.gate import NEXT_COOKIE, SIGNIN_PATH, Gate, safe_next
from sndiag.ui.html_pages import page as _page

__all__ = ["MAX_FORM_BYTES", "routes"]

log = logging.getLogger("sndiag.access")

#: The largest sign-in form body read; a larger one is refused before it is read.
MAX_FORM_BYTES = 16 * 1024
CSRF_COOKIE = "sndiag_csrf"

def _signin_body(gate: Gate, *, next_link: str, csrf: str, message: str = "",
                 kind: str = "error") -> str:
    config = gate.config
    note = (f"<p class=\"{kind}\" role=\"{'alert' if kind == 'error' else 'status'}\">"
            f"{html.escape(message)}</p>" if message else "")
    head = ("<h1>sndiag</h1><p class=\"muted\">Should I normalize my spectrograms? This "
            "instance is private.</p>" + note)
    if config.mode == "oidc":
        buttons = "".join(
            f"<p><a class=\"button\" href=\"{SIGNIN_PATH}/{quote(p.name)}?next="
            f"{quote(next_link, safe='')}\">Sign in with {html.escape(p.label)}</a></p>"
            for p in config.providers)
        return head + buttons
    return head + (
        f"<form method=\"post\" action=\"{SIGNIN_PATH}\">"
        f"<input type=\"hidden\" name=\"csrf\" value=\"{html.escape(csrf)}\">"
        f"<input type=\"hidden\" name=\"next\" value=\"{html.escape(next_link)}\">"
        "<label for=\"password\">Password</label>"
        "<input id=\"password\" name=\"password\" type=\"password\" required autofocus "
        "autocomplete=\"current-password\">"
        "<label for=\"name\">Your name <span class=\"muted\">(optional: shown on the datasets "
        "you add)</span></label>"
        "<input id=\"name\" name=\"name\" type=\"text\" maxlength=\"80\" autocomplete=\"name\">"
        "<button type=\"submit\">Sign in</button></form>"
        "<p class=\"muted\">Ask the person who shared the link for the password.</p>")


def _client(request: Any) -> str:
    return request.client.host if request.client else "unknown"


def _origin(request: Any) -> str:
    """The page's origin (what Streamlit's WebSocket checks the identity cookie against)."""
    host = request.headers.get("host", "")
    given = request.headers.get("origin", "")
    parts = urlsplit(given)
    if parts.scheme in ("http", "https") and parts.netloc == host:
        return f"{parts.scheme}://{parts.netloc}"
    return f"{request.url.scheme}://{host}"


async def _read_form(request: Any) -> dict[str, str] | None:
    """The urlencoded form, or None when it is larger than :data:`MAX_FORM_BYTES`."""
    try:
        if int(request.headers.get("content-length") or 0) > MAX_FORM_BYTES:
            return None
    except ValueError:
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in fields.items() if v}


def _clean_name(value: str) -> str | None:
    name = " ".join("".join(c for c in value if c.isprintable()).split())[:80]
    return name or None


def routes(gate: Gate) -> list[Any]:
    """The sign-in routes, to give ``st.App(routes=...)``."""
    from starlette.responses import HTMLResponse, RedirectResponse, Response
    from starlette.routing import Route
    from streamlit.user_info import generate_login_redirect_url

    def render(request: Any, status: int = 200, message: str = "", kind: str = "error",
               next_link: str | None = None, headers: dict[str, str] | None = None) -> Response:
        csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(18)
        link = next_link if next_link is not None else safe_next(request.query_params.get("next"))
        response = HTMLResponse(_page(_signin_body(gate, next_link=link, csrf=csrf,
                                                   message=message, kind=kind)),
                                status_code=status, headers={"cache-control": "no-store",
                                                             **(headers or {})})
        response.set_cookie(CSRF_COOKIE, csrf, max_age=3600, path=SIGNIN_PATH, httponly=True,
                            samesite="strict")
        return response

    async def page(request: Any) -> Response:
        if not gate.config.enabled:
            return RedirectResponse("/", status_code=303)
        if gate.identity(dict(request.cookies)) is not None:
            return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
        if request.query_params.get("signed_out"):
            return render(request, message="You are signed out.", kind="note")
        return render(request)

    async def submit(request: Any) -> Response:
        config = gate.config
        if config.mode != "password":
            return RedirectResponse(SIGNIN_PATH, status_code=303)
        form = await _read_form(request)
        if form is None:
            return Response("sign-in form too large\n", status_code=413,
                            headers={"connection": "close"})
        link = safe_next(form.get("next"))
        token = request.cookies.get(CSRF_COOKIE)
        if not token or not secrets.compare_digest(token, form.get("csrf", "")):
            return render(request, 403, "The sign-in form expired. Please try again.",
                          next_link=link)
        address = _client(request)
        wait = gate.throttle.wait(address)
        if wait > 0:
            log.warning("sign-in from %s refused unchecked: waiting after %d wrong passwords "
                        "(%s)", address, gate.throttle.failures(address),
                        gate.throttle.wait_text(address))
            return render(request, 429, "Too many wrong passwords from your address: "
                          f"{gate.throttle.wait_text(address)}.", next_link=link,
                          headers={"retry-after": str(int(wait) + 1)})
        if not check_password(form.get("password", ""), config.password or ""):
            failures = gate.throttle.failed(address)
            waiting = gate.throttle.wait(address) > 0
            log.warning("wrong password from %s (%d in a row%s)", address, failures,
                        f"; {gate.throttle.wait_text(address)}" if waiting else "")
            text = "Wrong password." + (f" Too many wrong passwords from your address: "
                                        f"{gate.throttle.wait_text(address)}." if waiting else "")
            return render(request, 401, text, next_link=link)
        gate.throttle.succeeded(address)
        name = _clean_name(form.get("name", ""))
        log.info("signed in with the password: %s from %s", name or "(no name)", address)
        response = RedirectResponse(link, status_code=303)
        response.set_cookie(cookies.USER_COOKIE, cookies.signed_claims(
            name=name, origin=_origin(request), provider=PASSWORD_PROVIDER),
            max_age=cookies.MAX_AGE, path="/", httponly=True, samesite="lax")
        response.delete_cookie(CSRF_COOKIE, path=SIGNIN_PATH)
        return response

    async def provider(request: Any) -> Response:
        name = request.path_params["provider"]
        if name not in {p.name for p in gate.config.providers}:
            return Response("no such identity provider\n", status_code=404)
        response = RedirectResponse(generate_login_redirect_url(name), status_code=303)
        response.set_cookie(NEXT_COOKIE, safe_next(request.query_params.get("next")),
                            max_age=900, path="/", httponly=True, samesite="lax")
        return response

    return [Route(SIGNIN_PATH, page, methods=["GET"]),
            Route(SIGNIN_PATH, submit, methods=["POST"]),
            Route(SIGNIN_PATH + "/{provider}", provider, methods=["GET"])]
