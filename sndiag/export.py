"""Export a fitted scaler and mask so a training script can apply them without sndiag.

Every scaler sndiag offers is stateless compression steps (``db``, ``log1p``, ``pcen``, ``clip``)
followed by at most one fitted per-pixel affine map ``(x - offset) / scale``, whose maps the
scaler gives itself (:func:`sndiag.scalers.affine_maps`). An :class:`ExportedScaler` holds exactly
that, the mask, and the scaler's full fitted state (:func:`sndiag.scalers.scaler_params`), so the
same file serves a numpy-only training script and ``ExportedScaler.scaler()`` (an estimator that
can continue ``partial_fit``). It is the one exported-scaler format.

Layout of the ``.npz`` (JSON has the same keys, arrays as nested lists)::

    format        "sndiag-scaler/1"
    name          scaler name, e.g. "db+band"
    params        JSON of the scaler's parameters
    compress      JSON list of [name, params] stateless steps applied first (may be empty)
    offset, scale float32 (n_mels, n_frames) affine part (identity when absent)
    mask_rows     bool (n_mels,)            rows zeroed after compression, before scaling
    mask_pixels   bool (n_mels, n_frames)   pixels zeroed after compression, before scaling
    mask          the MaskSpec text the mask was built from ("none" when empty)
    fitted_on     which clips the parameters were fitted on, in words
    state/<key>   the scaler's fitted state (scaler_params), to rebuild the estimator
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sndiag.dataset import Dataset
from sndiag.errors import DataError, ParameterError
from sndiag.io.atomic import atomic_write
from sndiag.masks import Mask, MaskSpec

__all__ = [
    "FORMAT",
    "ExportedScaler",
    "export_params",
    "fit_and_export",
    "fit_export",
    "load_params",
    "params_json",
    "params_npz_bytes",
    "training_snippet",
]

#: Format tag of an export file.
FORMAT = "sndiag-scaler/1"
_ARRAYS = ("offset", "scale", "mask_rows", "mask_pixels")


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
    mask: str = "none"
    fitted_on: str = ""
    state: Mapping[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.offset.shape)  # type: ignore[return-value]

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Apply the stateless compression, the mask (zero), then ``(x - offset) / scale``."""
        X = np.asarray(X, dtype=np.float32)
        if X.shape[1:] != self.shape:
            raise DataError(f"X has images of shape {X.shape[1:]}, the export expects {self.shape}")
        for step, params in self.compress:
            X = _stateless(step, params).transform(X)
        X = np.where(self.mask_rows[:, None] | self.mask_pixels, 0.0, X).astype(np.float32)
        return ((X - self.offset) / self.scale).astype(np.float32)

    def scaler(self) -> Any:
        """The fitted sndiag estimator, rebuilt from :attr:`state` (``partial_fit`` continues).

        Raises
        ------
        DataError
            When the export carries no state (written by an older sndiag).
        """
        if not self.state:
            raise DataError("this export carries no fitted state; export the scaler again with "
                            "this sndiag to rebuild the estimator")
        from sndiag.scalers import scaler_from_params

        return scaler_from_params(self.state)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Everything as arrays and strings, for ``np.savez`` (no pickled objects)."""
        out = {
            "format": np.array(FORMAT),
            "name": np.array(self.name),
            "params": np.array(json.dumps(self.params)),
            "compress": np.array(json.dumps([list(c) for c in self.compress])),
            "offset": self.offset.astype(np.float32),
            "scale": self.scale.astype(np.float32),
            "mask_rows": self.mask_rows.astype(bool),
            "mask_pixels": self.mask_pixels.astype(bool),
            "mask": np.array(self.mask),
            "fitted_on": np.array(self.fitted_on),
        }
        for key, value in self.state.items():
            out[f"state/{key}"] = np.asarray(value)
        return out


def _stateless(name: str, params: dict[str, Any]) -> Any:
    from sndiag.scalers import make_scaler

    return make_scaler(name, **params).fit(np.zeros((1, 1, 1), dtype=np.float32))


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


def _step_params(scaler: Any, step: str) -> dict[str, Any]:
    """The constructor parameters of one step of a fitted scaler (``shape`` left out)."""
    est = dict(scaler.steps)[step] if hasattr(scaler, "steps") else scaler
    return {k: v for k, v in est.get_params(deep=False).items() if k != "shape"}


def export_params(scaler: Any, *, name: str, params: dict[str, Any] | None = None,
                  shape: tuple[int, int] | None = None, mask: Mask | None = None,
                  mask_spec: MaskSpec | None = None, fitted_on: str = "") -> ExportedScaler:
    """Reduce a fitted scaler (and the mask it was fitted after) to an :class:`ExportedScaler`.

    Parameters
    ----------
    scaler : estimator
        A fitted scaler from :func:`sndiag.scalers.make_scaler` (``name`` and ``params`` as
        passed to it).
    shape : (int, int), optional
        ``(n_mels, n_frames)``; taken from the scaler's fitted layout when omitted.
    mask : Mask, optional
        The mask applied before fitting (zeroed in :meth:`ExportedScaler.transform`).
    mask_spec : MaskSpec, optional
        What the mask was built from (recorded).
    fitted_on : str
        Which clips the parameters come from, in words.

    Raises
    ------
    ParameterError
        When the scaler is not stateless steps followed by one per-pixel affine map.
    """
    from sndiag.scalers import affine_maps, scaler_params

    params = dict(params or {})
    head, last = _split_name(name)
    compress = tuple((h, _step_params(scaler, h)) for h in head)
    final = scaler.steps[-1][1] if hasattr(scaler, "steps") else scaler
    img = shape or tuple(getattr(final, "image_shape_", ()) or ())
    if len(img) != 2:
        raise ParameterError("give shape=(n_mels, n_frames): the scaler does not record it")
    img = (int(img[0]), int(img[1]))
    if last is None:
        offset, scale = np.zeros(img), np.ones(img)
    else:
        maps = affine_maps(final)
        if maps is None:
            raise ParameterError(f"scaler {name!r} is not a per-pixel affine map; export it with "
                                 "sndiag's Python API instead")
        offset, scale = maps
    rows = np.zeros(img[0], bool) if mask is None else np.asarray(mask.rows, bool)
    pixels = np.zeros(img, bool) if mask is None else np.asarray(mask.pixels, bool)
    return ExportedScaler(name=name, params=params, compress=compress,
                          offset=offset.astype(np.float32), scale=scale.astype(np.float32),
                          mask_rows=rows, mask_pixels=pixels,
                          mask=(mask_spec or MaskSpec()).spec, fitted_on=fitted_on,
                          state=scaler_params(scaler))


def fit_export(ds: Dataset, *, scaler: str, params: Mapping[str, Any] | None = None,
               mask: MaskSpec | str | None = None, stats: Any = None) -> ExportedScaler:
    """Build the mask on ``ds``, fit ``scaler`` on the masked clips, and export both.

    Parameters
    ----------
    ds : Dataset
        The clips. When it has a split (``Dataset.split``), the mask and the scaler are fitted on
        its training part only, as a training script would fit them; otherwise on every clip
        (and :attr:`ExportedScaler.fitted_on` says so).
    scaler : str
        A scaler name or composition (``"db+band"``).
    params : Mapping, optional
        Scaler options (checked against the registry's).
    mask : MaskSpec or str, optional
        Built on ``ds``'s statistics (:meth:`MaskSpec.build`).
    stats : PixelStats, optional
        Statistics of ``ds`` when already computed.

    Examples
    --------
    >>> X = np.random.default_rng(0).gamma(2.0, 1.0, size=(20, 4, 5))
    >>> ex = fit_export(Dataset(X), scaler="band", mask="rows:0")
    >>> ex.mask, ex.mask_rows.tolist(), ex.fitted_on
    ('rows:0', [True, False, False, False], 'all 20 clips (the data has no train/test split)')
    """
    from sndiag.scalers import fit_clips, make_scaler, with_mask, without_mask
    from sndiag.stats import compute_stats

    spec = MaskSpec.parse(mask) if mask is not None else MaskSpec()
    train = ds.train_index
    whole = train.size == ds.n_clips
    if ds.streamed:  # clips read a chunk at a time, never all in memory
        X = ds.X if whole else ds.X.select(train)
    else:
        X = ds.X if whole else ds.X[train]
    built = None
    if not spec.is_empty:
        if stats is None or not whole:  # the given statistics describe every clip
            stats = compute_stats(X, quantiles="none")
        spec = spec.resolved(stats)
        built = spec.build(stats)
    p = dict(params or {})
    est = make_scaler(scaler, config=ds.config, **p)
    if built is not None:   # masked pixels: 0 after the compression, before the fitted scaling
        est = with_mask(est, built.combined)
    sampled = None
    if ds.streamed:
        sampled = fit_clips(est, X)
    else:
        est.fit(X)
    fitted = without_mask(est)
    fitted_on = (f"all {ds.n_clips} clips (the data has no train/test split)" if whole
                 else f"the {train.size} training clips of {ds.n_clips} (split 'train')")
    if sampled:
        fitted_on += f"; its quantiles from {sampled}"
    return export_params(fitted, name=scaler, params=p, shape=ds.shape, mask=built,
                         mask_spec=spec, fitted_on=fitted_on)


def params_npz_bytes(exported: ExportedScaler) -> bytes:
    """The export as ``.npz`` bytes (for a download button)."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **exported.to_arrays())
    return buf.getvalue()


def _jsonable(value: Any) -> Any:
    arr = np.asarray(value)
    return arr.tolist() if arr.ndim else arr.item()


def params_json(exported: ExportedScaler) -> str:
    """The export as JSON text (arrays as nested lists)."""
    d: dict[str, Any] = {"format": FORMAT, "name": exported.name, "params": exported.params,
                         "compress": [list(c) for c in exported.compress],
                         "mask": exported.mask, "fitted_on": exported.fitted_on}
    for key in _ARRAYS:
        d[key] = getattr(exported, key).tolist()
    d["state"] = {k: _jsonable(v) for k, v in exported.state.items()}
    return json.dumps(d)


def load_params(source: str | os.PathLike[str] | bytes) -> ExportedScaler:
    """Read an export written by :func:`params_npz_bytes` or :func:`params_json`.

    Raises
    ------
    DataError
        When the file is not an sndiag scaler export.
    """
    try:
        raw = bytes(source) if isinstance(source, bytes | bytearray) else Path(source).read_bytes()
        if raw[:1] in (b"{", b" "):
            d = json.loads(raw)
            arrays = {k: np.asarray(d[k]) for k in _ARRAYS}
            name, params, compress = d["name"], d["params"], d["compress"]
            mask, fitted_on, state = d.get("mask", "none"), d.get("fitted_on", ""), \
                d.get("state", {})
        else:
            with np.load(io.BytesIO(raw), allow_pickle=False) as z:
                arrays = {k: z[k] for k in _ARRAYS}
                name, params = str(z["name"]), json.loads(str(z["params"]))
                compress = json.loads(str(z["compress"]))
                mask = str(z["mask"]) if "mask" in z.files else "none"
                fitted_on = str(z["fitted_on"]) if "fitted_on" in z.files else ""
                state = {k[len("state/"):]: z[k] for k in z.files if k.startswith("state/")}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"not an sndiag scaler export ({exc}); write one with `sndiag scale`") \
            from None
    return ExportedScaler(name=name, params=params, compress=tuple((c, p) for c, p in compress),
                          offset=arrays["offset"].astype(np.float32),
                          scale=arrays["scale"].astype(np.float32),
                          mask_rows=arrays["mask_rows"].astype(bool),
                          mask_pixels=arrays["mask_pixels"].astype(bool),
                          mask=mask, fitted_on=fitted_on, state=state)


