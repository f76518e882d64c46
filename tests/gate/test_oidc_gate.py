"""The gate with an identity provider (a local OpenID Connect provider), by raw HTTP.

Before sign-in nothing but the sign-in page, the health check and Streamlit's OIDC routes
answer; after sign-in through the provider the WebSocket and uploads work; a user the
allow-list does not name is refused (403) everywhere; signing out revokes the cookie.
"""

from __future__ import annotations

import pytest
import requests

from tests.support.oidc import identity_provider, oidc_env, sign_in_with_provider
from tests.support.probe import MB, open_session, put_upload, upgrade_status
from tests.support.server import free_port, running_app

FAKE_SESSION = "3f2b8c1e-0000-4000-8000-000000000000"
HTML = {"Accept": "text/html"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("oidc-gate")
    (tmp / "store").mkdir()
    with identity_provider() as idp:
        port = free_port()
        env = oidc_env(idp, port, SNDIAG_ALLOWED_USERS="@lab.org",
                       SNDIAG_PASSWORD="ignored with a provider")
        with running_app(tmp / "store", tmp / "server.log", env=env, port=port) as srv:
            srv.env = env
            yield srv


def jar_of(session: requests.Session) -> dict[str, str]:
    return {c.name: c.value for c in session.cookies if c.domain.startswith("127.0.0.1")}


def test_sign_in_page_offers_the_provider_and_nothing_else(server):
    r = requests.get(f"{server.base_url}/data", headers=HTML, timeout=10)
    assert r.status_code == 200 and r.url.startswith(f"{server.base_url}/_sndiag/signin")
    assert "Sign in with Test IdP" in r.text and 'type="password"' not in r.text
    assert upgrade_status(server.base_url) == 401
    assert put_upload(server.base_url, FAKE_SESSION, 100 * MB).status == 401


def test_signed_in_user_gets_the_app_and_its_link(server):
    http = requests.Session()
    last = sign_in_with_provider(server.base_url, "ann", session=http, next_link="/mask?clip=4")
    assert last.status_code == 200 and last.url == f"{server.base_url}/mask?clip=4"
    jar = jar_of(http)
    assert "_streamlit_user" in jar and "sndiag_next" not in jar
    assert upgrade_status(server.base_url, jar) == 101
    with open_session(server.base_url, jar) as (_, session_id, xsrf):
        assert put_upload(server.base_url, session_id, MB, cookies=jar, xsrf=xsrf).status == 204


def test_allow_list_refuses_other_accounts_everywhere(server):
    http = requests.Session()
    last = sign_in_with_provider(server.base_url, "eve", session=http)
    assert last.status_code == 403 and "eve@evil.example may not use" in last.text
    jar = jar_of(http)
    assert upgrade_status(server.base_url, jar) == 403
    assert put_upload(server.base_url, FAKE_SESSION, 100 * MB, cookies=jar).status == 403
    assert "refused eve@evil.example (default) from 127.0.0.1: not on the allow-list" in (
        server.log())


def test_the_password_does_not_open_an_instance_with_a_provider(server):
    """No password form, and a validly signed password sign-in cookie is no identity here."""
    import json

    from streamlit.web.server.starlette.starlette_app_utils import create_signed_value

    r = requests.post(f"{server.base_url}/_sndiag/signin", timeout=10, allow_redirects=False,
                      data={"password": "ignored with a provider"})
    assert r.status_code == 303 and "_streamlit_user" not in r.cookies
    claims = {"is_logged_in": True, "provider": "password", "name": "Mallory",
              "origin": server.base_url}
    forged = create_signed_value(server.env["SNDIAG_COOKIE_SECRET"], "_streamlit_user",
                                 json.dumps(claims)).decode()
    assert upgrade_status(server.base_url, {"_streamlit_user": forged}) == 401


def test_sign_out_revokes_the_cookie(server):
    http = requests.Session()
    sign_in_with_provider(server.base_url, "bob", session=http)
    jar = jar_of(http)
    assert upgrade_status(server.base_url, jar) == 101
    out = requests.get(f"{server.base_url}/auth/logout", cookies=jar, timeout=10,
                       allow_redirects=False)
    assert out.status_code in (302, 303)
    assert upgrade_status(server.base_url, jar) == 401
    assert "signed out: bob@lab.org from 127.0.0.1" in server.log()
