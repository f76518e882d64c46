"""sndiag: should I normalize my spectrograms, and how?

Scaling diagnostics for audio ML: ingest clips or arrays into (N, n_mels, n_frames) datasets,
compute per-pixel and per-row statistics (mean, std, SNR = mean/std, quantiles, Fisher ratio),
mask low-SNR rows, compare scikit-learn-compatible scalers, and measure which one a quick
classifier learns best from.

Module map (data flows one way)::

    config, errors, dataset      parameters, the error hierarchy, the Dataset model
    audio -> spectrogram -> ingest   clips to 60 x 130 mel spectrograms (cached, batched)
    chunks, stats                one-pass mergeable statistics, bounded memory
    masks, scalers, effects      SNR masks, sklearn scalers, what each does to the data
    experiment                   cross-validated scaler comparison with a verdict
    distributed                  streaming/resumable extraction and stats, optionally on Dask
    figures, report, export      Plotly figures, HTML report, parameter export
    store, auth, cli, demo       dataset store, access control, command line, demo data
    ui                           the only Streamlit code (the dashboard's helpers)

The names below are imported lazily, so ``import sndiag`` is cheap.

Examples
--------
>>> import sndiag
>>> ds = sndiag.make_demo(n_per_class=5)
>>> st = sndiag.compute_stats(ds.X, ds.y)
>>> st.snr.shape
(60, 130)
"""

from __future__ import annotations

from sndiag._lazy import lazy_exports

__version__ = "0.1.0"

_LAZY = {
    "Dataset": "sndiag.dataset",
    "ExperimentResult": "sndiag.experiment",
    "Limits": "sndiag.config",
    "Mask": "sndiag.masks",
    "PixelStats": "sndiag.stats",
    "SCALERS": "sndiag.scalers",
    "SndiagError": "sndiag.errors",
    "SpectrogramConfig": "sndiag.config",
    "compute_stats": "sndiag.stats",
    "evaluate_scaler": "sndiag.effects",
    "extract_chunked": "sndiag.distributed",
    "from_files": "sndiag.ingest",
    "from_folder": "sndiag.ingest",
    "from_zip": "sndiag.ingest",
    "load": "sndiag.ingest",
    "load_arrays": "sndiag.ingest",
    "make_demo": "sndiag.demo",
    "make_scaler": "sndiag.scalers",
    "mask_summary": "sndiag.masks",
    "run_experiment": "sndiag.experiment",
    "scaler_names": "sndiag.scalers",
    "snr_mask": "sndiag.masks",
    "snr_percentile": "sndiag.masks",
    "stats_file": "sndiag.distributed",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _LAZY)
