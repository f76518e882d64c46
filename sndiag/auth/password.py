"""The shared password of a team instance: where it comes from and how a try is compared.

Off by default. ``SNDIAG_PASSWORD`` (or ``SNDIAG_PASSWORD_FILE``, or the Streamlit secret
``sndiag_password``) turns it on; the server's gate (:mod:`sndiag.ui.gate`) then refuses every
route until the password is given on its sign-in page, and :mod:`sndiag.auth.throttle` limits
wrong tries per client address.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from sndiag.settings import Settings

__all__ = ["check_password", "configured_password"]


def configured_password(env: Mapping[str, str] | None = None,
                        secrets: Mapping[str, object] | None = None) -> str | None:
    """The password the instance requires, or ``None`` when none is set.

    The environment (:meth:`Settings.from_env`) wins over the secret ``sndiag_password``.

    Examples
    --------
    >>> configured_password({"SNDIAG_PASSWORD": "s3cret"})
    's3cret'
    >>> configured_password({}, {"sndiag_password": "from-secrets"})
    'from-secrets'
    >>> configured_password({}) is None
    True
    """
    value = Settings.from_env(env).password or (secrets or {}).get("sndiag_password")
    return str(value) if value else None


def check_password(given: str, expected: str) -> bool:
    """Constant-time comparison of two passwords (over their SHA-256 digests).

    Examples
    --------
    >>> check_password("a", "a"), check_password("a", "b")
    (True, False)
    """
    a = hashlib.sha256(given.encode("utf-8", "surrogatepass")).digest()
    b = hashlib.sha256(expected.encode("utf-8", "surrogatepass")).digest()
    return hmac.compare_digest(a, b)
