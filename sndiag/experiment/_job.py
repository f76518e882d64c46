"""Run an experiment in a background thread that a UI can poll and cancel."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from sndiag.errors import ParameterError, SndiagError
from sndiag.experiment._result import ExperimentResult

if TYPE_CHECKING:
    from sndiag.dataset import Dataset


class ExperimentJob:
    """:func:`~sndiag.experiment.run_experiment` on a daemon thread, with progress and cancel.

    The thread only writes plain attributes under a lock; the caller (a Streamlit fragment, a
    CLI) polls :attr:`done`, :meth:`progress`, :attr:`result` and :attr:`error`, and
    :meth:`cancel` sets the :class:`threading.Event` that the run polls between fold fits.

    Parameters
    ----------
    dataset : Dataset
    **kwargs
        Keyword arguments of :func:`run_experiment` (not ``progress``/``cancel``, which the job
        supplies).

    Attributes
    ----------
    result : ExperimentResult or None
        Set when the run finished (possibly ``cancelled``).
    error : str or None
        Message of a :class:`~sndiag.errors.SndiagError` (or an unexpected error) that ended it.
    started, finished : float or None
        ``time.time()`` stamps.

    Examples
    --------
    >>> import numpy as np
    >>> from sndiag.dataset import Dataset
    >>> y = np.repeat([0, 1], 10)
    >>> ds = Dataset(np.random.default_rng(0).random((20, 3, 4)) + y[:, None, None], y=y)
    >>> job = ExperimentJob(ds, scalers=["none"], folds=2, n_jobs=1).start()
    >>> job.wait(timeout=60)
    True
    >>> job.error, job.progress()[0] == job.progress()[1], job.result.configurations[0].scaler
    (None, True, 'none')
    """

    def __init__(self, dataset: Dataset, **kwargs: Any) -> None:
        bad = {"progress", "cancel"} & set(kwargs)
        if bad:
            raise ParameterError(f"ExperimentJob supplies {sorted(bad)} itself; drop them")
        self.dataset = dataset
        self.kwargs = kwargs
        self.result: ExperimentResult | None = None
        self.error: str | None = None
        self.started: float | None = None
        self.finished: float | None = None
        self._done_total = (0, 0)
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> ExperimentJob:
        """Start the thread (once) and return self."""
        if self._thread is not None:
            raise ParameterError("this job was already started; create a new ExperimentJob")
        self.started = time.time()
        self._thread = threading.Thread(target=self._run, name="sndiag-experiment", daemon=True)
        self._thread.start()
        return self

    def _on_progress(self, done: int, total: int) -> None:
        with self._lock:
            self._done_total = (done, total)

    def _run(self) -> None:
        from sndiag.experiment._run import run_experiment

        try:
            result = run_experiment(self.dataset, progress=self._on_progress,
                                    cancel=self._cancel.is_set, **self.kwargs)
            with self._lock:
                self.result = result
        except SndiagError as exc:
            with self._lock:
                self.error = str(exc)
        except Exception as exc:  # noqa: BLE001 - reported to the UI instead of dying silently
            with self._lock:
                self.error = f"unexpected {type(exc).__name__}: {exc} (please report this)"
        finally:
            self.finished = time.time()

    def cancel(self) -> None:
        """Ask the run to stop after the fold fits in progress."""
        self._cancel.set()

    @property
    def cancelling(self) -> bool:
        return self._cancel.is_set() and not self.done

    @property
    def done(self) -> bool:
        """True once the thread has ended (result or error set)."""
        return self._thread is not None and not self._thread.is_alive()

    def progress(self) -> tuple[int, int]:
        """``(finished fold fits, total fold fits)``; total is 0 until the run has planned."""
        with self._lock:
            return self._done_total

    def fraction(self) -> float:
        """Finished share in [0, 1]."""
        done, total = self.progress()
        return 0.0 if total == 0 else min(1.0, done / total)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until done or ``timeout`` seconds; True when done."""
        if self._thread is None:
            return False
        self._thread.join(timeout)
        return self.done
