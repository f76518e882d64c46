"""Row and frame index lists as compact text (``"0-4, 17"``), shared by every module that names rows."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["format_ranges"]


def format_ranges(indices: Iterable[int], sep: str = ", ") -> str:
    """Compact text of integer indices: runs become ``a-b``, separated by ``sep``.

    Duplicates are ignored and the order does not matter; an empty input gives ``""``.
    :func:`sndiag.masks.parse_rows` reads it back (links use ``sep=","``).

    Examples
    --------
    >>> format_ranges([0, 1, 2, 3, 4, 17])
    '0-4, 17'
    >>> format_ranges([9, 3, 4, 4])
    '3-4, 9'
    >>> format_ranges([17, 0, 1, 2], sep=",")
    '0-2,17'
    >>> format_ranges([])
    ''
    """
    values = sorted({int(i) for i in indices})
    parts: list[str] = []
    start = prev = None
    for v in values:
        if prev is not None and v == prev + 1:
            prev = v
            continue
        if start is not None:
            parts.append(f"{start}" if start == prev else f"{start}-{prev}")
        start = prev = v
    if start is not None:
        parts.append(f"{start}" if start == prev else f"{start}-{prev}")
    return sep.join(parts)
