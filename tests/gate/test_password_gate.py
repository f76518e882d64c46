"""The gate in front of every route, against a real server with a shared password, by raw HTTP.

What a hostile client does on the sign-in page - take a session id, an XSRF cookie and upload,
open the app's WebSocket, fetch media and component assets - is refused before any work is
done (401/403, the body unread, server memory flat); after sign-in the same requests pass;
after sign-out the old cookie is refused. Wrong passwords are limited per client address
across reloads and parallel sessions, and logged.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import unquote

import pytest
import requests

from tests.support.probe import (
    MB,
    open_session,
    password_sign_in,
    put_upload,
    server_rss,
    upgrade_status,
)
from tests.support.server import running_app

PASSWORD = "correct horse battery staple"
HTML = {"Accept": "text/html,application/xhtml+xml"}
FAKE_SESSION = "3f2b8c1e-0000-4000-8000-000000000000"

#: Routes that must not answer before sign-in: Streamlit's own endpoints, media, component
#: assets, the app's pages and its JavaScript.
REFUSED = [
    ("GET", "/_stcore/host-config"), ("GET", "/_stcore/metrics"), ("GET", "/_stcore/script-health-check"),
    ("OPTIONS", f"/_stcore/upload_file/{FAKE_SESSION}/x"),
    ("DELETE", f"/_stcore/upload_file/{FAKE_SESSION}/x"),
    ("GET", "/media/0123456789abcdef.wav"), ("GET", "/component/any.component/index.html"),
    ("GET", "/_stcore/bidi-components/x/index.js"), ("POST", "/_stcore/agent/run"),
    ("GET", "/static/js/index.js"), ("GET", "/index.html"), ("GET", "/scalers?ds=x"),
    ("GET", "/auth/login"), ("GET", "/oauth2callback"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gate")
    (tmp / "store").mkdir()
    with running_app(tmp / "store", tmp / "server.log", env={"SNDIAG_PASSWORD": PASSWORD}) as srv:
        yield srv


def signed_in(base_url: str, name: str = "Ann") -> dict[str, str]:
    http = requests.Session()
    answer = password_sign_in(base_url, PASSWORD, name=name, session=http)
    assert answer.status_code == 303, answer.text
    return dict(http.cookies)


def test_health_check_answers_without_sign_in(server):
    r = requests.get(f"{server.base_url}/_stcore/health", timeout=10)
    assert (r.status_code, r.text) == (200, "ok")


@pytest.mark.parametrize(("method", "path"), REFUSED)
def test_every_route_refuses_before_sign_in(server, method, path):
    r = requests.request(method, server.base_url + path, timeout=10, allow_redirects=False)
    assert r.status_code == 401, (method, path, r.status_code)
    assert "sign in" in r.text.lower()


def test_a_page_request_is_sent_to_the_sign_in_page_with_its_link(server):
    r = requests.get(f"{server.base_url}/scalers?ds=ab12&clip=3", headers=HTML, timeout=10,
                     allow_redirects=False)
    assert r.status_code == 303
    target = r.headers["location"]
    assert target.startswith("/_sndiag/signin?next=")
    assert unquote(target.split("next=", 1)[1]) == "/scalers?ds=ab12&clip=3"
    page = requests.get(server.base_url + target, timeout=10)
    assert page.status_code == 200 and 'type="password"' in page.text
    assert "<script" not in page.text  # nothing of the app before sign-in


@pytest.mark.parametrize("cookie", ["", "garbage", ".eJyrVkrLz1eyUkpKLFKqBQAeJQQ6.forged.sig"])
def test_websocket_refused_before_sign_in(server, cookie):
    assert upgrade_status(server.base_url, {"_streamlit_user": cookie} if cookie else {}) == 401


@pytest.mark.parametrize("client_waits", [True, False], ids=["client-waits", "client-pushes"])
def test_refused_uploads_do_not_grow_server_memory(server, client_waits):
    """The probe of the issue: six 100 MB uploads before sign-in. All refused, memory flat."""
    before = server_rss(server.proc.pid)
    results = [put_upload(server.base_url, FAKE_SESSION, 100 * MB, wait_for_answer=client_waits)
               for _ in range(6)]
    after = server_rss(server.proc.pid)
    assert [u.status for u in results] == [401] * 6
    if client_waits:
        assert all(u.answered_before_body and u.sent == 0 for u in results)
    assert after - before < 40 * MB, f"RSS {before / MB:.0f} -> {after / MB:.0f} MB"
    print(f"RSS before {before / MB:.1f} MB, after six refused 100 MB uploads "
          f"{after / MB:.1f} MB")


def test_after_sign_in_the_same_requests_pass(server):
    jar = signed_in(server.base_url)
    assert upgrade_status(server.base_url, jar) == 101
    r = requests.get(f"{server.base_url}/scalers?ds=x", headers=HTML, cookies=jar, timeout=10,
                     allow_redirects=False)
    assert r.status_code == 200 and "<script" in r.text
    with open_session(server.base_url, jar) as (_, session_id, xsrf):
        upload = put_upload(server.base_url, session_id, 2 * MB, cookies=jar, xsrf=xsrf)
        assert upload.status == 204 and upload.sent == 2 * MB
        # an upload to a session that is not yours still needs a valid session id
        assert put_upload(server.base_url, FAKE_SESSION, 1024, cookies=jar,
                          xsrf=xsrf).status == 400


def test_sign_out_revokes_the_cookie_on_the_server(server):
    jar = signed_in(server.base_url, name="Bo")
    assert upgrade_status(server.base_url, jar) == 101
    out = requests.get(f"{server.base_url}/auth/logout", cookies=jar, timeout=10,
                       allow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/_sndiag/signin?signed_out=1"
    assert "_streamlit_user=;" in out.headers["set-cookie"]
    # a copy of the old cookie (another tab, a saved request) is refused from now on
    assert upgrade_status(server.base_url, jar) == 401
    assert put_upload(server.base_url, FAKE_SESSION, 1024, cookies=jar).status == 401
    log = server.log()
    assert "signed in with the password: Bo from 127.0.0.1" in log
    assert "signed out: Bo (shared password) from 127.0.0.1" in log


def test_sign_in_form_needs_its_csrf_token_and_stays_small(server):
    r = requests.post(f"{server.base_url}/_sndiag/signin", data={"password": PASSWORD},
                      timeout=10, allow_redirects=False)
    assert r.status_code == 403 and "_streamlit_user" not in r.cookies
    big = requests.post(f"{server.base_url}/_sndiag/signin", data=b"x" * (64 * 1024),
                        timeout=10, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert big.status_code == 413


def test_a_link_survives_sign_in(server):
    http = requests.Session()
    r = password_sign_in(server.base_url, PASSWORD, session=http, next_link="/mask?clip=2")
    assert (r.status_code, r.headers["location"]) == (303, "/mask?clip=2")
    evil = password_sign_in(server.base_url, PASSWORD, next_link="//evil.example/x")
    assert evil.headers["location"] == "/"


def test_wrong_passwords_are_limited_per_address_across_reloads_and_parallel_sessions(
        tmp_path):
    """Each try comes from a fresh session (a reload, another tab, another client): no cookie
    and no session state in common, only the client's address. An address gets 3 wrong tries;
    then it waits, and every try during the wait - even the right password - is refused
    unchecked with "try again in"."""
    (tmp_path / "store").mkdir()
    with running_app(tmp_path / "store", tmp_path / "server.log",
                     env={"SNDIAG_PASSWORD": PASSWORD}) as srv:
        with ThreadPoolExecutor(6) as pool:
            wrong = list(pool.map(lambda i: password_sign_in(srv.base_url, f"guess {i}"),
                                  range(6)))
        codes = sorted(r.status_code for r in wrong)
        assert codes == [401, 401, 401, 429, 429, 429]
        assert all("try again in" in r.text for r in wrong if r.status_code == 429)
        assert all(int(r.headers["retry-after"]) > 0 for r in wrong if r.status_code == 429)
        assert all("_streamlit_user" not in r.cookies for r in wrong)
        # a reload (new session, new form) with the right password: still refused, unchecked
        right = password_sign_in(srv.base_url, PASSWORD)
        assert right.status_code == 429 and "try again in" in right.text
        assert "_streamlit_user" not in right.cookies
        log = srv.log()
        assert [int(n) for n in re.findall(r"wrong password from 127\.0\.0\.1 \((\d) in a row",
                                           log)] == [1, 2, 3]
        assert log.count("refused unchecked") == 4
