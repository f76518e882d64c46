"""Export a fitted scaler and mask so a training script can apply them without sndiag.

Every scaler sndiag offers is, after its stateless compression steps (``db``, ``log1p``,
``pcen``, ``clip``), an affine per-pixel map ``(x - offset) / scale``. :func:`export_params`
recovers ``offset`` and ``scale`` by probing the fitted scaler with an all-zeros and an all-ones
image (``t(0) = -offset/scale``, ``t(1) - t(0) = 1/scale``) and checks the result on training
clips, so the export needs no knowledge of each scaler's internals and the training script needs
nothing but numpy for the affine part.

Layout of the ``.npz`` (JSON has the same keys, arrays as nested lists)::

    name          scaler name, e.g. "db+band"
    params        JSON of the scaler's parameters
    compress      JSON list of [name, params] stateless steps applied first (may be empty)
    offset, scale float32 (n_mels, n_frames) affine part (identity when absent)
    mask_rows     bool (n_mels,)            rows zeroed before scaling
    mask_pixels   bool (n_mels, n_frames)   pixels zeroed before scaling
"""

from __future__ import annotations

import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sndiag.dataset import Dataset
from sndiag.errors import DataError, ParameterError

__all__ = [
    "ExportedScaler",
    "export_params",
    "fit_and_export",
    "load_params",
    "params_json",
    "params_npz_bytes",
    "parse_rows",
    "training_snippet",
]


