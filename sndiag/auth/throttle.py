"""Failed sign-ins counted per client address, for the whole server process.

A session-held counter resets on a page reload and does not see parallel sessions; this one is
keyed by the client's address and shared by every request of the process, so reloading, opening
new tabs or sending tries in parallel changes nothing. An address gets ``free`` wrong tries in a
row; after that, each wrong try makes it wait (``base``, then twice as long each time, up to
``cap`` seconds), and a try during the wait is refused without the password being checked.
A right password clears the address's count.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["SignInThrottle"]


@dataclass
class _Record:
    failures: int = 0
    blocked_until: float = 0.0
    last: float = 0.0


class SignInThrottle:
    """Counts wrong sign-ins per client address and says how long an address must wait.

    Parameters
    ----------
    free : int
        Wrong tries in a row an address may make before it has to wait.
    base : float
        The first wait (s), after the ``free``-th wrong try; each further wrong try doubles it.
    cap : float
        The longest wait (s).
    forget_after : float
        An address whose last wrong try is this old (s) starts afresh.
    max_addresses : int
        Addresses remembered at most (the oldest are forgotten first): memory stays bounded
        whatever a client sends.
    clock : callable
        Monotonic seconds (tests pass a fake clock).

    Examples
    --------
    >>> now = [0.0]
    >>> t = SignInThrottle(free=2, base=30, clock=lambda: now[0])
    >>> [t.failed("10.0.0.1") for _ in range(3)]
    [1, 2, 3]
    >>> t.wait("10.0.0.1"), t.wait("10.0.0.2")
    (60.0, 0.0)
    >>> now[0] = 61.0; t.wait("10.0.0.1")
    0.0
    >>> t.succeeded("10.0.0.1"); t.failures("10.0.0.1")
    0
    """

    def __init__(self, *, free: int = 3, base: float = 30.0, cap: float = 900.0,
                 forget_after: float = 3600.0, max_addresses: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.free = free
        self.base = base
        self.cap = cap
        self.forget_after = forget_after
        self.max_addresses = max_addresses
        self._clock = clock
        self._lock = threading.Lock()
        self._records: OrderedDict[str, _Record] = OrderedDict()

    def _delay(self, failures: int) -> float:
        if failures < self.free:
            return 0.0
        return min(self.base * 2.0 ** (failures - self.free), self.cap)

    def _record(self, address: str, now: float) -> _Record | None:
        rec = self._records.get(address)
        if rec is not None and now - rec.last > max(self.forget_after, rec.blocked_until - rec.last):
            del self._records[address]
            return None
        return rec

    def wait(self, address: str) -> float:
        """Seconds ``address`` must still wait before its next try is checked (0: none)."""
        with self._lock:
            now = self._clock()
            rec = self._record(address, now)
            return 0.0 if rec is None else max(rec.blocked_until - now, 0.0)

    def wait_text(self, address: str) -> str:
        """``"try again in N s"`` (or minutes) for the current wait of ``address``."""
        seconds = math.ceil(self.wait(address))
        if seconds < 120:
            return f"try again in {seconds} s"
        return f"try again in {math.ceil(seconds / 60)} min"

    def failures(self, address: str) -> int:
        """Wrong tries of ``address`` in a row."""
        with self._lock:
            rec = self._record(address, self._clock())
            return 0 if rec is None else rec.failures

    def failed(self, address: str) -> int:
        """Count a wrong try of ``address``; returns its wrong tries in a row."""
        with self._lock:
            now = self._clock()
            rec = self._record(address, now) or _Record()
            rec.failures += 1
            rec.last = now
            rec.blocked_until = now + self._delay(rec.failures)
            self._records[address] = rec
            self._records.move_to_end(address)
            while len(self._records) > self.max_addresses:
                self._records.popitem(last=False)
            return rec.failures

    def succeeded(self, address: str) -> None:
        """A right password from ``address``: its count starts again from zero."""
        with self._lock:
            self._records.pop(address, None)
