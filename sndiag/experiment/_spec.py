"""Mask specification strings: ``"none"``, ``"snr<0.5"``, ``"p10"``."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from sklearn.base import BaseEstimator

from sndiag.errors import ParameterError

_NUM = r"(?P<v>[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)"
_SNR_SPEC = re.compile(rf"^snr\s*<\s*{_NUM}$")
_PCT_SPEC = re.compile(rf"^p\s*{_NUM}$")


@dataclass(frozen=True)
class MaskSpec:
    """A parsed mask specification: no mask, an absolute SNR threshold, or a percentile.

    Build one with :func:`parse_mask_spec`; :attr:`spec` is its canonical string.

    Examples
    --------
    >>> MaskSpec("snr", 0.5).spec, MaskSpec("percentile", 10.0).spec, MaskSpec("none").spec
    ('snr<0.5', 'p10', 'none')
    """

    kind: Literal["none", "snr", "percentile"]
    value: float | None = None

    @property
    def spec(self) -> str:
        """Canonical string form (what :func:`parse_mask_spec` reads back)."""
        if self.kind == "none":
            return "none"
        if self.kind == "snr":
            return f"snr<{self.value:g}"
        return f"p{self.value:g}"

    def build(self, *, shape: tuple[int, int]) -> BaseEstimator | None:
        """A fresh unfitted :class:`sndiag.masks.SNRMask` for images of ``shape`` (None = no mask)."""
        if self.kind == "none":
            return None
        from sndiag.masks import SNRMask

        if self.kind == "snr":
            return SNRMask(threshold=self.value, shape=shape)
        return SNRMask(percentile=self.value, shape=shape)


def parse_mask_spec(spec: str | MaskSpec) -> MaskSpec:
    """Parse a mask specification string.

    Parameters
    ----------
    spec : str or MaskSpec
        ``"none"`` (no mask), ``"snr<X"`` (zero the mel rows whose training-set SNR
        ``mean/std`` is below ``X > 0``) or ``"pP"`` (zero the ``P`` percent lowest-SNR rows,
        ``0 < P < 100``). Case and spaces are ignored.

    Returns
    -------
    MaskSpec

    Raises
    ------
    ParameterError
        For anything else, with the accepted forms in the message.

    Examples
    --------
    >>> parse_mask_spec("snr<0.5")
    MaskSpec(kind='snr', value=0.5)
    >>> parse_mask_spec(" P10 ").spec
    'p10'
    >>> parse_mask_spec("none")
    MaskSpec(kind='none', value=None)
    >>> parse_mask_spec("snr>2")
    Traceback (most recent call last):
    ...
    sndiag.errors.ParameterError: mask spec 'snr>2' not understood; use 'none', 'snr<X' ...
    """
    if isinstance(spec, MaskSpec):
        return spec
    if not isinstance(spec, str):
        raise ParameterError(f"mask spec {spec!r} must be a string like 'none', 'snr<0.5' or 'p10'")
    s = spec.strip().lower().replace(" ", "")
    if s in ("none", "", "no"):
        return MaskSpec("none")
    m = _SNR_SPEC.match(s)
    if m:
        value = float(m["v"])
        if not (math.isfinite(value) and value > 0):
            raise ParameterError(f"mask spec {spec!r}: the SNR threshold {value:g} must be > 0, "
                                 "e.g. 'snr<0.5'")
        return MaskSpec("snr", value)
    m = _PCT_SPEC.match(s)
    if m:
        value = float(m["v"])
        if not 0 < value < 100:
            raise ParameterError(f"mask spec {spec!r}: the percentile {value:g} must be strictly "
                                 "between 0 and 100, e.g. 'p10'")
        return MaskSpec("percentile", value)
    raise ParameterError(f"mask spec {spec!r} not understood; use 'none', 'snr<X' (rows with "
                         "SNR below X, e.g. 'snr<0.5') or 'pP' (lowest P% SNR rows, e.g. 'p10')")
