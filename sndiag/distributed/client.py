"""Where the work runs: in-process, on a local Dask cluster, or on an existing Dask scheduler.

Every scale-out entry point of sndiag takes one ``scheduler`` argument:

===============================  ===========================================================
``scheduler``                    runs
===============================  ===========================================================
``None`` or ``"none"``           in this process (the default; Dask is not needed)
``"local"`` / ``"local:N"``      a ``dask.distributed.LocalCluster`` of N single-threaded
                                 worker processes (default: one per core), started and closed
                                 around the call
``"tcp://host:8786"`` (any URL)  an existing Dask scheduler (Kubernetes, a cloud Dask service,
                                 ``dask scheduler`` on a head node); it is left running
a ``distributed.Client``         that client, as it is
===============================  ===========================================================

Dask is an optional extra (``pip install 'sndiag[dask]'``) imported only when a scheduler other
than ``none`` is asked for.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from sndiag.errors import ParameterError

__all__ = ["SchedulerSpec", "dask_client", "parse_scheduler"]

#: Seconds to wait for a remote scheduler to answer.
CONNECT_TIMEOUT = 20


@dataclass(frozen=True)
class SchedulerSpec:
    """A parsed ``scheduler`` argument.

    Attributes
    ----------
    kind : {"none", "local", "address", "client"}
    n_workers : int
        Worker processes of a ``"local"`` cluster (0 otherwise).
    address : str
        Scheduler address of an ``"address"`` spec (empty otherwise).
    client : object
        The given ``distributed.Client`` of a ``"client"`` spec.
    """

    kind: Literal["none", "local", "address", "client"]
    n_workers: int = 0
    address: str = ""
    client: Any = None

    @property
    def in_process(self) -> bool:
        return self.kind == "none"


def parse_scheduler(scheduler: Any) -> SchedulerSpec:
    """Check and parse a ``scheduler`` argument (no connection is made).

    Parameters
    ----------
    scheduler : None, str or distributed.Client
        ``None``/``"none"``, ``"local"``, ``"local:N"``, an address such as
        ``"tcp://10.0.0.5:8786"``, or a connected ``distributed.Client``.

    Returns
    -------
    SchedulerSpec

    Raises
    ------
    ParameterError
        On anything else, with the accepted forms in the message.

    Examples
    --------
    >>> parse_scheduler(None).kind, parse_scheduler("local:3").n_workers
    ('none', 3)
    >>> parse_scheduler("tcp://scheduler:8786").address
    'tcp://scheduler:8786'
    """
    if scheduler is None:
        return SchedulerSpec("none")
    if not isinstance(scheduler, str):
        dd = sys.modules.get("distributed")  # a Client exists only once distributed is imported
        if dd is not None and isinstance(scheduler, dd.Client):
            return SchedulerSpec("client", client=scheduler)
        raise ParameterError(f"scheduler={scheduler!r} must be 'none', 'local', 'local:N', a "
                             "scheduler address like 'tcp://host:8786', or a distributed.Client")
    text = scheduler.strip()
    low = text.lower()
    if low in ("", "none"):
        return SchedulerSpec("none")
    if low == "local":
        return SchedulerSpec("local", n_workers=os.cpu_count() or 1)
    if low.startswith("local:"):
        count = low.split(":", 1)[1]
        if not count.isdigit() or int(count) < 1:
            raise ParameterError(f"scheduler={scheduler!r}: N in 'local:N' must be a positive "
                                 "number of worker processes, e.g. 'local:4'")
        return SchedulerSpec("local", n_workers=int(count))
    if "://" in text:
        return SchedulerSpec("address", address=text)
    raise ParameterError(f"scheduler={scheduler!r} is not understood; give 'none' (in-process), "
                         "'local' or 'local:N' (a local Dask cluster of N processes), or the "
                         "address of a Dask scheduler like 'tcp://host:8786'")


def _distributed() -> Any:
    """Import ``dask.distributed`` or say how to install it."""
    try:
        import dask.distributed as dd
    except ImportError:
        raise ParameterError("a Dask scheduler needs the optional dependency dask[distributed]: "
                             "pip install 'sndiag[dask]' (or run without --scheduler, "
                             "in-process)") from None
    return dd


@contextlib.contextmanager
def dask_client(scheduler: Any) -> Iterator[Any]:
    """A ``distributed.Client`` for ``scheduler`` (None when in-process), closed on exit.

    A ``"local"`` cluster uses worker *processes* with one thread each (``processes=True``):
    decoding, the STFT and the moment updates hold the GIL part of the time, and separate
    processes also keep a crash in one clip's decoder from taking the client down. Its HTTP
    server (the diagnostics dashboard when bokeh is installed) takes a free port, so it never
    clashes with another cluster on 8787. A remote scheduler and a given client are left running.

    Raises
    ------
    ParameterError
        When Dask is not installed, or the scheduler cannot be reached.

    Examples
    --------
    >>> with dask_client(None) as client:
    ...     client is None
    True
    """
    spec = parse_scheduler(scheduler)
    if spec.kind == "none":
        yield None
        return
    if spec.kind == "client":
        yield spec.client
        return
    dd = _distributed()
    if spec.kind == "local":
        with dd.LocalCluster(n_workers=spec.n_workers, threads_per_worker=1, processes=True,
                             dashboard_address=":0", silence_logs=logging.ERROR) as cluster, \
                dd.Client(cluster) as client:
            yield client
        return
    try:
        client = dd.Client(spec.address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ParameterError(f"cannot reach the Dask scheduler at {spec.address} ({exc}); check "
                             "the address and that the scheduler is running and reachable "
                             "from here") from None
    with client:
        yield client


def n_workers(client: Any) -> int:
    """Worker threads of a client's cluster (at least 1)."""
    try:
        return max(1, sum(client.nthreads().values()))
    except Exception:  # noqa: BLE001 - a count for splitting work; never fatal
        return 1
