"""The experiment's fold fits as Dask tasks, the clips read by the workers from a shared folder.

:class:`DaskExecutor` is a :class:`~sndiag.experiment.FitExecutor`: given to
:func:`~sndiag.experiment.run_experiment` (``sndiag compare --scheduler``), it runs every fit of
the staged search and of the stratified cross-check as one Dask task. What travels:

* **once, through the shared folder:** each compression of the clips (``none``, ``db``, ...) and
  the labels and groups, written by this process as ``.npy`` files into a fresh sub-folder of
  ``shared_dir`` and memory-mapped by each worker by path;
* **per task:** the :class:`~sndiag.experiment._fit.FoldTask` (its training and test clip
  indices, the scaler's name, a mask of at most one image) and the classifier's small
  parameters -- never the clips.

The fits are :func:`~sndiag.experiment._fit._fit_fold` on the same arrays, splits and seeds as
in-process, each on one thread (Dask's worker processes start with ``OMP_NUM_THREADS=1``, as
joblib's do with two jobs on two cores), so the fold accuracies are equal to the in-process
run's. The sub-folder is deleted when the run ends.

The folder must be visible to every worker at the same path. A ``local`` cluster shares this
machine's temporary folder; a remote cluster needs a shared file system (``shared_dir``,
``--shared-dir``, ``SNDIAG_SHARED_DIR``). Before the first task every worker is asked whether it
sees the files; one that does not stops the run with a message naming it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sndiag.distributed.client import dask_client, n_workers, parse_scheduler
from sndiag.errors import DataError, ParameterError
from sndiag.experiment import FitExecutor
from sndiag.experiment._executor import OnDone, RunFits
from sndiag.experiment._fit import FoldTask, _fit_fold

__all__ = ["DaskExecutor"]

_NOT_SHARED = ("every Dask worker must reach the shared folder at the same path (a shared file "
               "system or a mounted bucket): give --shared-dir (SNDIAG_SHARED_DIR) a folder "
               "that this machine and every worker mount at the same path")


class DaskExecutor(FitExecutor):
    """Run the experiment's fits as tasks on a Dask cluster.

    Parameters
    ----------
    scheduler : str or distributed.Client
        ``"local"``/``"local:N"``, a scheduler address like ``"tcp://host:8786"``, or a client
        (see :func:`sndiag.distributed.parse_scheduler`); not ``"none"``.
    shared_dir : str or Path, optional
        A folder this process and every worker see at the same path; each run writes its clips
        to a fresh sub-folder there (the clips once per compression: ``n_clips x n_mels x
        n_frames x 4`` bytes each) and deletes it at the end. Default: this machine's temporary
        folder, which only a ``local`` cluster (or workers on this machine) can see.

    Notes
    -----
    A ``local`` cluster is started when the run begins and closed when it ends; an address or a
    client is left running. One run at a time per executor.

    Examples
    --------
    >>> DaskExecutor("local:2").where
    'a local Dask cluster (2 worker processes)'
    >>> # run_experiment(ds, executor=DaskExecutor("tcp://scheduler:8786", shared_dir="/mnt/x"))
    """

    in_process = False

    def __init__(self, scheduler: Any, *, shared_dir: str | os.PathLike[str] | None = None
                 ) -> None:
        super().__init__(n_jobs=1)
        self.spec = parse_scheduler(scheduler)
        if self.spec.in_process:
            raise ParameterError("DaskExecutor needs a scheduler ('local', 'local:N', an address "
                                 "or a client); in-process, use FitExecutor(n_jobs)")
        self.scheduler = scheduler
        self.shared_dir = None if shared_dir is None else Path(shared_dir).expanduser()
        self._client: Any = None
        self._folder: Path | None = None
        self._files: dict[int, tuple[np.ndarray, str]] = {}
        self._depth = 0

    @property
    def where(self) -> str:
        spec = self.spec
        if spec.kind == "local":
            return f"a local Dask cluster ({spec.n_workers} worker processes)"
        name = f"the Dask cluster at {spec.address}" if spec.address else "the Dask client's cluster"
        if self._client is None:
            return name
        threads = n_workers(self._client)
        return f"{name} ({threads} worker thread{'s' if threads != 1 else ''})"

    @contextlib.contextmanager
    def session(self) -> Iterator[DaskExecutor]:
        """Connect (or start the local cluster) and make the run's shared sub-folder, once.

        Nested sessions (the CNN's ridge pre-selection inside its run) reuse the outer one.
        """
        if self._depth:
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        base = self.shared_dir
        if base is not None and not base.is_dir():
            raise ParameterError(f"shared_dir={str(base)!r} is not a folder; give a folder that "
                                 "this machine and every Dask worker see at the same path")
        with contextlib.ExitStack() as stack:
            client = stack.enter_context(dask_client(self.scheduler))
            try:
                folder = Path(tempfile.mkdtemp(prefix="sndiag-search-", dir=base))
            except OSError as exc:
                raise ParameterError(f"cannot write to the shared folder {base or '(temp)'} "
                                     f"({exc.strerror or exc}); give --shared-dir "
                                     "(SNDIAG_SHARED_DIR) a writable folder") from None
            stack.callback(shutil.rmtree, folder, ignore_errors=True)
            self._client, self._folder, self._files, self._depth = client, folder, {}, 1
            try:
                yield self
            finally:
                self._client, self._folder, self._files, self._depth = None, None, {}, 0

    def _file(self, arr: np.ndarray) -> str:
        """The shared ``.npy`` holding ``arr``, written on first use in this session."""
        assert self._folder is not None
        hit = self._files.get(id(arr))
        if hit is not None and hit[0] is arr:
            return hit[1]
        path = str(self._folder / f"a{len(self._files)}.npy")
        np.save(path, np.ascontiguousarray(arr), allow_pickle=False)
        self._files[id(arr)] = (arr, path)  # holds arr, so its id is not reused
        return path

    @contextlib.contextmanager
    def bind(self, data: Mapping[str, np.ndarray], kw: Mapping[str, Any]) -> Iterator[RunFits]:
        with self.session():
            client = self._client
            paths = {name: self._file(arr) for name, arr in data.items()}
            files: dict[str, str] = {}
            small: dict[str, Any] = {}
            for key, value in kw.items():
                if isinstance(value, np.ndarray) and value.dtype != object:
                    files[key] = self._file(value)
                else:
                    small[key] = value
            _check_visible(client, [*paths.values(), *files.values()])

            def run(tasks: Sequence[FoldTask], on_done: OnDone) -> bool:
                from dask.distributed import as_completed

                futures = [client.submit(_fit_shared, t, paths[t.compression], files, small,
                                         pure=False) for t in tasks]
                complete = False
                try:
                    for _, out in as_completed(futures, with_results=True):
                        if not on_done(out):
                            return False
                    complete = True
                    return True
                finally:
                    if not complete:  # stopped, or a fit failed: drop the queued fits
                        client.cancel(futures)

            yield run


def _missing(paths: Sequence[str]) -> tuple[str, list[str]]:
    """This host's name and the ``paths`` it cannot see (runs on each worker)."""
    return socket.gethostname(), [p for p in paths if not os.path.isfile(p)]


def _check_visible(client: Any, paths: Sequence[str]) -> None:
    """Stop with the worker's name when one cannot see the shared files."""
    for host, missing in client.run(_missing, list(paths)).values():
        if missing:
            raise DataError(f"{missing[0]} is not visible on {host}; {_NOT_SHARED}")


def _open(path: str, *, mmap: bool) -> np.ndarray:
    if not os.path.isfile(path):
        raise DataError(f"{path} is not visible on {socket.gethostname()}; {_NOT_SHARED}")
    return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)


def _fit_shared(task: FoldTask, path: str, files: Mapping[str, str],
                kw: Mapping[str, Any]) -> dict[str, Any]:
    """One fit on a worker: the clips memory-mapped from ``path``, the labels and groups read
    from ``files``, then :func:`~sndiag.experiment._fit._fit_fold`."""
    arrays = {key: _open(p, mmap=False) for key, p in files.items()}
    return _fit_fold(task, _open(path, mmap=True), **arrays, **kw)
