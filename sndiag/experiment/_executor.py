"""Where the search's fold fits run: this process, or joblib's worker processes.

The staged search (:mod:`sndiag.experiment._search`) and the stratified cross-check hand their
fits (:class:`~sndiag.experiment._fit.FoldTask`) to a :class:`FitExecutor`. This one runs them
in this process (``n_jobs=1``) or in joblib worker processes, the compressed clips memory-mapped
from a temporary folder so that every worker reads them by name. Another engine subclasses it and
overrides :meth:`FitExecutor.session` and :meth:`FitExecutor.bind`:
:class:`sndiag.distributed.DaskExecutor` runs the same fits as Dask tasks.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from sndiag.errors import ParameterError
from sndiag.experiment._fit import FoldTask, _fit_fold

__all__ = ["FitExecutor", "OnDone", "RunFits"]

#: Called with each finished fit's output; False asks the run to stop.
OnDone = Callable[[dict[str, Any]], bool]
#: Fits tasks, in any order, and hands each output to ``on_done``; False when it was stopped.
RunFits = Callable[[Sequence[FoldTask], OnDone], bool]

#: Arrays larger than this are memory-mapped for joblib's workers (smaller ones travel).
_MMAP_BYTES = 1_000_000


class FitExecutor:
    """Runs the fold fits of a search in this process or in joblib worker processes.

    Parameters
    ----------
    n_jobs : int
        Parallel fits (processes); 1 fits in this process, -1 uses every core.

    Attributes
    ----------
    in_process : bool
        Whether the fits run where the search runs, so callables (the CNN's per-epoch progress
        and cancel) can reach them. Only such an executor trains the CNN.

    See Also
    --------
    sndiag.distributed.DaskExecutor : the same fits as Dask tasks.

    Examples
    --------
    >>> FitExecutor(n_jobs=2).where
    'this machine (2 processes)'
    >>> FitExecutor().where
    'this process'
    """

    in_process: bool = True

    def __init__(self, n_jobs: int = 1) -> None:
        if isinstance(n_jobs, bool) or not isinstance(n_jobs, int | np.integer) or n_jobs == 0:
            raise ParameterError(f"n_jobs={n_jobs!r} must be a non-zero integer (1, 2, ..., or -1)")
        self.n_jobs = int(n_jobs)

    @property
    def where(self) -> str:
        """Where the fits run, as the output says it."""
        if self.n_jobs == 1:
            return "this process"
        return ("this machine (every core)" if self.n_jobs < 0
                else f"this machine ({self.n_jobs} processes)")

    def session(self) -> contextlib.AbstractContextManager[Any]:
        """Hold what several :meth:`bind` calls share (a cluster, a folder); nothing here.

        :func:`~sndiag.experiment.run_experiment` enters it once around all of its fits.
        """
        return contextlib.nullcontext(self)

    @contextlib.contextmanager
    def bind(self, data: Mapping[str, np.ndarray], kw: Mapping[str, Any]) -> Iterator[RunFits]:
        """A function that fits tasks on ``data`` with :func:`_fit_fold`'s keywords ``kw``.

        Parameters
        ----------
        data : mapping of str to np.ndarray [shape=(n_clips, n_mels, n_frames)]
            Each compression's clips; a task reads ``data[task.compression]``.
        kw : mapping
            Keyword arguments of :func:`~sndiag.experiment._fit._fit_fold` (``y``, ``groups``,
            ``classifier``, ...), the same for every task.

        Yields
        ------
        RunFits
            Valid inside the ``with`` block.
        """
        if self.n_jobs == 1:
            def run_here(tasks: Sequence[FoldTask], on_done: OnDone) -> bool:
                return all(on_done(_fit_fold(t, data[t.compression], **kw)) for t in tasks)

            yield run_here
            return
        with tempfile.TemporaryDirectory(prefix="sndiag-search-") as tmp:
            shared = _memmapped(data, tmp)

            def run_parallel(tasks: Sequence[FoldTask], on_done: OnDone) -> bool:
                if len(tasks) <= 1:
                    return all(on_done(_fit_fold(t, shared[t.compression], **kw)) for t in tasks)
                return _parallel(tasks, shared, kw, n_jobs=self.n_jobs, on_done=on_done)

            yield run_parallel


def _memmapped(data: Mapping[str, np.ndarray], folder: str) -> dict[str, np.ndarray]:
    """Memory-map the compressed clips, so worker processes read them by name."""
    out = {}
    for i, (name, arr) in enumerate(data.items()):
        if arr.nbytes <= _MMAP_BYTES:
            out[name] = arr
            continue
        path = os.path.join(folder, f"c{i}.npy")
        np.save(path, arr)
        out[name] = np.load(path, mmap_mode="r")
    return out


def _parallel(tasks: Sequence[FoldTask], data: Mapping[str, np.ndarray], kw: Mapping[str, Any],
              *, n_jobs: int, on_done: OnDone) -> bool:
    """Fit ``tasks`` in joblib's worker processes; False when ``on_done`` asked to stop."""
    from sklearn.utils.parallel import Parallel, delayed

    gen = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
        delayed(_fit_fold)(t, data[t.compression], **kw) for t in tasks)
    try:
        for out in gen:
            if not on_done(out):
                return False
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gen.close()
    return True
