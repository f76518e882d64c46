"""Sign-in cookies revoked by signing out, until they would have expired anyway.

A signed cookie stays valid until it expires; signing out deletes it from the browser, and
this list makes the server refuse a copy of it too (a saved request, another tab's cookie jar).
Only SHA-256 digests are kept, and at most ``max_entries`` (expired ones are dropped first).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable

__all__ = ["Revocations"]


class Revocations:
    """Digests of revoked cookie values with their expiry times.

    Examples
    --------
    >>> now = [0.0]
    >>> r = Revocations(clock=lambda: now[0])
    >>> r.revoke("cookie-value", until=100.0)
    >>> r.is_revoked("cookie-value"), r.is_revoked("other")
    (True, False)
    >>> now[0] = 101.0; r.is_revoked("cookie-value")
    False
    """

    def __init__(self, *, max_entries: int = 100_000,
                 clock: Callable[[], float] = time.time) -> None:
        self.max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._until: dict[str, float] = {}

    @staticmethod
    def _key(value: str) -> str:
        return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()

    def revoke(self, value: str, *, until: float) -> None:
        """Refuse ``value`` until the time ``until`` (seconds since the epoch)."""
        with self._lock:
            now = self._clock()
            if len(self._until) >= self.max_entries:
                self._until = {k: t for k, t in self._until.items() if t > now}
                while len(self._until) >= self.max_entries:  # still full: drop the soonest
                    self._until.pop(min(self._until, key=self._until.__getitem__))
            self._until[self._key(value)] = until

    def is_revoked(self, value: str) -> bool:
        """Whether ``value`` was revoked and its revocation has not run out."""
        with self._lock:
            until = self._until.get(self._key(value))
            return until is not None and until > self._clock()