def training_snippet(*, name: str, params_file: str = "sndiag_params.npz") -> str:
    """Python code that applies an export in a training script (numpy only when possible)."""
    head, _ = _split_name(name)
    tail = ["", "# Fit on the training set only; apply the same to validation and test:",
            "# X_train, X_val = scale(X_train), scale(X_val)"]
    if head:
        steps = ", ".join(head)
        return "\n".join([
            "from sndiag.export import load_params",
            "",
            f"params = load_params({params_file!r})  # written by sndiag ({name})",
            "",
            "def scale(X):",
            '    """X: (n_clips, n_mels, n_frames) spectrograms, as used for fitting."""',
            f"    # masked pixels set to 0, then {steps}, then (X - offset) / scale",
            "    return params.transform(X)",
            *tail]) + "\n"
    return "\n".join([
        "import numpy as np",
        "",
        f"p = np.load({params_file!r})  # written by sndiag ({name})",
        "keep = ~(p['mask_rows'][:, None] | p['mask_pixels'])",
        "",
        "def scale(X):",
        '    """X: (n_clips, n_mels, n_frames) spectrograms, as used for fitting."""',
        "    X = np.where(keep, X, 0.0).astype(np.float32)",
        "    return (X - p['offset']) / p['scale']",
        *tail]) + "\n"


def fit_and_export(ds: Dataset, *, scaler: str, scaler_params: dict[str, Any] | None = None,
                   mask: MaskSpec | str | None = None, path: str | os.PathLike[str]) -> str:
    """:func:`fit_export` on ``ds`` and write the export to ``path`` atomically.

    ``.json`` writes JSON, anything else ``.npz``. Returns a one-line description.
    """
    exported = fit_export(ds, scaler=scaler, params=scaler_params, mask=mask)
    path = Path(path)
    data = params_json(exported) if path.suffix.lower() == ".json" \
        else params_npz_bytes(exported)
    atomic_write(path, data)
    n_masked = int(exported.mask_rows.sum())
    return (f"scaler {scaler} fitted on {exported.fitted_on}, {n_masked} rows masked "
            f"(mask {exported.mask})")
