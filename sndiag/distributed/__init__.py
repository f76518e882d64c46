"""Scale-out: sndiag's statistics and extraction, in-process or on a Dask cluster.

Modules
-------
:mod:`~sndiag.distributed.client`
    The ``scheduler`` argument: ``None``/``"none"``, ``"local[:N]"``, ``"tcp://host:8786"``.
:mod:`~sndiag.distributed.file_stats`
    :func:`stats_file`: statistics of a ``.npy``/``.npz`` larger than memory, in row ranges
    merged with the mergeable moments of :mod:`sndiag.stats`.
:mod:`~sndiag.distributed.extract`
    :func:`extract_chunked`: audio to spectrograms in chunks of files, written incrementally to a
    folder with a manifest, resumable, assembled into a dataset ``.npz``.
:mod:`~sndiag.distributed.search`
    :class:`DaskExecutor`: the experiment's fold fits (``run_experiment(executor=...)``,
    ``sndiag compare --scheduler``) as Dask tasks, the clips read from a shared folder.

Dask (``pip install 'sndiag[dask]'``) is imported only when a scheduler is used, and the names
below load their module on first use (a Dask worker that runs statistics never imports librosa).

Examples
--------
>>> from sndiag.distributed import parse_scheduler
>>> parse_scheduler("local:2")
SchedulerSpec(kind='local', n_workers=2, address='', client=None)
"""

from __future__ import annotations

from sndiag._lazy import lazy_exports

_LAZY = {
    "ChunkedExtraction": "sndiag.distributed.extract",
    "DaskExecutor": "sndiag.distributed.search",
    "SchedulerSpec": "sndiag.distributed.client",
    "StreamedStats": "sndiag.distributed.file_stats",
    "dask_client": "sndiag.distributed.client",
    "extract_chunked": "sndiag.distributed.extract",
    "parse_scheduler": "sndiag.distributed.client",
    "sample_indices": "sndiag.distributed.file_stats",
    "stats_file": "sndiag.distributed.file_stats",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _LAZY)
