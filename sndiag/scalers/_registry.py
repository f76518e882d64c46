"""The scaler registry: names, descriptions, construction by name, parameter export/import."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, RobustScaler, StandardScaler
from sklearn.utils.validation import check_is_fitted

from sndiag.errors import DataError, ParameterError
from sndiag.scalers._affine import (
    BandScaler,
    GlobalScaler,
    MedianScaler,
    PixelMaxAbsScaler,
    PixelMinMaxScaler,
    PixelRobustScaler,
    PixelStandardScaler,
    StdFloorScaler,
)
from sndiag.scalers._compose import ComposedScaler
from sndiag.scalers._stateless import (
    ClipScaler,
    DbCompressor,
    IdentityScaler,
    Log1pCompressor,
    PcenCompressor,
)

__all__ = [
    "DATA_PARAMS",
    "SCALERS",
    "Option",
    "ScalerInfo",
    "make_scaler",
    "scaler_from_params",
    "scaler_info",
    "scaler_names",
    "scaler_params",
]


@dataclass(frozen=True)
class Option:
    """One constructor parameter a user may set (dashboard widgets, link values, CLI).

    Attributes
    ----------
    name : str
        The constructor parameter.
    kind : {"bool", "int", "float"}
    low, high : float or None
        Accepted range (inclusive); values outside are refused with a message.
    step : float or None
        Step of a number input or slider.
    help : str
        One line for the widget's help.
    slider : bool
        Offer a slider (else a number input or a checkbox).

    Examples
    --------
    >>> Option("gain", "float", 0.0, 1.0).check(0.5)
    0.5
    >>> Option("time_constant", "float", 1e-3, 10.0).check(1e300)
    Traceback (most recent call last):
    ...
    sndiag.errors.ParameterError: time_constant=1e+300 is outside 0.001..10
    """

    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    step: float | None = None
    help: str = ""
    slider: bool = False

    def check(self, value: Any) -> Any:
        """``value`` converted to the option's kind; ParameterError when it does not fit."""
        if self.kind == "bool":
            if isinstance(value, bool | np.bool_):
                return bool(value)
            raise ParameterError(f"{self.name}={value!r} must be True or False")
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise ParameterError(f"{self.name}={value!r} must be a number") from None
        if isinstance(value, bool) or not np.isfinite(v):
            raise ParameterError(f"{self.name}={value!r} must be a finite number")
        if (self.low is not None and v < self.low) or (self.high is not None and v > self.high):
            lo = "-inf" if self.low is None else f"{self.low:g}"
            hi = "inf" if self.high is None else f"{self.high:g}"
            raise ParameterError(f"{self.name}={v:g} is outside {lo}..{hi}")
        if self.kind == "int":
            if v != int(v):
                raise ParameterError(f"{self.name}={value!r} must be a whole number")
            return int(v)
        return v


_MEAN_STD = (Option("with_mean", "bool", help="Subtract the mean."),
             Option("with_std", "bool", help="Divide by the std."))

#: Parameters that describe the data's time base, not a user's choice: :func:`make_scaler` takes
#: them from the dataset's :class:`~sndiag.config.SpectrogramConfig` (``config=``).
DATA_PARAMS = ("sr", "hop_length")


