"""Password protection for a shared sndiag instance (the dashboard wires it in ``sndiag.ui``).

Off by default. When ``SNDIAG_PASSWORD`` is set (or the Streamlit secret ``sndiag_password``), the
dashboard renders nothing but a login form until the right password is given. Passwords are
compared in constant time over their SHA-256 digests, and each wrong try in a session doubles a
delay (0.5 s, 1 s, 2 s, ... capped at 8 s) before the next answer.

For teams with an identity provider, Streamlit's OIDC login (``st.login``) is the better choice;
see the README section "Access control".
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from sndiag.settings import Settings

__all__ = ["LoginThrottle", "check_password", "configured_password"]


def configured_password(env: Mapping[str, str] | None = None,
                        secrets: Mapping[str, object] | None = None) -> str | None:
    """The password the instance requires, or ``None`` when access is open.

    Examples
    --------
    >>> configured_password({"SNDIAG_PASSWORD": "s3cret"})
    's3cret'
    >>> configured_password({}) is None
    True
    """
    value = Settings.from_env(env).password or (secrets or {}).get("sndiag_password")
    return str(value) if value else None


def check_password(given: str, expected: str) -> bool:
    """Constant-time comparison of two passwords.

    Examples
    --------
    >>> check_password("a", "a"), check_password("a", "b")
    (True, False)
    """
    a = hashlib.sha256(given.encode("utf-8", "surrogatepass")).digest()
    b = hashlib.sha256(expected.encode("utf-8", "surrogatepass")).digest()
    return hmac.compare_digest(a, b)


@dataclass
class LoginThrottle:
    """Failed-attempt counter of one session; ``delay`` grows after each wrong password.

    Examples
    --------
    >>> t = LoginThrottle()
    >>> t.delay
    0.0
    >>> t.failed(); t.failed(); t.delay
    1.0
    """

    failures: int = 0
    base: float = 0.5
    cap: float = 8.0

    @property
    def delay(self) -> float:
        """Seconds to wait before answering the next attempt."""
        if self.failures == 0:
            return 0.0
        return min(self.base * 2 ** (self.failures - 1), self.cap)

    def failed(self) -> None:
        self.failures += 1

    def reset(self) -> None:
        self.failures = 0
