"""Every file format and input sndiag reads or writes; nothing else touches files.

Modules (bottom up)
-------------------
``atomic``     :func:`atomic_write`: temp file in the same folder, fsync, rename, clean up on failure
``zips``       zip safety from the directory (traversal, links, bombs), bounded member reads
``audio``      decoding one clip (soundfile, soxr, librosa's audioread fallback)
``patterns``   label patterns compiled for RE2: linear-time matching, Python's Unicode classes
``labels``     label and group sources: class folders, a file-name pattern, a CSV manifest
``arrays``     the dataset ``.npz`` format and plain ``.npy``/``.npz``: :func:`load_arrays`, :func:`save`
``feature_cache``  spectrograms cached by audio content (``.npy`` per clip)
``streaming``  ``.npy``/``.npz`` read chunk by chunk with bounded memory, written the same way
``clips``      audio files, folders and zips -> Dataset (decode, pad/crop, batched mel)
``uploads``    what the dashboard's Data page receives (uploads, server folders, previews)
``dispatch``   :func:`load`: any input -> Dataset, dispatched on what it is

Every reader checks arrays with :func:`sndiag.images.check_images`, the check
:class:`~sndiag.dataset.Dataset` applies too (it sits below both). Adding an input format means
one reader module here and one line in :func:`load`. The names below are imported lazily, so
``import sndiag.io.atomic`` does not pull in librosa.

Examples
--------
>>> import io as _io, numpy as np
>>> from sndiag import io
>>> buf = _io.BytesIO()
>>> np.save(buf, np.zeros((3, 60, 130), dtype=np.float32))
>>> io.load(buf.getvalue()).X.shape
(3, 60, 130)
"""

from __future__ import annotations

from sndiag._lazy import lazy_exports

_LAZY = {
    "ArrayFile": "sndiag.io.streaming",
    "AUDIO_EXTENSIONS": "sndiag.io.clips",
    "NpyChunks": "sndiag.io.streaming",
    "atomic_file": "sndiag.io.atomic",
    "atomic_write": "sndiag.io.atomic",
    "from_files": "sndiag.io.clips",
    "from_folder": "sndiag.io.clips",
    "from_zip": "sndiag.io.clips",
    "load": "sndiag.io.dispatch",
    "load_arrays": "sndiag.io.arrays",
    "open_array_file": "sndiag.io.streaming",
    "save": "sndiag.io.arrays",
    "scan_folder": "sndiag.io.clips",
    "to_npz_bytes": "sndiag.io.arrays",
    "write_npz_chunks": "sndiag.io.streaming",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _LAZY)
