"""Access control of a team instance: who may enter, and what a signed-in user may do.

Modules
-------
``password``    the shared password: where it comes from, constant-time comparison
``identity``    :class:`Identity` (a signed-in user) and :class:`AccessPolicy` (allow-list, admins)
``access``      :class:`AccessConfig`: open, the shared password, or an identity provider
``throttle``    :class:`SignInThrottle`: wrong sign-ins counted per client address
``revocation``  :class:`Revocations`: sign-in cookies refused after signing out

Nothing here imports Streamlit: the server's gate that enforces this on every route is
:mod:`sndiag.ui.gate`.
"""

from __future__ import annotations

from sndiag.auth.access import AccessConfig, Provider, auth_secrets
from sndiag.auth.identity import PASSWORD_PROVIDER, AccessPolicy, Identity, parse_names
from sndiag.auth.password import check_password, configured_password
from sndiag.auth.revocation import Revocations
from sndiag.auth.throttle import SignInThrottle

__all__ = [
    "PASSWORD_PROVIDER",
    "AccessConfig",
    "AccessPolicy",
    "Identity",
    "Provider",
    "Revocations",
    "SignInThrottle",
    "auth_secrets",
    "check_password",
    "configured_password",
    "parse_names",
]