@dataclass(frozen=True)
class ScalerInfo:
    """What the dashboard and the CLI say about one scaler.

    Attributes
    ----------
    name : str
        Registry name, e.g. ``"std_floor"``.
    cls : type
        The estimator class.
    title : str
        Short title.
    description : str
        One plain-language line: what the scaler does, above all to low-SNR rows.
    invertible : bool
        Whether ``inverse_transform`` recovers the input.
    stateless : bool
        Whether ``fit`` learns nothing (per-clip or pointwise transforms).
    options : tuple of Option
        The parameters a user may set, with their ranges (defaults: :meth:`defaults`).
    """

    name: str
    cls: type
    title: str
    description: str
    invertible: bool
    stateless: bool
    options: tuple[Option, ...] = ()

    def defaults(self) -> dict[str, Any]:
        """The options' defaults, read from the class (the only place they are written).

        Examples
        --------
        >>> SCALERS["std_floor"].defaults()
        {'floor_percentile': 25.0}
        """
        params = self.cls().get_params(deep=False)
        return {o.name: params[o.name] for o in self.options}

    def check_options(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """``given`` options checked against the declared ones (unknown names refused).

        Examples
        --------
        >>> SCALERS["pcen"].check_options({"gain": 0.5})
        {'gain': 0.5}
        """
        known = {o.name: o for o in self.options}
        out = {}
        for key, value in given.items():
            if key not in known:
                raise ParameterError(f"scaler {self.name!r} has no option {key!r}; options: "
                                     f"{sorted(known) or 'none'}")
            out[key] = known[key].check(value)
        return out


def _info(name: str, cls: type, title: str, description: str,
          options: tuple[Option, ...] = ()) -> tuple[str, ScalerInfo]:
    stateless = bool(getattr(cls, "_stateless", False))
    invertible = bool(getattr(cls, "_invertible", True))
    return name, ScalerInfo(name, cls, title, description, invertible, stateless, options)


#: Every scaler by registry name, in the order the dashboard lists them.
SCALERS: Mapping[str, ScalerInfo] = MappingProxyType(dict([
    _info("none", IdentityScaler, "No scaling",
          "Leaves the data as it is: quiet rows stay quiet and loud noisy rows stay loud."),
    _info("standard", PixelStandardScaler, "Per-pixel standardization",
          "Divides every pixel by its own std: near-silent and noisy low-SNR pixels get the "
          "largest gain, so their noise is blown up to the level of the signal.", _MEAN_STD),
    _info("std_floor", StdFloorScaler, "Per-pixel standardization with a std floor",
          "Per-pixel standardization, but no pixel is divided by less than a floor std: the "
          "noise of near-silent rows is no longer blown up.",
          (Option("floor_percentile", "float", 0.0, 100.0, 1.0,
                  "The std floor is this percentile of the positive per-pixel stds: higher = "
                  "less gain on quiet pixels.", slider=True),)),
    _info("band", BandScaler, "Per-band standardization (CMVN)",
          "One mean and std per mel row: rows are put on a common level, and the quiet frames "
          "of a noisy row stay small relative to its loud ones.", _MEAN_STD),
    _info("global", GlobalScaler, "Global standardization",
          "One mean and std for all pixels: a change of units that keeps every row's relative "
          "level, so low-SNR rows are neither amplified nor damped.", _MEAN_STD),
    _info("clip", ClipScaler, "Per-clip standardization",
          "Each clip by its own mean and std: removes loudness differences between clips; rows "
          "keep their relative levels, so low-SNR rows are not singled out.", _MEAN_STD),
    _info("minmax", PixelMinMaxScaler, "Per-pixel min-max",
          "Maps each pixel's training range to 0..1: near-silent pixels with a tiny range get a "
          "huge gain, much like per-pixel standardization."),
    _info("maxabs", PixelMaxAbsScaler, "Per-pixel max-abs",
          "Divides each pixel by its largest training value: near-silent pixels get a large gain, "
          "rows with rare loud bursts are damped."),
    _info("robust", PixelRobustScaler, "Per-pixel robust (median/IQR)",
          "Per-pixel median and interquartile range: near-silent pixels have a tiny IQR and get "
          "an enormous gain, the riskiest choice for silent rows.",
          (Option("with_centering", "bool", help="Subtract the median."),
           Option("with_scaling", "bool", help="Divide by the IQR."),
           Option("unit_variance", "bool", help="Scale so a normal pixel gets std 1."))),
    _info("median", MedianScaler, "Per-pixel median centring",
          "Subtracts each pixel's training median and does not rescale: every row keeps gain 1."),
    _info("log1p", Log1pCompressor, "log1p compression",
          "log(1 + x): squashes loud bursts, keeps quiet rows nearly linear; the gain of quiet "
          "pixels is at most 1, so their noise is not blown up.",
          (Option("ref", "float", 1e-12, 1e12, None, "Reference level: values well below it "
                  "stay almost linear."),)),
    _info("db", DbCompressor, "Decibels (power_to_db)",
          "Power to decibels: squashes loud bursts strongly, but near-silent pixels spread over "
          "many dB, so their noise gets the largest gain.",
          (Option("ref", "float", 1e-12, 1e12, None, "Power that gives 0 dB."),
           Option("amin", "float", 1e-30, 1.0, None, "Smallest power considered (the dB floor)."),
           Option("top_db", "float", 1.0, 300.0, 10.0, "Dynamic range kept per clip (dB)."))),
    _info("pcen", PcenCompressor, "PCEN",
          "Per-channel energy normalization: an automatic gain per row over time that suppresses "
          "steady background and squashes bursts; not invertible.",
          (Option("gain", "float", 0.0, 1.0, 0.01, "Exponent of the automatic gain control."),
           Option("bias", "float", 0.0, 100.0, 0.1, "Bias added before root compression."),
           Option("power", "float", 0.0, 1.0, 0.05, "Root-compression exponent."),
           Option("time_constant", "float", 1e-3, 10.0, 0.05,
                  "Time constant of the smoother (seconds)."),
           Option("eps", "float", 1e-12, 1.0, None, "Floor of the smoothed energy."))),
]))


def scaler_names() -> list[str]:
    """Registry names, in the dashboard's order.

    Examples
    --------
    >>> scaler_names()[:4]
    ['none', 'standard', 'std_floor', 'band']
    """
    return list(SCALERS)


def _split(name: Any) -> list[str]:
    if not isinstance(name, str):
        raise ParameterError(f"scaler name {name!r} must be a string such as 'band' or 'db+band'")
    parts = [p.strip() for p in name.split("+")]
    if not all(parts):
        raise ParameterError(f"scaler name {name!r} has an empty part; write e.g. 'db+band'")
    for p in parts:
        if p not in SCALERS:
            raise ParameterError(f"unknown scaler {p!r}; known: {', '.join(SCALERS)} "
                                 "(compose with '+', e.g. 'db+band')")
    if len(set(parts)) != len(parts):
        raise ParameterError(f"scaler {name!r} repeats a step; give each step once")
    return parts


def _param_names(name: str) -> list[str]:
    return sorted(SCALERS[name].cls().get_params())


def _make_one(name: str, params: Mapping[str, Any]) -> BaseEstimator:
    known = _param_names(name)
    bad = sorted(set(params) - set(known))
    if bad:
        raise ParameterError(f"unknown parameter(s) {bad} for scaler {name!r}; known: {known}")
    est = SCALERS[name].cls(**params)
    est._check_params()
    return est


def scaler_info(name: str) -> ScalerInfo:
    """The :class:`ScalerInfo` of a registry name or of a composition such as ``"db+band"``.

    Examples
    --------
    >>> info = scaler_info("db+band")
    >>> info.title, info.invertible, info.stateless
    ('Decibels (power_to_db), then Per-band standardization (CMVN)', True, False)
    """
    parts = _split(name)
    if len(parts) == 1:
        return SCALERS[parts[0]]
    infos = [SCALERS[p] for p in parts]
    return ScalerInfo("+".join(parts), ComposedScaler, ", then ".join(i.title for i in infos),
                      " Then: ".join(i.description for i in infos),
                      all(i.invertible for i in infos), all(i.stateless for i in infos))


def make_scaler(name: str, *, config: Any = None, **params: Any) -> BaseEstimator:
    """Build a scaler by registry name (see :data:`SCALERS`), or a composition ``"a+b"``.

    A composition is a :class:`ComposedScaler` whose steps are named after the parts. Every step
    but the last must be stateless (``none``, ``clip``, ``log1p``, ``db``, ``pcen``), so at most
    one fitted scaler comes last, e.g. ``"db+band"`` or ``"log1p+std_floor"``. A parameter goes to
    every step that has it (``shape`` goes to all); ``step__param`` targets one step.

    Parameters
    ----------
    name : str
        A :data:`SCALERS` name or ``+``-joined names.
    config : SpectrogramConfig, optional
        How the data was extracted (``Dataset.config``): steps that depend on its time base
        (:data:`DATA_PARAMS`: PCEN's ``sr`` and ``hop_length``) take them from here unless
        given in ``params``.
    **params
        Constructor parameters, checked now (so a bad value fails here, not at ``fit``).

    Returns
    -------
    estimator
        An unfitted scikit-learn transformer with ``gain_map``.

    Raises
    ------
    ParameterError
        Unknown name or parameter, a fitted step before the last, or a bad parameter value.

    Examples
    --------
    >>> make_scaler("std_floor", floor_percentile=10)
    StdFloorScaler(floor_percentile=10)
    >>> make_scaler("db+band", shape=(60, 130), band__with_std=False).steps[1][1]
    BandScaler(shape=(60, 130), with_std=False)
    >>> from sndiag.config import SpectrogramConfig
    >>> make_scaler("pcen", config=SpectrogramConfig(sr=8000, hop_length=64))
    PcenCompressor(hop_length=64, sr=8000)
    >>> make_scaler("nope")
    Traceback (most recent call last):
    ...
    sndiag.errors.ParameterError: unknown scaler 'nope'; known: none, standard, ...
    """
    parts = _split(name)
    if len(parts) == 1:
        return _make_one(parts[0], _with_data(parts[0], dict(params), config))
    fitted = [p for p in parts[:-1] if not SCALERS[p].stateless]
    if fitted:
        raise ParameterError(f"scaler {name!r}: {fitted[0]!r} learns from the data, so it must be "
                             "the last step; put compressors first, e.g. 'db+band'")
    per: dict[str, dict[str, Any]] = {p: {} for p in parts}
    for key, value in params.items():
        if "__" in key:
            step, sub = key.split("__", 1)
            if step not in per:
                raise ParameterError(f"parameter {key!r} names step {step!r}, which is not in "
                                     f"{name!r}; steps: {parts}")
            per[step][sub] = value
            continue
        targets = [p for p in parts if key in _param_names(p)]
        if not targets:
            known = sorted({k for p in parts for k in _param_names(p)})
            raise ParameterError(f"unknown parameter {key!r} for scaler {name!r}; known: {known}")
        for p in targets:
            per[p][key] = value
    return ComposedScaler([(p, _make_one(p, _with_data(p, per[p], config))) for p in parts])


def _with_data(name: str, params: dict[str, Any], config: Any) -> dict[str, Any]:
    """``params`` plus the :data:`DATA_PARAMS` step ``name`` takes from ``config``."""
    if config is None:
        return params
    for key in DATA_PARAMS:
        if key in _param_names(name) and key not in params:
            params[key] = getattr(config, key)
    return params


# -- export / import of fitted parameters ------------------------------------------------------
_INNER: Mapping[str, type] = MappingProxyType({
    c.__name__: c for c in (StandardScaler, MinMaxScaler, MaxAbsScaler, RobustScaler)
})


def _registry_name(est: Any) -> str:
    if isinstance(est, ComposedScaler):
        return "+".join(name for name, _ in est.steps)
    for name, info in SCALERS.items():
        if type(est) is info.cls:
            return name
    raise ParameterError(f"{type(est).__name__} is not an sndiag scaler; build one with make_scaler")


def _json_default(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    raise TypeError(f"parameter value {v!r} cannot be exported")


def _flatten(est: BaseEstimator, prefix: str, out: dict[str, Any]) -> None:
    out[prefix + "params"] = json.dumps(est.get_params(deep=False), default=_json_default)
    none: list[str] = []
    for key, value in vars(est).items():
        if not key.endswith("_") or key.startswith("_"):
            continue
        if value is None:
            none.append(key)
        elif isinstance(value, BaseEstimator):
            out[f"{prefix}{key}.class"] = type(value).__name__
            _flatten(value, f"{prefix}{key}.", out)
        elif isinstance(value, np.ndarray):
            out[prefix + key] = value.astype(str) if value.dtype == object else value.copy()
        elif isinstance(value, tuple | list):
            out[prefix + key] = np.asarray(value)
        elif isinstance(value, np.generic):
            out[prefix + key] = value.item()
        else:
            out[prefix + key] = value
    out[prefix + "none"] = json.dumps(none)


def scaler_params(scaler: BaseEstimator) -> dict[str, np.ndarray | float | str]:
    """Export a scaler's parameters and fitted state as plain arrays, numbers and strings.

    The result can be written with ``np.savez(path, **d)`` (no pickling) or as JSON after
    ``tolist()`` on the arrays, and turned back into the scaler by :func:`scaler_from_params`.
    Keys: ``name`` (registry name), ``params`` (JSON of the constructor parameters), ``none``
    (JSON list of fitted attributes that are None), every fitted attribute (``mean_``,
    ``scale_``, ``offset_``, ``image_shape_``, ...), and the wrapped scikit-learn scaler's state
    under ``scaler_.``. A composition prefixes each step's keys with ``"<step>/"``.

    Parameters
    ----------
    scaler : estimator
        A scaler from :func:`make_scaler`; fitted unless stateless.

    Returns
    -------
    dict of str to np.ndarray, float, int or str

    Examples
    --------
    >>> X = np.random.default_rng(0).gamma(1.0, 2.0, size=(10, 3, 4))
    >>> d = scaler_params(make_scaler("band").fit(X))
    >>> d["name"], d["mean_"].shape, d["image_shape_"].tolist()
    ('band', (3, 1), [3, 4])
    >>> back = scaler_from_params(d)
    >>> bool(np.allclose(back.transform(X), make_scaler("band").fit(X).transform(X)))
    True
    """
    name = _registry_name(scaler)
    out: dict[str, Any] = {"name": name}
    if isinstance(scaler, ComposedScaler):
        for step_name, step in scaler.steps:
            if not getattr(step, "_stateless", False):
                check_is_fitted(step)
            _flatten(step, f"{step_name}/", out)
    else:
        if not getattr(scaler, "_stateless", False):
            check_is_fitted(scaler)
        _flatten(scaler, "", out)
    return out


def _as_str(v: Any) -> str:
    return str(np.asarray(v).item()) if isinstance(v, np.ndarray) else str(v)


def _import_value(key: str, v: Any) -> Any:
    if key == "image_shape_":
        return tuple(int(x) for x in np.asarray(v).ravel())
    arr = np.asarray(v)
    if key == "feature_names_in_":
        return arr.astype(object)
    if arr.ndim == 0:
        return arr[()]  # a numpy scalar, as scikit-learn stores e.g. n_samples_seen_
    return arr


def _rebuild(cls: type, d: Mapping[str, Any], prefix: str) -> BaseEstimator:
    try:
        params = json.loads(_as_str(d[prefix + "params"]))
        none = json.loads(_as_str(d.get(prefix + "none", "[]")))
    except (KeyError, ValueError) as exc:
        raise DataError(f"not an sndiag scaler export: key {prefix + 'params'!r} is missing or not "
                        f"JSON ({exc}); write one with scaler_params") from None
    try:
        est = cls(**params)
    except TypeError as exc:
        raise DataError(f"scaler export has parameters {sorted(params)} that {cls.__name__} does not "
                        f"take ({exc}); was it written by another sndiag version?") from None
    if hasattr(est, "_check_params"):
        est._check_params()
    for key in none:
        setattr(est, str(key), None)
    for key in d:
        if not key.startswith(prefix):
            continue
        rest = key[len(prefix):]
        if rest.endswith(".class") and "." not in rest[: -len(".class")]:
            attr, cname = rest[: -len(".class")], _as_str(d[key])
            if cname not in _INNER:
                raise DataError(f"scaler export names inner class {cname!r}; only "
                                f"{sorted(_INNER)} are accepted")
            setattr(est, attr, _rebuild(_INNER[cname], d, f"{prefix}{attr}."))
        elif rest.endswith("_") and "." not in rest and "/" not in rest:
            setattr(est, rest, _import_value(rest, d[key]))
    return est


def scaler_from_params(d: Mapping[str, Any]) -> BaseEstimator:
    """Rebuild the scaler exported by :func:`scaler_params` (from a dict, JSON or ``np.load``).

    Parameters
    ----------
    d : Mapping
        The dictionary, or the loaded ``.npz`` (``np.load(path)``), or parsed JSON.

    Returns
    -------
    estimator
        The scaler, fitted as it was when exported (``transform``, ``inverse_transform`` and
        ``gain_map`` give the same results; the wrapped scikit-learn state is restored too, so
        ``partial_fit`` continues where it stopped).

    Raises
    ------
    ParameterError
        Unknown scaler name.
    DataError
        The mapping is not an export (missing or malformed keys, unknown inner class).
    """
    try:
        keys = list(d.keys())
    except AttributeError:
        raise DataError(f"scaler export must be a mapping, got {type(d).__name__}") from None
    flat = {str(k): d[k] for k in keys}
    if "name" not in flat:
        raise DataError("not an sndiag scaler export: no 'name' key; write one with scaler_params")
    parts = _split(_as_str(flat["name"]))
    if len(parts) == 1:
        return _rebuild(SCALERS[parts[0]].cls, flat, "")
    return ComposedScaler([(p, _rebuild(SCALERS[p].cls, flat, f"{p}/")) for p in parts])
