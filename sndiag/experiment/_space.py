"""The search space: compression x scaling x mask, and which of its points are the same model.

A :class:`Candidate` is one pipeline the experiment evaluates: ``mask -> compression -> scaler
-> classifier``. The compression is stateless (``db``, ``log1p``, ``pcen``, ``clip`` or a chain of
them), so it is computed once per dataset and shared by every candidate that uses it; the scaler
is fitted on each training fold; the mask (a :class:`~sndiag.masks.MaskSpec`) is built on each
training fold's raw statistics, so its SNR rule reads power, not decibels.

:func:`default_space` is the default search; :func:`parse_candidates` reads user names such as
``"db+band"``. :func:`same_model_key` says which candidates give the same ridge classifier
exactly (a per-pixel shift or one global scale cannot change a linear model with an intercept
and relative regularization), so each is fitted once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sklearn.base import BaseEstimator

from sndiag.errors import ParameterError
from sndiag.masks import MaskSpec

__all__ = ["COMPRESSIONS", "DEFAULT_SCALERS", "INPUT_BATCHNORM", "SCALINGS", "Candidate",
           "default_space", "parse_candidates", "same_model_key"]

#: Compressions of the default search (stateless; computed once per dataset).
COMPRESSIONS: tuple[str, ...] = ("none", "db", "log1p", "pcen")
#: Scalings of the default search (fitted on each training fold).
SCALINGS: tuple[str, ...] = ("none", "standard", "std_floor", "band", "global", "robust",
                             "median", "minmax")
#: Every compression x scaling of the default search, as scaler names (``"db+band"``).
DEFAULT_SCALERS: tuple[str, ...] = tuple(
    s if c == "none" else (c if s == "none" else f"{c}+{s}")
    for c in COMPRESSIONS for s in SCALINGS)
#: Not a scaler but the CNN's remedy, as a pipeline name: the input left as it is (or only
#: compressed: ``"db+batchnorm"``) and a BatchNorm layer as the network's first layer.
INPUT_BATCHNORM = "batchnorm"
#: Scalers that, for a linear model with an intercept and relative regularization, are the
#: identity: a per-pixel shift (``median``) or one global scale (``global``).
_NO_OP_FOR_LINEAR = ("none", "global", "median")


@dataclass(frozen=True)
class Candidate:
    """One pipeline of the search: mask -> compression -> scaler -> classifier.

    Attributes
    ----------
    compression : str
        Stateless steps (``"none"``, ``"db"``, ``"pcen"``, ``"log1p+clip"`` ...).
    scaler : str
        The fitted step (``"none"``, ``"standard"``, ...) or a custom transformer's label.
    mask : MaskSpec
    estimator : sklearn transformer or None
        A custom transformer (applied to the raw clips) instead of ``compression + scaler``.

    Examples
    --------
    >>> Candidate("db", "band").name, Candidate("db", "none").name, Candidate("none", "none").name
    ('db+band', 'db', 'none')
    """

    compression: str = "none"
    scaler: str = "none"
    mask: MaskSpec = field(default_factory=MaskSpec)
    estimator: BaseEstimator | None = field(default=None, compare=False, repr=False)

    @property
    def name(self) -> str:
        """The scaler name a user writes: ``"db+band"``, ``"band"``, ``"db"``, ``"none"``."""
        if self.estimator is not None or self.compression == "none":
            return self.scaler
        return self.compression if self.scaler == "none" else f"{self.compression}+{self.scaler}"

    @property
    def label(self) -> str:
        """``"db+band"`` or ``"db+band | mask p10+rows:43-59"``."""
        return self.name if self.mask.is_empty else f"{self.name} | mask {self.mask.spec}"

    @property
    def is_raw(self) -> bool:
        """The raw data: no mask, no compression, no scaling."""
        return self.estimator is None and self.name == "none" and self.mask.is_empty


def _split_name(name: str) -> tuple[str, str]:
    """``"db+band"`` -> ``("db", "band")``: the stateless prefix, then the fitted step or none."""
    from sndiag.scalers import SCALERS, make_scaler

    parts = [p.strip() for p in name.split("+")]
    if parts[-1] == INPUT_BATCHNORM:
        prefix = "+".join(p for p in parts[:-1] if p != "none")
        if prefix:
            _, fitted = _split_name(prefix)
            if fitted != "none":
                raise ParameterError(f"{name!r}: only stateless steps (db, log1p, pcen, clip) "
                                     f"may come before {INPUT_BATCHNORM}, a layer of the CNN")
        return prefix or "none", INPUT_BATCHNORM
    make_scaler(name)  # unknown names and a fitted step before the last fail here, with the fix
    if not SCALERS[parts[-1]].stateless:
        return "+".join(parts[:-1]) or "none", parts[-1]
    steps = [p for p in parts if p != "none"]
    return "+".join(steps) or "none", "none"


def parse_candidates(scalers: Iterable[str | tuple[str, BaseEstimator]],
                     masks: Iterable[MaskSpec]) -> list[Candidate]:
    """Candidates for every scaler x mask, in order, without duplicates.

    Parameters
    ----------
    scalers : iterable of str or (label, transformer)
        Registry names and chains (``"db+band"``), or custom transformers on flattened clips.
    masks : iterable of MaskSpec

    Raises
    ------
    ParameterError
        On an unknown scaler, or a fitted step before another.

    Examples
    --------
    >>> [c.label for c in parse_candidates(["none", "db+band"], [MaskSpec(), MaskSpec(auto=True)])]
    ['none', 'db+band', 'none | mask auto', 'db+band | mask auto']
    """
    out: list[Candidate] = []
    for mask in masks:
        for s in scalers:
            if isinstance(s, tuple):
                if len(s) != 2 or not hasattr(s[1], "fit"):
                    raise ParameterError(f"scaler {s!r}: give a name or a (label, transformer) "
                                         "pair")
                cand = Candidate("none", str(s[0]), mask, estimator=s[1])
            elif isinstance(s, str):
                compression, scaler = _split_name(s.strip())
                cand = Candidate(compression, scaler, mask)
            else:
                raise ParameterError(f"scaler {s!r} must be a name such as 'db+band' (see `sndiag "
                                     "scalers`) or a (label, transformer) pair")
            if all(c.label != cand.label for c in out):
                out.append(cand)
    return out


def default_space(masks: Sequence[MaskSpec] = (MaskSpec(),)) -> list[Candidate]:
    """The default search: :data:`COMPRESSIONS` x :data:`SCALINGS` x ``masks``.

    Examples
    --------
    >>> len(default_space()), default_space()[9].name
    (32, 'db+standard')
    """
    return parse_candidates(DEFAULT_SCALERS, masks)


def same_model_key(cand: Candidate, mask_key: Any) -> tuple[Any, ...] | None:
    """Candidates with equal keys give the same ridge classifier (None: unique).

    ``mask_key`` identifies the masks the candidate's spec builds on every fold (two specs that
    mask the same rows everywhere are the same). ``none``, ``global`` and ``median`` are the same
    model after a compression: a linear classifier with an intercept ignores a per-pixel shift,
    and relative regularization ignores one global scale.
    """
    if cand.estimator is not None:
        return None
    scaler = "none" if cand.scaler in _NO_OP_FOR_LINEAR else cand.scaler
    return (cand.compression, scaler, mask_key)