@dataclass(frozen=True)
class ExportedScaler:
    """A fitted scaler and mask reduced to arrays: apply it with :meth:`transform`.

    Examples
    --------
    >>> ex = ExportedScaler(name="standard", params={}, compress=(),
    ...                     offset=np.full((2, 3), 1.0), scale=np.full((2, 3), 2.0),
    ...                     mask_rows=np.array([True, False]), mask_pixels=np.zeros((2, 3), bool))
    >>> ex.transform(np.full((1, 2, 3), 5.0))[0]
    array([[-0.5, -0.5, -0.5],
           [ 2. ,  2. ,  2. ]], dtype=float32)
    """

    name: str
    params: dict[str, Any]
    compress: tuple[tuple[str, dict[str, Any]], ...]
    offset: np.ndarray
    scale: np.ndarray
    mask_rows: np.ndarray
    mask_pixels: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.offset.shape)  # type: ignore[return-value]

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Apply mask (zero), stateless compression, then ``(x - offset) / scale``."""
        X = np.asarray(X, dtype=np.float32)
        if X.shape[1:] != self.shape:
            raise DataError(f"X has images of shape {X.shape[1:]}, the export expects {self.shape}")
        X = np.where(self.mask_rows[:, None] | self.mask_pixels, 0.0, X).astype(np.float32)
        for step, params in self.compress:
            X = _stateless(step, params).transform(X)
        return ((X - self.offset) / self.scale).astype(np.float32)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "name": np.array(self.name),
            "params": np.array(json.dumps(self.params)),
            "compress": np.array(json.dumps([list(c) for c in self.compress])),
            "offset": self.offset.astype(np.float32),
            "scale": self.scale.astype(np.float32),
            "mask_rows": self.mask_rows.astype(bool),
            "mask_pixels": self.mask_pixels.astype(bool),
        }


def _stateless(name: str, params: dict[str, Any]):
    from sndiag.scalers import make_scaler

    scaler = make_scaler(name, **params)
    return scaler.fit(np.zeros((1, 1, 1), dtype=np.float32))


def _split_name(name: str) -> tuple[list[str], str | None]:
    """``"db+band"`` -> (["db"], "band"); stateless steps first, at most one fitted step last."""
    from sndiag.scalers import SCALERS

    parts = [p.strip() for p in name.split("+")]
    for p in parts:
        if p not in SCALERS:
            raise ParameterError(f"unknown scaler {p!r}; known: {', '.join(SCALERS)}")
    if all(SCALERS[p].stateless for p in parts):
        return parts, None
    *head, last = parts
    if not all(SCALERS[p].stateless for p in head) or SCALERS[last].stateless:
        raise ParameterError(f"scaler {name!r}: only stateless steps (db, log1p, pcen, clip) may "
                             "come before the one fitted scaler, e.g. 'db+band'")
    return head, last


def export_params(scaler: Any, *, name: str, params: dict[str, Any] | None = None,
                  X_train: np.ndarray, mask: Any = None) -> ExportedScaler:
    """Reduce a scaler fitted on ``X_train`` (after ``mask``) to an :class:`ExportedScaler`.

    Parameters
    ----------
    scaler : estimator
        The fitted scaler from :func:`sndiag.scalers.make_scaler` (``name`` and ``params`` as
        passed to it).
    X_train : np.ndarray [shape=(n, n_mels, n_frames)]
        Training clips (after masking), used to check the exported map reproduces the scaler.
    mask : sndiag.masks.Mask or None

    Raises
    ------
    ParameterError
        When the scaler is not stateless steps followed by one per-pixel affine map.
    """
    params = dict(params or {})
    X_train = np.asarray(X_train, dtype=np.float32)
    shape = X_train.shape[1:]
    head, last = _split_name(name)
    compress = tuple((h, params if last is None and len(head) == 1 else {}) for h in head)
    Z = X_train[: min(len(X_train), 16)]
    for step, p in compress:
        Z = _stateless(step, p).transform(Z)
    if last is None:
        offset, scale = np.zeros(shape, np.float32), np.ones(shape, np.float32)
    else:
        final = scaler.steps[-1][1] if hasattr(scaler, "steps") else scaler
        probe = np.stack([np.zeros(shape), np.ones(shape)]).astype(np.float32)
        t0, t1 = (np.asarray(a, dtype=np.float64) for a in final.transform(probe))
        gain = t1 - t0
        if np.any(gain == 0) or not np.all(np.isfinite(gain)):
            raise ParameterError(f"scaler {name!r} is not a per-pixel affine map; export it with "
                                 "sndiag's Python API instead")
        scale = (1.0 / gain).astype(np.float32)
        offset = (-t0 / gain).astype(np.float32)
        expected = np.asarray(final.transform(Z), dtype=np.float64)
        got = (Z - offset) / scale
        if not np.allclose(got, expected, rtol=1e-3, atol=1e-3 * (1 + np.abs(expected).max())):
            raise ParameterError(f"scaler {name!r} is not a per-pixel affine map (e.g. per-clip); "
                                 "export it with sndiag's Python API instead")
    rows = np.zeros(shape[0], bool) if mask is None else np.asarray(mask.rows, bool)
    pixels = np.zeros(shape, bool) if mask is None else np.asarray(mask.pixels, bool)
    return ExportedScaler(name=name, params=params, compress=compress, offset=offset,
                          scale=scale, mask_rows=rows, mask_pixels=pixels)


def params_npz_bytes(exported: ExportedScaler) -> bytes:
    """The export as ``.npz`` bytes (for a download button)."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **exported.to_arrays())
    return buf.getvalue()


def params_json(exported: ExportedScaler) -> str:
    """The export as JSON text (arrays as nested lists)."""
    d: dict[str, Any] = {"name": exported.name, "params": exported.params,
                         "compress": [list(c) for c in exported.compress]}
    for key in ("offset", "scale", "mask_rows", "mask_pixels"):
        d[key] = getattr(exported, key).tolist()
    return json.dumps(d)


def load_params(source: str | os.PathLike[str] | bytes) -> ExportedScaler:
    """Read an export written by :func:`params_npz_bytes` or :func:`params_json`."""
    try:
        if isinstance(source, bytes | bytearray):
            raw = bytes(source)
        else:
            raw = Path(source).read_bytes()
        if raw[:1] in (b"{", b" "):
            d = json.loads(raw)
            arrays = {k: np.asarray(d[k]) for k in ("offset", "scale", "mask_rows", "mask_pixels")}
            name, params, compress = d["name"], d["params"], d["compress"]
        else:
            with np.load(io.BytesIO(raw), allow_pickle=False) as z:
                arrays = {k: z[k] for k in ("offset", "scale", "mask_rows", "mask_pixels")}
                name, params = str(z["name"]), json.loads(str(z["params"]))
                compress = json.loads(str(z["compress"]))
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(f"not an sndiag scaler export ({exc}); write one with `sndiag scale`") \
            from None
    return ExportedScaler(name=name, params=params, compress=tuple((c, p) for c, p in compress),
                          offset=arrays["offset"].astype(np.float32),
                          scale=arrays["scale"].astype(np.float32),
                          mask_rows=arrays["mask_rows"].astype(bool),
                          mask_pixels=arrays["mask_pixels"].astype(bool))


