"""The login gate of a password-protected instance (logic in :mod:`sndiag.auth`)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import streamlit as st

from sndiag.auth import LoginThrottle, check_password, configured_password

_OK = "_sndiag_authenticated"
_THROTTLE = "_sndiag_login_throttle"


def _secrets() -> dict[str, object]:
    try:
        return dict(st.secrets)
    except Exception:  # noqa: BLE001 - no secrets.toml is the normal case
        return {}


def require_login(pages: Sequence[Any]) -> None:
    """Render only a login form, and stop the run, until this session gives the password.

    Does nothing when no password is configured (``SNDIAG_PASSWORD`` through
    :class:`~sndiag.settings.Settings`, or the secret
    ``sndiag_password``). ``pages`` (the app's ``st.Page`` list) is registered with a hidden menu,
    so a shared link's page and query survive the login while no page runs and no menu shows.
    """
    password = configured_password(None, _secrets())
    if password is None or st.session_state.get(_OK):
        return
    st.navigation(list(pages), position="hidden")
    throttle: LoginThrottle = st.session_state.setdefault(_THROTTLE, LoginThrottle())
    st.title("sndiag")
    st.caption("This instance is password-protected. Ask the person who shared the link.")
    with st.form("login", clear_on_submit=True):
        given = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Sign in")
    if submitted:
        time.sleep(throttle.delay)
        if check_password(given, password):
            throttle.reset()
            st.session_state[_OK] = True
            st.rerun()
        throttle.failed()
        st.error("Wrong password. Try again.")
    st.stop()
