"""Doctest collection: examples that train the CNN need its optional extra (PyTorch)."""

from __future__ import annotations

from sndiag.experiment._cnn import cnn_unavailable

# Without sndiag[cnn] the CNN module's examples cannot run; its tests say why they skip.
collect_ignore = ["sndiag/experiment/_cnn.py"] if cnn_unavailable() else []