def parse_rows(spec: str | None, *, n_rows: int) -> list[int]:
    """Parse ``"0-4, 17"`` into ``[0, 1, 2, 3, 4, 17]``.

    Examples
    --------
    >>> parse_rows("0-2, 5", n_rows=60)
    [0, 1, 2, 5]
    """
    if not spec:
        return []
    rows: set[int] = set()
    for part in spec.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", part)
        if not m:
            raise ParameterError(f"row spec {part!r} is not a row or a range like 0-4")
        lo, hi = int(m[1]), int(m[2] or m[1])
        if lo > hi or hi >= n_rows:
            raise ParameterError(f"rows {part!r} out of range 0-{n_rows - 1}")
        rows.update(range(lo, hi + 1))
    return sorted(rows)


def training_snippet(*, name: str, params_file: str = "sndiag_params.npz") -> str:
    """Python code that applies an export in a training script (numpy only when possible)."""
    head, _ = _split_name(name)
    lines = [
        "import numpy as np",
        "",
        f"p = np.load({params_file!r})  # written by sndiag ({name})",
        "keep = ~(p['mask_rows'][:, None] | p['mask_pixels'])",
        "",
        "def scale(X):",
        '    """X: (n_clips, n_mels, n_frames) spectrograms, as used for fitting."""',
        "    X = np.where(keep, X, 0.0).astype(np.float32)",
    ]
    if head:
        lines = ["from sndiag.export import load_params  # stateless steps: " + ", ".join(head),
                 *lines[:-1], "    return load_params(" + repr(params_file) + ").transform(X)"]
        return "\n".join(lines) + "\n"
    lines.append("    return (X - p['offset']) / p['scale']")
    lines += ["", "# Fit on the training set only; apply the same to validation and test:",
              "# X_train, X_val = scale(X_train), scale(X_val)"]
    return "\n".join(lines) + "\n"


def fit_and_export(ds: Dataset, *, scaler: str, scaler_params: dict[str, Any] | None = None,
                   mask_snr: float | None = None, mask_percentile: float | None = None,
                   mask_rows: str | None = None, path: str | os.PathLike[str]) -> str:
    """Fit ``scaler`` (and a row mask) on ``ds`` and write the export to ``path``.

    ``.json`` writes JSON, anything else ``.npz``. Returns a one-line description.
    """
    from sndiag.masks import manual_mask, snr_mask
    from sndiag.scalers import make_scaler
    from sndiag.stats import compute_stats

    scaler_params = dict(scaler_params or {})
    mask = None
    if mask_snr is not None or mask_percentile is not None or mask_rows:
        stats = compute_stats(ds.X, quantiles="none")
        mask = manual_mask(ds.shape, rows=parse_rows(mask_rows, n_rows=ds.shape[0]))
        if mask_snr is not None or mask_percentile is not None:
            mask = mask.union(snr_mask(stats, threshold=mask_snr, percentile=mask_percentile))
    X = ds.X if mask is None else mask.apply(ds.X, mode="zero")
    fitted = make_scaler(scaler, **scaler_params).fit(X)
    exported = export_params(fitted, name=scaler, params=scaler_params, X_train=X, mask=mask)
    path = Path(path)
    data = params_json(exported).encode() if path.suffix.lower() == ".json" \
        else params_npz_bytes(exported)
    path.write_bytes(data)
    n_masked = int(exported.mask_rows.sum())
    return f"scaler {scaler} fitted on {ds.n_clips} clips, {n_masked} rows masked"
