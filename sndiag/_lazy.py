"""Lazy package exports: names resolved from their module on first access (PEP 562)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, names: Mapping[str, str]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """``__getattr__``, ``__dir__`` and ``__all__`` for a package exporting ``names`` lazily.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    names : Mapping of str to str
        Exported name -> module it is defined in; the module is imported on first access and
        the value cached in the package's namespace.

    Returns
    -------
    (__getattr__, __dir__, __all__)

    Examples
    --------
    >>> get, _, names = lazy_exports("sndiag", {"Dataset": "sndiag.dataset"})
    >>> names, get("Dataset").__name__
    (['Dataset'], 'Dataset')
    """
    table = dict(names)

    def __getattr__(name: str) -> Any:
        if name in table:
            value = getattr(importlib.import_module(table[name]), name)
            vars(sys.modules[package])[name] = value
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted([*vars(sys.modules[package]), *table])

    return __getattr__, __dir__, sorted(table)
