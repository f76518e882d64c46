"""sndiag: should I normalize my spectrograms, and how?

Scaling diagnostics for audio ML: ingest clips or arrays into (N, n_mels, n_frames) datasets,
compute per-pixel and per-row statistics (mean, std, SNR = mean/std, quantiles, Fisher ratio),
mask low-SNR rows, compare scikit-learn-compatible scalers, and measure which one a quick
classifier learns best from.

Module map (data flows one way)::

    errors, config, settings     the error hierarchy, parameters, the deployment's settings
    dataset                      the Dataset value (images, labels, groups, provenance)
    spectrogram, stats           clips to mel images; one-pass mergeable statistics
    io                           every format: arrays, streaming, zips, labels, audio, uploads
    masks, scalers, effects      MaskSpec and masks, sklearn scalers, what each does to the data
    experiment                   cross-validated scaler comparison with a verdict
    distributed                  streaming/resumable extraction and stats, optionally on Dask
    figures, report, export      Plotly figures, HTML report, parameter export
    store, auth, cli, demo       dataset store, access control, command line, demo data
    ui                           the only Streamlit code (the dashboard's glue)

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
    "MaskSpec": "sndiag.masks",
    "PixelStats": "sndiag.stats",
    "SCALERS": "sndiag.scalers",
    "Settings": "sndiag.settings",
    "SndiagError": "sndiag.errors",
    "SpectrogramConfig": "sndiag.config",
    "compute_stats": "sndiag.stats",
    "evaluate_scaler": "sndiag.effects",
    "extract_chunked": "sndiag.distributed",
    "from_files": "sndiag.io.clips",
    "from_folder": "sndiag.io.clips",
    "from_zip": "sndiag.io.clips",
    "load": "sndiag.io.dispatch",
    "load_arrays": "sndiag.io.arrays",
    "make_demo": "sndiag.demo",
    "make_scaler": "sndiag.scalers",
    "mask_summary": "sndiag.masks",
    "run_experiment": "sndiag.experiment",
    "save": "sndiag.io.arrays",
    "scaler_names": "sndiag.scalers",
    "snr_mask": "sndiag.masks",
    "snr_percentile": "sndiag.masks",
    "stats_file": "sndiag.distributed",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _LAZY)
