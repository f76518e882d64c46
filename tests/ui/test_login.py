"""The page-level access check (what AppTest sees; the server's gate is tested in tests/gate).

With access control on, a session without an admitted identity (``st.user``) gets only a
"sign in" notice and link; a signed-in one gets the dashboard and its name in the sidebar.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")
OIDC = {"SNDIAG_OIDC_SERVER_METADATA_URL": "http://127.0.0.1:9/.well-known/openid-configuration",
        "SNDIAG_OIDC_CLIENT_ID": "sndiag", "SNDIAG_OIDC_CLIENT_SECRET": "s3cret",
        "SNDIAG_OIDC_REDIRECT_URI": "http://127.0.0.1:8501/oauth2callback",
        "SNDIAG_COOKIE_SECRET": "c" * 32, "SNDIAG_ALLOWED_USERS": "@lab.org"}


@pytest.fixture
def gated(tmp_path, monkeypatch) -> AppTest:
    monkeypatch.setenv("SNDIAG_STORE", str(tmp_path))
    monkeypatch.setenv("SNDIAG_PASSWORD", "open sesame")
    return AppTest.from_file(APP, default_timeout=60)


def _texts(at: AppTest) -> str:
    return " ".join(str(e.value) for e in [*at.markdown, *at.title, *at.caption, *at.info,
                                           *at.warning, *at.error])


def _signed_out(at: AppTest) -> None:
    assert not at.exception
    assert "fsdd sample" not in _texts(at).lower()
    assert not at.get("plotly_chart") and not at.get("metric")
    assert [b.proto.url for b in at.get("link_button")] == ["/_sndiag/signin"]


def test_signed_out_session_sees_only_a_sign_in_link(gated):
    at = gated.run()
    _signed_out(at)
    assert "sign in first" in _texts(at).lower()


def test_password_identity_opens_the_dashboard_with_its_name(gated):
    gated.user = {"is_logged_in": True, "provider": "password", "name": "Ann"}
    at = gated.run()
    assert not at.exception
    assert "fsdd sample" in _texts(at).lower()
    assert "Signed in as **Ann**" in [m.value for m in at.sidebar.markdown]
    assert "Sign out" in [b.label for b in at.sidebar.button]


def test_no_password_means_no_gate(tmp_path, monkeypatch):
    monkeypatch.setenv("SNDIAG_STORE", str(tmp_path))
    monkeypatch.delenv("SNDIAG_PASSWORD", raising=False)
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert not at.get("link_button") and "fsdd sample" in _texts(at).lower()


@pytest.mark.parametrize(("user", "admitted"), [
    ({"is_logged_in": True, "provider": "default", "email": "ann@lab.org", "name": "Ann Lee"},
     True),
    ({"is_logged_in": True, "provider": "default", "email": "eve@evil.org"}, False),
    ({"is_logged_in": True, "provider": "password", "name": "Mallory"}, False),
    ({}, False),
])
def test_identity_provider_mode_applies_the_allow_list(tmp_path, monkeypatch, user, admitted):
    monkeypatch.setenv("SNDIAG_STORE", str(tmp_path))
    for key, value in OIDC.items():
        monkeypatch.setenv(key, value)
    at = AppTest.from_file(APP, default_timeout=60)
    at.user = user
    at.run()
    if admitted:
        assert not at.exception and "fsdd sample" in _texts(at).lower()
        assert "Signed in as **Ann Lee**" in [m.value for m in at.sidebar.markdown]
        assert "ann@lab.org" in [c.value for c in at.sidebar.caption]
    else:
        _signed_out(at)
        if user.get("email") == "eve@evil.org":
            assert "eve@evil.org may not use this instance" in _texts(at)
