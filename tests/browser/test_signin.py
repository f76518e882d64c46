"""Signing in, in a real Chromium: the shared password, and an identity provider (a local
OpenID Connect provider).

With the password: a team link shows the sign-in form, a wrong password is refused, the right
one (with a name) opens the link, and the name is in the sidebar.

With a provider:
a teammate opens a team link, is sent to the sign-in page, signs in at the provider (the test
provider's form: one click on a user), lands on the link they opened with their name in the
sidebar, signs out (the provider's end-session page too), and is refused afterwards: the same
link shows only the sign-in page again. A user the allow-list does not name is refused after
the provider has signed them in. Runs its own servers (not ``SNDIAG_BASE_URL``); everything is
on 127.0.0.1.
"""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.oidc import identity_provider, oidc_env
from tests.support.server import IDLE_JS, free_port, running_app

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (Python) is not installed")
expect = sync_api.expect

pytestmark = pytest.mark.browser

SLOW = 90_000
LINK = "/scalers?scalers=standard,band&clip=3"


def own_server_only() -> None:
    if os.environ.get("SNDIAG_BASE_URL", "").strip():
        pytest.skip("runs its own server with access control")


@pytest.fixture(scope="module")
def password_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    own_server_only()
    tmp = tmp_path_factory.mktemp("password-e2e")
    (tmp / "store").mkdir()
    with running_app(tmp / "store", tmp / "server.log", env={"SNDIAG_PASSWORD": "s3same"},
                     timeout=90) as srv:
        yield srv


@pytest.fixture(scope="module")
def oidc_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    own_server_only()
    tmp = tmp_path_factory.mktemp("oidc-e2e")
    (tmp / "store").mkdir()
    with identity_provider() as idp:
        port = free_port()
        env = oidc_env(idp, port, SNDIAG_ALLOWED_USERS="@lab.org")
        with running_app(tmp / "store", tmp / "server.log", env=env, port=port,
                         timeout=90) as srv:
            yield srv


def idle(page: Any) -> None:
    for _ in range(2):
        page.wait_for_timeout(300)
        page.wait_for_function(IDLE_JS, timeout=SLOW)


def on_sign_in_page(page: Any) -> None:
    """The sign-in page and nothing of the app (no Streamlit root, no heading of a page)."""
    expect(page.get_by_role("link", name="Sign in with Test IdP")).to_be_visible(timeout=SLOW)
    expect(page.locator('[data-testid="stApp"]')).to_have_count(0)
    assert "/_sndiag/signin" in page.url


def test_password_sign_in_opens_the_link_with_the_name(new_page: Any, password_server: Any,
                                                       shot: Any) -> None:
    page = new_page()
    page.goto(password_server.base_url + "/mask?clip=2", wait_until="domcontentloaded",
              timeout=SLOW)
    expect(page.get_by_label("Password")).to_be_visible(timeout=SLOW)
    expect(page.locator('[data-testid="stApp"]')).to_have_count(0)
    page.get_by_label("Password").fill("not it")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong password.")
    shot(page, "password-1-wrong", full=False)
    page.get_by_label("Password").fill("s3same")
    page.get_by_label(re.compile("^Your name")).fill("Ann")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Mask", exact=True, level=1)).to_be_visible(
        timeout=SLOW)
    idle(page)
    side = page.locator('[data-testid="stSidebarUserContent"]')
    expect(side.get_by_text("Signed in as Ann")).to_be_visible()
    expect(side.get_by_text("shared password")).to_be_visible()
    shot(page, "password-2-signed-in")
    side.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text("You are signed out.", timeout=SLOW)
    page.goto(password_server.base_url + "/mask?clip=2", wait_until="domcontentloaded")
    expect(page.get_by_label("Password")).to_be_visible(timeout=SLOW)


def test_sign_in_open_a_team_link_sign_out_refused_after(new_page: Any, oidc_server: Any,
                                                         shot: Any) -> None:
    base = oidc_server.base_url
    page = new_page()
    page.goto(base + LINK, wait_until="domcontentloaded", timeout=SLOW)
    on_sign_in_page(page)
    shot(page, "oidc-1-sign-in-page", full=False)

    page.get_by_role("link", name="Sign in with Test IdP").click()
    expect(page.get_by_role("heading", name="Authorize Client")).to_be_visible(timeout=SLOW)
    shot(page, "oidc-2-provider", full=False)
    page.get_by_role("button", name="ann", exact=True).click()

    # back on the link that was opened, signed in
    expect(page.get_by_role("heading", name="Scalers", exact=True, level=1)).to_be_visible(
        timeout=SLOW)
    idle(page)
    url = urlsplit(page.url)
    assert url.path == "/scalers"
    assert parse_qs(url.query)["scalers"] == ["standard,band"] and parse_qs(url.query)["clip"] == ["3"]
    side = page.locator('[data-testid="stSidebarUserContent"]')
    expect(side.get_by_text("Signed in as Ann Lee")).to_be_visible()
    expect(side.get_by_text("ann@lab.org")).to_be_visible()
    shot(page, "oidc-3-signed-in")

    # another team link in a new tab of the same browser: straight in
    other = page.context.new_page()
    other.goto(base + "/statistics", wait_until="domcontentloaded", timeout=SLOW)
    expect(other.get_by_role("heading", name="Statistics", exact=True, level=1)).to_be_visible(
        timeout=SLOW)
    other.close()

    side.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="End Session")).to_be_visible(timeout=SLOW)
    page.get_by_role("button", name="End session").click()
    on_sign_in_page(page)

    # refused afterwards: the link, any page, the app's WebSocket
    for path in (LINK, "/data", "/"):
        page.goto(base + path, wait_until="domcontentloaded", timeout=SLOW)
        on_sign_in_page(page)
    status = page.evaluate("""async (url) => {
        const r = await fetch(url + '/_stcore/host-config'); return r.status; }""", base)
    assert status == 401
    shot(page, "oidc-4-signed-out", full=False)
    cookies = {c["name"] for c in page.context.cookies()}
    assert "_streamlit_user" not in cookies


def test_a_user_off_the_allow_list_is_refused(new_page: Any, oidc_server: Any,
                                              shot: Any) -> None:
    page = new_page()
    page.goto(oidc_server.base_url + "/data", wait_until="domcontentloaded", timeout=SLOW)
    page.get_by_role("link", name="Sign in with Test IdP").click()
    page.get_by_role("button", name="eve", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text(
        re.compile(r"eve@evil\.example may not use this sndiag instance"), timeout=SLOW)
    expect(page.locator('[data-testid="stApp"]')).to_have_count(0)
    shot(page, "oidc-5-not-allowed", full=False)
