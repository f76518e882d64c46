"""Who is signed in, inside a script run: ``st.user``, the page-level check, the sidebar line.

The server's gate (:mod:`sndiag.ui.gate`) has already refused every client that has not signed
in; this is the same rule again where the page is drawn (defence in depth, and what ``AppTest``
sees, which has no server). The identity comes from ``st.user``: Streamlit fills it from the
identity cookie for both a provider's sign-in and the shared password.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

from sndiag.auth import AccessConfig, Identity
from sndiag.settings import Settings
from sndiag.ui.gate import SIGNIN_PATH

__all__ = ["access", "current_user", "require_access", "sidebar_user"]



def access() -> AccessConfig:
    """The access control in force (the settings and Streamlit's secrets)."""
    try:
        secrets = st.secrets.to_dict()
    except Exception:  # noqa: BLE001 - no secrets.toml is the normal case
        secrets = {}
    return AccessConfig.resolve(Settings.from_env(), secrets)


def current_user() -> Identity | None:
    """The signed-in user of this session, or None."""
    try:
        claims = st.user.to_dict()
    except Exception:  # noqa: BLE001 - outside a session: nobody
        return None
    return Identity.from_claims(claims)


def require_access(pages: Sequence[Any]) -> Identity | None:
    """The signed-in user, or stop the run with only a sign-in link when access control is on
    and nobody (admitted) is signed in. ``pages`` are registered hidden, so the link's page and
    query survive."""
    config = access()
    user = current_user()
    if not config.enabled:
        return user
    expected_password = config.mode == "password"
    if (user is not None and (user.provider == "password") == expected_password
            and config.policy.admits(user)):
        return user
    st.navigation(list(pages), position="hidden")
    st.title("sndiag")
    if user is None:
        st.warning("This instance is private: sign in first.", icon=":material/lock:")
    else:
        st.error(f"{user.owner} may not use this instance.", icon=":material/block:")
    st.link_button("Sign in", SIGNIN_PATH, type="primary")
    st.stop()
    return None  # not reached


def sidebar_user(user: Identity | None, container: Any = None) -> None:
    """"Signed in as ..." and a sign-out button, when someone is signed in."""
    if user is None:
        return
    with container if container is not None else st.sidebar:
        how = "shared password" if user.provider == "password" else user.email or user.provider
        st.markdown(f"Signed in as **{user.label}**")
        st.caption(how)
        if st.button("Sign out", key="btn_sign_out", icon=":material/logout:"):
            st.logout()
